/**
 * Small pure helpers shared by strategies. Kept apart from any strategy so that using one does
 * not load another cloud's provider SDK.
 */
import type { WorkerSpec } from "./contract";

/** Groups workers by region, keeping declaration order inside each group. */
export function byRegion(workers: readonly WorkerSpec[]): Map<string, WorkerSpec[]> {
  const out = new Map<string, WorkerSpec[]>();
  for (const w of workers) {
    const group = out.get(w.region);
    if (group) group.push(w);
    else out.set(w.region, [w]);
  }
  return out;
}
