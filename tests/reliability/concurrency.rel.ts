/**
 * Issue 7, part 3: concurrency under load, on Pulumi's engine. Several OS processes drive
 * one stack at once through `CloudContext.open` (the Automation API spawning the engine), each
 * creating and deleting workers it owns (one at a time and in bursts that coalesce), while
 * `fleet` CLI processes list the stack. The end state is reckoned from the simulated cloud, the
 * checkpoint and stack config (`reckon`): config must equal the intended set exactly, and no
 * worker may be lost, orphaned or phantom. Repeated FLEET_REL_ROUNDS times.
 *
 * Sizes (FLEET_REL_PROCESSES × FLEET_REL_OPS × FLEET_REL_ROUNDS, default 4 × 6 × 2): every
 * update is a real engine run (a program run over gRPC, plugins, a checkpoint write),
 * about 3–8 s each on 2 shared cores, and updates of one stack are serialized by its lock, so
 * these keep the whole reliability run near 10 minutes.
 */
import { expect } from "chai";
import { type ChildProcess, fork } from "node:child_process";
import * as path from "node:path";
import { type CheckpointResource, listedNames, relProject, settle } from "./support/project";
import type { Job, Op, OpResult, ParentMessage, WorkerMessage } from "./support/fleet-worker";
import { record } from "./support/stats";

const PROCESSES = Number(process.env.FLEET_REL_PROCESSES ?? 4);
const OPS_PER_PROCESS = Number(process.env.FLEET_REL_OPS ?? 6);
const ROUNDS = Number(process.env.FLEET_REL_ROUNDS ?? 2);
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
    const size = Math.min(ops - made, rand(3) === 0 ? 1 : 2 + rand(3));
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
      const p = relProject(`conc-${round}`);
      // Workers nobody touches: they must survive every round unchanged.
      const seeds = ["seed-0", "seed-1"];
      const made = p.fleet(["create", ...seeds, "-q"]);
      expect(made.status, made.stderr).to.equal(0);
      const seedIds = () =>
        p
          .checkpoint()
          .resources.filter((r: CheckpointResource) => /::digitalocean-seed-\d$/.test(r.urn))
          // The engine records resources as their steps complete, not in program order
          // (pkg/backend/snapshot.go markNew): compare as a set.
          .map((r) => r.id)
          .sort();
      const before = seedIds();
      expect(before).to.have.length(2);

      const plans = Array.from({ length: PROCESSES }, (_, i) => plan(i, OPS_PER_PROCESS, rand));
      // Meanwhile `fleet list` processes read the stack: they must never fail or block updates.
      let listing = true;
      const lists = (async () => {
        let n = 0;
        while (listing) {
          const l = await p.fleetAsync(["list", "--json"]);
          expect(l.code, l.stderr).to.equal(0);
          n++;
        }
        return n;
      })();
      const all = await Promise.all(
        plans.map((pl, i) =>
          processes[i].run({ projectDir: p.dir, stack: p.stack, env: p.env, steps: pl.steps }),
        ),
      ).finally(() => (listing = false));
      const listRuns = await lists;
      const failed = all.flat().filter((r) => !r.ok);
      expect(
        failed.map((r) => `${JSON.stringify(r.op)}: ${r.error?.name}: ${r.error?.message}`),
        `seed ${seed}`,
      ).to.deep.equal([]);
      const ops = all.reduce((n, r) => n + r.length, 0);
      expect(ops).to.equal(PROCESSES * OPS_PER_PROCESS);

      const intended = [...seeds, ...plans.flatMap((pl) => pl.final)];
      const list = p.fleet(["list", "--json"]);
      expect(list.status, list.stderr).to.equal(0);
      const r = await settle(p, { intended, listed: listedNames(list.stdout) });
      record({ concurrentOps: ops + listRuns + 1, processes: PROCESSES, rounds: 1 });
      expect(r.details, `seed ${seed}`).to.deep.equal([]);
      expect(new Set(r.config), `seed ${seed}`).to.deep.equal(new Set(intended));
      expect(r.faults, "no fault was injected").to.equal(0);
      expect(seedIds(), "untouched workers keep their ids").to.deep.equal(before);
    });
  }
});
