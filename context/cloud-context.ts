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
import { expiredWorkers, isExpired, parseTtl, stampExpiry } from "../config/expiry";
import { candidatesOf, describePlacement } from "../config/placements";
import { orderPlacements } from "../config/fleet-config";
import {
  type FleetConfig,
  type WorkerEntry,
  type WorkerOverrides,
  entryName,
  parseWorkerEntry,
} from "../config/fleet-config";
import { type CloudName, MAX_COUNT, parseCloud, randomWorkerName } from "../config/rules";
import type { Worker } from "../strategies/contract";
import { CLOUDS, capacityErrorOf, descriptor } from "../strategies/registry";
import {
  CLOUD_KEY,
  REVISION_KEY,
  compactEntry,
  configChanges,
  parseDesired,
  proposedRevision,
  withRecord,
} from "./desired";
import { NO_RECORD, STALE_MARKER } from "../config/shared-state";
import {
  PendingCreatesError,
  WorkerExistsError,
  WorkerNotFoundError,
  WorkersFailedError,
} from "./errors";
import { FailoverPlan, needsAnotherRound } from "./failover";
import {
  FailureCollector,
  type Progress,
  progressOf,
  urnName,
  urnType,
  workerOfUrn,
} from "./events";
import { type LockOptions, withLock } from "./lock";
import { type Deferred, type Mutation, MutationQueue, deferred, describe } from "./queue";
import {
  errorText,
  failedWorkers,
  settleAfterFailure,
  settleUnlessDropped,
  stoppedBy,
  truthfulEntries,
} from "./recovery";
import { type RetryOptions, retryBusy } from "./retry";
import { existingWorkers, parseWorkersOutput } from "./state";
import {
  CancelledError,
  type PendingCreate,
  type ConfigValue,
  type EngineEvent,
  type FleetStack,
  StackBusyError,
  StaleStateError,
  type StateResource,
} from "./stack";

/** How many times a batch is redone after another clone's update came first. */
const STALE_ATTEMPTS = 20;

// The module's public surface from before it was split by concern.
export {
  NoSuchStackError,
  WorkerExistsError,
  WorkerNotFoundError,
  WorkersFailedError,
} from "./errors";
export type { RetryOptions } from "./retry";
export { existingWorkers, parseWorkersOutput } from "./state";
export { truthfulEntries } from "./recovery";

