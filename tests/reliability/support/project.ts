/**
 * The reliability suite on Pulumi's own engine (`ENGINE_BIN`, built by `npm run engine`) with
 * the simulated clouds' provider plugins (`tests/sim/bin`) next on PATH, exactly as
 * `tests/harness/project.ts` puts them (`pathFor("engine")`): a fleet project in a temporary
 * directory with its own file backend, passphrase, PULUMI_HOME and simulated clouds
 * (`FLEET_SIM_DIR`, with the plugins' fault rules in `FLEET_SIM_FAULTS`, tests/sim/faults.ts);
 * `fleet` run as a real OS process or in-process (`main(argv)`), and `CloudContext.open` — the
 * same paths a person's `fleet` takes, with no test switch.
 *
 * `reckon()` is the one place that decides what was lost, orphaned or phantom, by comparing
 * the three sources of truth: the simulated cloud, the checkpoint and the stack config.
 * `ledgerCounts()` counts cloud mutations and injected faults from the plugins' ledger.
 */
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CloudContext, type CloudContextOptions } from "../../../context/cloud-context";
import { entryName, parseWorkerEntries } from "../../../config/fleet-config";
import { type CloudObject, openCloud } from "../../sim/cloud";
import { FAULTS_VAR, type LedgerLine, SIM_DIR_VAR, readLedger } from "../../sim/faults";
import { type CheckpointResource, layOutProject, pathFor } from "../../harness/project";

export type { CheckpointResource };
import { tempDir } from "./fixtures";
import { record } from "./stats";

const ROOT = path.join(__dirname, "..", "..", "..", "..");
export const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
export const STACK = "dev";

/** The worker resource of each simulated cloud (logical name `<cloud>-<worker>`). */
export const WORKER_TYPES: Readonly<Record<string, string>> = {
  "digitalocean:index/droplet:Droplet": "digitalocean",
  "aws:ec2/instance:Instance": "aws",
  "azure-native:compute:VirtualMachine": "azure",
  "gcp:compute/instance:Instance": "gcp",
  "hcloud:index/server:Server": "hetzner",
};

/** A fault rule of the simulated plugins' `FLEET_SIM_FAULTS` (tests/sim/faults.ts). */
export type FaultRule = Record<string, unknown>;

/** The environment that gives the plugins `rules`. */
export const faults = (rules: FaultRule[]): NodeJS.ProcessEnv => ({
  [FAULTS_VAR]: JSON.stringify(rules),
});

