/**
 * The reliability suite on the `pulumi` double (`tests/engine/bin/pulumi`, first on PATH): a
 * fleet project in a temporary directory with its own file backend, passphrase, simulated
 * cloud and fault rules; `fleet` run as a real OS process or in-process (`main(argv)`), and
 * `CloudContext.open` — the same paths a person's `fleet` takes, with no test switch.
 *
 * `reckon()` is the one place that decides what was lost, orphaned or phantom, by comparing
 * the three sources of truth: the simulated cloud, the checkpoint and the stack config.
 * `ledgerCounts()` counts operations and injected faults from the double's ledger.
 */
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CloudContext, type CloudContextOptions } from "../../../context/cloud-context";
import { entryName, parseWorkerEntries } from "../../../config/fleet-config";
import { type CloudObject, openCloud } from "../../sim/cloud";
import { type LedgerLine, readLedger } from "../../engine/faults";
import { tempDir } from "./fixtures";
import { record } from "./stats";

const ROOT = path.join(__dirname, "..", "..", "..", "..");
export const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
export const DOUBLE_BIN = path.join(ROOT, "tests", "engine", "bin");
export const STACK = "dev";

/** The worker resource of each simulated cloud (logical name `<cloud>-<worker>`). */
export const WORKER_TYPES: Readonly<Record<string, string>> = {
  "digitalocean:index/droplet:Droplet": "digitalocean",
  "aws:ec2/instance:Instance": "aws",
  "azure-native:compute:VirtualMachine": "azure",
  "gcp:compute/instance:Instance": "gcp",
  "hcloud:index/server:Server": "hetzner",
};

/** A fault rule of `PULUMI_DOUBLE_FAULTS` (see tests/engine/README.md). */
export type FaultRule = Record<string, unknown>;

export interface FleetRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RelProject {
  dir: string;
  stack: string;
  /** The double's directory: simulated cloud, fault counters, ledger. */
  doubleDir: string;
  /** The environment every fleet and pulumi run gets (the double first on PATH). */
  env: NodeJS.ProcessEnv;
  stackFile: string;
  checkpointFile: string;
  /** `fleet -C <dir> --stack dev …` as an OS process, waited for. */
  fleet(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** The same, without blocking the event loop (for several at once). */
  fleetAsync(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<FleetRun>;
  /** Starts `fleet` and returns the process (for signals). */
  start(args: string[], extraEnv?: NodeJS.ProcessEnv): ChildProcess;
  /** The double itself, as a person would run `pulumi`. */
  pulumi(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** `CloudContext.open` on this project, through the Automation API and the double. */
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

export interface CheckpointResource {
  urn: string;
  type: string;
  id?: string;
  custom?: boolean;
  outputs?: Record<string, unknown>;
}

export interface Checkpoint {
  resources: CheckpointResource[];
  pending: { type: string; resource: CheckpointResource }[];
}

/**
 * A fresh fleet project: the repository's Pulumi.yaml with `main` pointing at the built
 * program, a stack file under its `stackConfigDir` holding `config` (plain values), and, for
 * `secrets`, values set with `pulumi config set --secret` through the double (encrypted with
 * the project's passphrase, as the CLI does).
 */
export function relProject(
  prefix: string,
  config: Record<string, string> = { "fleet:cloud": "digitalocean" },
  secrets: Record<string, string> = {},
  baseEnv: NodeJS.ProcessEnv = {},
): RelProject {
  const dir = tempDir(prefix);
  const text = fs
    .readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")
    .replace(/^main: .*$/m, `main: ${path.join(ROOT, "dist", "index.js")}`);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), text);
  const stackDir = path.join(dir, /^stackConfigDir: (.*)$/m.exec(text)?.[1] ?? ".");
  fs.mkdirSync(stackDir, { recursive: true });
  const stackFile = path.join(stackDir, `Pulumi.${STACK}.yaml`);
  fs.writeFileSync(stackFile, yaml.dump({ config }));
  fs.mkdirSync(path.join(dir, "state"));
  const doubleDir = path.join(dir, "double");
  const env: NodeJS.ProcessEnv = {
    PATH: `${DOUBLE_BIN}${path.delimiter}${process.env.PATH ?? ""}`,
    HOME: dir,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "reliability-passphrase",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_DOUBLE_DIR: doubleDir,
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
    doubleDir,
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
      spawnSync(
        process.execPath,
        [path.join(DOUBLE_BIN, "pulumi"), ...args, "--stack", STACK, "--cwd", dir],
        { env: spawnEnv(extra), encoding: "utf8", timeout: 300_000 },
      ),
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
      const all = await openCloud(doubleDir).list();
      return all.filter((o) => o.type in WORKER_TYPES);
    },
    ledger: () => readLedger(doubleDir),
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

/** Provider operations and injected faults, counted from the double's ledger. */
export interface LedgerCounts {
  operations: number;
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
  for (const l of lines) {
    if (l.outcome === "fault") {
      faults++;
      const k = `${l.op} fault`;
      faultKinds[k] = (faultKinds[k] ?? 0) + 1;
    } else if (l.outcome === "failed") failed++;
  }
  return { operations: lines.length, faults, faultKinds, failed };
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
