/**
 * Issue 7, part 2 / issue 10, point 6 / issue 16, item 3: injected faults, on Pulumi's own
 * engine with the simulated clouds' provider plugins. Every scenario runs the real `fleet`
 * command as an OS process; faults are injected into the plugins through `FLEET_SIM_FAULTS`
 * (provider errors with the clouds' own capacity texts, failed deletes, a create that hangs, a
 * create that fails after the object exists, a plugin that crashes mid-create), done to the
 * engine from outside as a person's machine would (the `pulumi` process SIGKILLed mid-update,
 * which also leaves its stack lock; one and two Ctrl-C), or done to the simulated cloud (a
 * worker deleted, another resized, out of band). For each: what the user sees, then the user
 * does what fleet says (`pulumi cancel`, `fleet adopt <worker> <id>` with the id found by name
 * in the cloud's console, `fleet sync`), and `reckon` compares the simulated cloud, the
 * checkpoint and stack config: nothing lost, orphaned or phantom. Faults are counted from the
 * plugins' ledger (`settle`), engine-level ones (a kill, a Ctrl-C) where the test does them.
 */
import { expect } from "chai";
import { openCloud } from "../sim/cloud";
import { CAPACITY_ERRORS } from "../sim/errors";
import {
  type RelProject,
  adoptAsAdvised,
  faults,
  listedNames,
  pendingCreate,
  reckon,
  relProject,
  runAsAdvised,
  settle,
  startGroup,
  until,
} from "./support/project";
import { delay } from "./support/fixtures";
import { fault } from "./support/stats";

const DROPLET = "digitalocean:index/droplet:Droplet";

/** `fleet` succeeded. */
function ok(p: RelProject, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = p.fleet(args, env);
  expect(r.status, `fleet ${args.join(" ")}\n${r.stderr}`).to.equal(0);
  return r.stdout;
}

