/**
 * A child process for multi-process tests: opens a CloudContext on a shared engine double and
 * runs a list of operations one after another, then prints a JSON summary line.
 * argv: <engineDir> <projectDir> <op>… where op is `+name` (create) or `-name` (delete).
 */
import { CloudContext } from "../../context/cloud-context";
import { EngineDouble } from "./engine-double";
import { TEST_ENV } from "./context";

async function run(): Promise<void> {
  const [engineDir, projectDir, ...ops] = process.argv.slice(2);
  const ctx = new CloudContext({
    stack: new EngineDouble({ dir: engineDir, projectDir }),
    projectDir,
    env: TEST_ENV,
    retry: { attempts: 50, baseDelayMs: 10, maxDelayMs: 100 },
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
