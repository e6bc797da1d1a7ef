/**
 * A child process for multi-process tests: opens a CloudContext on a fleet project through the
 * Automation API (so on whatever `pulumi` is first on PATH: Pulumi's engine in tests) and runs a list
 * of operations one after another, then prints a JSON summary line.
 * argv: <projectDir> <stack> <op>… where op is `+name` (create) or `-name` (delete).
 */
import { CloudContext } from "../../context/cloud-context";

async function run(): Promise<void> {
  const [projectDir, stackName, ...ops] = process.argv.slice(2);
  const ctx = await CloudContext.open({
    workDir: projectDir,
    stackName,
    // Processes wait for each other on fleet's lock; on a loaded machine that can be minutes.
    lock: { timeoutMs: 600_000 },
    retry: { attempts: 50, baseDelayMs: 50, maxDelayMs: 500 },
  });
  const errors: string[] = [];
  for (const op of ops) {
    try {
      if (op.startsWith("+")) await ctx.createWorker(op.slice(1));
      else await ctx.deleteWorker(op.slice(1));
    } catch (e) {
      errors.push(`${op}: ${(e as Error).message}`);
    }
  }
  process.stdout.write(`${JSON.stringify({ ups: ctx.stats.ups, errors })}\n`);
}

run().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  },
);
