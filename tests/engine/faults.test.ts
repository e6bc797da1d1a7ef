import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import {
  FAULTS_VAR,
  FaultsConfigError,
  appendLedger,
  loadFaults,
  parseFaults,
  readLedger,
} from "./faults";
import { CAPACITY_ERRORS } from "../sim/providers";

const run = promisify(execFile);

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "fleet-faults-"));
}

const droplet = (name: string, size = "s-1vcpu-1gb") => ({
  name,
  type: "digitalocean:index/droplet:Droplet",
  inputs: { name: name.replace(/^fleet-/, ""), size, image: "ubuntu-24-04-x64" },
});

function refused(text: string): FaultsConfigError {
  try {
    parseFaults(text);
  } catch (e) {
    expect(e).to.be.instanceOf(FaultsConfigError);
    expect((e as Error).message).to.include(FAULTS_VAR);
    return e as FaultsConfigError;
  }
  throw new Error(`expected ${text} to be refused`);
}

describe("engine double: fault injection", () => {
  it("no variable means no faults", async () => {
    const f = loadFaults({}, tmpDir());
    expect(await f.match("create", droplet("fleet-w1"))).to.equal(undefined);
    expect(f.killAfterSteps()).to.equal(undefined);
    expect(f.leaveLocked()).to.equal(false);
  });

  it("refuses invalid JSON and unknown rule shapes, naming the variable and the bad part", () => {
    expect(refused("[{").message).to.include("not valid JSON");
    expect(refused('{"op":"create"}').message).to.include("must be a JSON list");
    expect(refused('[{"op":"explode","match":{},"error":"x"}]').message).to.include(
      '"op":"explode"',
    );
    expect(refused('[{"op":"create","match":{},"error":"x","colour":1}]').message).to.include(
      "unknown key(s) colour",
    );
    expect(refused('[{"op":"create","match":{}}]').message).to.include("needs error");
    expect(refused('[{"op":"create","match":{},"error":"x","times":0}]').message).to.include(
      "times",
    );
    expect(refused('[{"kill":{"afterSteps":-1}}]').message).to.include("kill");
    expect(refused('[{"leaveLocked":"yes"}]').message).to.include("leaveLocked");
    expect(refused('[{"op":"create","match":[]}]').message).to.include("match");
  });

  it("matches by input (deep equality) and by logical name, in rule order", async () => {
    const env = {
      [FAULTS_VAR]: JSON.stringify([
        {
          op: "create",
          match: { size: "s-8vcpu-16gb" },
          error: CAPACITY_ERRORS.digitalocean.sizeUnavailable,
        },
        { op: "delete", match: { name: "fleet-w2" }, error: "boom" },
        { op: "create", match: { tags: ["a", "b"] }, delayMs: 5 },
        { op: "update", type: "aws:ec2/instance:Instance", match: {}, hang: true },
      ]),
    };
    const f = loadFaults(env, tmpDir());
    expect(await f.match("create", droplet("fleet-w1", "s-8vcpu-16gb"))).to.deep.equal({
      error: CAPACITY_ERRORS.digitalocean.sizeUnavailable,
    });
    expect(await f.match("create", droplet("fleet-w1"))).to.equal(undefined);
    expect(await f.match("delete", droplet("fleet-w2"))).to.deep.equal({ error: "boom" });
    // `name` is the logical name, not the droplet's name input ("w2").
    expect(
      await f.match("delete", { ...droplet("fleet-w3"), inputs: { name: "fleet-w2" } }),
    ).to.equal(undefined);
    expect(
      await f.match("create", { name: "x", type: "t", inputs: { tags: ["a", "b"] } }),
    ).to.deep.equal({ delayMs: 5 });
    expect(
      await f.match("create", { name: "x", type: "t", inputs: { tags: ["b", "a"] } }),
    ).to.equal(undefined);
    expect(
      await f.match("update", { name: "x", type: "aws:ec2/instance:Instance", inputs: {} }),
    ).to.deep.equal({ hang: true });
    expect(await f.match("update", droplet("fleet-w1"))).to.equal(undefined);
  });

  it("engine-level rules: kill after n steps, leave the lock", () => {
    const f = loadFaults(
      { [FAULTS_VAR]: '[{"kill":{"afterSteps":3}},{"leaveLocked":true}]' },
      tmpDir(),
    );
    expect(f.killAfterSteps()).to.equal(3);
    expect(f.leaveLocked()).to.equal(true);
    expect(f.rules).to.have.length(0);
  });

  it("`times` counts across separate and concurrent processes", async function () {
    this.timeout(60000);
    const dir = tmpDir();
    const rules = JSON.stringify([
      { op: "create", match: { name: "fleet-w1" }, error: "quota", times: 3 },
    ]);
    const faultsJs = path.join(__dirname, "faults.js");
    const script = (attempts: number) =>
      `const { loadFaults } = require(${JSON.stringify(faultsJs)});
       const f = loadFaults(process.env, ${JSON.stringify(dir)});
       (async () => { let n = 0; for (let i = 0; i < ${attempts}; i++)
         if (await f.match("create", { name: "fleet-w1", type: "t", inputs: {} })) n++;
         process.stdout.write(String(n)); })();`;
    const env = { ...process.env, [FAULTS_VAR]: rules };
    const first = await run(process.execPath, ["-e", script(2)], { env });
    expect(first.stdout).to.equal("2");
    const both = await Promise.all([
      run(process.execPath, ["-e", script(2)], { env }),
      run(process.execPath, ["-e", script(2)], { env }),
    ]);
    expect(both.map((r) => Number(r.stdout)).reduce((a, b) => a + b, 0)).to.equal(1);
    // Same rules in this process: used up.
    expect(await loadFaults(env, dir).match("create", droplet("fleet-w1"))).to.equal(undefined);
  });

  it("the ledger keeps one line per reported operation, also from other processes", async () => {
    const dir = tmpDir();
    expect(readLedger(dir)).to.deep.equal([]);
    appendLedger(dir, { op: "create", type: "t", name: "a", id: "1", outcome: "ok" });
    appendLedger(dir, { op: "create", type: "t", name: "b", outcome: "fault", error: "quota" });
    const faultsJs = path.join(__dirname, "faults.js");
    await Promise.all(
      [1, 2].map((n) =>
        run(process.execPath, [
          "-e",
          `const { appendLedger } = require(${JSON.stringify(faultsJs)});
           for (let i = 0; i < 100; i++) appendLedger(${JSON.stringify(dir)},
             { op: "delete", type: "t", name: "p${n}-" + i, outcome: "ok" });`,
        ]),
      ),
    );
    const lines = readLedger(dir);
    expect(lines).to.have.length(202);
    expect(lines.filter((l) => l.outcome === "fault")).to.have.length(1);
    expect(lines[0]).to.include({ op: "create", name: "a", id: "1", pid: process.pid });
    expect(Number.isNaN(Date.parse(lines[0].time))).to.equal(false);
    expect(new Set(lines.map((l) => l.pid)).size).to.equal(3);
  });
});
