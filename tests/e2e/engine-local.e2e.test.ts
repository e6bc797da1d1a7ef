/**
 * Processes, locks and recovery on Pulumi's own engine (built by `npm run engine`), with the
 * local cloud's real worker processes: what the in-process FleetStack double (CloudContext's
 * queue, coalescing and retry logic) cannot show.
 *
 * - several OS processes creating and deleting on one stack at once;
 * - the engine's own stack lock held by a plain `pulumi up` while `fleet create` runs: fleet
 *   gets the engine's "currently locked" error (ConcurrentUpdateError), waits and retries;
 * - a create the provider fails (a worker command that exits at once): the update fails, fleet
 *   names the worker and the provider's reason, and config ends as what exists.
 */
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  alive,
  eventually,
  fleetProject,
  type FleetProject,
  runContextProcess,
} from "../harness/project";

const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

/** The local workers in the checkpoint: [worker name, pid], sorted by name. */
function inState(p: FleetProject): [string, number][] {
  return (p.checkpoint()?.resources ?? [])
    .filter((r) => r.type === DYNAMIC)
    .map((r): [string, number] => [
      String(r.urn.split("::").pop()).replace(/^local-/, ""),
      Number(String(r.id).split(":")[0]),
    ])
    .sort(([a], [b]) => a.localeCompare(b));
}

describe("the local cloud on Pulumi's engine: processes, locks, recovery", function () {
  this.timeout(600_000);
  const cleanup: FleetProject[] = [];
  after(() => {
    for (const p of cleanup) {
      for (const [, pid] of inState(p)) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already stopped
        }
      }
    }
  });

  it("several OS processes on one stack lose nothing: config, checkpoint, processes and list agree", async () => {
    const p = fleetProject({ config: { "fleet:cloud": "local" } });
    cleanup.push(p);
    const procs = 3;
    const runs = Array.from({ length: procs }, (_, n) => {
      const ops = [`+p${n}a`, `+p${n}b`, `-p${n}a`];
      return runContextProcess(p, ops);
    });
    const results = await Promise.all(runs);
    for (const r of results) expect(r.errors).to.deep.equal([]);
    const expected = Array.from({ length: procs }, (_, n) => `p${n}b`).sort();
    expect(p.configuredNames().sort(), "stack config").to.deep.equal(expected);
    const state = inState(p);
    expect(
      state.map(([n]) => n),
      "checkpoint",
    ).to.deep.equal(expected);
    for (const [n, pid] of state) expect(alive(pid), `${n} runs`).to.equal(true);
    const listed = JSON.parse(p.fleet("list", "--json").stdout) as { name: string; id: string }[];
    expect(listed.map((w) => w.name).sort(), "fleet list").to.deep.equal(expected);
    // Every process's deleted worker is stopped: no process logs to its log file any more.
    for (let n = 0; n < procs; n++) {
      const log = path.join(p.dir, ".fleet", "local", p.stack, `p${n}a.log`);
      expect(fs.existsSync(log), `p${n}a ran`).to.equal(true);
    }
    const all = p.fleet("delete-all", "--yes");
    expect(all.status, all.stderr).to.equal(0);
    expect(await eventually(() => state.every(([, pid]) => !alive(pid)))).to.equal(true);
  });

  it("the engine's stack lock, held by a plain `pulumi up`: fleet waits for it and retries, and both updates land", async () => {
    const p = fleetProject({ config: { "fleet:cloud": "local", "fleet:workers": '["held"]' } });
    cleanup.push(p);
    // Create the stack and select it for plain pulumi, then start a slow `pulumi up` (its create
    // lasts 5 s: FLEET_LOCAL_STARTUP_CHECK_MS) that holds the engine's lock on the stack.
    expect(p.fleet("list").status).to.equal(0);
    const held: ChildProcess = spawn(
      "pulumi",
      ["up", "--yes", "--non-interactive", "--stack", p.stack, "--cwd", p.dir],
      { env: { ...p.env, FLEET_LOCAL_STARTUP_CHECK_MS: "5000" }, stdio: "ignore" },
    );
    const heldDone = new Promise<number | null>((r) => held.on("exit", (code) => r(code)));
    const lockDir = path.join(
      String(p.env.PULUMI_BACKEND_URL).replace(/^file:\/\//, ""),
      ".pulumi",
      "locks",
      "organization",
      "fleet",
      p.stack,
    );
    const locked = () => fs.existsSync(lockDir) && fs.readdirSync(lockDir).length > 0;
    expect(await eventually(locked, 60_000), "the plain update holds the engine's lock").to.equal(
      true,
    );
    const r = p.fleet("create", "waiter", "--json");
    expect(r.status, r.stderr).to.equal(0);
    // fleet met the engine's lock (its "currently locked" error, ConcurrentUpdateError) and said so.
    expect(r.stderr).to.match(
      /the stack "dev" is locked by another update; waiting \d+\.\d s \(attempt 1 of \d+\)/,
    );
    expect(await heldDone).to.equal(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((w) => w.name)).to.include("waiter");
    expect(inState(p).map(([n]) => n)).to.deep.equal(["held", "waiter"]);
    expect(p.configuredNames().sort()).to.deep.equal(["held", "waiter"]);
  });

  it("a create the provider fails: exit 1 naming the worker and the reason; config ends as what exists", () => {
    // The local cloud runs `fleet:localCommand` with FLEET_WORKER_NAME set: `bad` exits at once,
    // which the provider's startup check reports as a failed create.
    const command =
      'case "$FLEET_WORKER_NAME" in bad) echo broken >&2; exit 3 ;; *) exec sleep 600 ;; esac';
    const p = fleetProject({
      config: { "fleet:cloud": "local", "fleet:localCommand": command },
    });
    cleanup.push(p);
    const r = p.fleet("create", "good", "bad");
    expect(r.status, r.stderr).to.equal(1);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("fleet: error:"));
    expect(errors, r.stderr).to.have.length(1);
    expect(errors[0]).to.contain("bad").and.contain("exited");
    expect(r.stderr).to.not.match(/<\{%/);
    expect(
      inState(p).map(([n]) => n),
      "the engine kept what was created",
    ).to.deep.equal(["good"]);
    expect(p.configuredNames(), "config is what exists").to.deep.equal(["good"]);
    const listed = JSON.parse(p.fleet("list", "--json").stdout) as { name: string }[];
    expect(listed.map((w) => w.name)).to.deep.equal(["good"]);
    expect(p.fleet("delete-all", "--yes").status).to.equal(0);
  });
});
