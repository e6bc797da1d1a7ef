/**
 * Truth from state after a failed or cancelled update: which workers exist, what the stack
 * config must say so it matches them, and how each request of the batch is settled.
 */
import { type WorkerEntry, entryName } from "../config/fleet-config";
import type { Worker } from "../strategies/contract";
import { CLOUDS } from "../strategies/registry";
import { compactEntry } from "./desired";
import { type FailureCollector, workerOfUrn } from "./events";
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
