/**
 * Issue 7, part 2: injected faults. For each fault: what the user sees (one line naming the
 * workers and the cause), what stack config and getAllWorkers say afterwards (the truth), and
 * that a re-run converges with no worker lost or duplicated.
 */
import { expect } from "chai";
import { fork } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { WorkersFailedError } from "../../context/cloud-context";
import { CancelledError, StackBusyError } from "../../context/stack";
import { main } from "../../cli/fleet";
import {
  type Truth,
  capture,
  compareTruth,
  contextFor,
  delay,
  newDouble,
  truthOf,
} from "./support/fixtures";
import type { Job, WorkerMessage } from "./support/fleet-worker";
import { fault, record } from "./support/stats";

const WORKER_SCRIPT = path.join(__dirname, "support", "fleet-worker.js");

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the call to fail");
}

/** The stack converged on `intended`: config, outputs and state agree, nothing lost or doubled. */
async function expectConverged(truth: Truth | Promise<Truth>, intended: string[]): Promise<void> {
  const t = await truth;
  const { lost, phantom, details } = compareTruth(t, intended);
  record({ lost, phantom });
  expect(details).to.deep.equal([]);
  expect(t.config).to.deep.equal(intended);
  expect(t.outputs).to.deep.equal(intended);
}

function oneLine(e: Error): string {
  expect(e.message, "one line").not.to.contain("\n");
  return e.message;
}

