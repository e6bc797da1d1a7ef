/**
 * CloudContext: the seed's interface (create, delete, delete-all, list, switch cloud) done the
 * Pulumi way. It never talks to a cloud: it edits the desired state in stack config and asks
 * the engine to converge (`up`), reads `workers` back from the stack outputs, and destroys with
 * `destroy`.
 *
 * Calls made concurrently on one context are queued and coalesced into one engine update per
 * batch (`queue.ts`); a cross-process lock covers "read config → change it → update"
 * (`lock.ts`), so concurrent processes never lose each other's changes. The desired state is
 * read and written by `desired.ts`, what exists is read by `state.ts`, a busy stack is retried
 * by `retry.ts`, and after a failure `recovery.ts` decides from state what each call gets.
 */
import * as path from "node:path";
import { checkCredentials } from "../config/credentials";
import { FleetConfigError } from "../config/errors";
import {
  type FleetConfig,
  type WorkerEntry,
  type WorkerOverrides,
  entryName,
  parseWorkerEntry,
} from "../config/fleet-config";
import { type CloudName, parseCloud, randomWorkerName } from "../config/rules";
import type { Worker } from "../strategies/contract";
import { CLOUDS } from "../strategies/registry";
import { CLOUD_KEY, compactEntry, configChanges, parseDesired } from "./desired";
import { WorkerExistsError, WorkerNotFoundError, WorkersFailedError } from "./errors";
import { FailureCollector, type Progress, progressOf, workerOfUrn } from "./events";
import { type LockOptions, withLock } from "./lock";
import { type Deferred, type Mutation, MutationQueue, deferred, describe } from "./queue";
import {
  errorText,
  failedWorkers,
  settle,
  settleAfterFailure,
  stoppedBy,
  truthfulEntries,
} from "./recovery";
import { type RetryOptions, retryBusy } from "./retry";
import { existingWorkers, parseWorkersOutput } from "./state";
import {
  CancelledError,
  type ConfigValue,
  type EngineEvent,
  type FleetStack,
  StackBusyError,
} from "./stack";

// The module's public surface from before it was split by concern.
export { WorkerExistsError, WorkerNotFoundError, WorkersFailedError } from "./errors";
export type { RetryOptions } from "./retry";
export { existingWorkers, parseWorkersOutput } from "./state";
export { truthfulEntries } from "./recovery";

/** The most workers one `createWorkers(count)` call may ask for. */
export const MAX_COUNT = 10_000;

export interface CloudContextOptions {
  /** The stack to drive. */
  stack: FleetStack;
  /** The project directory: relative config paths resolve here; the lock lives under `.fleet/`. */
  projectDir: string;
  /** Environment for credential checks. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Check cloud credentials before each update. @default true */
  checkCredentials?: boolean;
  /** Cross-process lock tuning. */
  lock?: LockOptions;
  /** Retry tuning for ConcurrentUpdateError. */
  retry?: RetryOptions;
  /** Per-worker progress (creating, created, deleting, …, failed). */
  onProgress?: (progress: Progress) => void;
  /** Every raw engine event. */
  onEvent?: (event: EngineEvent) => void;
  /**
   * Cancels the running operation gracefully when aborted (Ctrl-C): no new engine operation
   * starts, the running one is asked to stop, and the config is made to match what exists.
   */
  signal?: AbortSignal;
  /**
   * Whether aborting `signal` also sends the engine (the `pulumi` child) its SIGINT, as the
   * Automation API does on abort (`automation/cmd.js`: `proc.kill("SIGINT")`). Set it to false
   * when the engine gets the interrupt by itself: a terminal's Ctrl-C reaches every process in
   * the foreground process group, the `pulumi` child included, and the engine takes a second
   * SIGINT as "terminate at once" (pkg/backend/cancellation_scope.go), which can leave
   * resources being created in no state. @default true
   */
  signalEngine?: boolean;
}

