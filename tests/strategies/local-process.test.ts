import * as childProcess from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import {
  formatId,
  isRunning,
  parseId,
  parseProcStat,
  pendingWorkerId,
  readProcInfo,
  readProcessInfo,
  readPsInfo,
  startWorker,
  stopWorker,
  workerEnv,
} from "../../strategies/local-process";
import {
  groupExists,
  killAll,
  readIfExists,
  tempStateDir,
  track,
  waitFor,
  waitGone,
} from "../harness/local-workers";

const hasProc = fs.existsSync("/proc/self/stat");

/** A `/proc/<pid>/stat` line with the given comm, state and start time (field 22). */
function statLine(comm: string, state: string, startTime: string): string {
  // fields 4..21 (18 fields), then 22 = starttime, then a few more
  const middle = Array.from({ length: 18 }, (_, i) => String(i + 1)).join(" ");
  return `1234 (${comm}) ${state} ${middle} ${startTime} 5124096 969\n`;
}

describe("local-process: what a pending create left", () => {
  it("is absent without a worker's identity file, and unknown where its state folder is not on this machine", () => {
    const dir = tempStateDir();
    expect(pendingWorkerId({ stateDir: dir, workerName: "w" })).to.equal("absent");
    expect(pendingWorkerId({ stateDir: path.join(dir, "elsewhere"), workerName: "w" })).to.equal(
      undefined,
    );
    expect(pendingWorkerId({ workerName: "w" })).to.equal("absent");
  });
});

describe("local-process: identity", () => {
  it("parses /proc stat lines, even when comm holds spaces and parentheses", () => {
    expect(parseProcStat(statLine("bash", "S", "496417"))).to.deep.equal({
      state: "S",
      startTime: "496417",
    });
    expect(parseProcStat(statLine("a) b (c) S 9 9", "R", "77"))).to.deep.equal({
      state: "R",
      startTime: "77",
    });
    expect(parseProcStat(statLine("", "Z", "1"))).to.deep.equal({ state: "Z", startTime: "1" });
  });

  it("refuses stat lines it cannot read", () => {
    expect(() => parseProcStat("garbage")).to.throw(/unrecognised \/proc stat line/);
    expect(() => parseProcStat("1 (x) S 1 2 3")).to.throw(/unrecognised/);
  });

  it("reads this very process from /proc and agrees with the real stat file", function () {
    if (!hasProc) this.skip();
    const info = readProcInfo(process.pid);
    expect(info?.state).to.match(/^[RS]$/);
    const raw = fs.readFileSync(`/proc/${process.pid}/stat`, "utf8");
    expect(info?.startTime).to.equal(raw.slice(raw.lastIndexOf(")") + 2).split(" ")[19]);
    expect(readProcessInfo(process.pid)).to.deep.equal(info);
  });

  it("falls back to ps for the start time (as on systems without /proc)", () => {
    const info = readPsInfo(process.pid);
    expect(info?.state).to.match(/^[RS]$/);
    expect(Date.parse(info?.startTime ?? "")).to.be.within(Date.now() - 3600_000, Date.now());
  });

  it("reports a PID that does not exist as absent, with /proc and with ps", () => {
    const unused = 2 ** 22 + 17; // above Linux's pid_max limit
    expect(readProcInfo(unused)).to.equal(undefined);
    expect(readPsInfo(unused)).to.equal(undefined);
    expect(isRunning({ pid: unused, startTime: "1" })).to.equal(false);
  });

  it("formats and parses ids, including ps start times that contain colons", () => {
    expect(formatId({ pid: 42, startTime: "123" })).to.equal("42:123");
    expect(parseId("42:123")).to.deep.equal({ pid: 42, startTime: "123" });
    const ps = { pid: 7, startTime: "Wed Nov 25 21:20:45 2026" };
    expect(parseId(formatId(ps))).to.deep.equal(ps);
    for (const bad of ["", "42", ":1", "x:1", "0:1", "-3:1", "42:"]) {
      expect(() => parseId(bad), bad).to.throw(/not a local worker id/);
    }
  });

  it("treats this process with another start time as not ours (a recycled PID)", () => {
    expect(isRunning({ pid: process.pid, startTime: "1" })).to.equal(false);
    const real = readProcessInfo(process.pid);
    expect(isRunning({ pid: process.pid, startTime: real?.startTime ?? "" })).to.equal(true);
  });
});

