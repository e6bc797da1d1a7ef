/**
 * Input classes for the fuzzers: every generated case says what it is (`valid`, `near-valid`,
 * `hostile`) and so what fleet must do with it. A `Tally` counts, from inside the property, how
 * each class came out, fails on the first case that came out the wrong way (a valid value
 * refused, an invalid one accepted), and, once the run is over, checks that each class ran at
 * least its floor of cases: a generator that stops producing valid values, or a parser that
 * starts refusing them, fails the run instead of passing on the other classes alone.
 */
import { expect } from "chai";
import fc from "fast-check";
import { record } from "./stats";

/** How a case came out. */
export type Outcome = "accepted" | "refused";

/** One generated case and its class. */
export interface Classed<T> {
  cls: string;
  value: T;
}

/** What every case of one class must do, and how many of them a run must have. */
export interface ClassRule {
  /** `accepted` or `refused`; `either` when an oracle in the test decides per case. */
  expect: Outcome | "either";
  /** The least share of the run's cases this class must have had (0.3: 3,000 of 10,000). */
  floor: number;
  /** fast-check weight of the class in the mix. @default 1 */
  weight?: number;
  arbitrary: fc.Arbitrary<unknown>;
}

/** Cases of every class, each tagged with its class. */
export function classed(rules: Record<string, ClassRule>): fc.Arbitrary<Classed<unknown>> {
  return fc.oneof(
    ...Object.entries(rules).map(([cls, r]) => ({
      weight: r.weight ?? 1,
      arbitrary: r.arbitrary.map((value) => ({ cls, value })),
    })),
  );
}

/** Counts of one input path, per class and outcome. */
export class Tally {
  private readonly counts = new Map<string, number>();
  private total = 0;

  constructor(
    /** The path's name in the summary table. */
    readonly path: string,
    readonly rules: Record<string, ClassRule>,
  ) {}

  /** The cases of every class, tagged. */
  get arbitrary(): fc.Arbitrary<Classed<unknown>> {
    return classed(this.rules);
  }

  /** Counts one case; throws when its class says it must have come out the other way. */
  count(cls: string, outcome: Outcome, what: () => string): void {
    const want = this.rules[cls].expect;
    if (want !== "either" && want !== outcome)
      throw new Error(`${this.path}: a ${cls} case was ${outcome}: ${what()}`);
    const key = `${cls} ${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total++;
  }

  /** Cases counted in `cls` (with any outcome). */
  ran(cls: string): number {
    let n = 0;
    for (const [k, v] of this.counts) if (k.startsWith(`${cls} `)) n += v;
    return n;
  }

  /**
   * Checks that every case was counted once and that each class reached its floor (when the
   * run is big enough for floors to mean something), then records the counts for the table.
   */
  finish(runs: number): void {
    expect(this.total, `${this.path}: cases counted`).to.equal(runs);
    record({
      inputs: { [this.path]: this.total },
      classes: { [this.path]: Object.fromEntries(this.counts) },
    });
    if (runs < 1_000) return;
    for (const [cls, r] of Object.entries(this.rules)) {
      const floor = Math.floor(runs * r.floor);
      expect(this.ran(cls), `${this.path}: ${cls} cases (floor ${floor})`).to.be.at.least(floor);
    }
  }
}

/** Own properties of Object.prototype: a parser that pollutes it changes this list. */
export function prototypeKeys(): string {
  return Object.getOwnPropertyNames(Object.prototype).sort().join(",");
}