export { MAX_COUNT } from "../config/rules";

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
  /**
   * Told what fleet is waiting for: the stack locked by another update (the engine's
   * ConcurrentUpdateError), before each retry.
   */
  onMessage?: (message: string) => void;
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
  /**
   * How long the new workers live (`30m`, `2h`, `1d`; 5m–30d), for those without their own
   * `ttl`: each gets `expiresAt` = now + ttl in its config entry. @default undefined (no expiry)
   */
  ttl?: string;
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
  /**
   * On a shared backend: the revision of the backend's desired-state record that this clone's
   * next update is computed from (config/shared-state.ts), and the one its stack config says.
   * Both are only read and changed under fleet's lock.
   */
  private base = NO_RECORD;
  private configBase: string | undefined;

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
   * starting it when it does not exist, or, with `createStack: false`, rejecting with
   * `NoSuchStackError` naming the project's stacks) and returns a context for it.
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
      if (options.ttl !== undefined) {
        parseTtl("ttl", options.ttl);
        entries = entries.map((e) => ({ ...e, ttl: e.ttl ?? options.ttl }));
      }
      // Expiry is fixed now, at create time: an absolute expiresAt in each entry.
      entries = stampExpiry(entries, new Date());
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

  /**
   * Removes every worker past its `expiresAt` in one engine update, and resolves with their
   * names (empty, without any update, when none has expired). Which workers go is decided again
   * under the stack lock, so a worker deleted or re-created meanwhile is left alone.
   */
  async reapExpired(now: Date = new Date()): Promise<string[]> {
    const expired = expiredWorkers((await this.getDesired()).entries, now).map((e) => e.name);
    if (!expired.length) return [];
    const m = {
      kind: "delete" as const,
      names: expired,
      expiredBy: now.toISOString(),
      done: deferred<void>(),
    };
    await this.enqueue(m);
    return m.names;
  }

  /** The desired state as stack config says it now, validated (no engine operation). */
  async getDesired(): Promise<FleetConfig> {
    return this.parse((await this.readConfig()).before, {});
  }

  /** Runs an update with the config as it is: converges after a failure or a hand edit. */
  sync(): Promise<Worker[]> {
    return this.enqueue({ kind: "sync", done: deferred<Worker[]>() });
  }

  /**
   * Resolves by hand a worker's create that a killed engine left pending, where fleet could not
   * find what it made (clouds other than local: fleet calls no cloud API). With `id` (the
   * object you found in the cloud, named after the worker), the worker is kept in the state
   * with that id; with `undefined`, the create made nothing and the pending create is dropped.
   * Runs under fleet's lock; the next update (`sync`) fills in the worker's outputs.
   */
  async resolvePendingCreate(worker: string, id: string | undefined): Promise<void> {
    await this.idle();
    await withLock(
      this.lockFile,
      async () => {
        const pending = await this.stack.pendingCreates();
        // A worker by its name, or any other resource (a firewall, a key pair) by its own.
        const op = pending.find((p) => {
          const name = urnName(p.urn);
          return (
            name === worker ||
            CLOUDS.some((c) => descriptor(c).workerType === p.type && name === `${c}-${worker}`)
          );
        });
        if (!op) {
          const names = pending.map((p) => urnName(p.urn));
          throw new FleetConfigError(
            "worker",
            worker,
            names.length
              ? `the pending creates are: ${names.join(", ")}`
              : "no create is pending in the stack",
            "no pending create for worker:",
          );
        }
        // `stack import` takes the engine's stack lock: wait for it like an update.
        await this.retryBusy(() =>
          id !== undefined
            ? this.stack.resolvePendingCreates([[op.urn, id]], [])
            : this.stack.resolvePendingCreates([], [op.urn]),
        );
      },
      this.options.lock,
    );
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

  private async runBatch(batch: Mutation[], attempt = 0): Promise<void> {
    const first = batch[0];
    if (first.kind === "destroy") return this.runDestroy(first);
    if (first.kind === "refresh") return this.runRefresh(first);

    let before: Record<string, ConfigValue>;
    let local: Record<string, ConfigValue>;
    try {
      await this.adoptPendingCreates();
      ({ local, before } = await this.readConfig(true));
    } catch (e) {
      throw e instanceof CancelledError ? new CancelledError(NOTHING_CHANGED) : e;
    }
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
          if (m.expiredBy !== undefined) {
            // Reap: only what is still there and still expired now that the lock is held.
            const by = new Date(m.expiredBy);
            const gone = new Set(
              entries.filter((e) => isExpired(e, by)).map((e) => entryName(e).toLowerCase()),
            );
            m.names = m.names.filter((n) => gone.has(n.toLowerCase()));
            if (!m.names.length) {
              m.done.resolve();
              continue;
            }
          }
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

    // Workers this batch creates: each on its first placement candidate, if it has any.
    const plan = new FailoverPlan();
    for (const m of applied)
      if (m.kind === "create")
        for (const e of m.entries)
          plan.add(e, orderPlacements(current.placementOrder, candidatesOf(e, current.placements)));
    entries = this.pinPlaced(before, entries, cloud, applied, plan);

    // A `ttl` written into stack config by hand gets its expiresAt at this update.
    entries = stampExpiry(entries, new Date());
    const desired = this.parse(before, { workers: entries, cloud });
    this.checkCredentialsFor(
      [...current.clouds, ...desired.clouds, desired.cloud, ...plan.clouds()],
      before,
    );

    // This clone's own stack config is what is written (on a shared backend, the proposal and
    // the revision it was computed from).
    const changes = configChanges(local, entries, cloud);
    if (this.stack.sharedState && local[REVISION_KEY]?.value !== this.base)
      changes[REVISION_KEY] = { value: this.base };
    const revert: Record<string, ConfigValue | undefined> = {};
    for (const k of Object.keys(changes)) revert[k] = local[k];
    if (Object.keys(changes).length) {
      try {
        await this.stack.setConfig(changes);
        if (changes[REVISION_KEY]) this.configBase = this.base;
      } catch (e) {
        // The failed (or interrupted) `config set-all` may or may not have written the file:
        // put the config back as it was, so nothing the user had is half-changed.
        let note = "";
        try {
          await this.stack.setConfig(revert);
        } catch (r) {
          note = `; putting the stack config back also failed (${errorText(r)}): check it with \`pulumi config\``;
        }
        const err =
          e instanceof CancelledError ? new CancelledError(`${NOTHING_CHANGED}${note}`) : e;
        for (const m of applied) m.done.reject(err);
        return;
      }
    }

    const involved = new Set([...current.entries, ...entries].map(entryName));
    const continueOnError = await this.failoverMayContinue(applied, plan, desired);
    // One engine update per failover round, for every worker of the batch at once.
    for (let round = 0; ; round++) {
      const collector = new FailureCollector();
      try {
        const outputs = await this.update(collector, involved, continueOnError);
        const workers = parseWorkersOutput(outputs);
        for (const m of applied) settleUnlessDropped(m, workers, plan.dropped);
        return;
      } catch (error) {
        if (error instanceof StaleStateError && round === 0 && attempt < STALE_ATTEMPTS) {
          // Another clone's update came first: nothing ran. Read the fleet again, redo the batch.
          this.options.onMessage?.(
            `another clone changed the fleet since this one read it; reading it again (attempt ${attempt + 2} of ${STALE_ATTEMPTS + 1})`,
          );
          await new Promise((r) => setTimeout(r, 200 + Math.random() * 800 * (attempt + 1)));
          return this.runBatch(applied, attempt + 1);
        }
        if (error instanceof StackBusyError && round === 0) {
          // Nothing ran: put the config back exactly as it was and say why.
          await this.stack.setConfig(revert);
          // Say which request it stopped, and the cause with its remedy.
          for (const m of applied)
            m.done.reject(new StackBusyError(`${describe(m)} failed: ${error.message}`));
          return;
        }
        const next = await this.failoverRound(error, collector, plan, involved, applied, cloud);
        if (next) {
          entries = next;
          continue;
        }
        await this.recover(error, collector, applied, current, involved, plan.dropped);
        return;
      }
    }
  }

  /**
   * After a failed update of a batch that creates workers with placement candidates: moves
   * each worker that failed with a capacity, quota or availability error to its next
   * candidate, drops the workers that failed for good (or ran out of candidates), keeps the
   * ones never started, writes that to the stack config and returns the entries for the next
   * round — when a worker moved, or one was dropped while others still wait. Undefined
   * otherwise (or when cancelled, or state cannot be read): then recovery settles the batch.
   */
  private async failoverRound(
    error: unknown,
    collector: FailureCollector,
    plan: FailoverPlan,
    involved: ReadonlySet<string>,
    applied: Mutation[],
    cloud: CloudName,
  ): Promise<WorkerEntry[] | undefined> {
    if (error instanceof CancelledError || this.options.signal?.aborted) return undefined;
    if (!plan.candidateWorkers.length) return undefined;
    const existing = await this.existingNow();
    if (!existing) return undefined;
    const round = plan.round(failedWorkers(collector, involved), existing, capacityErrorOf);
    for (const mv of round.moved)
      this.options.onProgress?.({
        worker: mv.worker,
        state: "moving",
        detail: `${describePlacement(mv.from)} answered ${mv.code}; next: ${describePlacement(mv.to)}`,
      });
    if (!needsAnotherRound(round)) return undefined;
    const config = await this.stack.getAllConfig();
    const now = this.parse(config, {});
    const kept = now.entries.filter((e) => !plan.dropped.has(entryName(e)));
    const entries = this.pinPlaced(config, kept, cloud, applied, plan);
    const changes = configChanges(config, entries, cloud);
    if (Object.keys(changes).length) await this.stack.setConfig(changes);
    return entries;
  }

  /**
   * The entries with each worker a create of `applied` asked for written as its (mutated)
   * create entry; a worker placed from candidates gets its region and size resolved, so the
   * config records exactly where it is and the next update does not move it back.
   */
  private pinPlaced(
    config: Record<string, ConfigValue>,
    entries: readonly WorkerEntry[],
    cloud: CloudName,
    applied: readonly Mutation[],
    plan: FailoverPlan,
  ): WorkerEntry[] {
    const placed = new Set(plan.candidateWorkers);
    const created = new Map<string, WorkerOverrides>();
    for (const m of applied)
      if (m.kind === "create") for (const e of m.entries) created.set(e.name, e);
    const withCreated = entries.map((x) => {
      const e = created.get(entryName(x));
      return e ? compactEntry(e) : x;
    });
    const specs = new Map(
      this.parse(config, { workers: withCreated, cloud }).workers.map((w) => [w.name, w]),
    );
    for (const e of created.values()) {
      const spec = specs.get(e.name);
      if (!placed.has(e.name) || !spec) continue;
      e.region = spec.region;
      e.size = spec.size;
    }
    return entries.map((x) => {
      const e = created.get(entryName(x));
      return e ? compactEntry(e) : x;
    });
  }

  /**
   * Whether the updates of this batch may run as `--continue-on-error`, so that one failed
   * create does not stop the others and every worker gets its answer in the same round: only
   * for a batch that only creates workers with placement candidates, while no worker already
   * in the stack is about to move to another cloud (the engine would delete its old resource
   * even if the new one failed — why fleet otherwise never continues on error). State that
   * cannot be read → no.
   */
  private async failoverMayContinue(
    applied: readonly Mutation[],
    plan: FailoverPlan,
    desired: FleetConfig,
  ): Promise<boolean> {
    if (!plan.candidateWorkers.length || !applied.every((m) => m.kind === "create")) return false;
    let resources: StateResource[];
    try {
      resources = await this.stack.resources();
    } catch {
      return false;
    }
    const fresh = new Set(plan.workers);
    const wanted = new Map(
      desired.workers.filter((w) => !fresh.has(w.name)).map((w) => [w.name, w.cloud]),
    );
    return !resources.some((r) => {
      if (!r.id) return false;
      const name = urnName(r.urn);
      return CLOUDS.some((c) => {
        if (!name.startsWith(`${c}-`) || urnType(r.urn) !== descriptor(c).workerType) return false;
        const want = wanted.get(name.slice(c.length + 1));
        return want !== undefined && want !== c;
      });
    });
  }

  /**
   * Runs `up` with progress and retries while another update holds the stack. On a shared
   * backend the update carries the revision it was computed from, and afterwards this clone
   * follows the record: to what the update recorded, or, after a failure, to what the backend
   * has when that is what this clone proposed (a revision someone else wrote is never taken
   * on: the next update would overwrite their change).
   */
  private async update(
    collector: FailureCollector,
    involved: ReadonlySet<string>,
    continueOnError = false,
  ): Promise<Record<string, unknown>> {
    const shared = this.stack.sharedState;
    if (shared && this.configBase !== this.base) {
      await this.stack.setConfig({ [REVISION_KEY]: { value: this.base } });
      this.configBase = this.base;
    }
    try {
      const outputs = await this.retryBusy(() => {
        this.stats.ups++;
        const options = this.operationOptions(collector, involved);
        return this.stack.up(continueOnError ? { ...options, continueOnError } : options);
      });
      if (shared && typeof outputs.fleetRevision === "string") this.base = outputs.fleetRevision;
      return outputs;
    } catch (e) {
      if (!shared) throw e;
      if (e instanceof Error && e.message.includes(STALE_MARKER))
        throw new StaleStateError(errorText(e));
      try {
        const actual = (await this.stack.desiredRecord())?.revision ?? NO_RECORD;
        if (actual !== this.base) {
          const proposed = proposedRevision(this.parse(await this.stack.getAllConfig(), {}));
          if (actual === proposed) this.base = actual;
        }
      } catch {
        // State unreadable: keep the revision; a stale one is refused, never overwritten.
      }
      throw e;
    }
  }

  /**
   * This clone's stack config (`local`) and the desired state as it is now (`before`): on a
   * shared backend, the backend's record laid over the clone's config (config/shared-state.ts).
   * `follow` (only under fleet's lock) makes the next update start from that record.
   */
  private async readConfig(
    follow = false,
  ): Promise<{ local: Record<string, ConfigValue>; before: Record<string, ConfigValue> }> {
    const local = await this.stack.getAllConfig();
    if (!this.stack.sharedState) return { local, before: local };
    const record = await this.stack.desiredRecord();
    const hasWorkers = record
      ? true
      : existingWorkers(await this.stack.resources(), CLOUDS).size > 0;
    if (follow) {
      this.base = record?.revision ?? NO_RECORD;
      this.configBase = local[REVISION_KEY]?.value;
    }
    return { local, before: withRecord(local, record, hasWorkers) };
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
    dropped: ReadonlyMap<string, string> = new Map(),
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
    // Workers given up in earlier failover rounds, and each candidate's answer.
    for (const [w, why] of dropped) failed.set(w, why);
    let general = collector.messages;
    if (!failed.size && !general.length) general = [errorText(error)];

    if (cancelled) {
      const err = new CancelledError(cancelReport(applied, existing));
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
      ...stoppedBy(collector, failed, general),
      workers,
      extra,
      cloud,
    });
  }

  /**
   * Before an update: the creates a killed engine left pending in the checkpoint (the process
   * or VM may exist, with no id in the state). For each, the cloud's `findPendingCreate` (the
   * local cloud: the worker's identity file and its process) says what the create made; what
   * exists is imported into the state (kept, never abandoned: `--clear-pending-creates` would
   * leave a running worker no state knows), and creates that made nothing are dropped.
   * Anything fleet cannot find is a PendingCreatesError naming each create and the commands.
   */
  private async adoptPendingCreates(): Promise<void> {
    let pending: PendingCreate[];
    try {
      pending = await this.stack.pendingCreates();
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      return; // state unreadable: the update itself reports that
    }
    if (!pending.length) return;
    const imports: [string, string][] = [];
    const kept: string[] = [];
    const unresolved: { urn: string; name: string; type: string }[] = [];
    const absent: string[] = [];
    for (const op of pending) {
      const name = urnName(op.urn);
      const cloud = CLOUDS.find(
        (c) => descriptor(c).workerType === op.type && name.startsWith(`${c}-`),
      );
      const find = cloud ? descriptor(cloud).findPendingCreate : undefined;
      const found = find ? await find(op.inputs) : undefined;
      if (found === undefined)
        unresolved.push({
          urn: op.urn,
          name: cloud ? name.slice(cloud.length + 1) : name,
          type: op.type,
        });
      else if (found === "absent") absent.push(op.urn);
      else {
        imports.push([op.urn, found.id]);
        kept.push(cloud ? name.slice(cloud.length + 1) : name);
      }
    }
    if (imports.length || absent.length) {
      // `stack import` takes the engine's stack lock: wait for it like an update.
      await this.retryBusy(() => this.stack.resolvePendingCreates(imports, absent));
      this.options.onMessage?.(
        `a stopped update had left ${pending.length} create(s) pending: ` +
          (kept.length ? `kept ${kept.join(", ")} (running, now in the state)` : "") +
          (kept.length && absent.length ? "; " : "") +
          (absent.length ? `dropped ${absent.length} that had made nothing` : ""),
      );
    }
    if (unresolved.length) throw new PendingCreatesError(this.stack.name, unresolved);
  }

  /** The workers in state now; undefined when the state cannot be read. */
  private async existingNow(): Promise<Set<string> | undefined> {
    try {
      const resources = await this.stack.resources();
      // A create a terminated engine left pending may have made its worker: it stays in the
      // config (the next update adopts or names it), so it is never silently abandoned.
      const pending = (await this.stack.pendingCreates()).map((p) => ({
        urn: p.urn,
        type: p.type,
        id: "(pending create)",
      }));
      return existingWorkers([...resources, ...pending], CLOUDS);
    } catch {
      return undefined;
    }
  }

  private async runDestroy(m: Extract<Mutation, { kind: "destroy" }>): Promise<void> {
    // What a killed engine created is adopted first, so delete-all deletes it too.
    await this.adoptPendingCreates();
    const { local, before: config } = await this.readConfig(true);
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
        await this.stack.setConfig(configChanges(local, kept, current.cloud));
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
    const changes = configChanges(local, [], current.cloud);
    if (this.stack.sharedState) {
      // The destroy deleted the record too: the fleet wants nothing.
      this.base = NO_RECORD;
      if (local[REVISION_KEY]?.value !== NO_RECORD) changes[REVISION_KEY] = { value: NO_RECORD };
    }
    if (Object.keys(changes).length) await this.stack.setConfig(changes);
    if (changes[REVISION_KEY]) this.configBase = NO_RECORD;
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
    // Clones sharing a backend take turns on its lock: wait for them longer (about 5 minutes).
    const retry =
      this.options.retry ?? (this.stack.sharedState ? { attempts: 40, maxDelayMs: 8_000 } : {});
    return retryBusy(fn, this.stack.name, retry, this.options.signal, (w) =>
      this.options.onMessage?.(
        `the stack "${this.stack.name}" is locked by another update; waiting ${(w.delayMs / 1000).toFixed(1)} s (attempt ${w.attempt} of ${w.attempts})`,
      ),
    );
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

/** A cancel that landed before the engine started the update. */
const NOTHING_CHANGED =
  "cancelled before the update started: nothing was created, deleted or changed";

/**
 * What a cancelled batch did and did not do, from the state after it (the engine records every
 * step that finished, pkg/backend/snapshot.go): the stack config was made to list exactly what
 * exists, so running the same request again finishes it.
 */
export function cancelReport(
  applied: readonly Mutation[],
  existing: Set<string> | undefined,
): string {
  if (!existing) {
    return "cancelled: the state could not be read afterwards; `fleet list --refresh` shows what exists";
  }
  const asked = (kind: "create" | "delete") =>
    applied.flatMap((m) =>
      m.kind === "create" && kind === "create"
        ? m.entries.map(entryName)
        : m.kind === "delete" && kind === "delete"
          ? m.names
          : [],
    );
  const created = asked("create").filter((n) => existing.has(n));
  const notCreated = asked("create").filter((n) => !existing.has(n));
  const deleted = asked("delete").filter((n) => !existing.has(n));
  const notDeleted = asked("delete").filter((n) => existing.has(n));
  const done = [
    created.length ? `created ${created.join(", ")}` : "",
    deleted.length ? `deleted ${deleted.join(", ")}` : "",
  ].filter(Boolean);
  const notDone = [
    notCreated.length ? `not created: ${notCreated.join(", ")}` : "",
    notDeleted.length ? `not deleted: ${notDeleted.join(", ")}` : "",
    applied.some((m) => m.kind === "cloud") ? "the cloud was not switched" : "",
  ].filter(Boolean);
  return (
    `cancelled: ${done.length ? done.join("; ") : "nothing was created or deleted"}` +
    (notDone.length ? `; ${notDone.join("; ")}` : "") +
    "; the stack config lists exactly what exists" +
    (notDone.length ? ", so the same command again finishes the rest" : "")
  );
}