export interface FleetRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RelProject {
  dir: string;
  stack: string;
  /** The simulated clouds' directory (`FLEET_SIM_DIR`): cloud store, fault counters, ledger. */
  simDir: string;
  /** The environment every fleet and pulumi run gets (the engine, then the plugins, on PATH). */
  env: NodeJS.ProcessEnv;
  stackFile: string;
  checkpointFile: string;
  /** `fleet -C <dir> --stack dev …` as an OS process, waited for. */
  fleet(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** The same, without blocking the event loop (for several at once). */
  fleetAsync(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<FleetRun>;
  /** Starts `fleet` and returns the process (for signals). */
  start(args: string[], extraEnv?: NodeJS.ProcessEnv): ChildProcess;
  /** Pulumi's own CLI, as a person would run `pulumi`. */
  pulumi(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** `CloudContext.open` on this project, through the Automation API and the engine. */
  open(options?: Partial<CloudContextOptions>, extraEnv?: NodeJS.ProcessEnv): Promise<CloudContext>;
  /** Sets plain values in the stack file. */
  setConfig(values: Record<string, string>): void;
  /** Names in `fleet:workers`, in order, with their cloud. */
  configWorkers(): { name: string; cloud: string }[];
  checkpoint(): Checkpoint;
  /** Worker objects in the simulated cloud. */
  cloudWorkers(): Promise<CloudObject[]>;
  ledger(): LedgerLine[];
}

export interface Checkpoint {
  resources: CheckpointResource[];
  pending: { type: string; resource: CheckpointResource }[];
}

/**
 * A fresh fleet project: the repository's Pulumi.yaml with `main` pointing at the built
 * program, a stack file under its `stackConfigDir` holding `config` (plain values), and, for
 * `secrets`, values set with `pulumi config set --secret` (encrypted with the project's
 * passphrase by Pulumi's CLI).
 */
export function relProject(
  prefix: string,
  config: Record<string, string> = { "fleet:cloud": "digitalocean" },
  secrets: Record<string, string> = {},
  baseEnv: NodeJS.ProcessEnv = {},
): RelProject {
  const dir = tempDir(prefix);
  const stackDir = layOutProject(dir);
  const stackFile = path.join(stackDir, `Pulumi.${STACK}.yaml`);
  fs.writeFileSync(stackFile, yaml.dump({ config }));
  fs.mkdirSync(path.join(dir, "state"));
  const simDir = path.join(dir, "sim");
  const env: NodeJS.ProcessEnv = {
    PATH: pathFor("engine", process.env.PATH),
    HOME: dir,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "reliability-passphrase",
    PULUMI_HOME: path.join(dir, "home"),
    [SIM_DIR_VAR]: simDir,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    DIGITALOCEAN_TOKEN: "dop_v1_" + "0".repeat(64),
    ...baseEnv,
  };
  const spawnEnv = (extra: NodeJS.ProcessEnv) => {
    const out: NodeJS.ProcessEnv = { ...env, ...extra };
    for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
    return out;
  };
  const fleetArgv = (args: string[]) => [CLI, "-C", dir, "--stack", STACK, ...args];
  const p: RelProject = {
    dir,
    stack: STACK,
    simDir,
    env,
    stackFile,
    checkpointFile: path.join(dir, "state", ".pulumi", "stacks", "fleet", `${STACK}.json`),
    fleet: (args, extra = {}) =>
      spawnSync(process.execPath, fleetArgv(args), {
        env: spawnEnv(extra),
        encoding: "utf8",
        input: "",
        timeout: 300_000,
      }),
    fleetAsync: (args, extra = {}) =>
      new Promise((resolve) => {
        const child = p.start(args, extra);
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
      }),
    start: (args, extra = {}) =>
      spawn(process.execPath, fleetArgv(args), {
        env: spawnEnv(extra),
        stdio: ["ignore", "pipe", "pipe"],
      }),
    pulumi: (args, extra = {}) =>
      spawnSync("pulumi", [...args, "--stack", STACK, "--non-interactive", "--cwd", dir], {
        env: spawnEnv(extra),
        encoding: "utf8",
        timeout: 300_000,
      }),
    open: (options = {}, extra = {}) =>
      CloudContext.open({
        workDir: dir,
        stackName: STACK,
        env: spawnEnv(extra),
        retry: { attempts: 8, baseDelayMs: 50, maxDelayMs: 500 },
        lock: { staleMs: 10_000, timeoutMs: 300_000, pollMs: 50 },
        ...options,
      }),
    setConfig(values) {
      const doc = (yaml.load(fs.readFileSync(stackFile, "utf8")) ?? {}) as {
        config?: Record<string, unknown>;
      };
      doc.config = { ...(doc.config ?? {}), ...values };
      fs.writeFileSync(stackFile, yaml.dump(doc));
    },
    configWorkers() {
      const doc = (yaml.load(fs.readFileSync(stackFile, "utf8")) ?? {}) as {
        config?: Record<string, unknown>;
      };
      const c = doc.config ?? {};
      const raw = c["fleet:workers"];
      const value: unknown = typeof raw === "string" ? JSON.parse(raw) : (raw ?? []);
      const cloud = typeof c["fleet:cloud"] === "string" ? c["fleet:cloud"] : "local";
      return parseWorkerEntries("fleet:workers", value).map((e) => ({
        name: entryName(e),
        cloud: typeof e === "string" ? cloud : (e.cloud ?? cloud),
      }));
    },
    checkpoint() {
      if (!fs.existsSync(p.checkpointFile)) return { resources: [], pending: [] };
      const cp = JSON.parse(fs.readFileSync(p.checkpointFile, "utf8")) as {
        checkpoint: {
          latest?: { resources?: CheckpointResource[]; pending_operations?: Checkpoint["pending"] };
        };
      };
      return {
        resources: cp.checkpoint.latest?.resources ?? [],
        pending: cp.checkpoint.latest?.pending_operations ?? [],
      };
    },
    async cloudWorkers() {
      const all = await openCloud(simDir).list();
      return all.filter((o) => o.type in WORKER_TYPES);
    },
    ledger: () => readLedger(simDir),
  };
  if (Object.keys(secrets).length) {
    const init = p.pulumi(["stack", "init"]);
    if (init.status !== 0) throw new Error(`stack init failed: ${init.stderr}`);
    for (const [k, v] of Object.entries(secrets)) {
      const set = p.pulumi(["config", "set", "--secret", k, v]);
      if (set.status !== 0) throw new Error(`config set --secret ${k} failed: ${set.stderr}`);
    }
  }
  return p;
}

/** The worker name of a cloud object (its cloud-side name, or the `Name` tag on AWS). */
function cloudName(o: CloudObject): string {
  const tags = o.outputs.tags as Record<string, unknown> | undefined;
  const n = o.name ?? o.outputs.name ?? (tags && !Array.isArray(tags) ? tags.Name : undefined);
  return String(n ?? o.id);
}

/** What the three sources of truth say, and how they disagree. */
export interface Reckoning {
  /** Worker names in stack config (`fleet:workers`). */
  config: string[];
  /** Worker names with a worker resource in the checkpoint (repeats kept). */
  state: string[];
  /** Worker names of worker objects in the simulated cloud (repeats kept). */
  cloud: string[];
  /** In config (or intended) but neither in the cloud nor in the checkpoint. */
  lost: number;
  /** In the simulated cloud but not in the checkpoint (nothing manages it any more). */
  orphaned: number;
  /** In the checkpoint or `fleet list` but not in the cloud, or a worker there twice. */
  phantom: number;
  /** One line per disagreement, for assertion messages. */
  details: string[];
}

/**
 * Compares the simulated cloud, the checkpoint and the stack config of `p` (and, when given,
 * the names `fleet list` printed and the names that should exist):
 * - lost: a worker in config, or in `intended`, that is neither in the cloud nor in state —
 *   and a worker in `intended` that config no longer lists (a lost update);
 * - orphaned: a worker object in the cloud whose id is not in the checkpoint;
 * - phantom: a worker resource in the checkpoint whose id is not in the cloud, a name `fleet
 *   list` shows that is not in the cloud, a worker in config that `intended` does not have,
 *   or one name twice in config, state or `fleet list`.
 */
export async function reckon(
  p: RelProject,
  opts: { listed?: string[]; intended?: readonly string[] } = {},
): Promise<Reckoning> {
  const config = p.configWorkers().map((w) => w.name);
  const stateWorkers = p
    .checkpoint()
    .resources.filter((r) => r.type in WORKER_TYPES && r.custom !== false);
  const objects = await p.cloudWorkers();
  const stateIds = new Set(stateWorkers.map((r) => r.id ?? ""));
  const cloudIds = new Set(objects.map((o) => o.id));
  const stateName = (r: CheckpointResource) => {
    const logical = r.urn.split("::").pop() ?? "";
    return logical.slice(WORKER_TYPES[r.type].length + 1);
  };
  const state = stateWorkers.map(stateName);
  const cloud = objects.map(cloudName);
  const details: string[] = [];
  let lost = 0;
  let orphaned = 0;
  let phantom = 0;

  const inCloud = new Set(cloud);
  const inState = new Set(state);
  const wanted = new Set([...config, ...(opts.intended ?? [])]);
  for (const n of wanted) {
    if (!inCloud.has(n) && !inState.has(n)) {
      lost++;
      details.push(
        `lost: ${n} is ${config.includes(n) ? "in config" : "intended"} but neither in the cloud nor in state`,
      );
    }
  }
  if (opts.intended) {
    const intended = new Set(opts.intended);
    for (const n of intended)
      if (!config.includes(n) && (inCloud.has(n) || inState.has(n))) {
        lost++;
        details.push(`lost: ${n} is intended but config no longer lists it`);
      }
    for (const n of config)
      if (!intended.has(n)) {
        phantom++;
        details.push(`phantom: config lists ${n}, which nobody asked for`);
      }
  }
  objects.forEach((o, i) => {
    if (!stateIds.has(o.id)) {
      orphaned++;
      details.push(`orphaned: ${cloud[i]} (${o.id}) is in the cloud but not in the checkpoint`);
    }
  });
  stateWorkers.forEach((r, i) => {
    if (!cloudIds.has(r.id ?? "")) {
      phantom++;
      details.push(
        `phantom: ${state[i]} (${r.id ?? "no id"}) is in the checkpoint but not in the cloud`,
      );
    }
  });
  for (const n of opts.listed ?? [])
    if (!inCloud.has(n)) {
      phantom++;
      details.push(`phantom: fleet list shows ${n}, which is not in the cloud`);
    }
  // (Two cloud objects of one name are not counted here: one of them is not in the checkpoint,
  // so it is already counted as orphaned.)
  for (const [source, names] of Object.entries({ config, state, list: opts.listed ?? [] })) {
    const dup = names.length - new Set(names).size;
    if (dup) {
      phantom += dup;
      details.push(`phantom: ${source} has ${dup} duplicate(s)`);
    }
  }
  return { config, state, cloud, lost, orphaned, phantom, details };
}

/**
 * Cloud mutations and injected faults, counted from the plugins' ledger: `operations` are the
 * creates, updates and deletes the plugins ran (reads of a refresh and invokes apart, in
 * `reads`); `faults` every line an injected rule decided (an error, a hang, a crash).
 */
export interface LedgerCounts {
  operations: number;
  reads: number;
  /** Ledger lines with `outcome: "fault"`. */
  faults: number;
  /** `<op> fault` → count, for the summary's breakdown. */
  faultKinds: Record<string, number>;
  failed: number;
}

export function ledgerCounts(lines: readonly LedgerLine[]): LedgerCounts {
  const faultKinds: Record<string, number> = {};
  let faults = 0;
  let failed = 0;
  let operations = 0;
  for (const l of lines) {
    if (l.op === "create" || l.op === "update" || l.op === "delete") operations++;
    if (l.outcome === "fault") {
      faults++;
      const k = `${l.op} fault${/plugin crashed/.test(l.error ?? "") ? " (plugin crash)" : ""}`;
      faultKinds[k] = (faultKinds[k] ?? 0) + 1;
    } else if (l.outcome === "failed") failed++;
  }
  return { operations, reads: lines.length - operations, faults, faultKinds, failed };
}

/** Names from `fleet list --json` output. */
export function listedNames(stdout: string): string[] {
  return (JSON.parse(stdout) as { name: string }[]).map((w) => w.name);
}

/**
 * The end of a scenario: reckons `p` (see `reckon`) and records, for the summary, its lost,
 * orphaned and phantom workers and the operations and faults in its ledger. Call it once per
 * project, after its last run (the ledger is cumulative).
 */
export async function settle(
  p: RelProject,
  opts: { listed?: string[]; intended?: readonly string[] } = {},
): Promise<Reckoning & LedgerCounts> {
  const r = await reckon(p, opts);
  const l = ledgerCounts(p.ledger());
  record({
    lost: r.lost,
    orphaned: r.orphaned,
    phantom: r.phantom,
    operations: l.operations,
    faults: l.faults,
    faultKinds: l.faultKinds,
  });
  return { ...r, ...l };
}

/** `pid` and its descendants, from /proc (the engine, its plugins, their children). */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const children = new Map<number, { pid: number; comm: string }[]>();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), { pid: Number(e), comm }]);
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

