/**
 * CloudContext: the seed's interface (create, delete, delete-all, list, switch cloud) done the
 * Pulumi way. It never talks to a cloud: it edits the desired state in stack config and asks
 * the engine to converge (`up`), reads `workers` back from the stack outputs, and destroys with
 * `destroy`.
 *
 * Calls made concurrently on one context are queued and coalesced into one engine update per
 * batch; a cross-process lock covers "read config → change it → update", so concurrent
 * processes never lose each other's changes.
 */
import * as path from "node:path";
import { checkCredentials } from "../config/credentials";
import { FleetConfigError } from "../config/errors";
import {
  type FleetConfig,
  PROJECT,
  type WorkerEntry,
  type WorkerOverrides,
  entryName,
  parseFleetConfig,
  parseWorkerEntry,
} from "../config/fleet-config";
import { type CloudName, parseCloud, randomWorkerName } from "../config/rules";
import type { Worker } from "../strategies/contract";
import { CLOUDS, descriptor } from "../strategies/registry";
import { FailureCollector, type Progress, progressOf, urnName, workerOfUrn } from "./events";
import { type LockOptions, withLock } from "./lock";
import {
  CancelledError,
  type ConfigValue,
  type EngineEvent,
  type FleetStack,
  StackBusyError,
  type StateResource,
} from "./stack";

const WORKERS_KEY = `${PROJECT}:workers`;
const CLOUD_KEY = `${PROJECT}:cloud`;

/** The most workers one `createWorkers(count)` call may ask for. */
export const MAX_COUNT = 10_000;

/** A worker that should exist does not. */
export class WorkerNotFoundError extends FleetConfigError {
  constructor(name: string, existing: readonly string[]) {
    super("worker", name, existingList(existing), "no such worker:");
    this.name = "WorkerNotFoundError";
  }
}

/** A worker that should not exist yet does. */
export class WorkerExistsError extends FleetConfigError {
  constructor(name: string) {
    super(
      "worker",
      name,
      "worker names are unique in the stack; pick another name",
      "worker already exists:",
    );
    this.name = "WorkerExistsError";
  }
}

function existingList(names: readonly string[]): string {
  if (!names.length) return "the stack has no workers";
  const shown = names.slice(0, 10).join(", ");
  return `existing workers: ${shown}${names.length > 10 ? `, … (${names.length} in all)` : ""}`;
}

/** Workers that failed in an engine update, each with the engine's reason. */
export class WorkersFailedError extends Error {
  /** Worker name → why it failed. */
  public readonly failed: ReadonlyMap<string, string>;
  constructor(failed: ReadonlyMap<string, string>, general: readonly string[], extra = "") {
    const parts = [...failed].map(([w, why]) => `${w} (${why})`);
    const lead = parts.length
      ? `${parts.length} worker${parts.length === 1 ? "" : "s"} failed: ${parts.join("; ")}`
      : `the update failed: ${general.join("; ") || "see the engine output"}`;
    super(`${lead}${extra}`);
    this.name = "WorkersFailedError";
    this.failed = failed;
  }
}

/** Retry policy for a stack locked by another update. */
export interface RetryOptions {
  /** Attempts in all. @default 6 */
  attempts?: number;
  /** First delay; doubles each time, with jitter. @default 500 */
  baseDelayMs?: number;
  /** Longest delay. @default 8000 */
  maxDelayMs?: number;
}

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
  /** Cancels the running operation gracefully when aborted (Ctrl-C). */
  signal?: AbortSignal;
}

/** Options of `createWorkers`. */
export interface CreateOptions {
  /** Put the new workers in this cloud instead of the stack's default cloud. */
  cloud?: CloudName;
}

