/**
 * The desired state as CloudContext reads and writes it: the `fleet:workers` and `fleet:cloud`
 * stack config values, validated with the program's own rules.
 */
import {
  type FleetConfig,
  PROJECT,
  type WorkerEntry,
  type WorkerOverrides,
  parseFleetConfig,
} from "../config/fleet-config";
import type { CloudName } from "../config/rules";
import { type DesiredRecord, STATE_REVISION_KEY, desiredRevision } from "../config/shared-state";
import type { ConfigValue } from "./stack";

export const WORKERS_KEY = `${PROJECT}:workers`;
export const CLOUD_KEY = `${PROJECT}:cloud`;
export const REVISION_KEY = `${PROJECT}:${STATE_REVISION_KEY}`;

/**
 * Validates stack config as the program would, with the workers and/or cloud replaced by
 * `override` (to check a change before writing it).
 */
export function parseDesired(
  config: Record<string, ConfigValue>,
  override: { workers?: WorkerEntry[]; cloud?: CloudName },
  context: { stack: string; projectDir: string },
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
    stack: context.stack,
    secretKeys,
    projectDir: context.projectDir,
  });
}

/** The config writes that make `config` say `entries` and `cloud` (none when it already does). */
export function configChanges(
  config: Record<string, ConfigValue>,
  entries: readonly WorkerEntry[],
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

/** A worker entry as it is written back to config: a bare name when it has no overrides. */
export function compactEntry(e: WorkerOverrides): WorkerEntry {
  const keys = Object.keys(e).filter(
    (k) => (e as unknown as Record<string, unknown>)[k] !== undefined,
  );
  return keys.length === 1 ? e.name : e;
}

/**
 * On a shared backend (config/shared-state.ts): the stack config as the backend's record says
 * it, over this clone's own `config`. Without a record the fleet wants nothing, unless the
 * stack already has workers from before it was shared: then this clone's list is the only one.
 */
export function withRecord(
  config: Record<string, ConfigValue>,
  record: DesiredRecord | undefined,
  stateHasWorkers: boolean,
): Record<string, ConfigValue> {
  const out = { ...config };
  if (record) {
    out[WORKERS_KEY] = { value: record.workers };
    out[CLOUD_KEY] = { value: record.cloud };
  } else if (!stateHasWorkers) delete out[WORKERS_KEY];
  return out;
}

/** The revision a stack config proposes (what the record becomes if the update is accepted). */
export function proposedRevision(desired: FleetConfig): string {
  return desiredRevision(desired.cloud, desired.entries);
}