/** Options of `createWorkers`. */
export interface CreateOptions {
  /** Put the new workers in this cloud instead of the stack's default cloud. */
  cloud?: CloudName;
}

/** Statistics, for tests and benchmarks. */
export interface ContextStats {
  /** Engine updates run (`up`), including reconciling ones after a failure. */
  ups: number;
  /** Destroys run. */
  destroys: number;
  /** Refreshes run. */
  refreshes: number;
}

export class CloudContext {
  private readonly stack: FleetStack;
  private readonly options: CloudContextOptions;
  private readonly lockFile: string;
  private readonly queue: MutationQueue;
  public readonly stats: ContextStats = { ups: 0, destroys: 0, refreshes: 0 };

  constructor(options: CloudContextOptions) {
    this.stack = options.stack;
    this.options = options;
    this.lockFile = path.join(options.projectDir, ".fleet", "locks", `${options.stack.name}.lock`);
    // Each batch runs under the cross-process lock: "read config → change it → update".
    this.queue = new MutationQueue((batch) =>
      withLock(this.lockFile, () => this.runBatch(batch), this.options.lock),
    );
  }

  /**
   * Opens the stack of the project in `workDir` through the Automation API (selecting it, or
   * creating it when it does not exist) and returns a context for it.
   */
  static async open(
    options: { workDir?: string; stackName?: string } & Partial<
      Omit<CloudContextOptions, "stack" | "projectDir">
    > &
      import("./automation").AutomationOptions = {},
  ): Promise<CloudContext> {
    const { openStack } = await import("./automation");
    const workDir = path.resolve(options.workDir ?? process.cwd());
    const stack = await openStack({ ...options, workDir, stackName: options.stackName ?? "dev" });
    return new CloudContext({ ...options, stack, projectDir: workDir });
  }

  /** The stack name. */
  get stackName(): string {
    return this.stack.name;
  }

  /**
   * Creates one worker. No name → a random 10-character name of A–Z and 0–9 (as in the seed).
   * Resolves with the created worker; rejects if a worker of that name exists.
   */
  async createWorker(
    name?: string | WorkerOverrides,
    options: CreateOptions = {},
  ): Promise<Worker> {
    const created = await this.createWorkers(name === undefined ? 1 : [name], options);
    return created[0];
  }

  /** Creates several workers in one engine update: `count` random names, or the given ones. */
  createWorkers(
    countOrNames: number | readonly (string | WorkerOverrides)[],
    options: CreateOptions = {},
  ): Promise<Worker[]> {
    return this.guard(() => {
      const cloud = options.cloud === undefined ? undefined : parseCloud("cloud", options.cloud);
      let entries: WorkerOverrides[];
      let generated = false;
      if (typeof countOrNames === "number") {
        if (!Number.isInteger(countOrNames) || countOrNames < 1 || countOrNames > MAX_COUNT) {
          throw new FleetConfigError(
            "count",
            countOrNames,
            `a whole number from 1 to ${MAX_COUNT}`,
            "invalid count:",
          );
        }
        generated = true;
        entries = Array.from({ length: countOrNames }, () => ({ name: randomWorkerName() }));
      } else {
        if (!Array.isArray(countOrNames) || countOrNames.length === 0) {
          throw new FleetConfigError(
            "names",
            countOrNames,
            "one or more worker names",
            "nothing to create:",
          );
        }
        entries = countOrNames.map((n, i) => {
          const e = parseWorkerEntry(`names[${i}]`, n);
          return typeof e === "string" ? { name: e } : e;
        });
        const seen = new Set<string>();
        for (const e of entries) {
          if (seen.has(e.name.toLowerCase()))
            throw new FleetConfigError("names", e.name, "each name once", "duplicate worker name:");
          seen.add(e.name.toLowerCase());
        }
      }
      if (cloud) entries = entries.map((e) => ({ ...e, cloud: e.cloud ?? cloud }));
      return this.enqueue({ kind: "create", entries, generated, done: deferred<Worker[]>() });
    });
  }

