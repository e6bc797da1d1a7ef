/**
 * fleet at scale on Pulumi's own engine (issue 10, issue 16 item 5): one `fleet create --count
 * N` on the simulated DigitalOcean (the provider plugin `tests/sim/bin/pulumi-resource-
 * digitalocean`, loaded by the engine from PATH), then `fleet list --json` and `fleet
 * delete-all --yes`, each a real `fleet` process, timed, with the simulated cloud checked after
 * each step. In the same run, on the same engine and plugin, a bare Pulumi program (an inline
 * Automation API program) declares the same cloud objects and is brought up and destroyed:
 * fleet's time over the bare program's is the overhead ratio (goal ≤ 1.25).
 *
 * The same objects, literally: after fleet's create, the simulated cloud holds what fleet's
 * DigitalOcean strategy sent (`tests/sim/cloud.ts` keeps each object's `inputs`): one tag, one
 * firewall on it, N droplets whose inputs differ only by name. The bare program declares a tag,
 * a firewall and N droplets (each `dependsOn` the firewall, as fleet's) with exactly those
 * inputs, its own names and its own tag in place of fleet's; after its `up` the simulated cloud
 * is read again and every object's inputs must equal fleet's (names and tag aside), or the run
 * stops.
 *
 * The engine's per-step checkpoints: with a file backend the engine rewrites the whole
 * checkpoint after every step (O(N) each, O(N²) per update), which at N = 5,000 would add
 * about an hour to fleet's create + delete-all alone (fitted at N = 20 and 200). `PULUMI_SKIP_CHECKPOINTS=true` (sdk/go/common/env/env.go
 * `SkipCheckpoints`, read in pkg/backend/journal.go and snapshot.go) makes it save only the
 * final deployment. Each size runs both sides in both modes, except N itself with
 * `--skip-checkpoints` (the default above 1,000 workers), which runs only without checkpoints,
 * on both sides, so the ratio there is fleet's own cost against the same engine work. fleet's
 * processes get the variable in their environment and pass it to every `pulumi` they run
 * (context/automation.ts `workspaceEnvVars`: the Automation API lays the workspace's envVars
 * over the process environment, automation/cmd.js). The checkpoint share (1 − time without /
 * time with) is measured on both sides at every size run in both modes; its growth between
 * consecutive sizes is counted, not assumed, and a·N + b·N² (create + delete together, two saves
 * a worker: a fixed per worker, b per worker and resource in the checkpoint those saves rewrite)
 * is fitted through the two largest such sizes, which at N with
 * `--skip-checkpoints` gives the estimate of what checkpoints would have cost there.
 *
 * Sizes: N/100 (when at least 10; three runs a mode, medians: its small checkpoint costs are
 * otherwise lost in noise), N/10 and N. Every operation is timed in wall clock and in CPU
 * seconds of all the processes it ran (`cpuNow`), the steadier figure on a shared machine.
 *
 *   npm run bench:scale                                    N = 5,000 (500, 50), skip at N
 *   npm run bench:scale -- --workers 500                   N = 500 (50), both modes at N
 *   npm run bench:scale -- --workers 500 --skip-checkpoints
 *   npm run bench:scale -- --workers 2000 --with-checkpoints   both modes at N > 1,000 too
 *
 * Progress goes to stderr. Prints the tables, then as the LAST line one JSON object with every
 * figure.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import * as digitalocean from "@pulumi/digitalocean";
import type * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { packageRoot } from "../config/paths";
import { layOutProject, pathFor } from "../tests/harness/project";
import { type Json, type JsonObject, openCloud } from "../tests/sim/cloud";
import { SIM_DIR_VAR } from "../tests/sim/faults";

const ROOT = packageRoot();
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const PROVIDER = "digitalocean";
const DROPLET = "digitalocean:index/droplet:Droplet";
const TAG = "digitalocean:index/tag:Tag";
const FIREWALL = "digitalocean:index/firewall:Firewall";
/** How many times N/100 runs in each mode (its figures are the medians). */
const SMALLEST_RUNS = 3;
/** Above this many workers, N runs only without the engine's per-step checkpoints by default. */
const SKIP_ABOVE = 1000;

/** Stand-ins in normalised inputs: the fleet's own tag, and an object's own name. */
const TAG_MARK = "<fleet tag>";
const NAME_MARK = "<own name>";

