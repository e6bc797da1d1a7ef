/**
 * CloudContext's failover rounds over the in-process engine double: how many updates, when the
 * updates continue past a failed create, and what the config says afterwards.
 */
import { expect } from "chai";
import type { OperationOptions } from "../../context/stack";
import { FleetConfigError } from "../../config/errors";
import { WorkersFailedError } from "../../context/errors";
import { configuredNames, rejection, testFleet } from "../harness/context";
import { CAPACITY_ERRORS } from "../sim/errors";

const PLACEMENTS = JSON.stringify([
  { cloud: "digitalocean", region: "nyc3" },
  { cloud: "digitalocean", region: "sfo3" },
]);

/** A test fleet whose `up` calls are recorded with their `continueOnError`. */
function recorded(config: Record<string, string>) {
  const t = testFleet(config);
  const calls: boolean[] = [];
  const up = t.stack.up.bind(t.stack);
  t.stack.up = (options?: OperationOptions) => {
    calls.push(options?.continueOnError === true);
    return up(options);
  };
  return { ...t, calls };
}

describe("context/failover with CloudContext", function () {
  this.timeout(120_000);

  it("a create-only batch with candidates continues past a failed create; a worker that ran out is one error, the rest land", async () => {
    const { ctx, stack, calls } = recorded({
      "fleet:cloud": "digitalocean",
      "fleet:placements": PLACEMENTS,
    });
    // The in-process double fails a worker on every candidate: "b" runs out after two rounds.
    stack.setFaults({ failCreate: { b: CAPACITY_ERRORS.digitalocean.sizeUnavailable } });
    const err = await rejection(ctx.createWorkers(["a", "b", "c"]));
    expect(err).to.be.instanceOf(WorkersFailedError);
    expect([...(err as WorkersFailedError).failed.keys()]).to.deep.equal(["b"]);
    expect(err.message).to.contain("no placement candidate could take it (2 tried)");
    expect(err.message).to.contain("1) digitalocean nyc3 s-1vcpu-1gb: 422 size not available");
    expect(err.message).to.contain("2) digitalocean sfo3 s-1vcpu-1gb: 422 size not available");
    // Two rounds, then the converging update; the rounds continue on error.
    expect(ctx.stats.ups).to.equal(3);
    expect(calls).to.deep.equal([true, true, false]);
    expect(await configuredNames(stack)).to.deep.equal(["a", "c"]);
    const listed = await ctx.getAllWorkers();
    expect(listed.map((w) => [w.name, w.region])).to.deep.equal([
      ["a", "nyc3"],
      ["c", "nyc3"],
    ]);
  });

  it("never continues on error while an existing worker is about to move to another cloud", async () => {
    const { ctx, stack, calls } = recorded({
      "fleet:cloud": "digitalocean",
      "fleet:placements": PLACEMENTS,
    });
    await ctx.createWorkers(["old"]);
    // By hand: `old` now belongs on AWS; the next update would replace it across clouds.
    await stack.setConfig({
      "fleet:workers": { value: JSON.stringify([{ name: "old", cloud: "aws" }]) },
    });
    await ctx.createWorkers(["new"]);
    expect(calls).to.deep.equal([true, false]);
  });

  it("workers created without candidates keep their compact entries and never continue on error", async () => {
    const { ctx, stack, calls } = recorded({ "fleet:cloud": "digitalocean" });
    await ctx.createWorkers(["p", "q"]);
    expect(calls).to.deep.equal([false]);
    expect((await stack.getAllConfig())["fleet:workers"]?.value).to.equal('["p","q"]');
  });

  it("bad placements are refused before any engine call, and the config is left as it was", async () => {
    const bad = JSON.stringify([{ cloud: "gcp", region: "us-central1" }]);
    const { ctx, stack, calls } = recorded({
      "fleet:cloud": "digitalocean",
      "fleet:placements": bad,
    });
    const before = await stack.getAllConfig();
    const err = await rejection(ctx.createWorkers(["w"]));
    expect(err).to.be.instanceOf(FleetConfigError);
    expect(err.message).to.contain(
      'fleet:placements[0].region: invalid region for gcp: got "us-central1"; a GCP zone such as us-central1-a',
    );
    const own = await rejection(
      ctx.createWorkers([{ name: "v", placements: [{ cloud: "linode" as "aws" }] }]),
    );
    expect(own.message).to.contain("names[0].placements[0].cloud: unknown cloud");
    expect(calls).to.deep.equal([]);
    expect(await stack.getAllConfig()).to.deep.equal(before);
  });
});