/** A `fleet` run in a process group of its own (as a shell runs a foreground job). */
export interface Running {
  child: ChildProcess;
  /** Resolves when fleet exits. */
  done: Promise<FleetRun>;
  /** What fleet printed on stderr so far. */
  stderr(): string;
  /** Sends `signal` to the whole group, as a terminal's Ctrl-C does. */
  signalGroup(signal: NodeJS.Signals): void;
  /** Pulumi's engine processes fleet started (its `pulumi` children). */
  engines(): number[];
  /** SIGKILLs whatever of the group is left (plugins a killed engine left behind). */
  cleanup(): void;
}

export function startGroup(
  p: RelProject,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Running {
  const env: NodeJS.ProcessEnv = { ...p.env, ...extraEnv };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [CLI, "-C", p.dir, "--stack", p.stack, ...args], {
    detached: true,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<FleetRun>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // the group is gone
    }
  };
  return {
    child,
    done,
    stderr: () => stderr,
    signalGroup: group,
    engines: () =>
      descendants(child.pid as number)
        .filter((d) => d.comm === "pulumi")
        .map((d) => d.pid),
    cleanup: () => group("SIGKILL"),
  };
}

/** Polls `check` every 100 ms until it holds; throws with `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether the checkpoint has a pending create of worker `name` (`<cloud>-<name>`). */
export function pendingCreate(p: RelProject, name: string): boolean {
  return p
    .checkpoint()
    .pending.some((o) => o.type === "creating" && o.resource.urn.endsWith(`-${name}`));
}

