import * as childProcess from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { fleetProgram } from "../../program";
import type { Worker } from "../../strategies/contract";
import { LocalStrategy, builtinWorkerScript, localStateDir } from "../../strategies/local";
import { isRunning, parseId } from "../../strategies/local-process";
import {
  type LocalWorkerInputs,
  type LocalWorkerOutputs,
  localWorkerProvider,
} from "../../strategies/local-provider";
import { type RecordingMocks, runUnderMocks } from "../harness/mocks";
import {
  killAll,
  readIfExists,
  tempStateDir,
  track,
  waitFor,
  waitGone,
} from "../harness/local-workers";

const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

describe("local strategy: the dynamic provider against real processes", () => {
  let stateDir = "";
  before(() => (stateDir = tempStateDir())); // in a hook: a --grep that skips the suite leaves nothing behind
  const inputs = (workerName: string, command = "", graceMs = 5000): LocalWorkerInputs => ({
    workerName,
    command,
    builtinScript: builtinWorkerScript(),
    stateDir,
    graceMs,
  });
  const provider = localWorkerProvider;
  const read = provider.read as NonNullable<typeof provider.read>;
  const del = provider.delete as NonNullable<typeof provider.delete>;
  const diff = provider.diff as NonNullable<typeof provider.diff>;
  const update = provider.update as NonNullable<typeof provider.update>;

  after(() => {
    killAll();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("create starts a worker, read sees it running, delete stops it, twice without error", async () => {
    const before = Date.now();
    const { id, outs } = await provider.create(inputs("w1"));
    track(id);
    const o = outs as LocalWorkerOutputs;
    expect(id).to.equal(`${o.pid}:${o.startTime}`);
    expect(o).to.include({ ...inputs("w1"), status: "running", logFile: `${stateDir}/w1.log` });
    expect(Date.parse(o.createdAt)).to.be.within(before, Date.now());
    expect(o.createdAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(isRunning(parseId(id))).to.equal(true);

    expect(await waitFor(() => / w1 (started|heartbeat) /.test(readIfExists(o.logFile)))).to.equal(
      true,
    );

    const r = await read(id, o);
    expect(r).to.deep.equal({ id, props: o });

    await del(id, o);
    expect(isRunning(parseId(id))).to.equal(false);
    await del(id, o);
    expect(await read(id, o)).to.deep.equal({ id: "", props: undefined });
  });

  it("read reports a worker killed from outside as gone (so refresh drops it)", async () => {
    const { id, outs } = await provider.create(inputs("w2", "exec sleep 30"));
    track(id);
    process.kill(parseId(id).pid, "SIGKILL");
    expect(await waitGone(parseId(id))).to.equal(true);
    expect(await read(id, outs)).to.deep.equal({ id: "", props: undefined });
    await del(id, outs as LocalWorkerOutputs);
  });

  it("read and delete treat a recycled PID (this process, another start time) as gone", async () => {
    const id = `${process.pid}:1`;
    const props = { ...inputs("ghost"), graceMs: 10 } as LocalWorkerOutputs;
    expect(await read(id, props)).to.deep.equal({ id: "", props: undefined });
    await del(id, props); // would kill this test run if it signalled
    expect(isRunning({ pid: process.pid, startTime: "1" })).to.equal(false);
  });

  it("delete escalates to SIGKILL after the grace period for a worker that ignores SIGTERM", async () => {
    const { id, outs } = await provider.create(
      inputs("w3", "trap '' TERM; echo ready; while :; do sleep 1; done", 200),
    );
    track(id);
    const log = (outs as LocalWorkerOutputs).logFile;
    expect(await waitFor(() => readIfExists(log).includes("ready"))).to.equal(true);
    const t0 = Date.now();
    await del(id, outs as LocalWorkerOutputs);
    expect(Date.now() - t0).to.be.at.least(200);
    expect(isRunning(parseId(id))).to.equal(false);
  });

  it("create fails with an error naming a command that does not exist", async () => {
    let error: Error | undefined;
    await provider.create(inputs("w4", "fleet-nonexistent-tool")).catch((e: Error) => (error = e));
    expect(error?.message).to.include('command not found: "fleet-nonexistent-tool"');
  });

  it("diff replaces on a new command or name and changes nothing else", async () => {
    const olds = {
      ...inputs("w5"),
      pid: 1,
      startTime: "2",
      createdAt: "x",
      status: "running",
      logFile: "l",
    };
    expect(await diff("1:2", olds, inputs("w5"))).to.deep.equal({ changes: false });
    expect(await diff("1:2", olds, { ...inputs("w5"), stateDir: "/elsewhere" })).to.deep.equal({
      changes: false,
    });
    expect(await diff("1:2", olds, inputs("w5", "sleep 9"))).to.deep.equal({
      changes: true,
      replaces: ["command"],
      deleteBeforeReplace: true,
    });
    expect(await diff("1:2", olds, inputs("w6"))).to.deep.include({ replaces: ["workerName"] });
    expect(await diff("1:2", olds, inputs("w5", "", 100))).to.deep.equal({ changes: true });
    expect(await update("1:2", olds, inputs("w5", "", 100))).to.deep.equal({
      outs: { ...olds, graceMs: 100 },
    });
  });
});

describe("local strategy: the provider survives Pulumi's closure serialization", () => {
  let stateDir = "";
  before(() => (stateDir = tempStateDir())); // in a hook: a --grep that skips the suite leaves nothing behind
  after(() => {
    killAll();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("serializes to a module that, loaded in a fresh Node like the provider host, runs a worker", async () => {
    // What pulumi.dynamic.Resource does with the provider (dynamic/index.js serializeProvider).
    const sf = await pulumi.runtime.serializeFunction(() => localWorkerProvider, {
      allowSecrets: true,
    });
    expect(sf.containsSecrets).to.equal(false);
    // Only Node built-ins are required; nothing of Pulumi, fleet's config or a cloud SDK.
    const requires = [...sf.text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).sort();
    expect(requires).to.deep.equal(["child_process", "fs", "path/posix"]);
    expect(sf.text.length).to.be.below(30_000);

    const moduleFile = path.join(stateDir, "provider.js");
    fs.writeFileSync(moduleFile, sf.text);
    // The dynamic provider host does `requireFromString(text).handler()`; do the same elsewhere.
    const script = `
      const provider = require(${JSON.stringify(moduleFile)}).handler();
      (async () => {
        const inputs = { workerName: "ser-1", command: "", builtinScript: ${JSON.stringify(builtinWorkerScript())},
                         stateDir: ${JSON.stringify(stateDir)}, graceMs: 3000 };
        const created = await provider.create(inputs);
        process.stdout.write(JSON.stringify({ created }) + "\\n");
        const running = await provider.read(created.id, created.outs);
        // Let Node boot the worker and install its SIGTERM handler (slow on a loaded machine).
        const fs = require("node:fs");
        for (let i = 0; i < 200 && !fs.readFileSync(created.outs.logFile, "utf8").includes("started"); i++)
          await new Promise((r) => setTimeout(r, 25));
        await provider.delete(created.id, created.outs);
        const afterDelete = await provider.read(created.id, created.outs);
        await provider.delete(created.id, created.outs);
        process.stdout.write(JSON.stringify({ running, afterDelete }) + "\\n");
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const out = childProcess.execFileSync(process.execPath, ["-e", script], {
      cwd: stateDir,
      encoding: "utf8",
      env: { ...process.env, FLEET_HEARTBEAT_MS: "50" },
    });
    const [first, second] = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    track(first.created.id as string);
    expect(first.created.outs).to.include({ workerName: "ser-1", status: "running" });
    expect(second.running.id).to.equal(first.created.id);
    expect(second.running.props.status).to.equal("running");
    expect(second.afterDelete).to.deep.equal({ id: "" });
    expect(isRunning(parseId(first.created.id))).to.equal(false);
    expect(readIfExists(path.join(stateDir, "ser-1.log"))).to.match(/ser-1 stopping on SIGTERM/);
  });
});

describe("local strategy: the component under mocks", () => {
  it("declares one dynamic resource per worker under fleet:local:WorkerFleet and exports workers", async () => {
    const parents = new Map<string, pulumi.Resource | undefined>();
    const { outputs, mocks } = await runUnderMocks(
      async () => {
        pulumi.runtime.registerStackTransformation((a) => {
          parents.set(a.name, a.opts.parent);
          return undefined;
        });
        return fleetProgram();
      },
      { "fleet:cloud": "local", "fleet:workers": JSON.stringify(["a", { name: "b" }]) },
    );

    expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).to.deep.equal([
      "pulumi:pulumi:Stack fleet-dev",
      "fleet:local:WorkerFleet local",
      `${DYNAMIC} local-a`,
      `${DYNAMIC} local-b`,
    ]);
    expect(parents.get("local-a")).to.be.instanceOf(LocalStrategy);
    expect(parents.get("local-b")).to.equal(parents.get("local-a"));

    const stateDir = path.resolve(process.cwd(), ".fleet", "local", "dev");
    expect(localStateDir("dev", process.cwd())).to.equal(stateDir);
    const [a, b] = mocks.ofType(DYNAMIC);
    const { __provider, ...inputs } = a.inputs;
    expect(inputs).to.deep.equal({
      workerName: "a",
      command: "",
      builtinScript: builtinWorkerScript(),
      stateDir,
      graceMs: 5000,
    });
    expect(builtinWorkerScript()).to.match(/dist\/strategies\/local-worker\.js$/);
    expect(fs.existsSync(builtinWorkerScript())).to.equal(true);
    expect(__provider)
      .to.be.a("string")
      .and.to.match(/^exports\.handler = /);
    expect(b.inputs.workerName).to.equal("b");

    const worker = (name: string, id: string): Worker => ({
      name,
      cloud: "local",
      region: "localhost",
      size: "process",
      ip: "127.0.0.1",
      createdAt: "2026-01-02T03:04:05.000Z",
      id,
      status: "running",
    });
    expect(outputs.workers).to.deep.equal([worker("a", "local-a-id"), worker("b", "local-b-id")]);
  });

  it("passes fleet:localCommand to every worker", async () => {
    const { outputs, mocks } = await runUnderMocks(() => fleetProgram(), {
      "fleet:cloud": "local",
      "fleet:workers": JSON.stringify(["x"]),
      "fleet:localCommand": "python3 -m http.server",
    });
    expect(mocks.ofType(DYNAMIC).map((r) => r.inputs.command)).to.deep.equal([
      "python3 -m http.server",
    ]);
    expect(outputs.workers).to.have.length(1);
  });

  it("loads no cloud SDK: nothing the local strategy requires is @pulumi/aws or @pulumi/digitalocean", () => {
    // Walk the modules fleet's own local.js pulled in (node_modules are leaves; their own
    // dependencies are theirs). Node records a required module as a child even when cached.
    const seen = new Set<string>();
    const walk = (m: NodeModule | undefined): void => {
      if (!m || seen.has(m.id)) return;
      seen.add(m.id);
      if (!m.id.includes(`${path.sep}node_modules${path.sep}`)) m.children.forEach(walk);
    };
    walk(require.cache[require.resolve("../../strategies/local")]);
    const names = [...seen].map((f) => path.relative(path.resolve(__dirname, "../.."), f));
    expect(names).to.include.members([
      "strategies/local.js",
      "strategies/local-provider.js",
      "strategies/local-process.js",
    ]);
    expect(names.filter((f) => /@pulumi[\\/](aws|digitalocean)/.test(f))).to.deep.equal([]);
  });
});

describe("local strategy: logs and state under the project directory", () => {
  /** A project directory with Pulumi.yaml, a compiled-program directory and a user-data file. */
  function project(): string {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-project-")));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: fleet\nruntime: nodejs\n");
    fs.mkdirSync(path.join(dir, "dist"));
    fs.writeFileSync(path.join(dir, "init.yaml"), "#cloud-config\n");
    return dir;
  }
  const stateDirOf = (mocks: RecordingMocks, worker: string) =>
    mocks.ofType(DYNAMIC).find((r) => r.name === `local-${worker}`)?.inputs.stateDir;

  it("under plain `pulumi up` (working directory dist/): the project's .fleet/, user data from the project", async () => {
    const dir = project();
    const saved = process.cwd();
    process.chdir(path.join(dir, "dist")); // what the Node language host does (see config/paths.ts)
    try {
      const { mocks } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "aws",
        "fleet:workers": JSON.stringify(["a", { name: "b", cloud: "local" }]),
        "fleet:userDataFile": "init.yaml",
      });
      expect(stateDirOf(mocks, "b")).to.equal(path.join(dir, ".fleet", "local", "dev"));
      expect(mocks.ofType("aws:ec2/instance:Instance")[0].inputs.userData).to.equal(
        "#cloud-config\n",
      );
    } finally {
      process.chdir(saved);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("run inline for `fleet -C <dir>`: under <dir>, whatever the working directory", async () => {
    const dir = project();
    try {
      // CloudContext runs fleetProgram({ projectDir: workDir }) in its own process.
      const { mocks } = await runUnderMocks(() => fleetProgram({ projectDir: dir }), {
        "fleet:workers": JSON.stringify(["c"]),
      });
      expect(process.cwd()).not.to.equal(dir);
      expect(stateDirOf(mocks, "c")).to.equal(path.join(dir, ".fleet", "local", "dev"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
