/**
 * The local cloud: each worker is a process on this machine, managed by a Pulumi dynamic
 * provider (`local-provider.ts`), so `up` starts processes, `refresh` drops the ones that died
 * and `destroy` stops them. No account, no cloud SDK, nothing to download.
 *
 * Logs go to `<project>/.fleet/local/<stack>/<worker>.log` (gitignored).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { packageRoot, projectDirectory } from "../config/paths";
import { type StrategyArgs, type Worker, WorkerFleet } from "./contract";
import { DEFAULT_GRACE_MS } from "./local-process";
import { type LocalWorkerInputs, localWorkerProvider } from "./local-provider";

/** The region every local worker reports. */
export const LOCAL_REGION = "localhost";
/** The size every local worker reports. */
export const LOCAL_SIZE = "process";
/** The address every local worker reports. */
export const LOCAL_IP = "127.0.0.1";

/**
 * The compiled built-in worker (`dist/strategies/local-worker.js`): next to this file when it
 * runs from `dist/`, else (run from the TypeScript sources) in the package's `dist/`.
 */
export function builtinWorkerScript(): string {
  const beside = path.join(__dirname, "local-worker.js");
  return fs.existsSync(beside)
    ? beside
    : path.join(packageRoot(), "dist", "strategies", "local-worker.js");
}

/** Where a stack's local workers keep their logs and state: `<project>/.fleet/local/<stack>`. */
export function localStateDir(stack: string, projectDir: string): string {
  return path.resolve(projectDir, ".fleet", "local", stack);
}

/** The inputs of a local worker; every one may be an Output. */
export type LocalWorkerArgs = {
  [K in keyof LocalWorkerInputs]: pulumi.Input<LocalWorkerInputs[K]>;
};

/** One worker process, as a Pulumi resource (`pulumi-nodejs:dynamic:Resource`). */
export class LocalWorkerProcess extends pulumi.dynamic.Resource {
  // `declare`, not `!`: with target ES2022 a class field is initialised to undefined after
  // super() returns, which would overwrite the Outputs the Resource constructor assigned.
  /** The worker name. */
  declare public readonly workerName: pulumi.Output<string>;
  /** The shell command it runs; `""` for the built-in worker. */
  declare public readonly command: pulumi.Output<string>;
  /** Its process id. */
  declare public readonly pid: pulumi.Output<number>;
  /** Its process start time (part of its id, so a recycled PID is never mistaken for it). */
  declare public readonly startTime: pulumi.Output<string>;
  /** When it was created, ISO-8601 UTC. */
  declare public readonly createdAt: pulumi.Output<string>;
  /** `running`. */
  declare public readonly status: pulumi.Output<string>;
  /** Its log file. */
  declare public readonly logFile: pulumi.Output<string>;

  constructor(name: string, args: LocalWorkerArgs, opts?: pulumi.CustomResourceOptions) {
    // Output-only properties are passed as undefined so the SDK resolves them from the state.
    super(
      localWorkerProvider,
      name,
      {
        ...args,
        pid: undefined,
        startTime: undefined,
        createdAt: undefined,
        status: undefined,
        logFile: undefined,
      },
      opts,
    );
  }
}

/**
 * The local cloud's component: one `LocalWorkerProcess` per worker, named
 * `<component>-<worker>`, and no shared resources.
 */
export class LocalStrategy extends WorkerFleet {
  /** The workers, in declaration order; `id` is `<pid>:<startTime>`, `status` is `running`. */
  public readonly workers: pulumi.Output<Worker[]>;

  /**
   * Uses `args.extras.localCommand` (`fleet:localCommand`), a shell command each worker runs
   * instead of the built-in heartbeat worker. SSH keys, SSH CIDRs and user data do not apply.
   */
  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("fleet:local:WorkerFleet", name, {}, opts);
    const projectDir =
      args.projectDir ?? projectDirectory({ rootDirectory: pulumi.runtime.getRootDirectory() });
    const stateDir = localStateDir(pulumi.getStack(), projectDir);
    const builtinScript = builtinWorkerScript();
    const command = args.extras.localCommand ?? "";

    const processes = args.workers.map(
      (w) =>
        new LocalWorkerProcess(
          `${name}-${w.name}`,
          { workerName: w.name, command, builtinScript, stateDir, graceMs: DEFAULT_GRACE_MS },
          { parent: this },
        ),
    );

    this.workers = pulumi.all(
      processes.map((p, i) =>
        pulumi.all([p.id, p.createdAt, p.status]).apply(
          ([id, createdAt, status]): Worker => ({
            name: args.workers[i].name,
            cloud: "local",
            region: LOCAL_REGION,
            size: LOCAL_SIZE,
            ip: LOCAL_IP,
            createdAt,
            id,
            status,
          }),
        ),
      ),
    );
    this.registerOutputs({ workers: this.workers });
  }
}
