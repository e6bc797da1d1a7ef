/**
 * The Pulumi dynamic provider behind a local worker: create starts a process, read reports
 * whether it still runs, delete stops it.
 *
 * Pulumi serializes this object (with `local-process.ts`) into the state and runs it inside its
 * dynamic provider host under the real CLI, so it imports only types from Pulumi and captures
 * nothing but the small process module.
 */
import type * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_GRACE_MS,
  adoptedCreatedAt,
  isRunning,
  logFileOf,
  parseId,
  startWorker,
  stopWorker,
} from "./local-process";

/** The inputs of one local worker resource. */
export interface LocalWorkerInputs {
  /** The worker name (given to the process as `FLEET_WORKER_NAME`). Changing it replaces. */
  workerName: string;
  /** Shell command run with `/bin/sh -c`; `""` runs the built-in worker. Changing it replaces. */
  command: string;
  /** Absolute path of the built-in worker script (only read when `command` is `""`). */
  builtinScript: string;
  /** Absolute directory for the worker's log (`<stateDir>/<workerName>.log`). */
  stateDir: string;
  /** Milliseconds between SIGTERM and SIGKILL on delete. @default 5000 */
  graceMs: number;
}

/** The state of one local worker resource: its inputs plus what create found out. */
export interface LocalWorkerOutputs extends LocalWorkerInputs {
  /** The process id. */
  pid: number;
  /** The process start time (clock ticks since boot, or a `ps` date where /proc is absent). */
  startTime: string;
  /** When the worker was created, ISO-8601 UTC; never changes afterwards. */
  createdAt: string;
  /** `running` (a refresh drops a worker that is gone from the state). */
  status: string;
  /** The file that receives the worker's output and heartbeats. */
  logFile: string;
}

/** Input changes that need a new process. */
const REPLACE_ON = ["workerName", "command"] as const;

/**
 * The provider: create starts the process (id `<pid>:<startTime>`), read returns an empty id
 * once it is gone, diff replaces on a new name or command (delete first: one process per
 * name), update only records a new grace period, delete stops it (idempotent).
 */
export const localWorkerProvider: pulumi.dynamic.ResourceProvider<
  LocalWorkerInputs,
  LocalWorkerOutputs
> = {
  async create(inputs) {
    const started = await startWorker({
      workerName: inputs.workerName,
      command: inputs.command,
      builtinScript: inputs.builtinScript,
      stateDir: inputs.stateDir,
    });
    return {
      id: started.id,
      outs: {
        ...inputs,
        graceMs: inputs.graceMs ?? DEFAULT_GRACE_MS,
        pid: started.pid,
        startTime: started.startTime,
        createdAt: new Date().toISOString(),
        status: "running",
        logFile: started.logFile,
      },
    };
  },

  async read(id, props) {
    // Empty id: the process is gone or its PID now belongs to another process, so refresh
    // drops the worker from the state.
    if (!isRunning(parseId(id))) return { id: "", props: undefined };
    return { id, props: props ? { ...props, status: "running" } : undefined };
  },

  async diff(_id, olds, news) {
    // Adopted: a create a killed engine left pending, imported by `pulumi refresh
    // --import-pending-creates` (fleet does that before its next update). Its state holds only
    // the id, so the update fills in the outputs; the process is kept, never replaced.
    if (olds.workerName === undefined) return { changes: true };
    const replaces = REPLACE_ON.filter((k) => olds[k] !== news[k]);
    if (replaces.length)
      return { changes: true, replaces: [...replaces], deleteBeforeReplace: true };
    // A new grace period is only bookkeeping: recorded by update, the process is left alone.
    return { changes: (olds.graceMs ?? DEFAULT_GRACE_MS) !== (news.graceMs ?? DEFAULT_GRACE_MS) };
  },

  async update(id, olds, news) {
    if (olds.workerName === undefined) {
      const identity = parseId(id);
      return {
        outs: {
          ...news,
          graceMs: news.graceMs ?? DEFAULT_GRACE_MS,
          pid: identity.pid,
          startTime: identity.startTime,
          createdAt: adoptedCreatedAt(news.stateDir, news.workerName),
          status: "running",
          logFile: logFileOf(news.stateDir, news.workerName),
        },
      };
    }
    return { outs: { ...olds, graceMs: news.graceMs } };
  },

  async delete(id, props) {
    await stopWorker(parseId(id), { graceMs: props.graceMs ?? DEFAULT_GRACE_MS });
  },
};
