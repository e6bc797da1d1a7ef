/**
 * fleet's benchmarks (issue 5). Every figure is a ratio against a baseline measured in the same
 * run, on the same machine, interleaved with it, so a noisy machine moves both sides alike.
 *
 *   npm run bench              full: N = 10, 100, 1,000, 5,000; 5 repetitions (3 at 5,000)
 *   npm run bench -- --quick   N = 10, 100, 1,000; 3 repetitions (a few minutes on 2 cores)
 *
 * Options: --only <program|burst|parallel|cli> (repeatable), --sizes 10,100, --reps N,
 * --clouds digitalocean,aws, --out <file>.
 *
 * Prints a table, then as the LAST line of stdout one JSON object with every figure; the same
 * object is written to bench/results.json (full) or bench/results.quick.json (--quick).
 */
import { type ChildProcess, fork, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { packageRoot } from "../config/paths";
import type {
  BenchCloud,
  BurstResult,
  ParallelResult,
  ProgramResult,
  Side,
  WorkerResult,
} from "./worker";

/** Goals from issue 5. */
export const GOALS = {
  programTimeRatio: 1.25,
  programMemRatio: 1.25,
  upsForBurst20: 2,
  parallelRatio50: 3,
  cliStartupRatio: 4,
} as const;

const SECTIONS = ["program", "burst", "parallel", "cli"] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  quick: boolean;
  sections: Set<Section>;
  sizes: number[];
  clouds: BenchCloud[];
  reps: number;
  bigReps: number;
  cliReps: number;
  out: string;
}

function parseArgs(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = argv
    .map((a, i) => (a === "--only" ? argv[i + 1] : undefined))
    .filter((s): s is string => s !== undefined);
  for (const s of only)
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`bench: --only takes one of ${SECTIONS.join(", ")}, not ${s}`);
  const list = (flag: string): string[] | undefined => value(flag)?.split(",").filter(Boolean);
  const sizes = (list("--sizes") ?? (quick ? ["10", "100", "1000"] : ["10", "100", "1000", "5000"]))
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const clouds = (list("--clouds") ?? ["digitalocean", "aws"]).filter(
    (c): c is BenchCloud => c === "digitalocean" || c === "aws",
  );
  const reps = Math.max(3, Number(value("--reps") ?? (quick ? 3 : 5)) || 3);
  const root = packageRoot();
  return {
    quick,
    sections: new Set((only.length ? only : SECTIONS) as Section[]),
    sizes,
    clouds,
    reps,
    bigReps: 3,
    cliReps: quick ? 5 : 9,
    out: value("--out") ?? path.join(root, "bench", quick ? "results.quick.json" : "results.json"),
  };
}

