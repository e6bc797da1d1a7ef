/**
 * Ctrl-C on Pulumi's own engine. A terminal's Ctrl-C sends SIGINT to the whole foreground
 * process group, fleet and its `pulumi` child alike; the engine cancels gracefully on its first
 * SIGINT (steps in flight finish, nothing new starts) and terminates at once on its second
 * (pkg/backend/cancellation_scope.go). These tests run the built `fleet` in a process group of
 * its own, as a shell runs a foreground job, with the engine built by `npm run engine` first on
 * PATH and the local cloud. `FLEET_LOCAL_STARTUP_CHECK_MS` makes each worker's create last
 * 8 s (strategies/local-process.ts), and the signal is sent once the provider has started the
 * worker (its log file exists): the timing is certain, not lucky.
 */
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  alive,
  CLI,
  engineChildren,
  killProcessGroups,
  ENGINE_BIN,
  eventually,
  fleetProject,
  type FleetProject,
  ROOT,
  workersLoggingTo,
} from "../harness/project";

const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const CREATE_MS = 8_000;

interface Interrupted {
  code: number | null;
  stderr: string;
}

interface Pending {
  type: string;
  resource: { urn: string };
}

/** Starts `fleet create a` in a process group of its own; resolves once a's create is in flight. */
async function fleetCreating(p: FleetProject): Promise<{
  child: ChildProcess;
  done: Promise<Interrupted>;
}> {
  const child = spawn(process.execPath, [CLI, "-C", p.dir, "--stack", p.stack, "create", "a"], {
    detached: true, // its own process group, as a shell gives a foreground job
    env: { ...p.env, FLEET_LOCAL_STARTUP_CHECK_MS: String(CREATE_MS) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Interrupted>((resolve) =>
    child.on("exit", (code) => resolve({ code, stderr })),
  );
  const log = path.join(p.dir, ".fleet", "local", p.stack, "a.log");
  if (!(await eventually(() => fs.existsSync(log) || child.exitCode !== null, 60_000)))
    throw new Error(`worker a's create never started:\n${stderr}`);
  if (child.exitCode !== null) throw new Error(`fleet ended before a's create:\n${stderr}`);
  return { child, done };
}

/** `fleet create a`, terminated mid-create by two Ctrl-Cs half a second apart; its outcome. */
async function terminatedMidCreate(
  p: FleetProject,
  running: ChildProcess[],
): Promise<Promise<Interrupted>> {
  const { child, done } = await fleetCreating(p);
  running.push(child);
  process.kill(-(child.pid as number), "SIGINT");
  await new Promise((r) => setTimeout(r, 500));
  process.kill(-(child.pid as number), "SIGINT");
  return done;
}

function checkpoint(p: FleetProject): {
  resources?: { urn: string; type: string; id?: string; outputs?: { pid?: number } }[];
  pending_operations?: Pending[];
} {
  const state = String(p.env.PULUMI_BACKEND_URL).replace(/^file:\/\//, "");
  const file = path.join(state, ".pulumi", "stacks", "fleet", `${p.stack}.json`);
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { checkpoint: { latest: object } })
    .checkpoint.latest;
}

describe("fleet and Ctrl-C on Pulumi's engine (local cloud, an 8 s create)", function () {
  this.timeout(180_000);
  const running: ChildProcess[] = [];
  const workers: number[] = [];
  afterEach(() => {
    // fleet (each in a process group of its own) when a test failed before it ended, and workers.
    killProcessGroups(
      running.splice(0).flatMap((c) => (c.exitCode === null && c.pid ? [c.pid] : [])),
    );
    killProcessGroups(workers.splice(0));
  });

  it("one Ctrl-C is the engine's graceful cancel: the create in flight finishes, nothing is pending, exit 130", async () => {
    const p = fleetProject();
    const { child, done } = await fleetCreating(p);
    running.push(child);
    const sent = Date.now();
    process.kill(-(child.pid as number), "SIGINT");
    const r = await done;
    expect(r.code, r.stderr).to.equal(130);
    // Graceful: the engine waited for the create it had started (it lasts CREATE_MS).
    expect(Date.now() - sent).to.be.greaterThan(1_000);
    expect(r.stderr).to.contain("fleet: Ctrl-C: cancelling: nothing new starts");
    // One line says what was done and what was not, and that config lists what exists.
    expect(r.stderr.trim().split("\n").pop()).to.equal(
      "fleet: error: cancelled: created a; the stack config lists exactly what exists",
    );
    expect(r.stderr).not.to.contain("fleet sync");
    expect(r.stderr).not.to.contain("terminated");
    const cp = checkpoint(p);
    expect(cp.pending_operations ?? [], "the engine left nothing pending").to.deep.equal([]);
    const made = (cp.resources ?? []).filter((x) => x.type === DYNAMIC);
    expect(made.map((x) => x.urn.split("::").pop())).to.deep.equal(["local-a"]);
    const pid = Number(made[0].id?.split(":")[0]);
    workers.push(pid);
    expect(alive(pid), "the worker whose create finished runs").to.equal(true);
  });

  it("a second Ctrl-C terminates the engine at once: the create is left pending; fleet sync, as advised, keeps its worker (0 orphans)", async () => {
    const p = fleetProject();
    const done = await terminatedMidCreate(p, running);
    const r = await done;
    expect(r.code, r.stderr).to.equal(130);
    expect(r.stderr).to.contain("fleet: Ctrl-C again: the engine terminates at once");
    expect(r.stderr).to.contain(
      "fleet: the update was terminated: creates that were running are left pending in the state",
    );
    expect(r.stderr).to.contain("`fleet sync` -C").and.not.contain("--clear-pending-creates");
    // The engine wrote the create as pending before calling the provider and never finished it
    // (pkg/backend/snapshot.go: pending operations are written before the step runs).
    const pending = checkpoint(p).pending_operations ?? [];
    expect(pending.map((o) => [o.type, o.resource.urn.split("::").pop()])).to.deep.equal([
      ["creating", "local-a"],
    ]);
    // The worker process the provider had started outlives the terminated engine.
    const orphans = workersLoggingTo(path.join(p.dir, ".fleet", "local", p.stack, "a.log"));
    expect(orphans, "the terminated create's process runs").to.have.length(1);
    workers.push(...orphans);
    // Following fleet's advice keeps it: `fleet sync` imports it into the state (the engine's
    // refresh --import-pending-creates with the id fleet found), then converges.
    const sync = p.fleet("sync", "--json");
    expect(sync.status, sync.stderr).to.equal(0);
    expect(sync.stderr).to.contain("kept a (running, now in the state)");
    const cp = checkpoint(p);
    expect(cp.pending_operations ?? []).to.deep.equal([]);
    const made = (cp.resources ?? []).filter((x) => x.type === DYNAMIC);
    expect(
      made.map((x) => Number(x.id?.split(":")[0])),
      `orphans: 0\n${sync.stderr}\n${JSON.stringify(made)}`,
    ).to.deep.equal(orphans);
    expect((JSON.parse(sync.stdout) as { name: string }[]).map((w) => w.name)).to.deep.equal(["a"]);
    // And delete-all stops it: nothing of the terminated create is left running.
    expect(p.fleet("delete-all", "--yes").status).to.equal(0);
    expect(await eventually(() => !alive(orphans[0]))).to.equal(true);
  });

  it("after a terminate, `fleet adopt` resolves the pending create by hand: keep it with its id, or --none drops it", async () => {
    const p = fleetProject();
    const done = await terminatedMidCreate(p, running);
    expect((await done).code).to.equal(130);
    const orphans = workersLoggingTo(path.join(p.dir, ".fleet", "local", p.stack, "a.log"));
    workers.push(...orphans);
    const id = fs.readFileSync(path.join(p.dir, ".fleet", "local", p.stack, "a.id"), "utf8").trim();
    expect(Number(id.split(":")[0])).to.equal(orphans[0]);

    const usage = p.fleet("adopt", "a");
    expect(usage.status).to.equal(2);
    const wrong = p.fleet("adopt", "zz", id);
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr.trim()).to.equal(
      'fleet: error: worker: no pending create for worker: got "zz"; the pending creates are: local-a',
    );
    const kept = p.fleet("adopt", "a", id);
    expect(kept.status, kept.stderr).to.equal(0);
    expect(kept.stderr).to.contain(`kept a (id ${id}) in the state`);
    expect(checkpoint(p).pending_operations ?? []).to.deep.equal([]);
    const sync = p.fleet("sync", "--json");
    expect(sync.status, sync.stderr).to.equal(0);
    const listed = JSON.parse(sync.stdout) as { name: string; id: string; createdAt: string }[];
    expect(listed.map((w) => [w.name, w.id])).to.deep.equal([["a", id]]);
    expect(Date.parse(listed[0].createdAt)).to.be.greaterThan(Date.now() - 600_000);
    expect(alive(orphans[0]), "kept, not replaced").to.equal(true);
    const none = p.fleet("adopt", "a", "--none");
    expect(none.status).to.equal(1);
    expect(none.stderr).to.contain("no create is pending in the stack");
    expect(p.fleet("delete-all", "--yes").status).to.equal(0);
  });

  it("fleet never signals the engine itself: a SIGINT to fleet alone reaches no engine; the engine's own ends it", async () => {
    const p = fleetProject();
    const { child, done } = await fleetCreating(p);
    running.push(child);
    const engines = engineChildren(child.pid as number);
    expect(engines, "fleet runs the engine as its child").to.have.length(1);
    process.kill(child.pid as number, "SIGINT");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(child.exitCode).to.equal(null, "fleet waits for the engine to stop");
    expect(alive(engines[0]), "the engine got no signal from fleet and runs on").to.equal(true);
    // The terminal's Ctrl-C reaching the engine (its first SIGINT) ends the update gracefully.
    process.kill(engines[0], "SIGINT");
    const r = await done;
    expect(r.code, r.stderr).to.equal(130);
    expect(checkpoint(p).pending_operations ?? []).to.deep.equal([]);
    const made = (checkpoint(p).resources ?? []).filter((x) => x.type === DYNAMIC);
    workers.push(...made.map((x) => Number(x.id?.split(":")[0])));
    expect(await eventually(() => child.exitCode !== null)).to.equal(true);
  });
});

/**
 * Ctrl-C while fleet runs the engine commands that come before an update (`stack select`,
 * `config set-all`, the `destroy` or `up` themselves before they start). The moment is made
 * certain by tests/cli/delay-pulumi/bin/pulumi, which sleeps before running Pulumi's own CLI for
 * one command and marks when it does; the terminal's SIGINT then kills that command, as it
 * would kill `pulumi`.
 */
describe("fleet and Ctrl-C before the update (Pulumi's engine, a delayed command)", function () {
  this.timeout(180_000);
  const DELAY_BIN = path.join(ROOT, "tests", "cli", "delay-pulumi", "bin");
  const running: ChildProcess[] = [];
  const workers: number[] = [];
  afterEach(() => {
    // fleet (each in a process group of its own) when a test failed before it ended, and workers.
    killProcessGroups(
      running.splice(0).flatMap((c) => (c.exitCode === null && c.pid ? [c.pid] : [])),
    );
    killProcessGroups(workers.splice(0));
  });

  /** Runs `fleet …args`, presses Ctrl-C while `command` is delayed, and returns the outcome. */
  async function interruptDuring(p: FleetProject, command: string, args: string[]) {
    const mark = path.join(p.dir, "delay.mark");
    const child = spawn(process.execPath, [CLI, "-C", p.dir, "--stack", p.stack, ...args], {
      detached: true,
      env: {
        ...p.env,
        PATH: `${DELAY_BIN}${path.delimiter}${p.env.PATH}`,
        FLEET_TEST_REAL_PULUMI: path.join(ENGINE_BIN, "pulumi"),
        FLEET_TEST_DELAY_CMD: command,
        FLEET_TEST_DELAY_MARK: mark,
        FLEET_TEST_DELAY_S: "30",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.push(child);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    if (!(await eventually(() => fs.existsSync(mark) || child.exitCode !== null, 60_000)))
      throw new Error(`\`${command}\` never ran:\n${stderr}`);
    if (child.exitCode !== null) throw new Error(`fleet ended before \`${command}\`:\n${stderr}`);
    process.kill(-(child.pid as number), "SIGINT");
    const code = await done;
    const lines = stderr.trim().split("\n");
    return { code, stderr, last: lines[lines.length - 1] };
  }

  /** A stack with worker `a` running, made without any delay. */
  function withWorker(): FleetProject {
    const p = fleetProject();
    const r = p.fleet("create", "a", "--json");
    expect(r.status, r.stderr).to.equal(0);
    workers.push(Number((JSON.parse(r.stdout) as { id: string }[])[0].id.split(":")[0]));
    return p;
  }

  it("create, during `stack select`: exit 130, nothing changed, no update ran", async () => {
    const p = fleetProject();
    const r = await interruptDuring(p, "stack select", ["create", "a"]);
    expect(r.code, r.stderr).to.equal(130);
    expect(r.last).to.equal("fleet: error: cancelled while opening the stack: nothing was changed");
    expect(r.stderr).not.to.contain("code: -2");
    expect(p.updates()).to.equal(0);
    expect(fs.existsSync(path.join(p.dir, ".fleet", "local", p.stack, "a.log"))).to.equal(false);
  });

  it("create, during `config set-all`: exit 130, the config is as it was, no update ran", async () => {
    const p = fleetProject();
    const r = await interruptDuring(p, "config set-all", ["create", "a", "b"]);
    expect(r.code, r.stderr).to.equal(130);
    expect(r.last).to.equal(
      "fleet: error: cancelled before the update started: nothing was created, deleted or changed",
    );
    expect(p.configuredNames()).to.deep.equal([]);
    expect(p.updates()).to.equal(0);
  });

  it("delete, during `config set-all`: exit 130, the worker runs on and stays in config", async () => {
    const p = withWorker();
    const r = await interruptDuring(p, "config set-all", ["delete", "a"]);
    expect(r.code, r.stderr).to.equal(130);
    expect(r.last).to.equal(
      "fleet: error: cancelled before the update started: nothing was created, deleted or changed",
    );
    expect(p.configuredNames()).to.deep.equal(["a"]);
    expect(alive(workers[0])).to.equal(true);
    expect(p.updates()).to.equal(1);
  });

  it("sync, just before `up` starts: exit 130, nothing was created or deleted, said in one line", async () => {
    const p = withWorker();
    const r = await interruptDuring(p, "up", ["sync"]);
    expect(r.code, r.stderr).to.equal(130);
    expect(r.last).to.equal(
      "fleet: error: cancelled: nothing was created or deleted; the stack config lists exactly what exists",
    );
    expect(p.updates()).to.equal(1);
    expect(alive(workers[0])).to.equal(true);
  });

  it("delete-all, just before `destroy` starts: exit 130, every worker still runs and is listed", async () => {
    const p = withWorker();
    const r = await interruptDuring(p, "destroy", ["delete-all", "--yes"]);
    expect(r.code, r.stderr).to.equal(130);
    expect(r.last).to.equal(
      "fleet: error: cancelled: delete-all was stopped; the stack config lists the workers that still exist",
    );
    expect(p.configuredNames()).to.deep.equal(["a"]);
    expect(alive(workers[0])).to.equal(true);
  });
});
