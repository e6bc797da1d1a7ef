/**
 * CloudContext at the engine boundary: opened through the Automation API on Pulumi's engine
 * (first on PATH, with the simulated clouds' provider plugins from tests/sim/bin), with a file
 * backend, the local cloud's real processes and the simulated clouds. What the in-process
 * FleetStack double cannot show lives here.
 */
import { expect } from "chai";
import { CloudContext } from "../../context/cloud-context";
import type { Progress } from "../../context/events";
import { CancelledError } from "../../context/stack";
import { alive, eventually, fleetProject, runContextProcess } from "../harness/project";

const DROPLET = "digitalocean:index/droplet:Droplet";
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

/** Runs `fn` with this process's environment switched to the project's (PATH, backend, …). */
async function withEnv<T>(env: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe("CloudContext as OS processes on Pulumi's engine (the local cloud; simulated DigitalOcean through its plugin)", function () {
  this.timeout(600_000);

  it("several OS processes on one stack lose nothing: config, state, cloud and list agree", async () => {
    const p = fleetProject({
      config: { "fleet:cloud": "digitalocean" },
      env: { DIGITALOCEAN_TOKEN: "dop_v1_test" },
    });
    const procs = 3;
    const per = 2;
    const runs = Array.from({ length: procs }, (_, n) => {
      const ops = Array.from({ length: per }, (_, i) => `+p${n}w${i}`).concat([`-p${n}w0`]);
      return runContextProcess(p, ops);
    });
    const results = await Promise.all(runs);
    for (const r of results) expect(r.errors).to.deep.equal([]);
    const expected = Array.from({ length: procs }, (_, n) =>
      Array.from({ length: per - 1 }, (_, i) => `p${n}w${i + 1}`),
    )
      .flat()
      .sort();
    expect(p.configuredNames().sort(), "stack config").to.deep.equal(expected);
    const droplets = await p.cloud(DROPLET);
    expect(droplets.map((d) => String(d.outputs.name)).sort(), "simulated cloud").to.deep.equal(
      expected,
    );
    const inState = (p.checkpoint()?.resources ?? []).filter((r) => r.type === DROPLET);
    expect(inState.map((r) => r.id).sort(), "checkpoint ids = cloud ids").to.deep.equal(
      droplets.map((d) => d.id).sort(),
    );
    const listed = JSON.parse(p.fleet("list", "--json").stdout) as { name: string; id: string }[];
    expect(listed.map((w) => [w.name, w.id]).sort(), "fleet list").to.deep.equal(
      droplets.map((d) => [String(d.outputs.name), d.id]).sort(),
    );
  });

  it("a cancel while a worker is being created: the create in flight finishes, nothing new starts, config = state = cloud", async () => {
    const p = fleetProject({
      config: { "fleet:cloud": "digitalocean" },
      // a's create takes 4 s in the simulated cloud: long enough to cancel while it runs. The
      // plugin matches the inputs it receives: a droplet's `name` is the worker's name.
      env: {
        DIGITALOCEAN_TOKEN: "dop_v1_test",
        FLEET_SIM_FAULTS: JSON.stringify([{ op: "create", match: { name: "a" }, delayMs: 4000 }]),
      },
    });
    const controller = new AbortController();
    const progress: Progress[] = [];
    const error = await withEnv(p.env, async () => {
      const ctx = await CloudContext.open({
        workDir: p.dir,
        stackName: p.stack,
        signal: controller.signal,
        onProgress: (e) => {
          progress.push(e);
          if (e.worker === "a" && e.state === "creating") controller.abort();
        },
      });
      return ctx.createWorkers(["a", "b", "c"], {}).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    });
    // First: the cancel really interrupted a create that was running.
    expect(progress.map((e) => `${e.worker}: ${e.state}`)).to.include("a: creating");
    expect(error, "the create was cancelled").to.be.instanceOf(CancelledError);
    // It says what was done and what was not (the cancel report, from state).
    expect(error?.message).to.match(
      /^cancelled: created a(, [bc])*(; not created: [bc](, [bc])*)?; the stack config lists exactly what exists/,
    );
    // A graceful cancel lets the step in flight finish: a exists, in the cloud and in state.
    const droplets = (await p.cloud(DROPLET)).map((d) => String(d.outputs.name)).sort();
    expect(droplets).to.include("a");
    expect(
      p
        .ledger()
        .filter((l) => l.name === "digitalocean-a")
        .map((l) => [l.op, l.outcome]),
    ).to.deep.equal([["create", "ok"]]);
    // Nothing started after the cancel, and the three views agree.
    const started = new Set(progress.filter((e) => e.state === "creating").map((e) => e.worker));
    expect(
      droplets.filter((n) => !started.has(n)),
      "nothing new started",
    ).to.deep.equal([]);
    const inState = (p.checkpoint()?.resources ?? []).filter((r) => r.type === DROPLET);
    expect(
      inState.map((r) => r.urn.split("::").pop()?.replace("digitalocean-", "")).sort(),
    ).to.deep.equal(droplets);
    expect(p.configuredNames().sort(), "config lists what exists").to.deep.equal(droplets);
  });

  it("local cloud (the default): real processes are started, listed, seen gone when killed, and stopped", async () => {
    // No fleet:cloud and no credentials: the embedded default, the local cloud.
    const p = fleetProject();
    await withEnv(p.env, async () => {
      const ctx = await CloudContext.open({ workDir: p.dir, stackName: p.stack });
      const made = await ctx.createWorkers(["l1", "l2"]);
      expect(
        made.map((w) => ({
          name: w.name,
          cloud: w.cloud,
          region: w.region,
          size: w.size,
          ip: w.ip,
        })),
      ).to.deep.equal([
        { name: "l1", cloud: "local", region: "localhost", size: "process", ip: "127.0.0.1" },
        { name: "l2", cloud: "local", region: "localhost", size: "process", ip: "127.0.0.1" },
      ]);
      const [pid1, pid2] = made.map((w) => Number(w.id.split(":")[0]));
      expect(alive(pid1), "l1 is a running process").to.equal(true);
      expect(alive(pid2), "l2 is a running process").to.equal(true);
      // The engine records resources in the checkpoint as their steps complete (in parallel),
      // not in program order (pkg/backend/snapshot.go, SnapshotManager), so compare sorted.
      const dynamic = (p.checkpoint()?.resources ?? []).filter((r) => r.type === DYNAMIC);
      expect(dynamic.map((r) => [r.urn.split("::").pop(), r.id]).sort()).to.deep.equal([
        ["local-l1", made[0].id],
        ["local-l2", made[1].id],
      ]);

      await ctx.deleteWorker("l1");
      expect(await eventually(() => !alive(pid1)), "deleting l1 stops its process").to.equal(true);
      expect(alive(pid2), "l2 keeps running").to.equal(true);
      expect(await ctx.getAllWorkers()).to.deep.equal([made[1]]);

      // Killed from outside: a refresh (the provider's read) sees it gone.
      process.kill(-pid2, "SIGKILL");
      expect(await eventually(() => !alive(pid2)), "l2 killed").to.equal(true);
      const refreshed = await ctx.getAllWorkers({ refresh: true });
      expect(refreshed.map((w) => [w.name, w.status])).to.deep.equal([["l2", "missing"]]);

      await ctx.deleteAllWorkers();
      expect(await ctx.getAllWorkers()).to.deep.equal([]);
      const left = (p.checkpoint()?.resources ?? []).filter((r) => r.type === DYNAMIC);
      expect(left).to.deep.equal([]);
    });
  });
});