/**
 * Follows the advice of fleet's PendingCreatesError (context/errors.ts) as a person would: for
 * each worker it names, look for an object of that name in the (simulated) cloud's console; if
 * there is one, `fleet adopt <worker> <its id>`, else `fleet adopt <worker> --none`. Returns
 * the workers kept and dropped. Throws when `stderr` is not that error.
 */
export async function adoptAsAdvised(
  p: RelProject,
  stderr: string,
): Promise<{ kept: string[]; dropped: string[] }> {
  const m = /was stopped while creating (.*?): each may exist in its cloud/.exec(stderr);
  if (!m) throw new Error(`not fleet's pending-creates advice:\n${stderr}`);
  const workers = m[1].split(", ").map((w) => w.replace(/ \([^)]*\)$/, ""));
  const objects = await p.cloudWorkers();
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const w of workers) {
    const found = objects.filter((o) => cloudName(o) === w);
    if (found.length > 1) throw new Error(`${found.length} objects named ${w} in the cloud`);
    const argv = found.length ? ["adopt", w, found[0].id] : ["adopt", w, "--none"];
    let r = p.fleet(argv);
    if (r.status !== 0 && /locked/.test(r.stderr)) {
      // A killed engine may also have left its lock: `pulumi cancel`, as fleet says, then again.
      const c = p.pulumi(["cancel", "--yes"]);
      if (c.status !== 0) throw new Error(`pulumi cancel: ${c.stderr}`);
      r = p.fleet(argv);
    }
    if (r.status !== 0) throw new Error(`fleet adopt ${w}: ${r.stderr}`);
    (found.length ? kept : dropped).push(w);
  }
  return { kept, dropped };
}

/**
 * Runs `fleet …args` until it succeeds, doing what each refusal says: `pulumi cancel` for a
 * stack a killed engine left locked, `fleet adopt` for creates it left pending. Returns the
 * final run and what was done on the way.
 */
export async function runAsAdvised(
  p: RelProject,
  args: string[],
): Promise<{
  run: SpawnSyncReturns<string>;
  cancelled: number;
  kept: string[];
  dropped: string[];
}> {
  let cancelled = 0;
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < 4; i++) {
    const run = p.fleet(args);
    if (run.status === 0) return { run, cancelled, kept, dropped };
    if (/pulumi cancel/.test(run.stderr) && /locked/.test(run.stderr)) {
      const c = p.pulumi(["cancel", "--yes"]);
      if (c.status !== 0) throw new Error(`pulumi cancel: ${c.stderr}`);
      cancelled++;
    } else if (/was stopped while creating/.test(run.stderr)) {
      const a = await adoptAsAdvised(p, run.stderr);
      kept.push(...a.kept);
      dropped.push(...a.dropped);
    } else throw new Error(`fleet ${args.join(" ")} failed:\n${run.stderr}`);
  }
  throw new Error(`fleet ${args.join(" ")} never succeeded`);
}