export function median(values: readonly number[]): number {
  if (!values.length) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** Forks `worker.js` with `args` in a fresh process and resolves with what it reports. */
function runWorker<T extends WorkerResult>(
  args: readonly string[],
  execArgv: readonly string[] = [],
): Promise<T & { wallMs: number }> {
  const script = path.join(__dirname, "worker.js");
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let result: T | undefined;
    let stderr = "";
    const child: ChildProcess = fork(script, [...args], {
      execArgv: [...execArgv],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("message", (m) => {
      result = m as T;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const wallMs = performance.now() - t0;
      if (code === 0 && result) resolve({ ...result, wallMs });
      else
        reject(new Error(`bench worker ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** The medians of one side of one program comparison. */
interface SideMedians {
  programMs: number;
  cpuMs: number;
  processMs: number;
  wallMs: number;
  maxRssMb: number;
  resources: number;
}

interface ProgramRow {
  cloud: BenchCloud;
  n: number;
  reps: number;
  bare: SideMedians;
  fleet: SideMedians;
  timeRatio: number;
  cpuRatio: number;
  processRatio: number;
  memRatio: number;
}

function sideMedians(runs: readonly (ProgramResult & { wallMs: number })[]): SideMedians {
  return {
    programMs: median(runs.map((r) => r.programMs)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    processMs: median(runs.map((r) => r.processMs)),
    wallMs: median(runs.map((r) => r.wallMs)),
    maxRssMb: median(runs.map((r) => r.maxRssKb / 1024)),
    resources: median(runs.map((r) => r.resources)),
  };
}

/** Heap headroom for the largest runs (the default heap does not fit 5,000 AWS instances). */
function execArgvFor(n: number): string[] {
  return n > 1000 ? ["--max-old-space-size=8192"] : [];
}

async function benchProgram(cloud: BenchCloud, n: number, reps: number): Promise<ProgramRow> {
  const runs: Record<Side, (ProgramResult & { wallMs: number })[]> = { bare: [], fleet: [] };
  for (let r = 0; r < reps; r++) {
    // Alternate which side goes first, so a drift in machine load hits both alike.
    const order: Side[] = r % 2 === 0 ? ["bare", "fleet"] : ["fleet", "bare"];
    for (const side of order) {
      const res = await runWorker<ProgramResult>(
        ["program", side, cloud, String(n)],
        execArgvFor(n),
      );
      runs[side].push(res);
      log(
        `${cloud} N=${n} ${side} #${r + 1}: ${res.programMs.toFixed(0)} ms, cpu ${res.cpuMs.toFixed(0)} ms, ${(res.maxRssKb / 1024).toFixed(0)} MB`,
      );
    }
  }
  const bare = sideMedians(runs.bare);
  const fleet = sideMedians(runs.fleet);
  return {
    cloud,
    n,
    reps,
    bare,
    fleet,
    timeRatio: fleet.programMs / bare.programMs,
    cpuRatio: fleet.cpuMs / bare.cpuMs,
    processRatio: fleet.wallMs / bare.wallMs,
    memRatio: fleet.maxRssMb / bare.maxRssMb,
  };
}

interface CliResult {
  reps: number;
  fleetMs: number;
  nodeMs: number;
  ratio: number;
}

function timeSpawn(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...args], { stdio: "ignore" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`bench: node ${args.join(" ")} exited ${r.status}`);
  return ms;
}

function benchCli(reps: number): CliResult {
  const cli = path.join(__dirname, "..", "cli", "fleet.js");
  // One discarded round warms the file cache for both.
  timeSpawn(["-e", ""]);
  timeSpawn([cli, "--help"]);
  const fleet: number[] = [];
  const node: number[] = [];
  for (let r = 0; r < reps; r++) {
    if (r % 2 === 0) {
      node.push(timeSpawn(["-e", ""]));
      fleet.push(timeSpawn([cli, "--help"]));
    } else {
      fleet.push(timeSpawn([cli, "--help"]));
      node.push(timeSpawn(["-e", ""]));
    }
  }
  const fleetMs = median(fleet);
  const nodeMs = median(node);
  return { reps, fleetMs, nodeMs, ratio: fleetMs / nodeMs };
}

function programKey(prefix: "programTimeRatio" | "programMemRatio", row: ProgramRow): string {
  return `${prefix}${row.n}${row.cloud === "aws" ? "Aws" : ""}`;
}

const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : "-");

function verdict(value: number, goal: number): string {
  return Number.isFinite(value) ? (value <= goal ? "pass" : "MISS") : "-";
}

function renderTable(rows: readonly string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => cell.padEnd(widths[c])).join("  ");
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const results: Record<string, unknown> = {};
  const programRows: ProgramRow[] = [];
  let burst: BurstResult | undefined;
  let parallel: (ParallelResult & { oneMedianMs: number; manyMedianMs: number }) | undefined;
  let cli: CliResult | undefined;

  if (opts.sections.has("cli")) {
    log("cli start-up");
    cli = benchCli(opts.cliReps);
  }
  if (opts.sections.has("burst")) {
    log("burst of 20 concurrent createWorker calls");
    burst = await runWorker<BurstResult>(["burst", "20"]);
  }
  if (opts.sections.has("parallel")) {
    log("createWorkers(50) vs createWorkers(1) at 100 ms provisioning latency");
    const p = await runWorker<ParallelResult>(["parallel", "50", "100", String(opts.reps)]);
    parallel = { ...p, oneMedianMs: median(p.oneMs), manyMedianMs: median(p.manyMs) };
  }
  if (opts.sections.has("program")) {
    for (const cloud of opts.clouds)
      for (const n of opts.sizes)
        programRows.push(await benchProgram(cloud, n, n > 1000 ? opts.bigReps : opts.reps));
  }

  // ---- results ----------------------------------------------------------------------------
  const table: string[][] = [["metric", "value", "goal", "result", "raw medians"]];
  for (const row of programRows) {
    const goalT = row.n === 1000 ? GOALS.programTimeRatio : Number.NaN;
    const goalM = row.n === 1000 ? GOALS.programMemRatio : Number.NaN;
    const tk = programKey("programTimeRatio", row);
    const mk = programKey("programMemRatio", row);
    results[tk] = row.timeRatio;
    results[mk] = row.memRatio;
    const suffix = `${row.n}${row.cloud === "aws" ? "Aws" : ""}`;
    results[`programCpuRatio${suffix}`] = row.cpuRatio;
    results[`processTimeRatio${suffix}`] = row.processRatio;
    table.push([
      tk,
      fmt(row.timeRatio),
      Number.isFinite(goalT) ? `<= ${goalT}` : "(shape)",
      Number.isFinite(goalT) ? verdict(row.timeRatio, goalT) : "",
      `fleet ${fmt(row.fleet.programMs, 0)} ms / bare ${fmt(row.bare.programMs, 0)} ms` +
        ` (cpu ${fmt(row.cpuRatio)}x, whole process ${fmt(row.processRatio)}x; ${row.reps} runs)`,
    ]);
    table.push([
      mk,
      fmt(row.memRatio),
      Number.isFinite(goalM) ? `<= ${goalM}` : "(shape)",
      Number.isFinite(goalM) ? verdict(row.memRatio, goalM) : "",
      `fleet ${fmt(row.fleet.maxRssMb, 0)} MB / bare ${fmt(row.bare.maxRssMb, 0)} MB peak RSS` +
        ` (${row.fleet.resources} vs ${row.bare.resources} resources)`,
    ]);
  }
  if (burst) {
    results.upsForBurst20 = burst.ups;
    table.push([
      "upsForBurst20",
      String(burst.ups),
      `<= ${GOALS.upsForBurst20}`,
      verdict(burst.ups, GOALS.upsForBurst20),
      `${burst.ups} engine update(s) for 20 concurrent createWorker calls`,
    ]);
  }
  if (parallel) {
    const ratio = parallel.manyMedianMs / parallel.oneMedianMs;
    results.parallelRatio50 = ratio;
    table.push([
      "parallelRatio50",
      fmt(ratio),
      `<= ${GOALS.parallelRatio50}`,
      verdict(ratio, GOALS.parallelRatio50),
      `createWorkers(50) ${fmt(parallel.manyMedianMs, 0)} ms / createWorkers(1) ${fmt(parallel.oneMedianMs, 0)} ms` +
        ` at ${parallel.latencyMs} ms latency (cpu ${fmt(median(parallel.manyCpuMs), 0)} / ${fmt(median(parallel.oneCpuMs), 0)} ms; ${parallel.oneMs.length} runs)`,
    ]);
  }
  if (cli) {
    results.cliStartupRatio = cli.ratio;
    table.push([
      "cliStartupRatio",
      fmt(cli.ratio),
      `<= ${GOALS.cliStartupRatio}`,
      verdict(cli.ratio, GOALS.cliStartupRatio),
      `fleet --help ${fmt(cli.fleetMs, 0)} ms / node -e "" ${fmt(cli.nodeMs, 0)} ms (${cli.reps} runs)`,
    ]);
  }

  const machine = {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  const summary = {
    ...results,
    mode: opts.quick ? "quick" : "full",
    date: new Date().toISOString(),
    durationS: Math.round((performance.now() - started) / 1000),
    machine,
    goals: GOALS,
    raw: {
      program: programRows,
      burst,
      parallel,
      cli,
    },
  };

  process.stdout.write(`\n${renderTable(table)}\n\n`);
  process.stdout.write(
    `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGb} GB, node ${machine.node}, ` +
      `load ${machine.loadAverage.join(" ")}; ${summary.mode} mode, ${summary.durationS} s\n`,
  );
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`written to ${path.relative(process.cwd(), opts.out)}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
