/**
 * Process management for the `local` cloud: start a worker as a detached process, identify it
 * across PID reuse, ask whether it still runs, and stop it.
 *
 * This module is captured by Pulumi's closure serializer together with the dynamic provider
 * (`local-provider.ts`) and runs again inside the provider host under the real CLI. Keep it
 * self-contained: only Node built-ins at the top, no Pulumi, no fleet config, no big objects.
 *
 * A worker's identity is `<pid>:<startTime>`. The start time is field 22 of `/proc/<pid>/stat`
 * (clock ticks since boot) where /proc exists, else `ps -o lstart=` (a date, 1 s resolution).
 * A PID only counts as the worker when both match, so a recycled PID is never signalled.
 */
import * as childProcess from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** How long `stopWorker` waits after SIGTERM before it sends SIGKILL. */
export const DEFAULT_GRACE_MS = 5000;

/** How long `startWorker` watches a new process for an immediate failure. */
export const DEFAULT_STARTUP_CHECK_MS = 250;

/**
 * The startup check of the local cloud's provider: `FLEET_LOCAL_STARTUP_CHECK_MS` (a whole
 * number of milliseconds, 0 to 600000) from the environment the engine gives its plugins, else
 * `DEFAULT_STARTUP_CHECK_MS`. A longer check catches workers that die later in their start-up;
 * tests use it to make a create last long enough to interrupt.
 */
export function startupCheckFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.FLEET_LOCAL_STARTUP_CHECK_MS;
  if (raw === undefined || raw === "") return DEFAULT_STARTUP_CHECK_MS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 600_000)
    throw new Error(
      `FLEET_LOCAL_STARTUP_CHECK_MS: invalid value: got ${JSON.stringify(raw)}; a whole number of milliseconds from 0 to 600000`,
    );
  return n;
}

/** How long `stopWorker` waits for the process to disappear after SIGKILL. */
const KILL_WAIT_MS = 2000;

/** A process as the OS reports it. */
export interface ProcessInfo {
  /** One-letter process state (`R`, `S`, `D`, `Z`, …); `Z`/`X` mean it has exited. */
  state: string;
  /** When it started: clock ticks since boot (/proc) or an `lstart` date (ps). */
  startTime: string;
}

/** Parses `/proc/<pid>/stat`. The comm field (2) may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcessInfo {
  // comm is "(...)" and may contain anything, so the fields resume after the *last* ")".
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error(`unrecognised /proc stat line: ${JSON.stringify(text)}`);
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (!state || !startTime || !/^\d+$/.test(startTime)) {
    throw new Error(`unrecognised /proc stat line: ${JSON.stringify(text)}`);
  }
  return { state, startTime };
}

/** Reads a process from /proc; `undefined` when it does not exist. */
export function readProcInfo(pid: number, procRoot = "/proc"): ProcessInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(procRoot, String(pid), "stat"), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") return undefined;
    throw e;
  }
  return parseProcStat(text);
}

/** Reads a process with `ps` (systems without /proc, e.g. macOS); `undefined` when it does not exist. */
export function readPsInfo(pid: number): ProcessInfo | undefined {
  const result = childProcess.spawnSync("ps", ["-o", "stat=,lstart=", "-p", String(pid)], {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C" },
  });
  if (result.error) {
    throw new Error(
      `cannot identify local workers: /proc is absent and \`ps\` failed (${result.error.message})`,
    );
  }
  const line = result.stdout.trim();
  if (result.status !== 0 || !line) return undefined; // ps exits 1 when there is no such process
  const [stat, ...lstart] = line.split(/\s+/);
  return { state: stat.charAt(0), startTime: lstart.join(" ") };
}

/** Reads a process from /proc where it exists, else with `ps`. */
export function readProcessInfo(pid: number): ProcessInfo | undefined {
  return fs.existsSync("/proc/self/stat") ? readProcInfo(pid) : readPsInfo(pid);
}

/** A worker's identity: its PID and the start time that tells it apart from a recycled PID. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** Formats an identity as a resource id: `<pid>:<startTime>`. */
export function formatId(identity: ProcessIdentity): string {
  return `${identity.pid}:${identity.startTime}`;
}

/** Parses a resource id made by `formatId` (the start time itself may contain `:`). */
export function parseId(id: string): ProcessIdentity {
  const colon = id.indexOf(":");
  const pid = Number(id.slice(0, colon));
  const startTime = id.slice(colon + 1);
  if (colon < 1 || !Number.isSafeInteger(pid) || pid <= 0 || !startTime) {
    throw new Error(`not a local worker id (expected <pid>:<startTime>): ${JSON.stringify(id)}`);
  }
  return { pid, startTime };
}

/**
 * Whether the process is still the worker: the PID exists, its start time matches (so the PID
 * was not recycled) and it has not exited (a zombie waiting to be reaped counts as gone).
 */