describe("faults injected in the engine double", function () {
  this.timeout(120_000);

  it("a provider error on some workers of a batch", async () => {
    const { dir, stack } = newDouble("f-provider");
    const ctx = contextFor(stack, dir);
    await ctx.createWorkers(["keep"]);
    stack.setFaults({
      failCreate: { b2: "quota exceeded (droplet limit 3)", b4: "region nyc3 is out of capacity" },
    });
    fault("provider error on create", 2);
    const err = await rejection(ctx.createWorkers(["b1", "b2", "b3", "b4", "b5"]));
    expect(err).to.be.instanceOf(WorkersFailedError);
    expect(oneLine(err)).to.equal(
      "2 workers failed: b2 (quota exceeded (droplet limit 3)); b4 (region nyc3 is out of capacity)",
    );
    // The truth: the workers that were created are listed; the failed ones are not.
    await expectConverged(truthOf(stack), ["keep", "b1", "b3", "b5"]);
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal([
      "keep",
      "b1",
      "b3",
      "b5",
    ]);
    // Re-run: create the failed ones once the cause is gone.
    stack.setFaults({});
    await ctx.createWorkers([...(err as WorkersFailedError).failed.keys()]);
    await expectConverged(truthOf(stack), ["keep", "b1", "b3", "b5", "b2", "b4"]);
    // A second convergence run changes nothing.
    const ids = (await truthOf(stack)).ids;
    await ctx.sync();
    expect((await truthOf(stack)).ids).to.deep.equal(ids);
  });

  it("a provider error in one of several concurrent calls fails only that call", async () => {
    const { dir, stack } = newDouble("f-provider-calls");
    const ctx = contextFor(stack, dir);
    stack.setFaults({ failCreate: { bad: "invalid image" } });
    fault("provider error on create");
    const results = await Promise.allSettled([ctx.createWorker("good"), ctx.createWorker("bad")]);
    expect(results.map((r) => r.status)).to.deep.equal(["fulfilled", "rejected"]);
    expect(oneLine((results[1] as PromiseRejectedResult).reason as Error)).to.equal(
      "1 worker failed: bad (invalid image)",
    );
    await expectConverged(truthOf(stack), ["good"]);
  });

  it("the stack locked by another update once, then free", async () => {
    const { dir, stack } = newDouble("f-busy-once");
    const ctx = contextFor(stack, dir);
    stack.setFaults({ busy: 1 });
    fault("stack busy once");
    const w = await ctx.createWorker("x1");
    expect(w.name).to.equal("x1");
    expect(ctx.stats.ups).to.equal(2); // one refused, one retried
    await expectConverged(truthOf(stack), ["x1"]);
  });

  it("the stack locked by another update for good", async () => {
    const { dir, stack } = newDouble("f-busy");
    const ctx = contextFor(stack, dir);
    await ctx.createWorkers(["old"]);
    stack.setFaults({ busy: "always" });
    fault("stack busy for good");
    const err = await rejection(ctx.createWorkers(["new1", "new2"]));
    const line = oneLine(err);
    expect(err).to.be.instanceOf(StackBusyError);
    expect(line).to.match(
      /^creating new1, new2 failed: the stack "dev" is locked by another update \(tried 4 times over [\d.]+ s\)/,
    );
    expect(line).to.contain("run `pulumi cancel`");
    // Nothing was created, and config says so.
    await expectConverged(truthOf(stack), ["old"]);
    // Busy also for delete-all and refresh: refused the same way, nothing changed.
    expect(oneLine(await rejection(ctx.deleteAllWorkers()))).to.contain("locked by another update");
    expect(oneLine(await rejection(ctx.getAllWorkers({ refresh: true })))).to.contain(
      "locked by another update",
    );
    fault("stack busy for good", 2);
    await expectConverged(truthOf(stack), ["old"]);
    // Re-run once the lock is gone.
    stack.setFaults({});
    await ctx.createWorkers(["new1", "new2"]);
    await expectConverged(truthOf(stack), ["old", "new1", "new2"]);
  });

  it("interrupted mid-update (AbortSignal): what exists is listed; a new run converges", async () => {
    const { dir, stack } = newDouble("f-abort");
    await contextFor(stack, dir).createWorkers(["base"]);
    const controller = new AbortController();
    const ctx = contextFor(stack, dir, { signal: controller.signal });
    stack.setFaults({ latencyMs: 400 });
    const started = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (fs.existsSync(path.join(dir, "engine.lock"))) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const pending = ctx.createWorkers(["i1", "i2", "i3"]);
    await started;
    await delay(100);
    controller.abort();
    fault("interrupted (AbortSignal)");
    const err = await rejection(pending);
    expect(err).to.be.instanceOf(CancelledError);
    expect(oneLine(err)).to.equal(
      "cancelled: the update was stopped; the stack config now lists the 1 workers that exist; run `fleet sync` (or CloudContext.sync()) to refresh the list",
    );
    const truth = await truthOf(stack);
    expect(truth.config).to.deep.equal(["base"]);
    expect(truth.state).to.deep.equal(["base"]);
    expect(fs.existsSync(path.join(dir, "engine.lock")), "the engine lock is released").to.equal(
      false,
    );
    // A new process (a new context) re-runs: sync converges, then the create goes through.
    stack.setFaults({});
    const next = contextFor(stack, dir);
    await next.sync();
    await next.createWorkers(["i1", "i2", "i3"]);
    await expectConverged(truthOf(stack), ["base", "i1", "i2", "i3"]);
  });

  it("interrupted mid-delete (AbortSignal): the workers not deleted stay listed", async () => {
    const { dir, stack } = newDouble("f-abort-delete");
    await contextFor(stack, dir).createWorkers(["d1", "d2", "d3"]);
    const controller = new AbortController();
    const ctx = contextFor(stack, dir, { signal: controller.signal });
    stack.setFaults({ latencyMs: 400 });
    const pending = ctx.deleteWorkers(["d1", "d2"]);
    await delay(250);
    controller.abort();
    fault("interrupted (AbortSignal)");
    const err = await rejection(pending);
    expect(err).to.be.instanceOf(CancelledError);
    const truth = await truthOf(stack);
    // Deletes in flight when the signal came were stopped: config lists exactly what exists.
    expect(new Set(truth.config)).to.deep.equal(new Set(truth.state));
    // As the message says: a sync refreshes the list; then the rest of the delete.
    stack.setFaults({});
    const next = contextFor(stack, dir);
    await next.sync();
    await expectConverged(truthOf(stack), truth.config);
    const left = truth.config.filter((n) => n !== "d3");
    if (left.length) await next.deleteWorkers(left);
    await expectConverged(truthOf(stack), ["d3"]);
  });

  it("a failure while deleting", async () => {
    const { dir, stack } = newDouble("f-delete");
    const ctx = contextFor(stack, dir);
    await ctx.createWorkers(["d1", "d2", "d3"]);
    stack.setFaults({ failDelete: { d2: "droplet d2 has a backup in progress" } });
    fault("failure while deleting");
    const err = await rejection(ctx.deleteWorkers(["d1", "d2"]));
    expect(err).to.be.instanceOf(WorkersFailedError);
    expect(oneLine(err)).to.equal("1 worker failed: d2 (droplet d2 has a backup in progress)");
    // The truth: d1 is gone, d2 still exists and is listed again.
    await expectConverged(truthOf(stack), ["d2", "d3"]);
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["d2", "d3"]);
    // delete-all fails the same way and keeps what is left.
    const all = await rejection(ctx.deleteAllWorkers());
    fault("failure while deleting");
    expect(oneLine(all)).to.equal("1 worker failed: d2 (droplet d2 has a backup in progress)");
    expect((await truthOf(stack)).config).to.deep.equal(["d2"]);
    expect((await truthOf(stack)).state).to.deep.equal(["d2"]);
    // Re-run once the cause is gone.
    stack.setFaults({});
    await ctx.deleteAllWorkers();
    await expectConverged(truthOf(stack), []);
  });

  it("a refresh that finds workers gone", async () => {
    const { dir, stack } = newDouble("f-vanished");
    const ctx = contextFor(stack, dir);
    await ctx.createWorkers(["r1", "r2", "r3"]);
    const oldId = (await ctx.getAllWorkers()).find((w) => w.name === "r2")?.id;
    stack.vanish("r2");
    fault("workers vanished (refresh)");
    const listed = await ctx.getAllWorkers({ refresh: true });
    expect(listed.map((w) => [w.name, w.status])).to.deep.equal([
      ["r1", "active"],
      ["r2", "missing"],
      ["r3", "active"],
    ]);
    // What the user sees from the command: the table says missing, and one line says why and what to do.
    const {
      result: code,
      stderr,
      stdout,
    } = await withDouble(dir, () => capture(() => main(["-C", dir, "list", "--refresh"])));
    expect(code).to.equal(0);
    expect(stdout).to.match(/r2 .*missing/);
    expect(stderr).to.contain(
      "fleet: 1 worker missing from its cloud (deleted outside fleet?): r2; `fleet sync` recreates it, `fleet delete r2` drops it",
    );
    // Config still wants r2; a sync recreates it (a new id), nothing duplicated.
    expect((await truthOf(stack)).config).to.deep.equal(["r1", "r2", "r3"]);
    await ctx.sync();
    await expectConverged(truthOf(stack), ["r1", "r2", "r3"]);
    const newId = (await ctx.getAllWorkers()).find((w) => w.name === "r2")?.id;
    expect(newId).to.be.a("string").and.not.equal(oldId);
  });

  it("a real OS process killed with SIGKILL mid-update; the next process converges", async function () {
    this.timeout(180_000);
    const { dir, stack } = newDouble("f-kill");
    await contextFor(stack, dir).createWorkers(["k0"]);
    stack.setFaults({ latencyMs: 60_000 });
    const job: Job = {
      dir,
      projectDir: dir,
      steps: [[{ kind: "create", names: ["k1", "k2"] }]],
      staleMs: 3_000,
    };
    const child = fork(WORKER_SCRIPT, [JSON.stringify(job)], {
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    });
    await new Promise<void>((resolve, reject) => {
      child.on("message", (m: WorkerMessage) => {
        if (m.type === "progress" && m.state === "creating") resolve();
      });
      child.on("exit", (code) =>
        reject(new Error(`the fleet process exited (${code}) before the update started`)),
      );
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    fault("process killed (SIGKILL)");
    stack.setFaults({});
    // A crashed engine leaves its lock, as a crashed `pulumi up` does.
    expect(fs.existsSync(path.join(dir, "engine.lock"))).to.equal(true);

    // The next process: fleet's own lock is taken over once stale; the engine lock is reported clearly.
    const next = contextFor(stack, dir, {
      lock: { staleMs: 3_000, timeoutMs: 60_000, pollMs: 50 },
    });
    const err = await rejection(next.sync());
    const line = oneLine(err);
    expect(line).to.match(/locked by another update/);
    expect(line).to.contain("a crashed one left the lock");
    expect(line).to.contain("remove the stale lock");
    // What the stack says meanwhile: config asked for k1, k2 (written before the update); none exist.
    const mid = await truthOf(stack);
    expect(mid.config).to.deep.equal(["k0", "k1", "k2"]);
    expect(mid.state).to.deep.equal(["k0"]);

    // The user does what the message says (no update is running): removes the stale lock, re-runs.
    fs.rmSync(path.join(dir, "engine.lock"));
    const rerun = fork(WORKER_SCRIPT, [JSON.stringify({ ...job, steps: [[{ kind: "sync" }]] })], {
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    });
    const results = await new Promise<WorkerMessage>((resolve) =>
      rerun.on("message", (m: WorkerMessage) => m.type === "done" && resolve(m)),
    );
    expect(results.type === "done" && results.results.map((r) => r.ok)).to.deep.equal([true]);
    await expectConverged(truthOf(stack), ["k0", "k1", "k2"]);
  });
});

/** Runs `fn` with the CLI pointed at the double in `dir`. */
async function withDouble<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.FLEET_TEST_ENGINE_DOUBLE;
  const token = process.env.DIGITALOCEAN_TOKEN;
  process.env.FLEET_TEST_ENGINE_DOUBLE = dir;
  process.env.DIGITALOCEAN_TOKEN = "dop_v1_" + "1".repeat(64);
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.FLEET_TEST_ENGINE_DOUBLE;
    else process.env.FLEET_TEST_ENGINE_DOUBLE = saved;
    if (token === undefined) delete process.env.DIGITALOCEAN_TOKEN;
    else process.env.DIGITALOCEAN_TOKEN = token;
  }
}
