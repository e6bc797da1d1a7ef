/**
 * A fleet project in a temporary directory, driven through a `pulumi` on PATH: by default
 * Pulumi's own engine, built from its Go module by `npm run engine` (`ENGINE_BIN`, first on
 * PATH), with the simulated clouds' provider plugins (`SIM_BIN`, `tests/sim/bin`) next on PATH,
 * where the engine finds them as ambient plugins. Each project has its own file backend,
 * passphrase, PULUMI_HOME and simulated clouds (`FLEET_SIM_DIR`). Shared by the CLI tests, the end-to-end scenarios and the multi-process
 * CloudContext test, so every one of them runs fleet exactly as a person would.
 */
import { fork, type SpawnSyncReturns, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { type CloudObject, openCloud } from "../sim/cloud";
import { type LedgerLine, SIM_DIR_VAR, readLedger } from "../sim/faults";
import { engineInstallRoot } from "../../engine/build";

/** The repository root (this file runs from `dist/tests/harness/`). */
export const ROOT = path.join(__dirname, "..", "..", "..");
/** The built `fleet` command. */
export const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
/**
 * The folder holding the simulated clouds' provider plugins (`pulumi-resource-aws`, …), which
 * Pulumi's engine loads from PATH (tests/sim/plugin.ts).
 */
export const SIM_BIN = path.join(ROOT, "tests", "sim", "bin");
/**
 * The folder holding Pulumi's engine and its bundled plugins, as `npm run engine` builds them
 * (`npm test` runs it first). Read from this process's HOME before any test changes it.
 */
export const ENGINE_BIN = path.join(engineInstallRoot(), "bin");

/**
 * Which `pulumi` a project runs: `engine`, Pulumi's own (`ENGINE_BIN`) with the simulated
 * clouds' plugins (`SIM_BIN`); `path`, whatever `pulumi` and plugins are already on PATH
 * (FLEET_E2E_REAL=1, real clouds).
 */
export type EngineKind = "engine" | "path";

/**
 * The PATH that puts `kind`'s `pulumi` first, then (for `engine`) the simulated clouds' plugins,
 * and this process's Node (24) before any other.
 */
export function pathFor(kind: EngineKind, PATH = process.env.PATH ?? ""): string {
  const first = [path.dirname(process.execPath)];
  if (kind === "engine") first.unshift(ENGINE_BIN, SIM_BIN);
  return [...first, PATH].join(path.delimiter);
}

export interface FleetProjectOptions {
  /** Stack name. @default "dev" */
  stack?: string;
  /** Initial stack config, plain values (`fleet:cloud`, `fleet:workers` as a JSON string, …). */
  config?: Record<string, string>;
  /** Which `pulumi` runs. @default "engine" (Pulumi's own, built by `npm run engine`) */
  engine?: EngineKind;
  /** Start from this process's environment (the e2e scenarios do); otherwise only PATH. */
  inheritEnv?: boolean;
  /** Laid over the environment (credentials, for example). */
  env?: NodeJS.ProcessEnv;
}

export interface CheckpointResource {
  urn: string;
  type: string;
  id?: string;
  custom?: boolean;
  outputs?: Record<string, unknown>;
}

export interface FleetProject {
  dir: string;
  stack: string;
  /** The environment every command here runs with. */
  env: NodeJS.ProcessEnv;
  /** The simulated clouds' directory (`FLEET_SIM_DIR`): cloud store, fault counters, ledger. */
  simDir: string;
  /** Runs `fleet -C <dir> --stack <stack> …args` to completion. */
  fleet(...args: string[]): SpawnSyncReturns<string>;
  /** The same, with variables laid over the project's environment (undefined removes one). */
  fleetWith(extraEnv: NodeJS.ProcessEnv, ...args: string[]): SpawnSyncReturns<string>;
  /** Runs `pulumi …args --stack <stack> --non-interactive --cwd <dir>`. */
  pulumi(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** The stack's latest checkpoint in the file backend, undefined before the first write. */
  checkpoint(): { resources?: CheckpointResource[] } | undefined;
  /** How many updates (up, destroy, refresh) the backend has recorded for the stack. */
  updates(): number;
  /** The `fleet:workers` names in the stack file. */
  configuredNames(): string[];
  /** Objects of one type (every object, when undefined) in the simulated clouds. */
  cloud(type: string | undefined): Promise<CloudObject[]>;
  /** The plugins' ledger of provider operations. */
  ledger(): LedgerLine[];
}

/**
 * Lays out a fleet project in `dir` as a person's clone has it, and returns its stack config
 * directory (Pulumi.yaml's `stackConfigDir`, created):
 * - the repository's Pulumi.yaml;
 * - the project's own `main` (dist/index.js) re-exporting the built program, so the program
 *   starts inside the project directory: the Node.js language host the Go proxy serves (v3.68,
 *   engine/language-nodejs) passes no --root-directory, and fleet then finds its project from
 *   main's directory upwards (config/paths.ts);
 * - node_modules linked in: the engine starts plugins in the project directory, and the
 *   dynamic-provider shim finds the SDK from there (engine/build.ts).
 */
export function layOutProject(dir: string): string {
  const projectYaml = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectYaml);
  const main = /^main: (.*)$/m.exec(projectYaml)?.[1] ?? "index.js";
  fs.mkdirSync(path.dirname(path.join(dir, main)), { recursive: true });
  fs.writeFileSync(
    path.join(dir, main),
    `module.exports = require(${JSON.stringify(path.join(ROOT, "dist", "index.js"))});\n`,
  );
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  const stackDir = path.join(dir, /^stackConfigDir: (.*)$/m.exec(projectYaml)?.[1] ?? ".");
  fs.mkdirSync(stackDir, { recursive: true });
  return stackDir;
}

/** A fleet project (see `layOutProject`) with its own backend, passphrase, home and sim cloud. */
export function fleetProject(options: FleetProjectOptions = {}): FleetProject {
  const stack = options.stack ?? "dev";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-project-"));
  const stackDir = layOutProject(dir);
  const stackFile = path.join(stackDir, `Pulumi.${stack}.yaml`);
  fs.mkdirSync(stackDir, { recursive: true });
  const lines = Object.entries(options.config ?? {}).map(
    ([k, v]) => `  ${k}: ${JSON.stringify(v)}`,
  );
  fs.writeFileSync(stackFile, lines.length ? `config:\n${lines.join("\n")}\n` : "config: {}\n");
  const simDir = path.join(dir, "sim");
  const state = path.join(dir, "state");
  fs.mkdirSync(state);
  const base: NodeJS.ProcessEnv = options.inheritEnv
    ? { ...process.env }
    : { PATH: process.env.PATH, HOME: dir };
  const env: NodeJS.ProcessEnv = {
    ...base,
    PATH: pathFor(options.engine ?? "engine", base.PATH),
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: "fleet-test-passphrase",
    PULUMI_HOME: path.join(dir, "home"),
    [SIM_DIR_VAR]: simDir,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    ...options.env,
  };
  const fleetWith = (extraEnv: NodeJS.ProcessEnv, ...args: string[]) =>
    spawnSync(process.execPath, [CLI, "-C", dir, "--stack", stack, ...args], {
      env: withoutUndefined({ ...env, ...extraEnv }),
      encoding: "utf8",
      input: "",
      timeout: 240_000,
    });
  const checkpoint = () => {
    const file = path.join(state, ".pulumi", "stacks", "fleet", `${stack}.json`);
    if (!fs.existsSync(file)) return undefined;
    const cp = JSON.parse(fs.readFileSync(file, "utf8")) as {
      checkpoint: { latest?: { resources?: CheckpointResource[] } };
    };
    return cp.checkpoint.latest;
  };
  return {
    dir,
    stack,
    env,
    simDir,
    fleet: (...args) => fleetWith({}, ...args),
    fleetWith,
    pulumi: (args, extraEnv = {}) =>
      spawnSync("pulumi", [...args, "--stack", stack, "--non-interactive", "--cwd", dir], {
        env: withoutUndefined({ ...env, ...extraEnv }),
        encoding: "utf8",
        timeout: 240_000,
      }),
    checkpoint,
    updates() {
      const history = path.join(state, ".pulumi", "history", "fleet", stack);
      if (!fs.existsSync(history)) return 0;
      return fs.readdirSync(history).filter((f) => /\.history\.json$/.test(f)).length;
    },
    configuredNames() {
      const doc = (yaml.load(fs.readFileSync(stackFile, "utf8")) ?? {}) as {
        config?: Record<string, unknown>;
      };
      const raw = doc.config?.["fleet:workers"];
      const list = (typeof raw === "string" ? JSON.parse(raw) : (raw ?? [])) as (
        | string
        | { name: string }
      )[];
      return list.map((e) => (typeof e === "string" ? e : e.name));
    },
    cloud: (type) => openCloud(simDir).list(type === undefined ? {} : { type }),
    ledger: () => readLedger(simDir),
  };
}

/** spawn passes `undefined` on as the string "undefined": drop such keys instead. */
function withoutUndefined(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

/** Whether a process is alive (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 100 ms until it holds or `ms` pass; resolves with its last answer. */
export async function eventually(check: () => boolean, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** SIGKILLs each process group led by one of `pids` (worker processes a test started); gone ones are skipped. */
export function killProcessGroups(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already stopped, as it should be
    }
  }
}

/**
 * Runs `tests/harness/context-process.ts` as a child process on project `p`: it opens a
 * CloudContext and runs `ops` (`+name` creates, `-name` deletes); resolves with its summary.
 */
export function runContextProcess(
  p: FleetProject,
  ops: readonly string[],
): Promise<{ ups: number; errors: string[] }> {
  const script = path.join(__dirname, "context-process.js");
  return new Promise((resolve, reject) => {
    const child = fork(script, [p.dir, p.stack, ...ops], {
      env: p.env,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    let out = "";
    let err = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) =>
      code === 0
        ? resolve(
            JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ups: number; errors: string[] },
          )
        : reject(new Error(`${ops.join(" ")}: exited ${code}: ${err}`)),
    );
  });
}

/** The `pulumi` processes whose parent is `pid` (the engine an Automation API call started). */
export function engineChildren(pid: number): number[] {
  const ps = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(pid)], { encoding: "utf8" });
  return ps.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([, comm]) => comm === "pulumi")
    .map(([p]) => Number(p));
}

/** The local worker processes whose log is `logFile` (strategies/local-process.ts sets `FLEET_WORKER_LOG`). */
export function workersLoggingTo(logFile: string): number[] {
  return [...localWorkerProcesses((log) => log === logFile).values()].flat();
}

/** Every local worker process whose log path passes `select`: worker name → pids. */
export function localWorkerProcesses(select: (log: string) => boolean): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      const log = env.find((v) => v.startsWith("FLEET_WORKER_LOG="))?.slice(17);
      if (log === undefined || !select(log)) continue;
      const name = path.basename(log).replace(/\.log$/, "");
      found.set(name, [...(found.get(name) ?? []), Number(entry)]);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
