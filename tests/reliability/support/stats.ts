/**
 * Counters of what the reliability tests actually did. Every test (and every forked process)
 * appends one JSON line per event to the file named by FLEET_REL_STATS; the runner sums them
 * into the summary table. Without FLEET_REL_STATS (mocha run by hand) nothing is written.
 */
import * as fs from "node:fs";

/** One appended record; absent fields count as zero. */
export interface StatRecord {
  /** Input path → generated values fed to it. */
  inputs?: Record<string, number>;
  /** Input path → "<class> <outcome>" (e.g. "valid accepted") → cases. */
  classes?: Record<string, Record<string, number>>;
  /**
   * Faults that fired: ledger lines with `outcome: "fault"` (provider operations), and
   * engine-level faults seen in what ran (an engine killed, a lock left behind, an interrupt).
   */
  faults?: number;
  /** Kind of fault → how many fired (for the breakdown). */
  faultKinds?: Record<string, number>;
  /** Cloud mutations (create, update, delete) the simulated plugins ran, from their ledger. */
  operations?: number;
  /** CloudContext operations issued by concurrent OS processes. */
  concurrentOps?: number;
  /** OS processes that ran those operations. */
  processes?: number;
  /** Concurrency rounds completed. */
  rounds?: number;
  /** Workers in config (or intended) that are neither in the simulated cloud nor in state. */
  lost?: number;
  /** Workers in the simulated cloud that the checkpoint does not know. */
  orphaned?: number;
  /** Workers in the checkpoint or `fleet list` that are not in the cloud, or listed twice. */
  phantom?: number;
  /** Occurrences of a fake credential in output, errors or files. */
  leaked?: number;
  /** Texts and files scanned for credentials. */
  scanned?: number;
  /** Unhandled promise rejections seen. */
  unhandled?: number;
}

export const STATS_ENV = "FLEET_REL_STATS";

/** Appends a record (synchronously, so a forked process may exit right after). */
export function record(r: StatRecord): void {
  const file = process.env[STATS_ENV];
  if (!file) return;
  fs.appendFileSync(file, `${JSON.stringify(r)}\n`);
}

/** The sum of every record in `file`. */
export interface Totals {
  inputs: Record<string, number>;
  classes: Record<string, Record<string, number>>;
  faults: number;
  faultKinds: Record<string, number>;
  operations: number;
  concurrentOps: number;
  processes: number;
  rounds: number;
  lost: number;
  orphaned: number;
  phantom: number;
  leaked: number;
  scanned: number;
  unhandled: number;
}

export function readTotals(file: string): Totals {
  const t: Totals = {
    inputs: {},
    classes: {},
    faults: 0,
    faultKinds: {},
    operations: 0,
    concurrentOps: 0,
    processes: 0,
    rounds: 0,
    lost: 0,
    orphaned: 0,
    phantom: 0,
    leaked: 0,
    scanned: 0,
    unhandled: 0,
  };
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as StatRecord;
    for (const [k, v] of Object.entries(r.inputs ?? {})) t.inputs[k] = (t.inputs[k] ?? 0) + v;
    for (const [p, byClass] of Object.entries(r.classes ?? {})) {
      const into = (t.classes[p] ??= {});
      for (const [k, v] of Object.entries(byClass)) into[k] = (into[k] ?? 0) + v;
    }
    for (const [k, v] of Object.entries(r.faultKinds ?? {}))
      t.faultKinds[k] = (t.faultKinds[k] ?? 0) + v;
    t.faults += r.faults ?? 0;
    t.concurrentOps += r.concurrentOps ?? 0;
    t.processes += r.processes ?? 0;
    t.rounds += r.rounds ?? 0;
    t.operations += r.operations ?? 0;
    t.lost += r.lost ?? 0;
    t.orphaned += r.orphaned ?? 0;
    t.phantom += r.phantom ?? 0;
    t.leaked += r.leaked ?? 0;
    t.scanned += r.scanned ?? 0;
    t.unhandled += r.unhandled ?? 0;
  }
  return t;
}

/** Counts engine-level faults of one kind, seen in what ran (provider faults come from the ledger). */
export function fault(kind: string, n = 1): void {
  record({ faults: n, faultKinds: { [kind]: n } });
}
