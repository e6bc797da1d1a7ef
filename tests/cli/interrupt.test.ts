/**
 * Defect 4 (issue 11): Ctrl-C. A terminal's Ctrl-C sends SIGINT to the whole foreground process
 * group, fleet and its `pulumi` child alike; the engine cancels on its first SIGINT and
 * terminates on its second (pkg/backend/cancellation_scope.go). These tests run the built
 * `fleet` with a fake `pulumi` first on PATH (tests/cli/fake-pulumi/pulumi) that records the
 * signals it receives, and emulate the terminal by signalling fleet's process group.
 */
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const FAKE = path.join(ROOT, "tests", "cli", "fake-pulumi");

interface Interrupted {
  code: number | null;
  stderr: string;
  /** Lines the fake `pulumi` logged: `run …`, `up started <pid>`, `SIGINT <time>`. */
  log: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `fleet create a` in its own process group; resolves once the fake's `up` runs. */
async function fleetInUp(): Promise<{
  child: ChildProcess;
  enginePid: number;
  log: () => string[];
  done: Promise<Interrupted>;
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-sigint-"));
  const logFile = path.join(dir, "pulumi.log");
  fs.writeFileSync(logFile, "");
  const child = spawn(process.execPath, [CLI, "-C", dir, "create", "a"], {
    detached: true, // its own process group, as a shell gives a foreground job
    env: {
      PATH: `${FAKE}${path.delimiter}${process.env.PATH}`,
      HOME: dir,
      FAKE_PULUMI_LOG: logFile,
      FAKE_PULUMI_GRACE_MS: "300",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const log = () => fs.readFileSync(logFile, "utf8").split("\n").filter(Boolean);
  const done = new Promise<Interrupted>((resolve) =>
    child.on("exit", (code) => resolve({ code, stderr, log: log() })),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const started = log().find((l) => l.startsWith("up started "));
    if (started) return { child, enginePid: Number(started.split(" ")[2]), log, done };
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`the fake pulumi never ran up:\n${stderr}\n${log().join("\n")}`);
    await sleep(50);
  }
}

const sigints = (r: Interrupted) => r.log.filter((l) => l.startsWith("SIGINT")).length;

describe("fleet and Ctrl-C (a fake pulumi records the signals it gets)", function () {
  this.timeout(60_000);
  const running: ChildProcess[] = [];
  afterEach(() => {
    for (const c of running.splice(0))
      if (c.exitCode === null && c.pid) {
        try {
          process.kill(-c.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
  });

  it("the fake answers what the Automation API runs before up", async () => {
    const { child, done } = await fleetInUp();
    running.push(child);
    process.kill(-(child.pid as number), "SIGINT");
    const r = await done;
    expect(
      r.log.filter((l) => l.startsWith("run ")).map((l) => l.split(" ")[1]),
    ).to.include.members(["version", "stack", "config", "up"]);
  });

  it("one Ctrl-C is one graceful cancel: the engine gets exactly one SIGINT; fleet says so and exits 130", async () => {
    const { child, done } = await fleetInUp();
    running.push(child);
    process.kill(-(child.pid as number), "SIGINT");
    const r = await done;
    expect(sigints(r)).to.equal(1, r.log.join("\n"));
    expect(r.code).to.equal(130);
    expect(r.stderr).to.contain("fleet: Ctrl-C: the engine is cancelling the update gracefully");
    expect(r.stderr).to.contain(
      "fleet: the update was cancelled gracefully: nothing is left pending",
    );
    expect(r.stderr).to.contain("`fleet sync`");
    expect(r.stderr).not.to.contain("terminated");
  });

  it("a second Ctrl-C terminates: the engine gets its second SIGINT; fleet says what to run next", async () => {
    const { child, done } = await fleetInUp();
    running.push(child);
    process.kill(-(child.pid as number), "SIGINT");
    await sleep(100);
    process.kill(-(child.pid as number), "SIGINT");
    const r = await done;
    expect(sigints(r)).to.equal(2, r.log.join("\n"));
    expect(r.code).to.equal(130);
    expect(r.stderr).to.contain("fleet: Ctrl-C again: the engine terminates at once");
    expect(r.stderr).to.contain(
      "the update was terminated: operations that were running may be left pending",
    );
    expect(r.stderr).to.contain("pulumi refresh --clear-pending-creates --stack dev");
    expect(r.stderr).to.contain("then `fleet sync`");
  });

  it("fleet never signals the engine itself: a SIGINT to fleet alone reaches no pulumi process", async () => {
    const { child, enginePid, log, done } = await fleetInUp();
    running.push(child);
    process.kill(child.pid as number, "SIGINT");
    await sleep(1_000);
    expect(child.exitCode).to.equal(null, "fleet waits for the engine to stop");
    expect(log().filter((l) => l.startsWith("SIGINT"))).to.deep.equal([]);
    // The engine's own Ctrl-C (the terminal's) ends it; then fleet reports the cancel.
    process.kill(enginePid, "SIGINT");
    const r = await done;
    expect(sigints(r)).to.equal(1, r.log.join("\n"));
    expect(r.code).to.equal(130);
  });
});
