/**
 * Capacity failover for the workers one batch creates: which placement each is on, what each
 * placement answered, and after a failed update which workers move to their next candidate,
 * which stay for the next round (the engine never started them), and which are given up.
 *
 * Pure bookkeeping: CloudContext runs the engine and asks this plan what the next round is.
 * One round is one engine update for the whole batch (README, "Capacity failover").
 */
import type { WorkerOverrides } from "../config/fleet-config";
import { type Placement, describePlacement } from "../config/placements";
import type { CloudName } from "../config/rules";
import type { CapacityErrorRule } from "../strategies/capacity-errors";

/** What one candidate answered. */
export interface Attempt {
  /** The candidate tried. */
  placement: Placement;
  /** The provider's code from the capacity rule it matched (`InsufficientInstanceCapacity`, …). */
  code: string;
  /** The engine's message for the failed create. */
  answer: string;
}

/** A worker moved to its next candidate. */
export interface Move {
  /** The worker. */
  worker: string;
  /** The candidate that refused it. */
  from: Placement;
  /** The candidate it moves to. */
  to: Placement;
  /** The code the refusing candidate answered with. */
  code: string;
}

/** What a failed round means for the plan's workers. */
export interface Round {
  /** Workers that move to their next candidate (the next update tries them there). */
  moved: Move[];
  /** Workers given up in this round, with the reason to report. */
  dropped: Map<string, string>;
  /** Workers the engine never started in this round: they stay where they are. */
  waiting: string[];
}

/**
 * Whether a failed round calls for another update: some worker moved, or some worker was given
 * up while others still wait to be tried. Every further round moves or drops at least one
 * worker, so the rounds of one batch are at most the candidates of all its workers in all.
 */
export function needsAnotherRound(round: Round): boolean {
  return round.moved.length > 0 || (round.dropped.size > 0 && round.waiting.length > 0);
}

/** Classifies a failed create on a cloud: the capacity rule it matches, if any. */
export type Classify = (cloud: CloudName, message: string) => CapacityErrorRule | undefined;

interface Tracked {
  entry: WorkerOverrides;
  candidates: readonly Placement[] | undefined;
  index: number;
  attempts: Attempt[];
}

/** The longest provider message kept per candidate in an error. */
const ANSWER_CHARS = 240;

/**
 * The workers a batch creates, each on one of its candidates. `add` puts a worker on its first
 * candidate by writing the candidate's cloud/region/size into its entry (so the config records
 * where it is); `round` reads a failed update and moves, keeps or drops each worker.
 */
export class FailoverPlan {
  private readonly tracked = new Map<string, Tracked>();
  /** Every worker given up so far, with the reason. */
  public readonly dropped = new Map<string, string>();

  /**
   * Tracks a worker the batch creates. With candidates, its entry is put on the first one;
   * without, it keeps its placement and a failure is final.
   */
  add(entry: WorkerOverrides, candidates: readonly Placement[] | undefined): void {
    this.tracked.set(entry.name, { entry, candidates, index: 0, attempts: [] });
    if (candidates?.length) place(entry, candidates[0]);
  }

  /** Every worker the batch creates. */
  get workers(): string[] {
    return [...this.tracked.keys()];
  }

  /** Workers with placement candidates. */
  get candidateWorkers(): string[] {
    return [...this.tracked].filter(([, t]) => t.candidates?.length).map(([n]) => n);
  }

  /** Every cloud a tracked worker may be moved to. */
  clouds(): CloudName[] {
    const out = new Set<CloudName>();
    for (const t of this.tracked.values()) for (const p of t.candidates ?? []) out.add(p.cloud);
    return [...out];
  }

  /** What each candidate answered so far, for one worker. */
  attempts(worker: string): readonly Attempt[] {
    return this.tracked.get(worker)?.attempts ?? [];
  }

  /**
   * Reads a failed update: `failed` maps workers to the engine's reason, `existing` is what is
   * in state now. A worker in state has landed. A worker that failed with a capacity error (by
   * `classify`, on the cloud it was tried on) moves to its next candidate, or is given up with
   * every candidate's answer when none is left; one that failed otherwise is given up with its
   * reason (another placement cannot fix it); one that did not fail was never started and
   * stays where it is for the next round.
   */
  round(
    failed: ReadonlyMap<string, string>,
    existing: ReadonlySet<string>,
    classify: Classify,
  ): Round {
    const moved: Move[] = [];
    const dropped = new Map<string, string>();
    const waiting: string[] = [];
    for (const [name, t] of this.tracked) {
      if (this.dropped.has(name) || existing.has(name)) continue;
      const why = failed.get(name);
      if (why === undefined) {
        waiting.push(name); // not started: try again where it is
        continue;
      }
      // Where it was tried, as its entry says (region and size resolved).
      const from: Placement | undefined = t.candidates?.[t.index] && {
        cloud: t.entry.cloud ?? t.candidates[t.index].cloud,
        region: t.entry.region,
        size: t.entry.size,
      };
      const rule = from ? classify(from.cloud, why) : undefined;
      if (!from || !t.candidates || !rule) {
        dropped.set(name, t.attempts.length ? `${why}${triedBefore(t.attempts)}` : why);
        continue;
      }
      t.attempts.push({ placement: from, code: rule.code, answer: why });
      if (t.index + 1 < t.candidates.length) {
        t.index++;
        const to = t.candidates[t.index];
        place(t.entry, to);
        moved.push({ worker: name, from, to, code: rule.code });
      } else {
        dropped.set(name, exhaustedMessage(t.attempts));
      }
    }
    for (const [n, why] of dropped) this.dropped.set(n, why);
    return { moved, dropped, waiting };
  }
}

/** Writes a candidate into a worker entry: its cloud, and its region and size where it sets them. */
export function place(entry: WorkerOverrides, p: Placement): void {
  entry.cloud = p.cloud;
  if (p.region === undefined) delete entry.region;
  else entry.region = p.region;
  if (p.size === undefined) delete entry.size;
  else entry.size = p.size;
}

/** The one error for a worker that no candidate could take: each candidate with its answer. */
export function exhaustedMessage(attempts: readonly Attempt[]): string {
  const each = attempts.map(
    (a, i) => `${i + 1}) ${describePlacement(a.placement)}: ${a.code}: ${shorten(a.answer)}`,
  );
  return `no placement candidate could take it (${attempts.length} tried): ${each.join(" ")}`;
}

function triedBefore(attempts: readonly Attempt[]): string {
  const each = attempts.map((a) => `${describePlacement(a.placement)} (${a.code})`);
  return ` [not a capacity error, so no further failover; refused before: ${each.join(", ")}]`;
}

function shorten(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > ANSWER_CHARS ? `${t.slice(0, ANSWER_CHARS - 1)}…` : t;
}