  /** Deletes one worker; rejects naming it if it does not exist. */
  deleteWorker(name: string): Promise<void> {
    return this.deleteWorkers([name]);
  }

  /** Deletes several workers in one engine update. */
  deleteWorkers(names: readonly string[]): Promise<void> {
    return this.guard(() => {
      if (!Array.isArray(names) || names.length === 0) {
        throw new FleetConfigError(
          "names",
          names,
          "one or more worker names",
          "nothing to delete:",
        );
      }
      const valid = names.map((n, i) => entryName(parseWorkerEntry(`names[${i}]`, n)));
      return this.enqueue({ kind: "delete", names: [...new Set(valid)], done: deferred<void>() });
    });
  }

  /** Deletes every worker and everything else the stack manages (a stack `destroy`), and nothing else. */
  deleteAllWorkers(): Promise<void> {
    return this.enqueue({ kind: "destroy", done: deferred<void>() });
  }

  /**
   * Lists the workers from the `workers` stack output. With `refresh`, first reconciles the
   * state with the clouds; workers that disappeared are reported with status `missing`.
   */
  async getAllWorkers(options: { refresh?: boolean } = {}): Promise<Worker[]> {
    if (options.refresh) return this.enqueue({ kind: "refresh", done: deferred<Worker[]>() });
    return parseWorkersOutput(await this.stack.outputs());
  }

  /**
   * Switches the stack's default cloud. Workers without a cloud of their own move: the new
   * ones are created before the old ones are deleted, in one update.
   */
  useCloud(cloud: CloudName): Promise<Worker[]> {
    return this.guard(() =>
      this.enqueue({
        kind: "cloud",
        cloud: parseCloud(CLOUD_KEY, cloud),
        done: deferred<Worker[]>(),
      }),
    );
  }

  /** Runs an update with the config as it is: converges after a failure or a hand edit. */
  sync(): Promise<Worker[]> {
    return this.enqueue({ kind: "sync", done: deferred<Worker[]>() });
  }

  /** Waits until every queued operation has finished. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  // ---- queue -------------------------------------------------------------------------------

  /** Runs synchronous validation so bad input rejects before anything is queued. */
  private guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return fn();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private enqueue<T>(m: Mutation & { done: Deferred<T> }): Promise<T> {
    return this.queue.enqueue(m);
  }

  private async runBatch(batch: Mutation[]): Promise<void> {
    const first = batch[0];
    if (first.kind === "destroy") return this.runDestroy(first);
    if (first.kind === "refresh") return this.runRefresh(first);

    const before = await this.stack.getAllConfig();
    const current = this.parse(before, {});
    let entries = [...current.entries];
    let cloud = current.cloud;
    const applied: Mutation[] = [];
    const names = () => new Set(entries.map((e) => entryName(e).toLowerCase()));

    for (const m of batch) {
      try {
        if (m.kind === "create") {
          const have = names();
          for (const e of m.entries) {
            while (have.has(e.name.toLowerCase())) {
              if (!m.generated) throw new WorkerExistsError(e.name);
              e.name = randomWorkerName();
            }
            have.add(e.name.toLowerCase());
          }
          const next = [...entries, ...m.entries.map(compactEntry)];
          this.parse(before, { workers: next, cloud }); // validates the result as a whole
          entries = next;
        } else if (m.kind === "delete") {
          const have = names();
          const missing = m.names.find((n) => !have.has(n.toLowerCase()));
          if (missing) throw new WorkerNotFoundError(missing, entries.map(entryName));
          const drop = new Set(m.names.map((n) => n.toLowerCase()));
          entries = entries.filter((e) => !drop.has(entryName(e).toLowerCase()));
        } else if (m.kind === "cloud") {
          this.parse(before, { workers: entries, cloud: m.cloud });
          cloud = m.cloud;
        }
        applied.push(m);
      } catch (e) {
        m.done.reject(e);
      }
    }
    if (!applied.length) return;

    const desired = this.parse(before, { workers: entries, cloud });
    this.checkCredentialsFor([...current.clouds, ...desired.clouds, desired.cloud], before);

    const changes = configChanges(before, entries, cloud);
    if (Object.keys(changes).length) await this.stack.setConfig(changes);

    const collector = new FailureCollector();
    const involved = new Set([...current.entries, ...entries].map(entryName));
    try {
      const outputs = await this.update(collector, involved);
      const workers = parseWorkersOutput(outputs);
      for (const m of applied) settle(m, workers);
    } catch (error) {
      if (error instanceof StackBusyError) {
        // Nothing ran: put the config back exactly as it was and say why.
        const revert: Record<string, ConfigValue | undefined> = {};
        for (const k of Object.keys(changes)) revert[k] = before[k];
        await this.stack.setConfig(revert);
        // Say which request it stopped, and the cause with its remedy.
        for (const m of applied)
          m.done.reject(new StackBusyError(`${describe(m)} failed: ${error.message}`));
        return;
      }
      await this.recover(error, collector, applied, current, involved);
    }
  }

