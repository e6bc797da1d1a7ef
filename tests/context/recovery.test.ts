/**
 * Defect 3 (issue 11): after a failed step the engine starts no new step and never reaches the
 * deletes, so recovery settles each request by what is in state. The engine double follows the
 * engine here (tests/context/engine-double.test.ts).
 */
import { expect } from "chai";
import { WorkersFailedError, existingWorkers } from "../../context/cloud-context";
import { deferred, type Mutation } from "../../context/queue";
import { settleAfterFailure, stoppedBy } from "../../context/recovery";
import { FailureCollector } from "../../context/events";
import { configuredNames, rejection, testFleet } from "../harness/context";

const DROPLET = "digitalocean:index/droplet:Droplet";
const INSTANCE = "aws:ec2/instance:Instance";

function inState(stack: ReturnType<typeof testFleet>["stack"], type: string): string[] {
  return stack
    .state()
    .resources.filter((r) => r.type === type)
    .map((r) => r.name)
    .sort();
}

describe("CloudContext recovery after a failed update", () => {
  it("a create fails while deletes are batched: the delete is not reported done, the worker stays listed", async () => {
    const { ctx, stack } = testFleet();
    await ctx.createWorkers(["a", "b"]);
    stack.setFaults({ failCreate: { c: "droplet limit exceeded" } });
    const [created, deleted] = await Promise.allSettled([
      ctx.createWorker("c"),
      ctx.deleteWorker("a"),
    ]);
    expect(ctx.stats.ups).to.equal(3, "one update for the batch, one to converge");
    const createErr = (created as PromiseRejectedResult).reason as WorkersFailedError;
    expect(createErr.message).to.equal("1 worker failed: c (droplet limit exceeded)");
    expect(deleted.status).to.equal("rejected", "the delete never ran");
    const deleteErr = (deleted as PromiseRejectedResult).reason as WorkersFailedError;
    expect(deleteErr).to.be.instanceOf(WorkersFailedError);
    expect(deleteErr.message).to.equal(
      "1 worker failed: a (not started: the update stopped after c failed)",
    );
    expect(inState(stack, DROPLET)).to.deep.equal(["digitalocean-a", "digitalocean-b"]);
    expect(await configuredNames(stack)).to.deep.equal(["a", "b"]);
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["a", "b"]);

    stack.setFaults({});
    await ctx.deleteWorker("a");
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["b"]);
  });

  it("a delete fails while creates are batched: the creates (run first) are done, the delete says why", async () => {
    const { ctx, stack } = testFleet();
    await ctx.createWorkers(["a", "b"]);
    stack.setFaults({ failDelete: { a: "droplet is locked" } });
    const [created, deleted] = await Promise.allSettled([
      ctx.createWorker("c"),
      ctx.deleteWorker("a"),
    ]);
    expect(created.status).to.equal("fulfilled");
    expect((created as PromiseFulfilledResult<{ name: string }>).value.name).to.equal("c");
    expect(((deleted as PromiseRejectedResult).reason as Error).message).to.equal(
      "1 worker failed: a (droplet is locked)",
    );
    expect(await configuredNames(stack)).to.deep.equal(["a", "b", "c"]);
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["a", "b", "c"]);
  });

  it("a create the engine never started says so, and is not configured or listed", async () => {
    const { ctx, stack } = testFleet();
    await ctx.createWorker("keep");
    stack.setFaults({ failCreate: { bad: "quota exceeded" }, parallel: 1 });
    const [bad, later] = await Promise.allSettled([
      ctx.createWorker("bad"),
      ctx.createWorker("later"),
    ]);
    expect(((bad as PromiseRejectedResult).reason as Error).message).to.equal(
      "1 worker failed: bad (quota exceeded)",
    );
    expect(((later as PromiseRejectedResult).reason as Error).message).to.equal(
      "1 worker failed: later (not started: the update stopped after bad failed)",
    );
    expect(await configuredNames(stack)).to.deep.equal(["keep"]);
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["keep"]);
  });

  it("a use <cloud> that fails part-way leaves every worker running on the old cloud, and says so", async () => {
    const { ctx, stack } = testFleet();
    await ctx.createWorkers(["a", "b"]);
    const ids = (await ctx.getAllWorkers()).map((w) => w.id);
    stack.setFaults({ failCreate: { b: "instance limit exceeded" } });
    const e = await rejection(ctx.useCloud("aws"));
    expect(e).to.be.instanceOf(WorkersFailedError);
    expect(e.message).to.equal(
      "1 worker failed: b (instance limit exceeded); the switch to aws was undone: the stack stays on digitalocean",
    );
    expect((await stack.getAllConfig())["fleet:cloud"].value).to.equal("digitalocean");
    expect(await configuredNames(stack)).to.deep.equal(["a", "b"]);
    const listed = await ctx.getAllWorkers();
    expect(listed.map((w) => [w.name, w.cloud])).to.deep.equal([
      ["a", "digitalocean"],
      ["b", "digitalocean"],
    ]);
    expect(listed.map((w) => w.id)).to.deep.equal(ids, "the very same droplets, never deleted");
    expect(inState(stack, DROPLET)).to.deep.equal(["digitalocean-a", "digitalocean-b"]);
    expect(inState(stack, INSTANCE)).to.deep.equal([], "the half-made move is cleaned up");

    stack.setFaults({});
    const moved = await ctx.useCloud("aws");
    expect(moved.map((w) => [w.name, w.cloud])).to.deep.equal([
      ["a", "aws"],
      ["b", "aws"],
    ]);
  });

  it("why not continue-on-error: it would delete the old worker of a move whose new one failed", async () => {
    // The deletes of dropped resources run after the creates and skip only what a failed
    // resource depends on (performPostSteps, deployment_executor.go); the new aws-b does not
    // depend on the old droplet, so the droplet goes and b runs nowhere.
    const { ctx, stack } = testFleet();
    await ctx.createWorkers(["a", "b"]);
    await stack.setConfig({ "fleet:cloud": { value: "aws" } });
    stack.setFaults({ failCreate: { b: "instance limit exceeded" }, continueOnError: true });
    await rejection(stack.up());
    expect(existingWorkers(await stack.resources(), ["aws", "digitalocean"])).to.deep.equal(
      new Set(["a"]),
    );
  });
});

