import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudContext, WorkerExistsError, WorkerNotFoundError, WorkersFailedError } from "../../context/cloud-context";
import { FleetConfigError } from "../../config/errors";
import { EngineDouble } from "../harness/engine-double";

function setup(config: Record<string, string> = { "fleet:cloud": "digitalocean" }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-ctx-"));
  const stack = new EngineDouble({ dir });
  const values: Record<string, { value: string }> = {};
  for (const [k, v] of Object.entries(config)) values[k] = { value: v };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(values));
  const ctx = new CloudContext({
    stack,
    projectDir: dir,
    env: { DIGITALOCEAN_TOKEN: "x", AWS_ACCESS_KEY_ID: "x", AWS_REGION: "us-east-1" },
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
  });
  return { dir, stack, ctx };
}

describe("CloudContext (engine double)", () => {
  it("creates, lists and deletes workers", async () => {
    const { ctx, stack } = setup();
    const w = await ctx.createWorker("alpha");
    expect(w).to.include({ name: "alpha", cloud: "digitalocean", region: "nyc3", size: "s-1vcpu-1gb", status: "active" });
    expect(w.ip).to.match(/^10\./);
    const list = await ctx.getAllWorkers();
    expect(list.map((x) => x.name)).to.deep.equal(["alpha"]);
    const created = list[0].createdAt;
    await ctx.createWorkers(["beta", "gamma"]);
    const again = await ctx.getAllWorkers();
    expect(again.map((x) => x.name)).to.deep.equal(["alpha", "beta", "gamma"]);
    expect(again[0].createdAt).to.equal(created);
    await ctx.deleteWorker("beta");
    expect((await ctx.getAllWorkers()).map((x) => x.name)).to.deep.equal(["alpha", "gamma"]);
    expect((await stack.getAllConfig())["fleet:workers"].value).to.equal('["alpha","gamma"]');
    await ctx.deleteAllWorkers();
    expect(await ctx.getAllWorkers()).to.deep.equal([]);
    expect(stack.state().resources).to.deep.equal([]);
  });

  it("coalesces concurrent creates", async () => {
    const { ctx } = setup();
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => ctx.createWorker(`w${i}`)));
    expect(made.map((w) => w.name)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `w${i}`));
    expect(ctx.stats.ups).to.be.at.most(2);
  });

  it("random names", async () => {
    const { ctx } = setup();
    const w = await ctx.createWorker();
    expect(w.name).to.match(/^[A-Z0-9]{10}$/);
  });

  it("errors", async () => {
    const { ctx } = setup();
    await ctx.createWorker("a");
    const e1 = await ctx.createWorker("a").catch((e: unknown) => e);
    expect(e1).to.be.instanceOf(WorkerExistsError);
    const e2 = await ctx.deleteWorker("zzz").catch((e: unknown) => e);
    expect(e2).to.be.instanceOf(WorkerNotFoundError);
    expect((e2 as Error).message).to.contain('"zzz"').and.contain("existing workers: a");
    const e3 = await ctx.createWorker("-bad").catch((e: unknown) => e);
    expect(e3).to.be.instanceOf(FleetConfigError);
    expect(ctx.stats.ups).to.equal(1);
  });

  it("switches cloud", async () => {
    const { ctx, stack } = setup();
    await ctx.createWorkers(["a", "b"]);
    await ctx.createWorker("c", { cloud: "aws" });
    const workers = await ctx.useCloud("aws");
    expect(workers.map((w) => [w.name, w.cloud])).to.deep.equal([["a", "aws"], ["b", "aws"], ["c", "aws"]]);
    expect(stack.state().resources.filter((r) => r.type.startsWith("digitalocean"))).to.deep.equal([]);
  });

  it("failed create", async () => {
    const { ctx, stack } = setup();
    await ctx.createWorker("keep");
    stack.setFaults({ failCreate: { bad: "quota exceeded" } });
    const results = await Promise.allSettled([ctx.createWorker("good"), ctx.createWorker("bad")]);
    expect(results[0].status).to.equal("fulfilled");
    expect(results[1].status).to.equal("rejected");
    const err = (results[1] as PromiseRejectedResult).reason as WorkersFailedError;
    expect(err).to.be.instanceOf(WorkersFailedError);
    expect(err.message).to.contain("bad (quota exceeded)");
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["keep", "good"]);
    expect((await stack.getAllConfig())["fleet:workers"].value).to.equal('["keep","good"]');
    stack.setFaults({});
    await ctx.createWorker("bad");
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["keep", "good", "bad"]);
  });

  it("refresh marks vanished", async () => {
    const { ctx, stack } = setup();
    await ctx.createWorkers(["a", "b"]);
    stack.vanish("a");
    const list = await ctx.getAllWorkers({ refresh: true });
    expect(list.map((w) => [w.name, w.status])).to.deep.equal([["a", "missing"], ["b", "active"]]);
  });
});
