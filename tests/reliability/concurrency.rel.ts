/**
 * Issue 7, part 3: concurrency under load. Several OS processes drive one stack at once, each
 * creating and deleting workers it owns (one at a time and in bursts that coalesce); the end
 * state — stack config, `workers` output and the double's state — must equal the intended set
 * exactly: no lost, phantom or duplicated worker. Repeated FLEET_REL_ROUNDS times (default 20).
 */
import { expect } from "chai";
import { type ChildProcess, fork } from "node:child_process";
import * as path from "node:path";
import { compareTruth, contextFor, newDouble, truthOf } from "./support/fixtures";
import type { Job, Op, OpResult, ParentMessage, WorkerMessage } from "./support/fleet-worker";
import { record } from "./support/stats";

const PROCESSES = Number(process.env.FLEET_REL_PROCESSES ?? 8);
const OPS_PER_PROCESS = Number(process.env.FLEET_REL_OPS ?? 25);
const ROUNDS = Number(process.env.FLEET_REL_ROUNDS ?? 20);
const WORKER_SCRIPT = path.join(__dirname, "support", "fleet-worker.js");

/** A small seeded PRNG (mulberry32), so a failing round can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Plans `ops` operations for process `p` over its own names, grouped in steps of 1–4
 * concurrent operations; returns the steps and the set that must exist at the end.
 */
export function plan(
  p: number,
  ops: number,
  rand: (n: number) => number,
): { steps: Op[][]; final: string[] } {
  const pool = Array.from({ length: 4 }, (_, j) => `p${p}-w${j}`);
  const have = new Set<string>();
  const steps: Op[][] = [];
  let made = 0;
  while (made < ops) {
    // Mostly bursts that coalesce, sometimes one operation at a time.
    const size = Math.min(ops - made, rand(3) === 0 ? 1 : 2 + rand(8));
    const step: Op[] = [];
    const touched = new Set<string>();
    for (let k = 0; k < size; k++) {
      // Mostly names this step has not touched yet; now and then one it has (create then
      // delete of one name in one burst), which the context must not merge into one update.
      const fresh = (n: string) => !touched.has(n) || rand(8) === 0;
      const absent = pool.filter((n) => !have.has(n) && fresh(n));
      const present = pool.filter((n) => have.has(n) && fresh(n));
      const roll = rand(10);
      if (roll === 0 || (!absent.length && !present.length)) step.push({ kind: "list" });
      else if ((roll < 6 && absent.length) || !present.length) {
        const names = pick(absent, 1 + rand(2), rand);
        names.forEach((n) => (have.add(n), touched.add(n)));
        step.push({ kind: "create", names });
      } else {
        const names = pick(present, 1 + rand(2), rand);
        names.forEach((n) => (have.delete(n), touched.add(n)));
        step.push({ kind: "delete", names });
      }
    }
    made += step.length;
    steps.push(step);
  }
  return { steps, final: [...have] };
}

function pick(from: string[], n: number, rand: (n: number) => number): string[] {
  const pool = [...from];
  const out: string[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(rand(pool.length), 1)[0]);
  return out;
}

/** A long-lived fleet process that runs one job per round. */
class FleetProcess {
  private readonly child: ChildProcess;
  private output = "";
  private pending: { resolve: (r: OpResult[]) => void; reject: (e: Error) => void } | undefined;

  constructor() {
    this.child = fork(WORKER_SCRIPT, [], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.child.on("message", (m: WorkerMessage) => {
      if (m.type === "done") {
        this.pending?.resolve(m.results);
        this.pending = undefined;
      }
    });
    this.child.on("exit", (code) => {
      this.pending?.reject(new Error(`fleet process exited with ${code}:\n${this.output}`));
      this.pending = undefined;
    });
  }

  run(job: Job): Promise<OpResult[]> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send({ type: "job", job } satisfies ParentMessage);
    });
  }

  stop(): void {
    if (this.child.connected) this.child.send({ type: "exit" } satisfies ParentMessage);
  }
}

describe("concurrency: OS processes against one stack", function () {
  this.timeout(0);
  let processes: FleetProcess[] = [];

  before(() => {
    processes = Array.from({ length: PROCESSES }, () => new FleetProcess());
  });
  after(() => processes.forEach((p) => p.stop()));

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}/${ROUNDS}: ${PROCESSES} processes × ${OPS_PER_PROCESS} mixed operations end exactly as intended`, async () => {
      const seed = (Date.now() ^ (round * 2654435761)) >>> 0;
      const rand = prng(seed);
      const { dir, stack } = newDouble(`conc-${round}`);
      // Workers nobody touches: they must survive every round unchanged.
      const seeds = ["seed-0", "seed-1"];
      await contextFor(stack, dir).createWorkers(seeds);
      const seedIds = (await truthOf(stack)).ids;

      const plans = Array.from({ length: PROCESSES }, (_, p) => plan(p, OPS_PER_PROCESS, rand));
      const all = await Promise.all(
        plans.map((pl, p) => processes[p].run({ dir, projectDir: dir, steps: pl.steps })),
      );
      const failed = all.flat().filter((r) => !r.ok);
      expect(
        failed.map((r) => `${JSON.stringify(r.op)}: ${r.error?.name}: ${r.error?.message}`),
        `seed ${seed}`,
      ).to.deep.equal([]);
      const ops = all.reduce((n, r) => n + r.length, 0);
      expect(ops).to.equal(PROCESSES * OPS_PER_PROCESS);

      const intended = [...seeds, ...plans.flatMap((pl) => pl.final)];
      const truth = await truthOf(stack);
      const { lost, phantom, details } = compareTruth(truth, intended);
      record({ concurrentOps: ops, processes: PROCESSES, rounds: 1, lost, phantom });
      expect(details, `seed ${seed}`).to.deep.equal([]);
      expect(truth.ids.slice(0, seeds.length), "untouched workers keep their ids").to.deep.equal(
        seedIds,
      );
    });
  }
});