/** One timed operation: wall-clock seconds and CPU seconds of every process it ran. */
interface Measure {
  s: number;
  cpuS: number;
}

interface FleetRun {
  count: number;
  checkpoints: boolean;
  create: Measure;
  list: Measure;
  deleteAll: Measure;
}

interface BareRun {
  count: number;
  checkpoints: boolean;
  up: Measure;
  destroy: Measure;
}

interface Pair {
  count: number;
  checkpoints: boolean;
  /** How many runs each figure is the median of. */
  runs: number;
  fleet: FleetRun;
  bare: BareRun;
  /** fleet (create + delete-all) / bare (up + destroy), wall clock. */
  ratio: number;
  /** The same in CPU seconds. */
  cpuRatio: number;
}

/**
 * What one side declared, as the simulated cloud received it, normalised: the tag's name and
 * every reference to it is `TAG_MARK`, the firewall's and droplets' names `NAME_MARK`.
 */
interface Declared {
  tag: JsonObject;
  firewall: JsonObject;
  /** Every droplet's inputs (checked equal across all of them). */
  droplet: JsonObject;
}

function log(message: string): void {
  process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * CPU seconds (user + system) used so far by this process and by every descendant that has
 * been waited for: Linux adds a reaped child's own and its reaped children's times to its
 * parent's `cutime`/`cstime` (/proc/self/stat fields 16 and 17, in USER_HZ = 100 ticks a
 * second). fleet's processes wait for `pulumi`, which waits for its plugins, so a `fleet`
 * command's delta covers fleet, the engine, the language host and the provider plugins.
 * NaN where /proc is not there. On a shared machine CPU time is far steadier than wall time.
 */
function cpuNow(): number {
  let children = NaN;
  try {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // from field 3 (state)
    children = (Number(fields[16 - 3]) + Number(fields[17 - 3])) / 100;
  } catch {
    // not Linux
  }
  const self = process.cpuUsage();
  return (self.user + self.system) / 1e6 + children;
}

/** Times `fn`: wall clock and CPU (see `cpuNow`). */
async function measure<T>(fn: () => T | Promise<T>): Promise<{ value: T; m: Measure }> {
  const t0 = performance.now();
  const c0 = cpuNow();
  const value = await fn();
  return { value, m: { s: (performance.now() - t0) / 1000, cpuS: cpuNow() - c0 } };
}

function droplets(dir: string): Promise<number> {
  return openCloud(dir).count({ type: DROPLET });
}

function replaceTag(v: Json, tagName: string): Json {
  if (v === tagName) return TAG_MARK;
  if (Array.isArray(v)) return v.map((x) => replaceTag(x, tagName));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceTag(x, tagName)]));
  return v;
}

function normalise(inputs: JsonObject, tagName: string): JsonObject {
  const out = replaceTag(inputs, tagName) as JsonObject;
  if (typeof out.name === "string" && out.name !== TAG_MARK) out.name = NAME_MARK;
  return out;
}

/**
 * Reads what a side's run made in the simulated cloud: exactly one tag, one firewall and
 * `count` droplets of the DigitalOcean provider, and nothing else of it; the droplets' inputs
 * all equal but for the name.
 */
async function declared(simDir: string, count: number, side: string): Promise<Declared> {
  const objects = await openCloud(simDir).list({ provider: PROVIDER });
  const of = (type: string) => objects.filter((o) => o.type === type);
  const others = objects.filter((o) => ![TAG, FIREWALL, DROPLET].includes(o.type));
  if (others.length)
    throw new Error(`${side} made other objects too: ${[...new Set(others.map((o) => o.type))]}`);
  const [tags, firewalls, drops] = [of(TAG), of(FIREWALL), of(DROPLET)];
  if (tags.length !== 1 || firewalls.length !== 1 || drops.length !== count)
    throw new Error(
      `${side} made ${tags.length} tag(s), ${firewalls.length} firewall(s) and ${drops.length} droplet(s), ` +
        `not 1, 1 and ${count}`,
    );
  const tagName = tags[0].inputs.name;
  if (typeof tagName !== "string") throw new Error(`${side}'s tag has no name input`);
  const droplet = normalise(drops[0].inputs, tagName);
  const odd = drops.find((d) => !isDeepStrictEqual(normalise(d.inputs, tagName), droplet));
  if (odd)
    throw new Error(
      `${side}'s droplets differ beyond their names: ${JSON.stringify(drops[0].inputs)} vs ${JSON.stringify(odd.inputs)}`,
    );
  return {
    tag: normalise(tags[0].inputs, tagName),
    firewall: normalise(firewalls[0].inputs, tagName),
    droplet,
  };
}

