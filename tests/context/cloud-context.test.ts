import { expect } from "chai";
import * as fs from "node:fs";
import {
  CloudContext,
  WorkerExistsError,
  WorkerNotFoundError,
  WorkersFailedError,
  existingWorkers,
  truthfulEntries,
} from "../../context/cloud-context";
import { MissingCredentialsError } from "../../config/credentials";
import { FleetConfigError } from "../../config/errors";
import { StackBusyError } from "../../context/stack";
import type { Progress } from "../../context/events";
import { configuredNames, rejection, testFleet } from "../harness/context";

describe("CloudContext", () => {
  describe("round trips", () => {
    it("creates, lists, deletes and deletes all", async () => {
      const { ctx, stack } = testFleet();
      const w = await ctx.createWorker("alpha");
      expect(w).to.include({
        name: "alpha",
        cloud: "digitalocean",
        region: "nyc3",
        size: "s-1vcpu-1gb",
        status: "active",
      });
      expect(w.ip).to.match(/^10\.\d+\.\d+\.\d+$/);
      expect(new Date(w.createdAt).toISOString()).to.equal(w.createdAt);
      expect((await ctx.getAllWorkers()).map((x) => x.name)).to.deep.equal(["alpha"]);

      await ctx.createWorkers(["beta", "gamma"]);
      const all = await ctx.getAllWorkers();
      expect(all.map((x) => x.name)).to.deep.equal(["alpha", "beta", "gamma"]);
      expect(all[0]).to.deep.equal(w, "an existing worker is unchanged by later updates");

      await ctx.deleteWorker("beta");
      expect((await ctx.getAllWorkers()).map((x) => x.name)).to.deep.equal(["alpha", "gamma"]);
      expect(await configuredNames(stack)).to.deep.equal(["alpha", "gamma"]);
      expect(
        stack
          .state()
          .resources.filter((r) => r.type === "digitalocean:index/droplet:Droplet")
          .map((r) => r.name),
      ).to.deep.equal(["digitalocean-alpha", "digitalocean-gamma"]);

      await ctx.deleteAllWorkers();
      expect(await ctx.getAllWorkers()).to.deep.equal([]);
      expect(stack.state().resources).to.deep.equal([]);
      expect(await configuredNames(stack)).to.deep.equal([]);
      expect(ctx.stats).to.deep.equal({ ups: 3, destroys: 1, refreshes: 0 });
    });

    it("gives a worker with no name a random 10-character name of A-Z and 0-9", async () => {
      const { ctx } = testFleet();
      const w = await ctx.createWorker();
      expect(w.name).to.match(/^[A-Z0-9]{10}$/);
      const many = await ctx.createWorkers(5);
      expect(new Set(many.map((x) => x.name)).size).to.equal(5);
      expect(ctx.stats.ups).to.equal(2);
    });

    it("creates a worker in another cloud than the default", async () => {
      const { ctx, stack } = testFleet();
      const w = await ctx.createWorker("x", { cloud: "aws" });
      expect(w).to.include({ name: "x", cloud: "aws", region: "us-east-1", size: "t3.micro" });
      expect((await stack.getAllConfig())["fleet:workers"].value).to.equal(
        '[{"name":"x","cloud":"aws"}]',
      );
    });

    it("switches cloud: implicit workers move, explicitly placed ones stay, new before old in one update", async () => {
      const { ctx, stack } = testFleet();
      await ctx.createWorkers(["a", "b"]);
      await ctx.createWorker("pinned", { cloud: "digitalocean" });
      const events: Progress[] = [];
      const ups = ctx.stats.ups;
      const moving = new CloudContext({ ...ctxOptions(ctx), onProgress: (p) => events.push(p) });
      const workers = await moving.useCloud("aws");
      expect(moving.stats.ups + ctx.stats.ups - ups).to.equal(1);
      expect(workers.map((w) => [w.name, w.cloud])).to.deep.equal([
        ["a", "aws"],
        ["b", "aws"],
        ["pinned", "digitalocean"],
      ]);
      expect((await stack.getAllConfig())["fleet:cloud"].value).to.equal("aws");
      const droplets = stack
        .state()
        .resources.filter((r) => r.type === "digitalocean:index/droplet:Droplet");
      expect(droplets.map((r) => r.name)).to.deep.equal(["digitalocean-pinned"]);
      // Every create finished before the first delete started.
      const lastCreate = events.map((e) => e.state).lastIndexOf("created");
      const firstDelete = events.map((e) => e.state).indexOf("deleting");
      expect(lastCreate).to.be.greaterThan(-1);
      expect(firstDelete).to.be.greaterThan(lastCreate);
    });
  });

  describe("validation before any engine call", () => {
    it("refuses existing and missing workers by name", async () => {
      const { ctx } = testFleet();
      await ctx.createWorker("a");
      const exists = await rejection(ctx.createWorker("a"));
      expect(exists).to.be.instanceOf(WorkerExistsError);
      expect(exists.message).to.equal(
        'worker: worker already exists: got "a"; worker names are unique in the stack; pick another name',
      );
      const caseOnly = await rejection(ctx.createWorker("A"));
      expect(caseOnly).to.be.instanceOf(WorkerExistsError);
      const missing = await rejection(ctx.deleteWorker("zzz"));
      expect(missing).to.be.instanceOf(WorkerNotFoundError);
      expect(missing.message).to.equal('worker: no such worker: got "zzz"; existing workers: a');
      expect(ctx.stats.ups).to.equal(1);
    });

    it("refuses bad names, counts and clouds synchronously with the program's rules", async () => {
      const { ctx, stack } = testFleet();
      for (const bad of ["-x", "a b", "x".repeat(64), "", "ä"]) {
        const e = await rejection(ctx.createWorker(bad));
        expect(e, bad).to.be.instanceOf(FleetConfigError);
        expect(e.message).to.contain("invalid worker name");
      }
      expect((await rejection(ctx.createWorkers(0))).message).to.equal(
        "count: invalid count: got 0; a whole number from 1 to 10000",
      );
      expect((await rejection(ctx.createWorkers(["a", "a"]))).message).to.contain(
        "duplicate worker name",
      );
      const cloud = await rejection(ctx.useCloud("gcloud" as never));
      expect(cloud.message).to.equal(
        'fleet:cloud: unknown cloud: got "gcloud"; known clouds: aws, azure, digitalocean, gcp, hetzner, local',
      );
      expect(ctx.stats.ups).to.equal(0);
      expect(stack.state().updates).to.equal(0);
    });

    it("refuses an update when credentials are missing, naming what to set, before the engine runs", async () => {
      const { ctx, stack } = testFleet({ "fleet:cloud": "digitalocean" }, { env: {} });
      const e = await rejection(ctx.createWorker("a"));
      expect(e).to.be.instanceOf(MissingCredentialsError);
      expect(e.message)
        .to.contain("DIGITALOCEAN_TOKEN")
        .and.contain("pulumi config set --secret digitalocean:token");
      expect(stack.state().updates).to.equal(0);
      expect(await configuredNames(stack)).to.deep.equal([]);
    });

    it("one bad call in a batch does not spoil the others", async () => {
      const { ctx } = testFleet();
      await ctx.createWorker("a");
      const [good, dup, gone] = await Promise.allSettled([
        ctx.createWorker("b"),
        ctx.createWorker("a"),
        ctx.deleteWorker("nope"),
      ]);
      expect(good.status).to.equal("fulfilled");
      expect((dup as PromiseRejectedResult).reason).to.be.instanceOf(WorkerExistsError);
      expect((gone as PromiseRejectedResult).reason).to.be.instanceOf(WorkerNotFoundError);
      expect(ctx.stats.ups).to.equal(2);
    });
  });

  describe("concurrency", () => {
    it("coalesces K concurrent creates into exactly 1 update and creates every worker", async () => {
      const { ctx, stack } = testFleet();
      const names = Array.from({ length: 25 }, (_, i) => `w${i}`);
      // All 25 calls are made in one tick, before the queue's first batch starts: one batch.
      const made = await Promise.all(names.map((n) => ctx.createWorker(n)));
      expect(made.map((w) => w.name)).to.deep.equal(names);
      expect(ctx.stats.ups).to.equal(1);
      expect(
        stack
          .state()
          .resources.filter((r) => r.type === "digitalocean:index/droplet:Droplet")
          .map((r) => r.name),
      ).to.deep.equal(names.map((n) => `digitalocean-${n}`));
      expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(names);
    });

    it("coalesces calls that trickle in while an update runs into one more update", async () => {
      const { ctx, stack } = testFleet();
      stack.setFaults({ latencyMs: 150 });
      const first = ctx.createWorker("first");
      await new Promise((r) => setTimeout(r, 50));
      const later = Array.from({ length: 8 }, (_, i) => ctx.createWorker(`later${i}`));
      await Promise.all([first, ...later]);
      expect(ctx.stats.ups).to.equal(2);
      expect((await ctx.getAllWorkers()).length).to.equal(9);
    });
  });

  describe("failures", () => {
    it("reports which workers failed and why; config and list tell the truth; a re-run converges", async () => {
      const { ctx, stack } = testFleet();
      await ctx.createWorker("keep");
      stack.setFaults({ failCreate: { bad: "droplet limit exceeded" } });
      const [good, bad] = await Promise.allSettled([
        ctx.createWorker("good"),
        ctx.createWorker("bad"),
      ]);
      expect(good.status).to.equal("fulfilled");
      const err = (bad as PromiseRejectedResult).reason as WorkersFailedError;
      expect(err).to.be.instanceOf(WorkersFailedError);
      expect(err.message).to.equal("1 worker failed: bad (droplet limit exceeded)");
      expect([...err.failed.keys()]).to.deep.equal(["bad"]);
      expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["keep", "good"]);
      expect(await configuredNames(stack)).to.deep.equal(["keep", "good"]);

      stack.setFaults({});
      await ctx.createWorker("bad");
      expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["keep", "good", "bad"]);
    });

    it("a failed create never deletes a worker that existed before", async () => {
      const { ctx, stack } = testFleet();
      await ctx.createWorkers(["a", "b"]);
      const ids = stack.state().resources.map((r) => r.id);
      stack.setFaults({ failCreate: { c: "boom" } });
      await rejection(ctx.createWorker("c"));
      const after = stack.state().resources.map((r) => r.id);
      for (const id of ids) expect(after).to.include(id);
      expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["a", "b"]);
    });

    it("a failed delete keeps the worker listed and configured", async () => {
      const { ctx, stack } = testFleet();
      await ctx.createWorkers(["a", "b"]);
      stack.setFaults({ failDelete: { a: "droplet is locked" } });
      const e = await rejection(ctx.deleteWorkers(["a", "b"]));
      expect(e.message).to.equal("1 worker failed: a (droplet is locked)");
      expect(await configuredNames(stack)).to.deep.equal(["a"]);
      expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["a"]);
      stack.setFaults({});
      await ctx.deleteWorker("a");
      expect(await ctx.getAllWorkers()).to.deep.equal([]);
    });

    it("a failed delete-all keeps what still exists in config", async () => {
      const { ctx, stack } = testFleet();
      await ctx.createWorkers(["a", "b"]);
      stack.setFaults({ failDelete: { b: "api timeout" } });
      const e = await rejection(ctx.deleteAllWorkers());
      expect(e.message).to.equal("1 worker failed: b (api timeout)");
      expect(await configuredNames(stack)).to.deep.equal(["b"]);
      stack.setFaults({});
      await ctx.deleteAllWorkers();
      expect(stack.state().resources).to.deep.equal([]);
    });

    it("retries a stack locked by another update, then reports it clearly", async () => {
      const { ctx, stack } = testFleet();
      stack.setFaults({ busy: 2 });
      await ctx.createWorker("a");
      expect(stack.faults().busy).to.equal(0);
      stack.setFaults({ busy: "always" });
      const e = await rejection(ctx.createWorker("b"));
      expect(e).to.be.instanceOf(StackBusyError);
      expect(e.message).to.match(
        /^creating b failed: the stack "dev" is locked by another update \(tried 3 times over [\d.]+ s\)/,
      );
      expect(e.message).to.contain("pulumi cancel");
      expect(await configuredNames(stack)).to.deep.equal(
        ["a"],
        "the refused change is not left in config",
      );
    });
  });

  describe("refresh", () => {
    it("marks workers that disappeared from the cloud as missing", async () => {
      const { ctx, stack } = testFleet();
      await ctx.createWorkers(["a", "b"]);
      stack.vanish("a");
      const list = await ctx.getAllWorkers({ refresh: true });
      expect(list.map((w) => [w.name, w.status])).to.deep.equal([
        ["a", "missing"],
        ["b", "active"],
      ]);
      expect(ctx.stats.refreshes).to.equal(1);
      // Converging recreates it.
      await ctx.sync();
      expect((await ctx.getAllWorkers({ refresh: true })).map((w) => w.status)).to.deep.equal([
        "active",
        "active",
      ]);
    });
  });

  describe("helpers", () => {
    it("existingWorkers reads worker names from URNs of children of WorkerFleet components", () => {
      const urn = (chain: string, name: string) => `urn:pulumi:dev::fleet::${chain}::${name}`;
      const names = existingWorkers(
        [
          {
            urn: urn("fleet:aws:WorkerFleet$aws:ec2/instance:Instance", "aws-w1"),
            type: "aws:ec2/instance:Instance",
            id: "i-1",
          },
          {
            urn: urn(
              "fleet:aws:WorkerFleet$aws:ec2/securityGroup:SecurityGroup",
              "aws-us-east-1-sg",
            ),
            type: "x",
            id: "sg-1",
          },
          {
            urn: urn(
              "fleet:digitalocean:WorkerFleet$digitalocean:index/droplet:Droplet",
              "digitalocean-w2",
            ),
            type: "x",
            id: "2",
          },
          {
            urn: urn(
              "fleet:digitalocean:WorkerFleet$digitalocean:index/droplet:Droplet",
              "digitalocean-w3",
            ),
            type: "x",
          },
          {
            urn: urn("pulumi:pulumi:Stack$fleet:aws:WorkerFleet", "aws"),
            type: "fleet:aws:WorkerFleet",
          },
        ],
        ["aws", "digitalocean"],
      );
      expect([...names].sort()).to.deep.equal(["w1", "w2"]);
    });

    it("truthfulEntries keeps what exists", () => {
      const done = {
        promise: Promise.resolve(),
        resolve: () => undefined,
        reject: () => undefined,
      };
      const out = truthfulEntries(
        ["a", "b"],
        [
          {
            kind: "create",
            entries: [{ name: "c" }, { name: "d", cloud: "aws" }],
            generated: false,
            done: done as never,
          },
          { kind: "delete", names: ["a", "b"], done: done as never },
        ],
        new Set(["a", "d"]),
      );
      expect(out).to.deep.equal(["a", { name: "d", cloud: "aws" }]);
    });
  });
});

function ctxOptions(ctx: CloudContext): ConstructorParameters<typeof CloudContext>[0] {
  return (ctx as unknown as { options: ConstructorParameters<typeof CloudContext>[0] }).options;
}

void fs;
