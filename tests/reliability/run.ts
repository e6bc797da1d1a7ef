/**
 * `npm run test:reliability`: runs the reliability suite (mocha, its own config) with a fresh
 * counters file, then prints the summary table computed from what the tests actually did:
 * inputs as the generators produced and ran them, cloud mutations and faults from the
 * simulated plugins' ledgers, lost / orphaned / phantom workers from `reckon` (simulated cloud,
 * checkpoint, stack config). Fails when a test failed, when any worker was lost, orphaned or
 * phantom, when any secret leaked, or (in full mode) when fewer inputs, processes or rounds ran
 * than required. After an engine kill the tests do what fleet advises (`fleet sync` adopts
 * local workers; `fleet adopt <worker> <id>` for the others), so an orphan is a failure there
 * too.
 *
 *   node dist/tests/reliability/run.js [--update-readme]
 *
 * Quick runs: FLEET_REL_QUICK=1 (1,000 values per library path, 200 CLI argument lists, 8 real
 * CLI runs, 1 concurrency round) — never the npm script.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { STATS_ENV, type Totals, readTotals } from "./support/stats";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const README = path.join(ROOT, "README.md");
/**
 * Library paths keep issue 7's 10,000 values each. Paths that run fleet on Pulumi's engine
 * (CLI arguments, real runs) and the concurrency rounds are sized for a run of about 10
 * minutes on 2 shared cores: every engine run there is a real program run over gRPC.
 */
const REQUIRED = {
  inputsPerPath: 10_000,
  cliArguments: 1_000,
  processes: 4,
  opsPerProcess: 6,
  rounds: 2,
};

function rows(t: Totals, seconds: number): [string, string, string][] {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const out: [string, string, string][] = [];
  for (const [p, n] of Object.entries(t.inputs)) {
    // valid accepted 4,012, near-valid refused 3,990, hostile refused 1,998
    const classes = Object.entries(t.classes[p] ?? {})
      .map(([k, c]) => `${k} ${fmt(c)}`)
      .join(", ");
    out.push([`inputs tried: ${p}`, fmt(n), classes]);
  }
  out.push(["cloud mutations (plugins' ledger)", fmt(t.operations), ""]);
  out.push([
    "faults fired",
    fmt(t.faults),
    Object.entries(t.faultKinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(", "),
  ]);
  out.push([
    "concurrent operations",
    fmt(t.concurrentOps),
    t.rounds
      ? `${t.rounds} rounds × ${Math.round(t.processes / t.rounds)} OS processes, plus fleet list processes`
      : "",
  ]);
  out.push([
    "workers lost",
    fmt(t.lost),
    "must be 0 (in config, neither in the cloud nor in state)",
  ]);
  out.push([
    "workers orphaned",
    fmt(t.orphaned),
    "must be 0 (in the cloud, not in the checkpoint), engine kills included",
  ]);
  out.push([
    "workers phantom or duplicated",
    fmt(t.phantom),
    "must be 0 (in the checkpoint or `fleet list`, not in the cloud)",
  ]);
  out.push([
    "secrets leaked",
    fmt(t.leaked),
    `must be 0 (${fmt(t.scanned)} outputs and files scanned)`,
  ]);
  out.push(["unhandled rejections", fmt(t.unhandled), "must be 0"]);
  out.push([
    "run time",
    `${seconds.toFixed(0)} s`,
    `${os.cpus().length} CPUs, Node ${process.version}`,
  ]);
  return out;
}

function markdown(r: [string, string, string][]): string {
  const lines = ["| What | Count | Note |", "| --- | ---: | --- |"];
  for (const [a, b, c] of r) lines.push(`| ${a} | ${b} | ${c} |`);
  return lines.join("\n");
}

function text(r: [string, string, string][]): string {
  const w = [0, 1, 2].map((i) => Math.max(...r.map((x) => x[i].length)));
  const line = (x: [string, string, string]) =>
    `  ${x[0].padEnd(w[0])}  ${x[1].padStart(w[1])}  ${x[2]}`.trimEnd();
  return r.map(line).join("\n");
}

function main(): number {
  const quick = process.env.FLEET_REL_QUICK === "1";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-rel-stats-"));
  const stats = path.join(dir, "stats.jsonl");
  const env: NodeJS.ProcessEnv = { ...process.env, [STATS_ENV]: stats };
  if (quick) {
    env.FLEET_REL_FUZZ_RUNS ??= "1000";
    env.FLEET_REL_CLI_RUNS ??= "200";
    env.FLEET_REL_CLI_REAL_RUNS ??= "8";
    env.FLEET_REL_ROUNDS ??= "1";
  }
  const started = Date.now();
  const mocha = spawnSync(
    process.execPath,
    [
      require.resolve("mocha/bin/mocha.js"),
      "--config",
      path.join(ROOT, "tests", "reliability", ".mocharc.json"),
    ],
    { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"] },
  );
  const seconds = (Date.now() - started) / 1000;
  const totals = readTotals(stats);
  const table = rows(totals, seconds);

  const problems: string[] = [];
  if (mocha.status !== 0) problems.push(`mocha exited with ${mocha.status ?? mocha.signal}`);
  if (totals.lost) problems.push(`${totals.lost} workers lost`);
  if (totals.orphaned) problems.push(`${totals.orphaned} workers orphaned`);
  if (totals.phantom) problems.push(`${totals.phantom} workers phantom or duplicated`);
  if (totals.leaked) problems.push(`${totals.leaked} secrets leaked`);
  if (totals.unhandled) problems.push(`${totals.unhandled} unhandled rejections`);
  if (!quick) {
    for (const [p, n] of Object.entries(totals.inputs)) {
      const need = p.startsWith("CLI arguments") ? REQUIRED.cliArguments : REQUIRED.inputsPerPath;
      if (n < need && !/real runs/.test(p)) problems.push(`only ${n} inputs tried for ${p}`);
    }
    if (totals.rounds < REQUIRED.rounds) problems.push(`only ${totals.rounds} concurrency rounds`);
    if (totals.concurrentOps < REQUIRED.processes * REQUIRED.opsPerProcess * REQUIRED.rounds)
      problems.push(`only ${totals.concurrentOps} concurrent operations`);
  }

  process.stdout.write(
    `\nfleet reliability summary${quick ? " (quick mode)" : ""}\n${text(table)}\n`,
  );
  process.stdout.write(
    problems.length ? `\nFAILED: ${problems.join("; ")}\n` : "\nall reliability checks passed\n",
  );

  if (process.argv.includes("--update-readme") && !problems.length && !quick) {
    const readme = fs.readFileSync(README, "utf8");
    const start = "<!-- reliability-table:start -->";
    const end = "<!-- reliability-table:end -->";
    const i = readme.indexOf(start);
    const j = readme.indexOf(end);
    if (i >= 0 && j > i) {
      const stamp = `Latest run: ${new Date().toISOString().slice(0, 10)}.`;
      fs.writeFileSync(
        README,
        `${readme.slice(0, i + start.length)}\n${stamp}\n\n${markdown(table)}\n${readme.slice(j)}`,
      );
      process.stdout.write(`updated ${path.relative(ROOT, README)}\n`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return problems.length ? 1 : 0;
}

process.exitCode = main();