describe("settleAfterFailure", () => {
  const create = (...names: string[]) =>
    ({
      kind: "create",
      entries: names.map((name) => ({ name })),
      generated: false,
      done: deferred(),
    }) as Extract<Mutation, { kind: "create" }>;
  const del = (...names: string[]) =>
    ({ kind: "delete", names, done: deferred() }) as Extract<Mutation, { kind: "delete" }>;
  const worker = (name: string) => ({
    name,
    cloud: "digitalocean" as const,
    region: "nyc3",
    size: "s",
    ip: "10.0.0.1",
    createdAt: "2026-01-01T00:00:00.000Z",
    id: name,
    status: "active",
  });
  const base = {
    failed: new Map([["x", "boom"]]),
    general: [],
    stoppedAfter: "x",
    extra: "",
    cloud: "digitalocean" as const,
  };

  it("resolves a delete only when its workers are gone from state", async () => {
    const gone = del("a");
    const stays = del("b");
    settleAfterFailure([gone, stays], { ...base, existing: new Set(["b"]), workers: [] });
    await gone.done.promise;
    expect((await rejection(stays.done.promise)).message).to.equal(
      "1 worker failed: b (not started: the update stopped after x failed)",
    );
  });

  it("never resolves a delete when state could not be read", async () => {
    const d = del("a");
    settleAfterFailure([d], { ...base, existing: undefined, workers: undefined });
    expect((await rejection(d.done.promise)).message).to.contain("a (not started");
  });

  it("resolves a create whose workers all exist; names failed and not-started ones", async () => {
    const ok = create("a");
    const mixed = create("b", "x", "y");
    settleAfterFailure([ok, mixed], {
      ...base,
      existing: new Set(["a", "b"]),
      workers: [worker("a"), worker("b")],
    });
    expect((await ok.done.promise).map((w) => w.name)).to.deep.equal(["a"]);
    expect((await rejection(mixed.done.promise)).message).to.equal(
      "2 workers failed: x (boom); y (not started: the update stopped after x failed)",
    );
  });

  it("a failure that names no worker still says why the workers were not started", async () => {
    const shared = create("a");
    const program = create("b");
    settleAfterFailure([shared], {
      ...base,
      failed: new Map(),
      stoppedAfter: "digitalocean-firewall",
      stopReason: "403 You do not have access for the attempted action.",
      existing: new Set(),
      workers: [],
    });
    expect((await rejection(shared.done.promise)).message).to.equal(
      "1 worker failed: a (not started: the update stopped after digitalocean-firewall failed: 403 You do not have access for the attempted action.)",
    );
    settleAfterFailure([program], {
      ...base,
      failed: new Map(),
      stoppedAfter: undefined,
      stopReason: 'error serializing property "ami"',
      existing: new Set(),
      workers: [],
    });
    expect((await rejection(program.done.promise)).message).to.equal(
      '1 worker failed: b (not started: the update failed: error serializing property "ami")',
    );
  });

  it("stoppedBy: the first failed worker, else the failed resource and its reason, else the message", () => {
    const collector = new FailureCollector();
    expect(stoppedBy(collector, new Map(), ["the program failed"])).to.deep.equal({
      stopReason: "the program failed",
    });
    const fw =
      "urn:pulumi:dev::fleet::fleet:digitalocean:WorkerFleet$digitalocean:index/firewall:Firewall::digitalocean-firewall";
    collector.onEvent({
      sequence: 1,
      timestamp: 0,
      diagnosticEvent: {
        urn: fw,
        message: "<{%reset%}>403 forbidden<{%reset%}>\n",
        color: "raw",
        severity: "error",
      },
    } as never);
    expect(stoppedBy(collector, new Map())).to.deep.equal({
      stoppedAfter: "digitalocean-firewall",
      stopReason: "403 forbidden",
    });
    expect(stoppedBy(collector, new Map([["w1", "boom"]]))).to.deep.equal({ stoppedAfter: "w1" });
  });
});

describe("CloudContext cancelled by a Ctrl-C the engine got itself (signalEngine: false)", () => {
  it("passes no signal to the engine, reports the cancel, and runs no converging update", async () => {
    const controller = new AbortController();
    const { ctx, stack } = testFleet(
      { "fleet:cloud": "digitalocean" },
      { signal: controller.signal, signalEngine: false },
    );
    await ctx.createWorker("a");
    const signals: (AbortSignal | undefined)[] = [];
    const up = stack.up.bind(stack);
    // The engine hears the terminal's Ctrl-C itself: it cancels with its own signal.
    stack.up = async (options = {}) => {
      signals.push(options.signal);
      controller.abort();
      const engineOwn = new AbortController();
      engineOwn.abort();
      return up({ ...options, signal: engineOwn.signal });
    };
    const ups = ctx.stats.ups;
    const e = await rejection(ctx.createWorker("b"));
    expect(e.name).to.equal("CancelledError");
    expect(signals).to.deep.equal([undefined], "fleet never signals the engine itself");
    expect(ctx.stats.ups - ups).to.equal(1, "no update after a cancel");
    expect(await configuredNames(stack)).to.deep.equal(["a"]);
  });
});
