/**
 * The desired state of a fleet on a shared backend (S3, GCS, Azure Blob, Pulumi Cloud).
 *
 * On one machine, the desired worker list is the clone's stack config (`fleet:workers`,
 * `fleet:cloud`), read and changed under fleet's lock file. Two clones on one backend each have
 * their own stack config, so that copy cannot be the truth: the first update from a clone whose
 * list is empty would delete every worker the other made. On a shared backend the truth is a
 * record in the stack's own checkpoint, the `fleet-desired` resource, written as the first step
 * of every update (every worker depends on it, so it is in the checkpoint before any worker
 * changes, even when a worker then fails). Each clone's `fleet:workers`/`fleet:cloud` is only
 * the proposal it sends with one update, together with `fleet:stateRevision`: the revision of
 * the record the proposal was computed from. The program reads the record under the engine's
 * stack lock and refuses a proposal made from any other revision (compare-and-swap), before it
 * declares anything; fleet then reads the record again and recomputes. The revision is a hash
 * of the record's content, so an idle clone's `fleet sync` proposes the same revision and
 * changes nothing.
 */
import * as crypto from "node:crypto";
import type { WorkerEntry } from "./fleet-config";

/** The record's resource name (its URN ends `::fleet-desired`). */
export const RECORD_NAME = "fleet-desired";

/** The stack config key carrying the revision a proposal was computed from. */
export const STATE_REVISION_KEY = "stateRevision";

/** The revision of a stack without a record (never shared, or destroyed). */
export const NO_RECORD = "none";

/** Words every refusal of a stale proposal carries; fleet recognises it by them. */
export const STALE_MARKER = "changed since this clone read it";

/** The shared desired state, as the record stores it. */
export interface DesiredRecord {
  /** `desiredRevision(cloud, workers)`. */
  revision: string;
  /** `fleet:cloud`. */
  cloud: string;
  /** `fleet:workers`, as JSON. */
  workers: string;
}

/** The revision of a desired state: a hash of its content (equal content, equal revision). */
export function desiredRevision(cloud: string, entries: readonly WorkerEntry[]): string {
  return crypto
    .createHash("sha256")
    .update(JSON.stringify({ cloud, workers: entries }))
    .digest("hex")
    .slice(0, 16);
}

/** The record for a desired state. */
export function desiredRecord(cloud: string, entries: readonly WorkerEntry[]): DesiredRecord {
  return { revision: desiredRevision(cloud, entries), cloud, workers: JSON.stringify(entries) };
}

/** A record from a resource's outputs, or undefined when they are not one. */
export function parseRecord(outputs: unknown): DesiredRecord | undefined {
  if (outputs === null || typeof outputs !== "object") return undefined;
  const o = outputs as Record<string, unknown>;
  if (
    typeof o.revision !== "string" ||
    typeof o.cloud !== "string" ||
    typeof o.workers !== "string"
  )
    return undefined;
  return { revision: o.revision, cloud: o.cloud, workers: o.workers };
}

/** Whether `urn` is the record's. */
export function isRecordUrn(urn: string): boolean {
  return urn.endsWith(`::${RECORD_NAME}`);
}

/**
 * Whether the desired state lives in the backend: `FLEET_SHARED_STATE=1` or `0` says so;
 * otherwise any `PULUMI_BACKEND_URL` that is not a `file://` one (a folder on this machine).
 * Without `PULUMI_BACKEND_URL` fleet uses its file backend in `.fleet/state`.
 */
export function sharedState(env: NodeJS.ProcessEnv = process.env): boolean {
  const forced = env.FLEET_SHARED_STATE;
  if (forced === "1" || forced === "true") return true;
  if (forced === "0" || forced === "false") return false;
  const url = env.PULUMI_BACKEND_URL;
  return url !== undefined && url !== "" && !url.startsWith("file:");
}

/** The refusal of a proposal computed from another revision than the record's. */
export function staleMessage(expected: string, actual: string): string {
  return (
    `fleet: the shared fleet ${STALE_MARKER} (the backend has revision ${actual}, this update ` +
    `was computed from ${expected}); nothing was changed. fleet reads it again by itself; after ` +
    "a plain `pulumi up`, run `fleet sync` to take the fleet as the backend has it"
  );
}