/** `fleet` failed with exit 1 and exactly one `fleet: error:` line; returns that line. */
function failedLine(p: RelProject, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = p.fleet(args, env);
  expect(r.status, `fleet ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).to.equal(1);
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("fleet: error: "));
  expect(lines, r.stderr).to.have.length(1);
  expect(r.stderr, "no stack trace").not.to.match(/^\s+at /m);
  expect(r.stderr, "no colour markup").not.to.match(/<\{%/);
  return lines[0];
}

/** The three sources agree: nothing lost, orphaned or phantom, and config lists exactly `names`. */
async function expectConsistent(p: RelProject, names?: string[]): Promise<string[]> {
  const listed = listedNames(ok(p, ["list", "--json"]));
  const r = await reckon(p, { listed });
  expect(r.details).to.deep.equal([]);
  expect([...r.state].sort(), "config and state").to.deep.equal([...r.config].sort());
  expect([...listed].sort(), "list and config").to.deep.equal([...r.config].sort());
  if (names) expect(r.config).to.deep.equal(names);
  return r.config;
}

/** The scenario's end: converged on `names`, counts recorded; returns the ledger's figures. */
async function finish(p: RelProject, names: string[]) {
  const listed = listedNames(ok(p, ["list", "--json"]));
  const r = await settle(p, { listed, intended: names });
  expect(r.details).to.deep.equal([]);
  expect([...r.config].sort()).to.deep.equal([...names].sort());
  return r;
}

/** The create of worker `name` has been sent to the plugin (the engine wrote it as pending). */
const creating = (p: RelProject, name: string) => () => pendingCreate(p, name);

describe("faults injected into Pulumi's engine and the simulated plugins", function () {
  this.timeout(600_000);

  it("capacity errors on some creates of a batch: named in one line, the rest settled, a re-run converges", async () => {
    const p = relProject("f-capacity");
    ok(p, ["create", "keep", "-q"]);
    const line = failedLine(
      p,
      ["create", "b1", "b2", "b3", "b4", "-q"],
      faults([
        {
          op: "create",
          type: DROPLET,
          match: { name: "b2" },
          error: CAPACITY_ERRORS.digitalocean.sizeUnavailable,
        },
        {
          op: "create",
          type: DROPLET,
          match: { name: "b4" },
          error: CAPACITY_ERRORS.digitalocean.dropletLimit,
        },
      ]),
    );
    const fired = p.ledger().filter((l) => l.outcome === "fault");
    expect(fired.length, "at least one capacity fault fired").to.be.at.least(1);
    for (const f of fired) expect(line).to.contain(f.cloudName);
    expect(line).to.match(/Size is not available in this region|exceed your droplet limit/);
    // Config lists what exists: keep and whichever creates finished; never a failed one.
    const now = await expectConsistent(p);
    expect(now).to.include("keep");
    for (const f of fired) expect(now).not.to.include(f.cloudName);
    // Re-run without the fault: what is missing is created once.
    const missing = ["b1", "b2", "b3", "b4"].filter((n) => !now.includes(n));
    ok(p, ["create", ...missing, "-q"]);
    const r = await finish(p, [...now, ...missing]);
    expect(r.faults).to.equal(fired.length);
  });

  it("a delete that fails: the worker stays listed and in the cloud; delete-all after the cause is gone empties the stack", async () => {
    const p = relProject("f-delete");
    ok(p, ["create", "d1", "d2", "d3", "-q"]);
    const backup = faults([
      {
        op: "delete",
        type: DROPLET,
        match: { name: "d2" },
        error:
          'Error deleting Droplet: DELETE https://api.digitalocean.com/v2/droplets/1: 422 (request "r") Droplet is currently being backed up',
      },
    ]);
    const line = failedLine(p, ["delete", "d1", "d2", "-q"], backup);
    expect(line).to.contain("d2");
    expect(line).to.contain("currently being backed up");
    const now = await expectConsistent(p);
    expect(now).to.include("d2");
    expect(now).to.include("d3");
    const all = failedLine(p, ["delete-all", "--yes", "-q"], backup);
    expect(all).to.contain("d2");
    expect(await expectConsistent(p)).to.include("d2");
    ok(p, ["delete-all", "--yes", "-q"]);
    const r = await finish(p, []);
    expect(r.faults).to.be.at.least(2);
  });

  it("a create that fails after the object exists (`after`): the engine keeps it with its error; a re-run converges on one object", async () => {
    const p = relProject("f-after");
    const line = failedLine(
      p,
      ["create", "a1", "a2", "-q"],
      faults([
        {
          op: "create",
          type: DROPLET,
          match: { name: "a2" },
          after: true,
          error: "Error waiting for droplet (1) to become active: timeout while waiting for state",
        },
      ]),
    );
    expect(line).to.contain("a2");
    const made = (await p.cloudWorkers()).filter((o) => o.outputs.name === "a2");
    expect(made, "the object was made before the create failed").to.have.length(1);
    // Nothing orphaned: the engine kept the object in state (initErrors), so it is managed.
    const mid = await reckon(p);
    expect(mid.orphaned, mid.details.join("\n")).to.equal(0);
    // The engine kept a2 (with its error), so config still lists it: a sync settles it.
    const again = await runAsAdvised(p, ["sync", "-q"]);
    expect(again.kept).to.deep.equal([]);
    const r = await finish(p, ["a1", "a2"]);
    expect(
      r.cloud.filter((n) => n === "a2"),
      "never a second a2",
    ).to.have.length(1);
    expect(r.faults).to.equal(1);
  });

  it("a plugin that crashes mid-create: fleet fails in one line, nothing is orphaned, a re-run converges", async () => {
    const p = relProject("f-crash");
    ok(p, ["create", "c0", "-q"]);
    const r1 = p.fleet(
      ["create", "c1", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "c1" }, crash: true }]),
    );
    expect(r1.status, r1.stderr).to.equal(1);
    expect(r1.stderr, "no stack trace").not.to.match(/^\s+at /m);
    expect(r1.stderr).to.contain("c1");
    const again = await runAsAdvised(p, ["create", "c1", "-q"]);
    const r = await finish(p, ["c0", "c1"]);
    expect(r.faultKinds["create fault (plugin crash)"]).to.equal(1);
    expect(again.run.status).to.equal(0);
  });

  it("the engine SIGKILLed mid-update: the next run says what to do; after `fleet adopt` as advised (and `pulumi cancel` if locked), 0 orphans", async () => {
    const p = relProject("f-kill");
    ok(p, ["create", "k0", "-q"]);
    // k1 is made; k2's create is in flight (it waits 60 s in the plugin) when the engine dies.
    const run = startGroup(
      p,
      ["create", "k1", "k2", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "k2" }, delayMs: 60_000 }]),
    );
    try {
      await until(
        () =>
          p.ledger().some((l) => l.cloudName === "k1" && l.op === "create") && creating(p, "k2")(),
        "k1 made and k2's create in flight",
      );
      const engines = run.engines();
      expect(engines, "fleet runs one engine").to.have.length(1);
      process.kill(engines[0], "SIGKILL");
      fault("engine killed (SIGKILL)");
      const r = await run.done;
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr, "no stack trace").not.to.match(/^\s+at /m);
    } finally {
      run.cleanup();
    }
    // The next run is refused in one line that says what to do: Pulumi's file backend here
    // left no lock that blocks it, so that line is fleet's advice on the pending creates.
    const refused = failedLine(p, ["sync", "-q"]);
    expect(refused).to.match(/was stopped while creating|pulumi cancel/);
    // The user does it, then what fleet says about the pending creates.
    const done = await runAsAdvised(p, ["sync", "-q"]);
    expect(done.dropped, "k2 was never made").to.include("k2");
    const missing = ["k1", "k2"].filter((n) => !p.configWorkers().some((w) => w.name === n));
    if (missing.length) ok(p, ["create", ...missing, "-q"]);
    const r = await finish(p, ["k0", "k1", "k2"]);
    expect(r.orphaned, r.details.join("\n")).to.equal(0);
    expect(
      r.cloud.filter((n) => n === "k1"),
      "k1 kept, not made twice",
    ).to.have.length(1);
  });

  it("one Ctrl-C during a hung create: the engine cancels the plugin's call, the run exits 130, nothing pending, a re-run converges", async () => {
    const p = relProject("f-hang1");
    ok(p, ["create", "h0", "-q"]);
    const run = startGroup(
      p,
      ["create", "h1", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "h1" }, hang: true }]),
    );
    try {
      await until(creating(p, "h1"), "h1's create in flight");
      await delay(500);
      run.signalGroup("SIGINT");
      fault("Ctrl-C during a hung create");
      const r = await run.done;
      expect(r.code, r.stderr).to.equal(130);
      expect(r.stderr, "no stack trace").not.to.match(/^\s+at /m);
    } finally {
      run.cleanup();
    }
    expect(p.checkpoint().pending, "the engine left nothing pending").to.deep.equal([]);
    await expectConsistent(p, ["h0"]);
    ok(p, ["create", "h1", "-q"]);
    await finish(p, ["h0", "h1"]);
  });

  it("a slow create, then Ctrl-C twice: the engine terminates, the create is left pending; fleet's advice resolves it, 0 orphans", async () => {
    const p = relProject("f-hang2");
    ok(p, ["create", "h0", "-q"]);
    const run = startGroup(
      p,
      ["create", "h1", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "h1" }, delayMs: 60_000 }]),
    );
    try {
      await until(creating(p, "h1"), "h1's create in flight");
      await delay(500);
      run.signalGroup("SIGINT");
      const first = await Promise.race([run.done, delay(3_000).then(() => "running" as const)]);
      expect(first, "a first Ctrl-C waits for the create in flight").to.equal("running");
      run.signalGroup("SIGINT");
      fault("second Ctrl-C (terminate)");
      const r = await run.done;
      expect(r.code, r.stderr).to.equal(130);
      expect(r.stderr).to.contain("fleet sync");
    } finally {
      run.cleanup();
    }
    expect(pendingCreate(p, "h1"), "the terminated create is pending").to.equal(true);
    const sync = p.fleet(["sync", "-q"]);
    expect(sync.status, sync.stderr).to.equal(1);
    const advice = await adoptAsAdvised(p, sync.stderr);
    expect(advice.dropped).to.deep.equal(["h1"]);
    await runAsAdvised(p, ["sync", "-q"]);
    const now = p.configWorkers().map((w) => w.name);
    if (!now.includes("h1")) ok(p, ["create", "h1", "-q"]);
    const r = await finish(p, ["h0", "h1"]);
    expect(r.orphaned).to.equal(0);
  });

  it("a worker deleted and another resized out of band: `list --refresh` says so; sync recreates the deleted one once", async () => {
    const p = relProject("f-vanished");
    ok(p, ["create", "r1", "r2", "r3", "-q"]);
    const cloud = openCloud(p.simDir);
    const [r2] = (await cloud.list({ type: DROPLET })).filter((o) => o.outputs.name === "r2");
    expect(await cloud.deleteOutOfBand("digitalocean", DROPLET, r2.id)).to.equal(true);
    fault("worker deleted out of band");
    // r3 resized in the console: the cloud reports another size from now on.
    const [r3] = (await cloud.list({ type: DROPLET })).filter((o) => o.outputs.name === "r3");
    await cloud.transact((tx) =>
      tx.put({ ...r3, outputs: { ...r3.outputs, size: "s-2vcpu-4gb" } }),
    );
    fault("worker resized out of band");
    const r = p.fleet(["list", "--refresh"]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/r2 .*missing/);
    expect(r.stderr).to.contain(
      "fleet: 1 worker missing from its cloud (deleted outside fleet?): r2",
    );
    // (Whether the refreshed size of r3 shows in `fleet list` is not asserted: on the engine it
    // still shows s-1vcpu-1gb after `list --refresh`; reported as an open finding.)
    ok(p, ["sync", "-q"]);
    const done = await finish(p, ["r1", "r2", "r3"]);
    const [again] = (await cloud.list({ type: DROPLET })).filter((o) => o.outputs.name === "r2");
    expect(again.id).not.to.equal(r2.id);
    expect(done.cloud.filter((n) => n === "r2")).to.have.length(1);
  });
});