export function isRunning(identity: ProcessIdentity): boolean {
  const info = readProcessInfo(identity.pid);
  return (
    info !== undefined &&
    info.startTime === identity.startTime &&
    info.state !== "Z" &&
    info.state !== "X"
  );
}

/** What to start. */
export interface StartOptions {
  /** The worker name; given to the process as `FLEET_WORKER_NAME`. */
  workerName: string;
  /** A shell command run with `/bin/sh -c`; empty runs the built-in heartbeat worker. */
  command: string;
  /** Absolute path of the built-in worker script, run with this Node (`process.execPath`). */
  builtinScript: string;
  /** Directory for the worker's log; created when missing. */
  stateDir: string;
  /** How long to watch for an immediate exit. @default DEFAULT_STARTUP_CHECK_MS (250 ms) */
  startupCheckMs?: number;
  /** Extra environment for the worker (e.g. `FLEET_HEARTBEAT_MS` in tests). @default {} */
  env?: Readonly<Record<string, string>>;
}

/** A started worker. */
export interface StartedWorker extends ProcessIdentity {
  /** `<pid>:<startTime>`. */
  id: string;
  /** The file that receives the worker's stdout, stderr and heartbeats. */
  logFile: string;
}

/**
 * The identity file of a worker: `<stateDir>/<workerName>.id`, holding its id (`<pid>:<start
 * time>`), written as soon as the process exists, before its create returns. When the engine is
 * killed mid-create the checkpoint keeps only a pending create, without an id; this file is how
 * fleet finds the process that create started (`pendingWorkerId`).
 */
export function idFileOf(stateDir: string, workerName: string): string {
  return path.join(stateDir, `${workerName}.id`);
}

/**
 * What a pending create of a local worker (its inputs, from the checkpoint) left behind: the id
 * of its process when that process runs, "absent" when it never started or is gone (then
 * nothing is left to keep, and the pending create can be dropped).
 */
export function pendingWorkerId(inputs: {
  stateDir?: unknown;
  workerName?: unknown;
}): { id: string } | "absent" | undefined {
  if (typeof inputs.stateDir !== "string" || typeof inputs.workerName !== "string") return "absent";
  // Another machine's worker (a clone elsewhere on a shared backend): this one cannot tell.
  if (!fs.existsSync(inputs.stateDir)) return undefined;
  let id: string;
  try {
    id = fs.readFileSync(idFileOf(inputs.stateDir, inputs.workerName), "utf8").trim();
  } catch {
    return "absent";
  }
  try {
    return isRunning(parseId(id)) ? { id } : "absent";
  } catch {
    return "absent";
  }
}

/**
 * When an adopted worker (see `pendingWorkerId`) was created: its identity file is written the
 * moment its process exists, so that file's modification time, ISO-8601 UTC; now if it is gone.
 */
export function adoptedCreatedAt(stateDir: string, workerName: string): string {
  try {
    return fs.statSync(idFileOf(stateDir, workerName)).mtime.toISOString();
  } catch {
    return new Date().toISOString();
  }
}

/** The log file of a worker: `<stateDir>/<workerName>.log`. */
export function logFileOf(stateDir: string, workerName: string): string {
  return path.join(stateDir, `${workerName}.log`);
}

function tail(file: string, bytes = 600): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.slice(-bytes).trim();
  } catch {
    return "";
  }
}

/**
 * Starts a worker detached from this process: its own session and process group, stdio to its
 * log file (appended), not keeping this process alive. Fails with an error naming the command
 * when it cannot be started or exits within the startup check.
 */
export async function startWorker(options: StartOptions): Promise<StartedWorker> {
  const { workerName, command, builtinScript, stateDir } = options;
  const startupCheckMs = options.startupCheckMs ?? startupCheckFromEnv(process.env);
  const builtin = command === "";
  if (builtin && !fs.existsSync(builtinScript)) {
    throw new Error(
      `local worker "${workerName}": the built-in worker script ${builtinScript} does not exist; build fleet first (npm run build)`,
    );
  }
  const file = builtin ? process.execPath : "/bin/sh";
  const args = builtin ? [builtinScript] : ["-c", command];
  const what = builtin
    ? `the built-in worker (${builtinScript})`
    : `command ${JSON.stringify(command)}`;

  fs.mkdirSync(stateDir, { recursive: true });
  const logFile = logFileOf(stateDir, workerName);
  const fd = fs.openSync(logFile, "a");
  let child: childProcess.ChildProcess;
  try {
    child = childProcess.spawn(file, args, {
      detached: true, // its own session and process group (pgid = pid)
      stdio: ["ignore", fd, fd],
      env: {
        ...workerEnv(process.env),
        ...options.env,
        FLEET_WORKER_NAME: workerName,
        FLEET_WORKER_LOG: logFile,
      },
    });
  } finally {
    fs.closeSync(fd);
  }

  try {
    return await watchStartup(child, {
      workerName,
      command,
      what,
      logFile,
      idFile: idFileOf(stateDir, workerName),
      startupCheckMs,
    });
  } catch (e) {
    // Create is transactional: a worker that failed to start properly must not keep running.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // it is already gone
      }
    }
    throw e;
  }
}

