/** The failover plan: what a failed round means for each worker a batch creates. */
import { expect } from "chai";
import type { WorkerOverrides } from "../../config/fleet-config";
import { type Placement, parsePlacements } from "../../config/placements";
import { FailoverPlan, exhaustedMessage, needsAnotherRound } from "../../context/failover";
import { capacityErrorOf } from "../../strategies/registry";
import { CAPACITY_ERRORS } from "../sim/errors";

const CANDIDATES: Placement[] = parsePlacements("fleet:placements", [
  { cloud: "aws", region: "us-east-1", size: "t3.micro" },
  { cloud: "gcp", region: "us-central1-a" },
  { cloud: "hetzner", region: "fsn1", size: "cx23" },
]);

function planOf(...names: string[]): { plan: FailoverPlan; entries: WorkerOverrides[] } {
  const plan = new FailoverPlan();
  const entries = names.map((name) => ({ name }) as WorkerOverrides);
  for (const e of entries) plan.add(e, CANDIDATES);
  return { plan, entries };
}

describe("context/failover", () => {
  it("puts each worker on its first candidate", () => {
    const { entries, plan } = planOf("w1");
    expect(entries[0]).to.deep.equal({
      name: "w1",
      cloud: "aws",
      region: "us-east-1",
      size: "t3.micro",
    });
    expect(plan.candidateWorkers).to.deep.equal(["w1"]);
    expect(plan.clouds().sort()).to.deep.equal(["aws", "gcp", "hetzner"]);
  });

  it("moves every worker that hit a capacity error to its next candidate in one round; unstarted ones wait, landed ones are done", () => {
    const { plan, entries } = planOf("w1", "w2", "w3", "w4");
    const r = plan.round(
      new Map([
        ["w1", CAPACITY_ERRORS.aws.insufficientCapacity],
        ["w2", CAPACITY_ERRORS.aws.vcpuLimitExceeded],
      ]),
      new Set(["w3"]),
      capacityErrorOf,
    );
    expect(r.moved.map((m) => [m.worker, m.code, m.to.cloud])).to.deep.equal([
      ["w1", "InsufficientInstanceCapacity", "gcp"],
      ["w2", "VcpuLimitExceeded", "gcp"],
    ]);
    expect(r.waiting).to.deep.equal(["w4"]);
    expect(r.dropped.size).to.equal(0);
    expect(needsAnotherRound(r)).to.equal(true);
    // The entry now says where it is: the candidate's fields, nothing left of the old one.
    expect(entries[0]).to.deep.equal({ name: "w1", cloud: "gcp", region: "us-central1-a" });
    expect(entries[3].cloud).to.equal("aws");
  });

  it("gives a worker up when its candidates run out, listing what each one answered", () => {
    const { plan, entries } = planOf("w1");
    plan.round(new Map([["w1", CAPACITY_ERRORS.aws.unsupported]]), new Set(), capacityErrorOf);
    entries[0].size = "e2-micro"; // as CloudContext records the resolved size
    plan.round(
      new Map([["w1", CAPACITY_ERRORS.gcp.zoneResourcePoolExhausted]]),
      new Set(),
      capacityErrorOf,
    );
    const last = plan.round(
      new Map([["w1", CAPACITY_ERRORS.hetzner.resourceUnavailable]]),
      new Set(),
      capacityErrorOf,
    );
    expect(last.moved).to.deep.equal([]);
    const why = last.dropped.get("w1") ?? "";
    expect(why).to.match(/^no placement candidate could take it \(3 tried\): /);
    expect(why).to.contain("1) aws us-east-1 t3.micro: Unsupported: creating EC2 Instance");
    expect(why).to.contain(
      "2) gcp us-central1-a e2-micro: ZONE_RESOURCE_POOL_EXHAUSTED: Error waiting",
    );
    expect(why).to.contain("3) hetzner fsn1 cx23: resource_unavailable: error during placement");
    expect(plan.dropped.get("w1")).to.equal(why);
    expect(plan.attempts("w1").map((a) => a.code)).to.deep.equal([
      "Unsupported",
      "ZONE_RESOURCE_POOL_EXHAUSTED",
      "resource_unavailable",
    ]);
    expect(needsAnotherRound(last)).to.equal(false);
  });

  it("does not fail over on an error another placement cannot fix, and says what was tried before", () => {
    const { plan } = planOf("w1", "w2");
    plan.round(
      new Map([["w1", CAPACITY_ERRORS.aws.insufficientCapacity]]),
      new Set(["w2"]),
      capacityErrorOf,
    );
    const bad =
      "Error creating instance: googleapi: Error 403: Required 'compute.instances.create' permission, forbidden";
    const r = plan.round(new Map([["w1", bad]]), new Set(["w2"]), capacityErrorOf);
    expect(r.moved).to.deep.equal([]);
    expect(r.dropped.get("w1")).to.equal(
      `${bad} [not a capacity error, so no further failover; refused before: aws us-east-1 t3.micro (InsufficientInstanceCapacity)]`,
    );
  });

  it("a worker without candidates fails for good on any error; a drop with others waiting calls for another round", () => {
    const plan = new FailoverPlan();
    const fixed: WorkerOverrides = { name: "f", cloud: "aws" };
    plan.add(fixed, undefined);
    plan.add({ name: "c" }, CANDIDATES);
    expect(fixed).to.deep.equal({ name: "f", cloud: "aws" });
    const r = plan.round(
      new Map([["f", CAPACITY_ERRORS.aws.insufficientCapacity]]),
      new Set(),
      capacityErrorOf,
    );
    expect([...r.dropped.keys()]).to.deep.equal(["f"]);
    expect(r.waiting).to.deep.equal(["c"]);
    expect(needsAnotherRound(r)).to.equal(true);
  });

  it("shortens long provider answers", () => {
    const msg = exhaustedMessage([
      { placement: { cloud: "azure" }, code: "SkuNotAvailable", answer: "x".repeat(1000) },
    ]);
    expect(msg.length).to.be.below(400);
    expect(msg).to.contain("1) azure (default region) (default size): SkuNotAvailable: xxx");
  });
});