type Mutation =
  | { kind: "create"; entries: WorkerOverrides[]; generated: boolean; done: Deferred<Worker[]> }
  | { kind: "delete"; names: string[]; done: Deferred<void> }
  | { kind: "cloud"; cloud: CloudName; done: Deferred<Worker[]> }
  | { kind: "sync"; done: Deferred<Worker[]> }
  | { kind: "destroy"; done: Deferred<void> }
  | { kind: "refresh"; done: Deferred<Worker[]> };

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
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
  private queue: Mutation[] = [];
  private draining: Promise<void> | undefined;
  public readonly stats: ContextStats = { ups: 0, destroys: 0, refreshes: 0 };

  constructor(options: CloudContextOptions) {
    this.stack = options.stack;
    this.options = options;
    this.lockFile = path.join(options.projectDir, ".fleet", "locks", `${options.stack.name}.lock`);
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
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
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
    this.queue.push(m);
    if (!this.draining) {
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
      });
    }
    return m.done.promise;
  }

  private async drain(): Promise<void> {
    // Let every call made in the same tick join the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length) {
      const exclusive = this.queue[0].kind === "destroy" || this.queue[0].kind === "refresh";
      let batch: Mutation[];
      if (exclusive) {
        batch = this.queue.splice(0, 1);
      } else {
        const end = this.queue.findIndex((m) => m.kind === "destroy" || m.kind === "refresh");
        batch = takeBatch(this.queue, end < 0 ? this.queue.length : end);
      }
      try {
        await withLock(this.lockFile, () => this.runBatch(batch), this.options.lock);
      } catch (e) {
        for (const m of batch) m.done.reject(e);
      }
    }
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

    const changes = this.configChanges(before, entries, cloud);
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
      signal: this.options.signal,
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
    let existing: Set<string> | undefined;
    try {
      existing = existingWorkers(await this.stack.resources(), CLOUDS);
    } catch {
      existing = undefined; // state unreadable: keep the config as it was before the batch
    }
    const truth = truthfulEntries(before.entries, applied, existing);
    const config = await this.stack.getAllConfig();
    const cloudSwitch = applied.some((m) => m.kind === "cloud");
    const cloud = cloudSwitch ? before.cloud : this.parse(config, {}).cloud;
    const changes = this.configChanges(config, truth, cloud);
    if (Object.keys(changes).length) await this.stack.setConfig(changes);

    const failed = new Map<string, string>();
    for (const f of collector.failures) {
      const w = workerOfUrn(f.urn, involved, CLOUDS);
      if (w) failed.set(w, f.message);
    }
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
    let outputs: Record<string, unknown> | undefined;
    try {
      outputs = await this.update(new FailureCollector(), involved);
    } catch (e) {
      extra = `; converging afterwards also failed (${errorText(e)}): run \`fleet sync\` once the cause is fixed`;
    }
    const workers = outputs ? parseWorkersOutput(outputs) : undefined;
    const err = new WorkersFailedError(failed, general, extra);
    for (const m of applied) {
      const own = mutationWorkers(m);
      const hit = own.some((n) => failed.has(n));
      if (!hit && failed.size && workers && !extra) settle(m, workers);
      else m.done.reject(err);
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
      let existing: Set<string> | undefined;
      try {
        existing = existingWorkers(await this.stack.resources(), CLOUDS);
      } catch {
        existing = undefined;
      }
      if (existing) {
        const kept = current.entries.filter((e) => existing.has(entryName(e)));
        await this.stack.setConfig(this.configChanges(config, kept, current.cloud));
      }
      const failed = new Map<string, string>();
      for (const f of collector.failures) {
        const w = workerOfUrn(f.urn, involved, CLOUDS);
        if (w) failed.set(w, f.message);
      }
      m.done.reject(
        error instanceof StackBusyError
          ? new StackBusyError(`deleting all workers failed: ${error.message}`)
          : error instanceof CancelledError
            ? new CancelledError(
                "cancelled: delete-all was stopped; the stack config lists the workers that still exist",
              )
            : new WorkersFailedError(
                failed,
                collector.messages.length ? collector.messages : [errorText(error)],
              ),
      );
      return;
    }
    const changes = this.configChanges(config, [], current.cloud);
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

  private async retryBusy<T>(fn: () => Promise<T>): Promise<T> {
    const attempts = Math.max(1, this.options.retry?.attempts ?? 6);
    const base = this.options.retry?.baseDelayMs ?? 500;
    const max = this.options.retry?.maxDelayMs ?? 8_000;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof StackBusyError)) throw e;
        if (attempt >= attempts) {
          const secs = ((Date.now() - started) / 1000).toFixed(1);
          throw new StackBusyError(
            `the stack "${this.stack.name}" is locked by another update (tried ${attempts} times over ${secs} s). ` +
              "If no update is running, a crashed one left the lock: run `pulumi cancel` (Pulumi Cloud) or " +
              "remove the stale lock under the backend's .pulumi/locks directory (file backend)",
          );
        }
        const delay = Math.min(max, base * 2 ** (attempt - 1));
        await sleep(delay / 2 + Math.random() * (delay / 2), this.options.signal);
      }
    }
  }

  // ---- config ------------------------------------------------------------------------------

  private parse(
    config: Record<string, ConfigValue>,
    override: { workers?: WorkerEntry[]; cloud?: CloudName },
  ): FleetConfig {
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [k, v] of Object.entries(config)) {
      values[k] = v.value;
      if (v.secret) secretKeys.add(k);
    }
    if (override.workers) values[WORKERS_KEY] = JSON.stringify(override.workers);
    if (override.cloud) values[CLOUD_KEY] = override.cloud;
    return parseFleetConfig(values, {
      stack: this.stack.name,
      secretKeys,
      projectDir: this.options.projectDir,
    });
  }

  private configChanges(
    config: Record<string, ConfigValue>,
    entries: WorkerEntry[],
    cloud: CloudName,
  ): Record<string, ConfigValue> {
    const changes: Record<string, ConfigValue> = {};
    const workers = JSON.stringify(entries);
    if (
      config[WORKERS_KEY]?.value !== workers &&
      !(entries.length === 0 && config[WORKERS_KEY] === undefined)
    ) {
      changes[WORKERS_KEY] = { value: workers };
    }
    if ((config[CLOUD_KEY]?.value ?? undefined) !== cloud) changes[CLOUD_KEY] = { value: cloud };
    return changes;
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

/**
 * Takes the next batch: the longest prefix of `queue[0, end)` in which no worker name is
 * touched twice. Creating and deleting one name in a single update would not do what the calls
 * meant one after the other (a create then a delete never makes the worker and the create
 * fails; a delete then a create keeps the old worker), so the later call waits for the next
 * update.
 */
function takeBatch(queue: Mutation[], end: number): Mutation[] {
  const touched = new Set<string>();
  let n = 0;
  for (; n < end; n++) {
    const names = mutationWorkers(queue[n]).map((w) => w.toLowerCase());
    if (n > 0 && names.some((w) => touched.has(w))) break;
    for (const w of names) touched.add(w);
  }
  return queue.splice(0, Math.max(n, 1));
}

/** A worker entry as it is written back to config: a bare name when it has no overrides. */
function compactEntry(e: WorkerOverrides): WorkerEntry {
  const keys = Object.keys(e).filter(
    (k) => (e as unknown as Record<string, unknown>)[k] !== undefined,
  );
  return keys.length === 1 ? e.name : e;
}

/** What a request asked for, for messages: `creating a, b`, `deleting c`, `sync`, … */
function describe(m: Mutation): string {
  switch (m.kind) {
    case "create":
      return `creating ${m.entries.map((e) => e.name).join(", ")}`;
    case "delete":
      return `deleting ${m.names.join(", ")}`;
    case "cloud":
      return `switching to ${m.cloud}`;
    case "destroy":
      return "deleting all workers";
    default:
      return m.kind;
  }
}

function mutationWorkers(m: Mutation): string[] {
  if (m.kind === "create") return m.entries.map((e) => e.name);
  if (m.kind === "delete") return m.names;
  return [];
}

function settle(m: Mutation, workers: Worker[]): void {
  switch (m.kind) {
    case "create": {
      const byName = new Map(workers.map((w) => [w.name.toLowerCase(), w]));
      const created = m.entries.map((e) => byName.get(e.name.toLowerCase()));
      if (created.some((w) => !w)) {
        m.done.reject(
          new Error(
            `the update succeeded but the workers output lacks ${m.entries.map((e) => e.name).join(", ")}`,
          ),
        );
      } else m.done.resolve(created as Worker[]);
      return;
    }
    case "delete":
    case "destroy":
      m.done.resolve();
      return;
    default:
      m.done.resolve(workers);
  }
}

/**
 * The config entries that match reality after a failed batch: the entries from before the
 * batch, plus created workers that exist, minus deleted workers that are gone. With no state
 * to go by, the entries from before the batch.
 */
export function truthfulEntries(
  before: WorkerEntry[],
  applied: Mutation[],
  existing: Set<string> | undefined,
): WorkerEntry[] {
  if (!existing) return before;
  const out = before.filter(
    (e) => existing.has(entryName(e)) || !wasDeleted(entryName(e), applied),
  );
  const have = new Set(out.map(entryName));
  for (const m of applied) {
    if (m.kind !== "create") continue;
    for (const e of m.entries)
      if (existing.has(e.name) && !have.has(e.name)) out.push(compactEntry(e));
  }
  return out;
}

function wasDeleted(name: string, applied: Mutation[]): boolean {
  return applied.some((m) => m.kind === "delete" && m.names.includes(name));
}

/**
 * Worker names that have a resource in state: a resource of the cloud's worker type (from the
 * registry) whose parent is the `fleet:<cloud>:WorkerFleet` component and whose name is
 * `<cloud>-<worker>`. Read from URNs alone
 * (`…::fleet:aws:WorkerFleet$aws:ec2/instance:Instance::aws-w1`).
 */
export function existingWorkers(
  resources: readonly StateResource[],
  clouds: readonly CloudName[],
): Set<string> {
  const out = new Set<string>();
  for (const r of resources) {
    if (!r.id) continue;
    const parts = r.urn.split("::");
    if (parts.length < 4) continue;
    const chain = parts[parts.length - 2].split("$");
    const parentType = chain.length >= 2 ? chain[chain.length - 2] : "";
    const m = /^fleet:([^:]+):WorkerFleet$/.exec(parentType);
    if (!m || !(clouds as readonly string[]).includes(m[1])) continue;
    const cloud = m[1] as CloudName;
    const name = urnName(r.urn);
    if (chain[chain.length - 1] === descriptor(cloud).workerType && name.startsWith(`${cloud}-`)) {
      out.add(name.slice(cloud.length + 1));
    }
  }
  return out;
}

/** Reads the `workers` stack output defensively (an old or empty stack may lack it). */
export function parseWorkersOutput(outputs: Record<string, unknown>): Worker[] {
  const raw = outputs.workers;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((w): w is Record<string, unknown> => !!w && typeof w === "object")
    .map((w) => ({
      name: String(w.name ?? ""),
      cloud: String(w.cloud ?? "") as CloudName,
      region: String(w.region ?? ""),
      size: String(w.size ?? ""),
      ip: String(w.ip ?? ""),
      createdAt: String(w.createdAt ?? ""),
      id: String(w.id ?? ""),
      status: String(w.status ?? ""),
    }));
}

function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text.split("\n").find((l) => /error/i.test(l)) ?? text.split("\n")[0];
  return line.trim().slice(0, 300);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(new CancelledError());
      },
      { once: true },
    );
  });
}