  /** Runs `up` with progress and retries while another update holds the stack. */
  private async update(
    collector: FailureCollector,
    involved: ReadonlySet<string>,
  ): Promise<Record<string, unknown>> {
    return this.retryBusy(() => {
      this.stats.ups++;
      return this.stack.up(this.operationOptions(collector, involved));
    });
  }

  private operationOptions(collector: FailureCollector, involved: ReadonlySet<string>) {
    const onProgress = this.options.onProgress;
    const onEvent = this.options.onEvent;
    const workerOf = (urn: string) => workerOfUrn(urn, involved, CLOUDS);
    return {
      signal: this.options.signalEngine === false ? undefined : this.options.signal,
      onEvent: (event: EngineEvent) => {
        collector.onEvent(event);
        onEvent?.(event);
        if (onProgress) {
          const p = progressOf(event, workerOf);
          if (p) onProgress(p);
        }
      },
    };
  }

  /**
   * After a failed or cancelled update: make the stack config tell the truth (workers that
   * were not created leave it, workers that were not deleted return to it), converge the
   * outputs with one more update (not after a cancel), and report per worker.
   */
  private async recover(
    error: unknown,
    collector: FailureCollector,
    applied: Mutation[],
    before: FleetConfig,
    involved: ReadonlySet<string>,
  ): Promise<void> {
    const cancelled = error instanceof CancelledError || this.options.signal?.aborted === true;
    // State unreadable: keep the config as it was before the batch.
    const existing = await this.existingNow();
    const truth = truthfulEntries(before.entries, applied, existing);
    const config = await this.stack.getAllConfig();
    const cloudSwitch = applied.some((m) => m.kind === "cloud");
    const cloud = cloudSwitch ? before.cloud : this.parse(config, {}).cloud;
    const changes = configChanges(config, truth, cloud);
    if (Object.keys(changes).length) await this.stack.setConfig(changes);

    const failed = failedWorkers(collector, involved);
    let general = collector.messages;
    if (!failed.size && !general.length) general = [errorText(error)];

    if (cancelled) {
      const err = new CancelledError(
        `cancelled: the update was stopped; the stack config now lists the ${truth.length} workers that exist` +
          `; run \`fleet sync\` (or CloudContext.sync()) to refresh the list`,
      );
      for (const m of applied) m.done.reject(err);
      return;
    }

    let extra = "";
    let workers: Worker[] | undefined;
    try {
      workers = parseWorkersOutput(await this.update(new FailureCollector(), involved));
    } catch (e) {
      extra = `; converging afterwards also failed (${errorText(e)}): run \`fleet sync\` once the cause is fixed`;
    }
    // Verify against state as it is now, after converging: a delete is done only when its
    // worker is gone from state.
    settleAfterFailure(applied, {
      failed,
      general,
      existing: await this.existingNow(),
      stoppedAfter: stoppedBy(collector, failed),
      workers,
      extra,
      cloud,
    });
  }