/** Normalised inputs back to a program's inputs: `TAG_MARK` → `tag`, `NAME_MARK` → `name`. */
function fill(v: Json, tag: pulumi.Input<string>, name: string): pulumi.Input<unknown> {
  if (v === TAG_MARK) return tag;
  if (v === NAME_MARK) return name;
  if (Array.isArray(v)) return v.map((x) => fill(x, tag, name));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, tag, name)]));
  return v;
}

function scratch(checkpoints: boolean): { dir: string; env: NodeJS.ProcessEnv; simDir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-scale-"));
  const simDir = path.join(dir, "sim");
  fs.mkdirSync(path.join(dir, "state"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pathFor("engine"),
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "scale",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    [SIM_DIR_VAR]: simDir,
    DIGITALOCEAN_TOKEN: `dop_v1_${"0".repeat(64)}`,
    NODE_OPTIONS: "--max-old-space-size=8192",
  };
  delete env.PULUMI_SKIP_CHECKPOINTS;
  if (!checkpoints) env.PULUMI_SKIP_CHECKPOINTS = "true";
  return { dir, env, simDir };
}

/** fleet create, list and delete-all as real processes; what create declared, for the bare side. */
async function runFleet(
  count: number,
  checkpoints: boolean,
): Promise<{ run: FleetRun; declared: Declared }> {
  const { dir, env, simDir } = scratch(checkpoints);
  // A fleet project as a person's clone has it: Pulumi.yaml, main, node_modules.
  const stackDir = layOutProject(dir);
  fs.writeFileSync(
    path.join(stackDir, "Pulumi.scale.yaml"),
    "config:\n  fleet:cloud: digitalocean\n",
  );
  const fleet = async (...args: string[]) => {
    const { value: r, m } = await measure(() =>
      spawnSync(process.execPath, [CLI, "-C", dir, "--stack", "scale", "--quiet", ...args], {
        env,
        encoding: "utf8",
        maxBuffer: 1 << 30,
        input: "",
      }),
    );
    if (r.status !== 0)
      throw new Error(`fleet ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return { m, stdout: r.stdout };
  };
  try {
    const create = await fleet("create", "--count", String(count), "--json");
    const made = (JSON.parse(create.stdout) as unknown[]).length;
    if (made !== count) throw new Error(`create returned ${made} workers, not ${count}`);
    if ((await droplets(simDir)) !== count)
      throw new Error("the simulated cloud does not hold every droplet");
    const what = await declared(simDir, count, "fleet");
    const list = await fleet("list", "--json");
    const listed = (JSON.parse(list.stdout) as unknown[]).length;
    if (listed !== count) throw new Error(`list shows ${listed} workers, not ${count}`);
    const all = await fleet("delete-all", "--yes");
    if ((await droplets(simDir)) !== 0)
      throw new Error("delete-all left droplets in the simulated cloud");
    return {
      run: {
        count,
        checkpoints,
        create: create.m,
        list: list.m,
        deleteAll: all.m,
      },
      declared: what,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The bare program: the tag, the firewall and `count` droplets with the inputs fleet's run
 * declared (`want`), its own names and its own tag; checked against `want` after `up`.
 */
async function runBare(count: number, checkpoints: boolean, want: Declared): Promise<BareRun> {
  const { dir, env, simDir } = scratch(checkpoints);
  const envVars = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const saved = process.env.PATH;
  process.env.PATH = env.PATH; // the Automation API finds `pulumi` on this process's PATH
  try {
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        stackName: "bare",
        projectName: "bare",
        program: () => {
          const tag = new digitalocean.Tag(
            "bare-tag",
            fill(want.tag, "bare-fleet-tag", "bare-fleet-tag") as digitalocean.TagArgs,
          );
          const firewall = new digitalocean.Firewall(
            "bare-firewall",
            fill(want.firewall, tag.name, "bare-firewall") as digitalocean.FirewallArgs,
          );
          for (let i = 0; i < count; i++) {
            // Ten characters, as fleet's generated worker names.
            const name = `B${String(i).padStart(9, "0")}`;
            new digitalocean.Droplet(
              name,
              fill(want.droplet, tag.name, name) as digitalocean.DropletArgs,
              { dependsOn: [firewall] },
            );
          }
          return Promise.resolve();
        },
      },
      { workDir: dir, envVars },
    );
    const up = (await measure(() => stack.up())).m;
    if ((await droplets(simDir)) !== count) throw new Error("bare up did not make every droplet");
    const got = await declared(simDir, count, "the bare program");
    for (const k of ["tag", "firewall", "droplet"] as const)
      if (!isDeepStrictEqual(got[k], want[k]))
        throw new Error(
          `the bare program's ${k} inputs are not fleet's: ${JSON.stringify(got[k])} vs ${JSON.stringify(want[k])}`,
        );
    const destroy = (await measure(() => stack.destroy())).m;
    if ((await droplets(simDir)) !== 0) throw new Error("bare destroy left droplets");
    return { count, checkpoints, up, destroy };
  } finally {
    process.env.PATH = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Metric = keyof Measure;
const fleetTotal = (f: FleetRun, k: Metric) => f.create[k] + f.deleteAll[k];
const bareTotal = (b: BareRun, k: Metric) => b.up[k] + b.destroy[k];
const both = (fn: (k: Metric) => number): Measure => ({ s: fn("s"), cpuS: fn("cpuS") });
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const mode = (checkpoints: boolean) => (checkpoints ? "with checkpoints" : "without checkpoints");
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const roundAll = (m: Measure, digits = 2) => ({
  s: round(m.s, digits),
  cpuS: round(m.cpuS, digits),
});

/** The engine's checkpoint share and cost at one size run both ways: 1 − without / with. */
interface Share {
  count: number;
  fleet: Measure;
  bare: Measure;
  /** Seconds (wall, CPU) the checkpoints added to fleet create + delete-all. */
  fleetCost: Measure;
  /** The same for bare up + destroy. */
  bareCost: Measure;
}

/** How the checkpoint cost grew between two sizes (null: no positive cost to compare). */
interface Growth {
  from: number;
  to: number;
  fleet: { s: number | null; cpuS: number | null };
  bare: { s: number | null; cpuS: number | null };
}

function parseArgs(argv: string[]): { count: number; skipAtN: boolean; why: string } {
  let count = 5000;
  let skip: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--workers") count = Number(argv[++i]);
    else if (a === "--skip-checkpoints") skip = true;
    else if (a === "--with-checkpoints") skip = false;
    else
      throw new Error(
        `unknown argument ${a} (--workers N, --skip-checkpoints, --with-checkpoints)`,
      );
  }
  if (!Number.isInteger(count) || count < 10)
    throw new Error("--workers takes a whole number of at least 10");
  if (skip !== undefined)
    return {
      count,
      skipAtN: skip,
      why: skip ? "--skip-checkpoints" : "--with-checkpoints",
    };
  return count > SKIP_ABOVE
    ? {
        count,
        skipAtN: true,
        why:
          `N = ${count} > ${SKIP_ABOVE}: the engine rewrites the whole checkpoint after every step, ` +
          `O(N²) per update (at 5,000 about an hour more for fleet create + delete-all alone, by the ` +
          `fit at 20 and 200); --with-checkpoints forces it`,
      }
    : { count, skipAtN: false, why: `N = ${count} ≤ ${SKIP_ABOVE}` };
}

/**
 * Checkpoint seconds of create + delete, a·N + b·N²: a a worker's two saves cost whatever the
 * size, b per worker and resource in the checkpoint those saves rewrite.
 */
interface Fit {
  a: number;
  b: number;
}

/**
 * Fits a·N + b·N² through (n1, c1) and (n2, c2): the cost per worker c/N is a + b·N.
 * Undefined when either cost is not positive (lost in noise). A negative b (no growth beyond
 * linear measurable) becomes 0 with a the larger size's cost per step; a negative a, 0 with b
 * through the larger size alone.
 */
function fitCost(n1: number, c1: number, n2: number, c2: number): Fit | undefined {
  if (!(c1 > 0 && c2 > 0)) return undefined;
  const b = (c2 / n2 - c1 / n1) / (n2 - n1);
  if (b <= 0) return { a: c2 / n2, b: 0 };
  const a = c1 / n1 - b * n1;
  return a >= 0 ? { a, b } : { a: 0, b: c2 / (n2 * n2) };
}

const cost = (f: Fit, n: number) => f.a * n + f.b * n * n;

async function main(): Promise<void> {
  const { count, skipAtN, why } = parseArgs(process.argv.slice(2));
  const sizes = [Math.round(count / 100), Math.round(count / 10), count].filter(
    (n, i) => i > 0 || n >= 10,
  );
  if (skipAtN)
    log(
      `N = ${count} runs only without checkpoints (PULUMI_SKIP_CHECKPOINTS=true), both sides: ${why}`,
    );
  log(`sizes ${sizes.join(", ")}; below N every size runs both sides with and without checkpoints`);
  const pairs: Pair[] = [];
  const t = (m: Measure) => `${m.s.toFixed(1)} s (cpu ${m.cpuS.toFixed(1)} s)`;
  for (const n of sizes) {
    const modes = n === count && skipAtN ? [false] : [true, false];
    // N/100 only feeds the checkpoint growth and fit, where its small costs drown in noise:
    // three runs a mode, medians.
    const reps = sizes.length === 3 && n === sizes[0] ? SMALLEST_RUNS : 1;
    for (const checkpoints of modes) {
      const fleetRuns: FleetRun[] = [];
      const bareRuns: BareRun[] = [];
      for (let r = 0; r < reps; r++) {
        const f = await runFleet(n, checkpoints);
        const tag = `N = ${n} ${mode(checkpoints)}${reps > 1 ? ` (run ${r + 1} of ${reps})` : ""}`;
        log(
          `${tag}: fleet create ${t(f.run.create)}, list ${t(f.run.list)}, delete-all ${t(f.run.deleteAll)}`,
        );
        const b = await runBare(n, checkpoints, f.declared);
        log(`${tag}: bare up ${t(b.up)}, destroy ${t(b.destroy)}`);
        fleetRuns.push(f.run);
        bareRuns.push(b);
      }
      const med = (ms: Measure[]): Measure => both((k) => median(ms.map((m) => m[k])));
      const fleet: FleetRun = {
        count: n,
        checkpoints,
        create: med(fleetRuns.map((f) => f.create)),
        list: med(fleetRuns.map((f) => f.list)),
        deleteAll: med(fleetRuns.map((f) => f.deleteAll)),
      };
      const bare: BareRun = {
        count: n,
        checkpoints,
        up: med(bareRuns.map((b) => b.up)),
        destroy: med(bareRuns.map((b) => b.destroy)),
      };
      pairs.push({
        count: n,
        checkpoints,
        runs: reps,
        fleet,
        bare,
        ratio: fleetTotal(fleet, "s") / bareTotal(bare, "s"),
        cpuRatio: fleetTotal(fleet, "cpuS") / bareTotal(bare, "cpuS"),
      });
    }
  }
  const at = (n: number, checkpoints: boolean) =>
    pairs.find((p) => p.count === n && p.checkpoints === checkpoints);

  const shares: Share[] = sizes.flatMap((n) => {
    const w = at(n, true);
    const wo = at(n, false);
    if (!w || !wo) return [];
    return [
      {
        count: n,
        fleet: both((k) => 1 - fleetTotal(wo.fleet, k) / fleetTotal(w.fleet, k)),
        bare: both((k) => 1 - bareTotal(wo.bare, k) / bareTotal(w.bare, k)),
        fleetCost: both((k) => fleetTotal(w.fleet, k) - fleetTotal(wo.fleet, k)),
        bareCost: both((k) => bareTotal(w.bare, k) - bareTotal(wo.bare, k)),
      },
    ];
  });
  const ratioOf = (a: number, b: number) => (a > 0 && b > 0 ? a / b : null);
  const growth: Growth[] = shares.slice(1).map((x, i) => ({
    from: shares[i].count,
    to: x.count,
    fleet: {
      s: ratioOf(x.fleetCost.s, shares[i].fleetCost.s),
      cpuS: ratioOf(x.fleetCost.cpuS, shares[i].fleetCost.cpuS),
    },
    bare: {
      s: ratioOf(x.bareCost.s, shares[i].bareCost.s),
      cpuS: ratioOf(x.bareCost.cpuS, shares[i].bareCost.cpuS),
    },
  }));
  // Per-worker time at N over N/10, same mode.
  const small = sizes[sizes.length - 2];
  const scaling = [true, false].flatMap((checkpoints) => {
    const big = at(count, checkpoints);
    const sm = at(small, checkpoints);
    if (!big || !sm) return [];
    const per = (total: number, n: number) => total / n;
    return [
      {
        checkpoints,
        fleet: both(
          (k) => per(fleetTotal(big.fleet, k), count) / per(fleetTotal(sm.fleet, k), small),
        ),
        bare: both((k) => per(bareTotal(big.bare, k), count) / per(bareTotal(sm.bare, k), small)),
      },
    ];
  });

  const cell = (v: number | undefined, unit = " s") =>
    (v === undefined || Number.isNaN(v) ? "–" : `${v.toFixed(unit ? 1 : 2)}${unit}`).padStart(10);
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const lines: string[] = [];
  for (const n of sizes) {
    const w = at(n, true);
    const wo = at(n, false);
    const row = (label: string, get: (p: Pair) => Measure) =>
      `  ${label.padEnd(22)}${cell(w && get(w).s)}${cell(w && get(w).cpuS)}    ${cell(wo && get(wo).s)}${cell(wo && get(wo).cpuS)}`;
    const runs = (w ?? wo)?.runs ?? 1;
    lines.push(
      `N = ${String(n).padEnd(20)}${"with checkpoints".padStart(20)}    ${"without checkpoints".padStart(20)}`,
      `${" ".repeat(24)}${"wall".padStart(10)}${"cpu".padStart(10)}    ${"wall".padStart(10)}${"cpu".padStart(10)}`,
    );
    if (runs > 1) lines.push(`  (medians of ${runs} runs in each mode)`);
    if (!w) lines.push(`  (with checkpoints: not run at ${n})`);
    lines.push(
      row("fleet create", (p) => p.fleet.create),
      row("fleet list", (p) => p.fleet.list),
      row("fleet delete-all", (p) => p.fleet.deleteAll),
      row("bare up", (p) => p.bare.up),
      row("bare destroy", (p) => p.bare.destroy),
      `  ${"fleet / bare (c + d)".padEnd(22)}${cell(w?.ratio, "")}${cell(w?.cpuRatio, "")}    ${cell(wo?.ratio, "")}${cell(wo?.cpuRatio, "")}`,
    );
    const sh = shares.find((x) => x.count === n);
    if (sh)
      lines.push(
        `  checkpoint share of create + delete (1 − without / with), wall / cpu: ` +
          `fleet ${pct(sh.fleet.s)} / ${pct(sh.fleet.cpuS)} (${sh.fleetCost.s.toFixed(1)} s / ${sh.fleetCost.cpuS.toFixed(1)} s), ` +
          `bare ${pct(sh.bare.s)} / ${pct(sh.bare.cpuS)} (${sh.bareCost.s.toFixed(1)} s / ${sh.bareCost.cpuS.toFixed(1)} s)`,
      );
    lines.push("");
  }
  for (const checkpoints of [true, false]) {
    const p = at(count, checkpoints);
    if (p)
      lines.push(
        `fleet / bare program at ${count}, ${mode(checkpoints)} (create + delete): ${p.ratio.toFixed(2)} wall, ` +
          `${p.cpuRatio.toFixed(2)} cpu (goal ≤ 1.25)`,
      );
  }
  for (const x of scaling)
    lines.push(
      `per-worker time at ${count} / at ${small}, ${mode(x.checkpoints)}: fleet ${x.fleet.s.toFixed(2)} wall, ` +
        `${x.fleet.cpuS.toFixed(2)} cpu; bare ${x.bare.s.toFixed(2)} wall, ${x.bare.cpuS.toFixed(2)} cpu (1.0 = linear)`,
    );
  const times = (v: number | null) => (v === null ? "n/a" : `×${v.toFixed(0)}`);
  for (const g of growth) {
    const k = g.to / g.from;
    lines.push(
      `checkpoint cost (with − without) from ${g.from} to ${g.to} workers (×${k.toFixed(0)}): ` +
        `fleet ${times(g.fleet.s)} wall, ${times(g.fleet.cpuS)} cpu; bare ${times(g.bare.s)} wall, ${times(g.bare.cpuS)} cpu ` +
        `(×${(k * k).toFixed(0)} if O(N²), ×${k.toFixed(0)} if O(N); n/a: no cost measurable at ${g.from})`,
    );
  }
  // The checkpoint cost of a worker's create and delete steps is a + b·N (a fixed cost of the two
  // saves, and b for each resource in the whole checkpoint they rewrite), so a·N + b·N² in all.
  // Fitted through the two largest sizes run both ways; wall clock, as the estimate at N is.
  let fits: { fleet?: Fit; bare?: Fit } | undefined;
  if (shares.length >= 2) {
    const [lo, hi] = shares.slice(-2);
    fits = {
      fleet: fitCost(lo.count, lo.fleetCost.s, hi.count, hi.fleetCost.s),
      bare: fitCost(lo.count, lo.bareCost.s, hi.count, hi.bareCost.s),
    };
    const show = (f: Fit | undefined) =>
      f
        ? `a = ${(f.a * 1000).toFixed(1)} ms, b = ${(f.b * 1e6).toFixed(2)} µs ` +
          `(the N² term ${pct((f.b * count * count) / cost(f, count))} of it at ${count})`
        : `n/a (no cost measurable at ${lo.count})`;
    lines.push(
      `checkpoint cost per update fitted through ${lo.count} and ${hi.count} as a·N + b·N² (wall): ` +
        `fleet ${show(fits.fleet)}; bare ${show(fits.bare)}`,
    );
  }
  let estimate: { fleetS: number | null; bareS: number | null } | undefined;
  if (skipAtN) {
    lines.push(
      `at ${count} the with-checkpoints runs were not made (${why}); the engine rewrites the whole ` +
        `checkpoint after every step, so a step's checkpoint costs a + b·N and an update's a·N + b·N²`,
    );
    const without = at(count, false);
    if (fits && without) {
      const fleetS = fits.fleet ? cost(fits.fleet, count) : null;
      const bareS = fits.bare ? cost(fits.bare, count) : null;
      estimate = { fleetS, bareS };
      const d = (sec: number | null, plus = 0) =>
        sec === null
          ? "n/a"
          : sec + plus < 120
            ? `${(sec + plus).toFixed(0)} s`
            : `${((sec + plus) / 60).toFixed(0)} min`;
      lines.push(
        `  estimate, not measured: with checkpoints at ${count}, fleet create + delete-all would take about ` +
          `${d(fleetS, fleetTotal(without.fleet, "s"))} and bare up + destroy about ` +
          `${d(bareS, bareTotal(without.bare, "s"))} (the checkpoints adding ${d(fleetS)} and ${d(bareS)} by the fit above)`,
      );
    }
  }
  console.log(lines.join("\n"));
  console.log(
    JSON.stringify({
      count,
      skipCheckpointsAtN: skipAtN,
      runs: pairs.map((p) => ({
        count: p.count,
        checkpoints: p.checkpoints,
        runs: p.runs,
        fleet: {
          create: roundAll(p.fleet.create),
          list: roundAll(p.fleet.list),
          deleteAll: roundAll(p.fleet.deleteAll),
        },
        bare: { up: roundAll(p.bare.up), destroy: roundAll(p.bare.destroy) },
        ratio: round(p.ratio),
        cpuRatio: round(p.cpuRatio),
      })),
      scaling: scaling.map((x) => ({
        checkpoints: x.checkpoints,
        fleet: roundAll(x.fleet),
        bare: roundAll(x.bare),
      })),
      checkpointShare: shares.map((x) => ({
        count: x.count,
        fleet: roundAll(x.fleet),
        bare: roundAll(x.bare),
        fleetCost: roundAll(x.fleetCost),
        bareCost: roundAll(x.bareCost),
      })),
      checkpointGrowth: growth.map((g) => ({
        from: g.from,
        to: g.to,
        fleet: {
          s: g.fleet.s && round(g.fleet.s, 1),
          cpuS: g.fleet.cpuS && round(g.fleet.cpuS, 1),
        },
        bare: { s: g.bare.s && round(g.bare.s, 1), cpuS: g.bare.cpuS && round(g.bare.cpuS, 1) },
      })),
      ...(fits
        ? {
            checkpointFit: Object.fromEntries(
              Object.entries(fits).map(([side, f]) => [
                side,
                f ? { aMs: round(f.a * 1000, 2), bUs: round(f.b * 1e6, 3) } : null,
              ]),
            ),
          }
        : {}),
      ...(estimate
        ? {
            checkpointEstimateAtN: {
              fleetS: estimate.fleetS === null ? null : round(estimate.fleetS, 0),
              bareS: estimate.bareS === null ? null : round(estimate.bareS, 0),
            },
          }
        : {}),
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
