/**
 * Reading what the stack says exists: worker names from the resources in its state, and the
 * `workers` stack output.
 */
import type { CloudName } from "../config/rules";
import type { Worker } from "../strategies/contract";
import { descriptor } from "../strategies/registry";
import { urnName } from "./events";
import type { StateResource } from "./stack";

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