  /** The workers in state now; undefined when the state cannot be read. */
  private async existingNow(): Promise<Set<string> | undefined> {
    try {
      return existingWorkers(await this.stack.resources(), CLOUDS);
    } catch {
      return undefined;
    }
  }

  private async runDestroy(m: Extract<Mutation, { kind: "destroy" }>): Promise<void> {
    const config = await this.stack.getAllConfig();
    const current = this.parse(config, {});
    this.checkCredentialsFor(current.clouds, config);
    const collector = new FailureCollector();
    const involved = new Set(current.entries.map(entryName));
    try {
      await this.retryBusy(() => {
        this.stats.destroys++;
        return this.stack.destroy(this.operationOptions(collector, involved));
      });
    } catch (error) {
      const existing = await this.existingNow();
      const stopped =
        error instanceof StackBusyError ||
        error instanceof CancelledError ||
        this.options.signal?.aborted === true;
      const notes: string[] = [];
      if (existing) {
        const kept = current.entries.filter((e) => existing.has(entryName(e)));
        await this.stack.setConfig(configChanges(config, kept, current.cloud));
        // A destroy runs no program, so when it fails part-way the stack keeps the `workers`
        // output it had before, naming workers the destroy did delete (`fleet list` would show
        // them). An update with the config that now matches what exists rewrites the output.
        // Not after a busy stack or an interrupt: then no new engine operation starts.
        if (!stopped && kept.length < current.entries.length) {
          try {
            await this.update(new FailureCollector(), new Set(kept.map(entryName)));
          } catch (e) {
            notes.push(`the workers output could not be updated: ${errorText(e)}`);
          }
        }
      }
      const failed = failedWorkers(collector, involved);
      m.done.reject(
        error instanceof StackBusyError
          ? new StackBusyError(`deleting all workers failed: ${error.message}`)
          : error instanceof CancelledError || this.options.signal?.aborted
            ? new CancelledError(
                "cancelled: delete-all was stopped; the stack config lists the workers that still exist",
              )
            : new WorkersFailedError(
                failed,
                collector.messages.length ? collector.messages : [errorText(error)],
                notes.length ? `; ${notes.join("; ")}` : "",
              ),
      );
      return;
    }
    const changes = configChanges(config, [], current.cloud);
    if (Object.keys(changes).length) await this.stack.setConfig(changes);
    m.done.resolve();
  }

  private async runRefresh(m: Extract<Mutation, { kind: "refresh" }>): Promise<void> {
    const config = await this.stack.getAllConfig();
    const current = this.parse(config, {});
    this.checkCredentialsFor(current.clouds, config);
    const collector = new FailureCollector();
    await this.retryBusy(() => {
      this.stats.refreshes++;
      return this.stack.refresh(
        this.operationOptions(collector, new Set(current.entries.map(entryName))),
      );
    });
    const listed = parseWorkersOutput(await this.stack.outputs());
    const ids = new Set(
      (await this.stack.resources()).map((r) => r.id).filter((id): id is string => !!id),
    );
    m.done.resolve(listed.map((w) => (ids.has(w.id) ? w : { ...w, status: "missing" })));
  }

  private retryBusy<T>(fn: () => Promise<T>): Promise<T> {
    return retryBusy(fn, this.stack.name, this.options.retry, this.options.signal);
  }

  // ---- config ------------------------------------------------------------------------------

  private parse(
    config: Record<string, ConfigValue>,
    override: { workers?: WorkerEntry[]; cloud?: CloudName },
  ): FleetConfig {
    return parseDesired(config, override, {
      stack: this.stack.name,
      projectDir: this.options.projectDir,
    });
  }

  private checkCredentialsFor(
    clouds: readonly CloudName[],
    config: Record<string, ConfigValue>,
  ): void {
    if (this.options.checkCredentials === false) return;
    const configKeys = new Set(Object.keys(config));
    for (const c of new Set(clouds))
      checkCredentials(c, { env: this.options.env ?? process.env, configKeys });
  }
}