/**
 * The environment a worker inherits: this process's, without the Pulumi engine's own
 * `PULUMI_*` variables (they may hold the state passphrase or an access token).
 */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("PULUMI_")));
}

/**
 * Reads a new worker's identity, then waits `startupCheckMs`: failing to spawn ("error") or
 * exiting at once ("exit") is an error that names the command and quotes its log.
 */
async function watchStartup(
  child: childProcess.ChildProcess,
  o: {
    workerName: string;
    command: string;
    what: string;
    logFile: string;
    idFile: string;
    startupCheckMs: number;
  },
): Promise<StartedWorker> {
  // Read the start time first thing: the PID exists (at worst as a zombie) until it is reaped.
  const startTime = child.pid === undefined ? undefined : readProcessInfo(child.pid)?.startTime;
  // Record the identity before the startup check: an engine killed from here on leaves a
  // process that only this file connects to its pending create.
  if (child.pid !== undefined && startTime)
    fs.writeFileSync(o.idFile, `${formatId({ pid: child.pid, startTime })}\n`);
  const outcome = await new Promise<
    | { kind: "error"; error: Error }
    | { kind: "exit"; code: number | null; signal: string | null }
    | { kind: "running" }
  >((resolve) => {
    const timer = setTimeout(() => resolve({ kind: "running" }), o.startupCheckMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ kind: "error", error });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ kind: "exit", code, signal });
    });
  });
  child.removeAllListeners("exit");
  child.removeAllListeners("error");
  child.on("error", () => undefined); // nothing below signals it through `child`; never crash on it

  const prefix = `local worker "${o.workerName}":`;
  if (outcome.kind === "error") {
    throw new Error(`${prefix} cannot start ${o.what}: ${outcome.error.message}`);
  }
  if (outcome.kind === "exit") {
    const how = outcome.signal ? `signal ${outcome.signal}` : `code ${outcome.code}`;
    const log = tail(o.logFile);
    const reason =
      outcome.code === 127 && o.command
        ? `command not found: ${JSON.stringify(o.command)}`
        : `${o.what} exited at once`;
    const quote = log ? `; its log ${o.logFile} ends with:\n${log}` : "";
    throw new Error(`${prefix} ${reason} (${how})${quote}`);
  }
  if (child.pid === undefined || !startTime) {
    throw new Error(`${prefix} started ${o.what} but cannot read its process identity`);
  }
  child.unref();
  const identity = { pid: child.pid, startTime };
  return { ...identity, id: formatId(identity), logFile: o.logFile };
}

/** Sends a signal to a whole process group; `false` when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw new Error(
      `cannot signal local worker process group ${pgid} (${signal || "probe"}): ${(e as Error).message}`,
    );
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}

/** How `stopWorker` ended. */
export type StopOutcome =
  /** It was not running (already gone, or its PID now belongs to another process): nothing signalled. */
  | "gone"
  /** It stopped after SIGTERM within the grace period. */
  | "terminated"
  /** It ignored SIGTERM for the grace period and was killed with SIGKILL. */
  | "killed";

/** How `stopWorker` stops. */
export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL. @default DEFAULT_GRACE_MS (5000 ms) */
  graceMs?: number;
  /** How often to check whether it has stopped. @default 50 ms */
  pollMs?: number;
}

/**
 * Stops a worker: SIGTERM to its process group, up to `graceMs` for the group to exit, then
 * SIGKILL. Idempotent: a worker that is gone, or whose PID was recycled by another process,
 * is never signalled and counts as stopped.
 */
export async function stopWorker(
  identity: ProcessIdentity,
  options: StopOptions = {},
): Promise<StopOutcome> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const pollMs = options.pollMs ?? 50;
  const { pid } = identity;
  // Only a PID whose start time matches is ours; the detached worker leads its own group (pgid = pid).
  if (!isRunning(identity)) return "gone";
  if (!signalGroup(pid, "SIGTERM")) return "gone";
  // The group is done when its leader has exited and no member is left. While a member exists
  // the kernel does not hand its pgid out as a new PID, so signalling the group stays safe.
  const groupDone = () => !isRunning(identity) && !signalGroup(pid, 0);
  if (await waitUntil(groupDone, graceMs, pollMs)) return "terminated";
  signalGroup(pid, "SIGKILL");
  // SIGKILL cannot be ignored; wait for the leader (members may linger as zombies briefly).
  if (await waitUntil(() => !isRunning(identity), KILL_WAIT_MS, pollMs)) return "killed";
  throw new Error(
    `local worker process ${pid} is still running ${KILL_WAIT_MS} ms after SIGKILL (state ${readProcessInfo(pid)?.state ?? "?"})`,
  );
}
