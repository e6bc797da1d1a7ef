/**
 * Truth from state after a failed or cancelled update: which workers exist, what the stack
 * config must say so it matches them, and how each request of the batch is settled.
 */
import { type WorkerEntry, entryName } from "../config/fleet-config";
import type { CloudName } from "../config/rules";
import type { Worker } from "../strategies/contract";
import { CLOUDS } from "../strategies/registry";
import { compactEntry } from "./desired";
import { WorkersFailedError } from "./errors";
import { type FailureCollector, urnName, workerOfUrn } from "./events";
import type { Mutation } from "./queue";

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

/** Worker name → the engine's reason, for the workers among `involved` that failed. */
export function failedWorkers(
  collector: FailureCollector,
  involved: ReadonlySet<string>,
): Map<string, string> {
  const failed = new Map<string, string>();
  for (const f of collector.failures) {
    const w = workerOfUrn(f.urn, involved, CLOUDS);
    if (w) failed.set(w, f.message);
  }
  return failed;
}

/**
 * What stopped a failed update, for "not started" messages: the first worker that failed (its
 * own reason is reported with it), else the first resource that failed and the engine's reason,
 * else the first message of the failure. A failure that names no worker (a shared resource such
 * as a firewall, the program itself, a data source) must still say why: it is all the user sees.
 */
export function stoppedBy(
  collector: FailureCollector,
  failed: ReadonlyMap<string, string>,
  general: readonly string[] = collector.messages,
): { stoppedAfter?: string; stopReason?: string } {
  const [worker] = failed.keys();
  if (worker !== undefined) return { stoppedAfter: worker };
  const [first] = collector.failures;
  // "failed" alone is what a resOpFailedEvent without a diagnostic leaves.
  const reason = (message: string | undefined) =>
    message && message !== "failed" ? message : general[0];
  if (first) return { stoppedAfter: urnName(first.urn), stopReason: reason(first.message) };
  return { stopReason: general[0] };
}

/** What recovery knows once the config tells the truth and the outputs have been converged. */
export interface AfterFailure {
  /** Worker → the engine's reason, for the workers that failed in the update. */
  failed: ReadonlyMap<string, string>;
  /** Messages of the update's failure that name no worker. */
  general: readonly string[];
  /** Worker names in state now (after the converging update); undefined if state is unreadable. */
  existing: ReadonlySet<string> | undefined;
  /** The worker (or resource) whose failure stopped the update, if one did. */
  stoppedAfter?: string;
  /** Why the update stopped, when no worker's own failure says it (see `stoppedBy`). */
  stopReason?: string;
  /** The workers output of the converging update; undefined if it failed. */
  workers: Worker[] | undefined;
  /** Appended to every error: why converging failed, and what to run then. */
  extra: string;
  /** The stack's default cloud as it stays (a failed switch is undone). */
  cloud: CloudName;
}

/**
 * Settles each request of a failed batch by what is true in state, not by what the update was
 * asked to do. After a failed step the engine starts no new step and never reaches the deletes
 * (pkg/resource/deploy/step_executor.go `cancelDueToError`; deployment_executor.go
 * `performPostSteps` runs only after the program's steps), so:
 * - a create resolves only if every worker it asked for exists; a worker that failed reports
 *   the engine's reason, one that is not in state was not started;
 * - a delete resolves only if every worker it named is gone from state; otherwise it reports the
 *   worker's own failure, or that the delete never started;
 * - a cloud switch was undone, so it rejects; a sync rejects when anything failed.
 */
export function settleAfterFailure(applied: readonly Mutation[], after: AfterFailure): void {
  const notStarted = after.stoppedAfter
    ? `not started: the update stopped after ${after.stoppedAfter} failed${after.stopReason ? `: ${after.stopReason}` : ""}`
    : `not started: the update failed: ${after.stopReason ?? "see the engine output"}`;
  const exists = (name: string) => after.existing?.has(name) ?? false;
  const whole = new WorkersFailedError(after.failed, after.general, after.extra);
  for (const m of applied) {
    const own = new Map<string, string>();
    if (m.kind === "create") {
      for (const e of m.entries) {
        const why = after.failed.get(e.name) ?? (exists(e.name) ? undefined : notStarted);
        if (why) own.set(e.name, why);
      }
    } else if (m.kind === "delete") {
      // Unreadable state proves nothing gone: such a delete is not reported done.
      for (const n of m.names)
        if (exists(n) || !after.existing) own.set(n, after.failed.get(n) ?? notStarted);
    }
    if (own.size) {
      m.done.reject(new WorkersFailedError(own, [], after.extra));
    } else if (m.kind === "delete") {
      m.done.resolve();
    } else if (m.kind === "cloud") {
      m.done.reject(
        new WorkersFailedError(
          after.failed,
          after.general,
          `; the switch to ${m.cloud} was undone: the stack stays on ${after.cloud}${after.extra}`,
        ),
      );
    } else if (m.kind === "create" && after.workers) {
      settle(m, after.workers);
    } else {
      m.done.reject(whole);
    }
  }
}

/**
 * Settles a request after a successful update, except a create with workers given up during
 * capacity failover (`dropped`: worker → reason): it rejects naming them.
 */
export function settleUnlessDropped(
  m: Mutation,
  workers: Worker[],
  dropped: ReadonlyMap<string, string>,
): void {
  if (m.kind === "create") {
    const own = new Map<string, string>();
    for (const e of m.entries) {
      const why = dropped.get(e.name);
      if (why !== undefined) own.set(e.name, why);
    }
    if (own.size) return m.done.reject(new WorkersFailedError(own, []));
  }
  settle(m, workers);
}

/** Resolves a request after a successful update, from the workers output. */
export function settle(m: Mutation, workers: Worker[]): void {
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

/** The first line of an error that says what went wrong, for one-line messages. */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text.split("\n").find((l) => /error/i.test(l)) ?? text.split("\n")[0];
  return line.trim().slice(0, 300);
}