describe("local-process: real workers", () => {
  let stateDir = "";
  before(() => (stateDir = tempStateDir())); // in a hook: a --grep that skips the suite leaves nothing behind
  // The compiled built-in worker, next to the compiled strategies (dist/strategies/).
  const builtinScript = path.resolve(__dirname, "../../strategies/local-worker.js");
  const fast = { FLEET_HEARTBEAT_MS: "50" };

  after(() => {
    killAll();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("starts the built-in worker detached; it writes heartbeats with its name, stops on SIGTERM", async () => {
    const w = track(
      await startWorker({ workerName: "hb-1", command: "", builtinScript, stateDir, env: fast }),
    );
    expect(w.id).to.equal(`${w.pid}:${w.startTime}`);
    expect(w.logFile).to.equal(`${stateDir}/hb-1.log`);
    expect(isRunning(w)).to.equal(true);
    // Its own session and process group: signals to the group never reach the test runner.
    const pgid = childProcess.execFileSync("ps", ["-o", "pgid=", "-p", String(w.pid)], {
      encoding: "utf8",
    });
    expect(Number(pgid.trim())).to.equal(w.pid);

    const beat = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z hb-1 heartbeat pid=\d+$/m;
    expect(await waitFor(() => beat.test(readIfExists(w.logFile)))).to.equal(true);

    expect(await stopWorker(w)).to.equal("terminated");
    expect(isRunning(w)).to.equal(false);
    expect(readIfExists(w.logFile)).to.match(/hb-1 stopping on SIGTERM\n$/);
    expect(await stopWorker(w)).to.equal("gone");
  });

  it("runs fleet:localCommand with /bin/sh and FLEET_WORKER_NAME", async () => {
    const w = track(
      await startWorker({
        workerName: "cmd-1",
        command: 'echo "hello from $FLEET_WORKER_NAME"; exec sleep 30',
        builtinScript,
        stateDir,
      }),
    );
    expect(await waitFor(() => readIfExists(w.logFile).includes("hello from cmd-1"))).to.equal(
      true,
    );
    expect(await stopWorker(w, { graceMs: 2000 })).to.equal("terminated");
  });

  it("keeps the Pulumi engine's PULUMI_* variables (passphrase, token) from workers", async () => {
    expect(
      workerEnv({ PATH: "/bin", PULUMI_CONFIG_PASSPHRASE: "s3cret", HOME: "/h" }),
    ).to.deep.equal({ PATH: "/bin", HOME: "/h" });
    process.env.PULUMI_CONFIG_PASSPHRASE = "s3cret";
    try {
      const w = track(
        await startWorker({
          workerName: "env-1",
          command: 'echo "pass=[$PULUMI_CONFIG_PASSPHRASE] path=[$PATH]"; exec sleep 30',
          builtinScript,
          stateDir,
        }),
      );
      expect(await waitFor(() => readIfExists(w.logFile).includes("pass=[]"))).to.equal(true);
      expect(readIfExists(w.logFile)).to.include(`path=[${process.env.PATH}]`);
      await stopWorker(w);
    } finally {
      delete process.env.PULUMI_CONFIG_PASSPHRASE;
    }
  });

  it("sees a worker killed from outside as gone, and stopping it then is a no-op", async () => {
    const w = track(
      await startWorker({
        workerName: "victim",
        command: "exec sleep 30",
        builtinScript,
        stateDir,
      }),
    );
    process.kill(w.pid, "SIGKILL");
    expect(await waitGone(w)).to.equal(true);
    expect(await stopWorker(w)).to.equal("gone");
  });

  it("never signals a recycled PID: this test process, or a live process with another start time", async () => {
    const self = { pid: process.pid, startTime: "1" };
    expect(await stopWorker(self, { graceMs: 10 })).to.equal("gone");

    const bystander = childProcess.spawn("sleep", ["30"], { stdio: "ignore", detached: true });
    const pid = bystander.pid ?? 0;
    track({ pid, startTime: "" });
    const info = readProcessInfo(pid);
    expect(info).to.not.equal(undefined);
    expect(await stopWorker({ pid, startTime: `${info?.startTime}0` }, { graceMs: 10 })).to.equal(
      "gone",
    );
    expect(isRunning({ pid, startTime: info?.startTime ?? "" })).to.equal(true);
    bystander.kill("SIGKILL");
  });

  it("escalates to SIGKILL when the worker ignores SIGTERM, and kills its whole group", async () => {
    const w = track(
      await startWorker({
        workerName: "stubborn",
        command: "trap '' TERM; echo ready; while :; do sleep 1; done",
        builtinScript,
        stateDir,
      }),
    );
    // Only once the trap is set does SIGTERM get ignored.
    expect(await waitFor(() => readIfExists(w.logFile).includes("ready"))).to.equal(true);
    const t0 = Date.now();
    expect(await stopWorker(w, { graceMs: 300 })).to.equal("killed");
    expect(Date.now() - t0).to.be.within(300, 4000);
    expect(isRunning(w)).to.equal(false);
    // The `sleep` child went with it.
    expect(await waitFor(() => !groupExists(w.pid))).to.equal(true);
  });

  it("fails with an error naming a command that does not exist", async () => {
    const attempt = startWorker({
      workerName: "typo",
      command: "fleet-no-such-command --now",
      builtinScript,
      stateDir,
      startupCheckMs: 3000, // it exits long before; generous for a loaded machine
    });
    let error: Error | undefined;
    await attempt.catch((e: Error) => (error = e));
    expect(error?.message).to.match(
      /local worker "typo": command not found: "fleet-no-such-command --now"/,
    );
    expect(error?.message).to.include("fleet-no-such-command: not found");
  });

  it("fails with an error when the command exits at once", async () => {
    let error: Error | undefined;
    await startWorker({
      workerName: "quick",
      command: "echo bye; exit 3",
      builtinScript,
      stateDir,
      startupCheckMs: 3000,
    }).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/command "echo bye; exit 3" exited at once \(code 3\)/);
    expect(error?.message).to.match(/bye$/);
  });

  it("fails with an error naming a missing built-in worker script", async () => {
    let error: Error | undefined;
    await startWorker({
      workerName: "nobuild",
      command: "",
      builtinScript: `${stateDir}/missing.js`,
      stateDir,
    }).catch((e: Error) => (error = e));
    expect(error?.message).to.include(`${stateDir}/missing.js does not exist; build fleet first`);
  });
});
