import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const CLI = path.join(__dirname, "..", "..", "cli", "fleet.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `fleet` command in a subprocess against a fresh engine double. */
function fleetRunner(config: Record<string, string> = { "fleet:cloud": "digitalocean" }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-cli-"));
  const engine = path.join(dir, "engine");
  fs.mkdirSync(engine);
  const values: Record<string, { value: string }> = {};
  for (const [k, v] of Object.entries(config)) values[k] = { value: v };
  fs.writeFileSync(path.join(engine, "config.json"), JSON.stringify(values));
  const run = (
    args: string[],
    env: NodeJS.ProcessEnv = { AWS_ACCESS_KEY_ID: "k", AWS_REGION: "us-east-1" },
  ): Run => {
    const r = spawnSync(process.execPath, [CLI, "-C", dir, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        FLEET_TEST_ENGINE_DOUBLE: engine,
        DIGITALOCEAN_TOKEN: "t",
        ...env,
      },
      encoding: "utf8",
      input: "",
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, engine, run };
}

describe("fleet command", function () {
  this.timeout(60_000);

  it("--help lists every command and exits 0", () => {
    const { run } = fleetRunner();
    const r = run(["--help"]);
    expect(r.code).to.equal(0);
    for (const c of ["create", "delete", "delete-all", "list", "use", "sync", "env"])
      expect(r.stdout).to.contain(`  ${c}`);
    for (const c of ["create", "delete", "delete-all", "list", "use"]) {
      const h = run([c, "--help"]);
      expect(h.code, c).to.equal(0);
      expect(h.stdout).to.match(new RegExp(`^Usage: fleet ${c}`));
    }
  });

  it("--help does not load the Pulumi SDK", () => {
    const probe = `require(${JSON.stringify(CLI)}); process.on("exit", () => { const n = Object.keys(require.cache).filter((k) => k.includes("@pulumi")).length; process.stderr.write("loaded=" + n); });`;
    const r = spawnSync(process.execPath, ["-e", probe, "--", "--help"], { encoding: "utf8" });
    expect(r.stderr).to.contain("loaded=0");
  });

  it("creates, lists as a table and as JSON, deletes, and deletes all", () => {
    const { run } = fleetRunner();
    const c = run(["create", "a", "b", "--json"]);
    expect(c.code, c.stderr).to.equal(0);
    const made = JSON.parse(c.stdout) as Record<string, string>[];
    expect(made.map((w) => w.name)).to.deep.equal(["a", "b"]);
    expect(Object.keys(made[0]).sort()).to.deep.equal([
      "cloud",
      "createdAt",
      "id",
      "ip",
      "name",
      "region",
      "size",
      "status",
    ]);

    const t = run(["list"]);
    expect(t.code).to.equal(0);
    expect(t.stdout).to.match(
      /NAME\s+│\s+CLOUD\s+│\s+REGION\s+│\s+SIZE\s+│\s+IP\s+│\s+CREATED\s+│\s+STATUS/,
    );
    expect(t.stdout).to.match(/│ a\s+│ digitalocean │ nyc3\s+│ s-1vcpu-1gb │ 10\./);

    const n = run(["create", "--count", "3", "--json", "--cloud", "aws"], {
      AWS_ACCESS_KEY_ID: "k",
      AWS_REGION: "us-east-1",
    });
    expect(n.code, n.stderr).to.equal(0);
    const random = JSON.parse(n.stdout) as Record<string, string>[];
    expect(random).to.have.length(3);
    for (const w of random)
      expect(w)
        .to.include({ cloud: "aws" })
        .and.have.property("name")
        .match(/^[A-Z0-9]{10}$/);

    const d = run(["delete", "a", "--json"]);
    expect(d.code).to.equal(0);
    expect(JSON.parse(d.stdout)).to.deep.equal({ deleted: ["a"] });
    const l = JSON.parse(run(["list", "--json"]).stdout) as { name: string }[];
    expect(l.map((w) => w.name)).to.deep.equal(["b", ...random.map((w) => w.name)]);

    expect(
      run(["delete-all", "--yes"], { AWS_ACCESS_KEY_ID: "k", AWS_REGION: "us-east-1" }).code,
    ).to.equal(0);
    expect(JSON.parse(run(["list", "--json"]).stdout)).to.deep.equal([]);
  });

  it("shows per-worker progress on stderr", () => {
    const { run } = fleetRunner();
    const r = run(["create", "p1", "p2"]);
    expect(r.code).to.equal(0);
    expect(r.stderr)
      .to.contain("p1: creating")
      .and.contain("p1: created")
      .and.contain("p2: created");
  });

  it("errors: one line, exit 1; usage errors exit 2", () => {
    const { run } = fleetRunner();
    const missing = run(["delete", "ghost"]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr.trim().split("\n").pop()).to.equal(
      'fleet: error: worker: no such worker: got "ghost"; the stack has no workers',
    );

    const bad = run(["create", "bad name"]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr.trim()).to.match(
      /^fleet: error: names\[0\]: invalid worker name: got "bad name"/,
    );

    const cloud = run(["use", "gcloud"]);
    expect(cloud.code).to.equal(1);
    expect(cloud.stderr).to.contain(
      'unknown cloud: got "gcloud"; known clouds: aws, azure, digitalocean, gcp, hetzner, local',
    );

    expect(run(["bogus"]).code).to.equal(2);
    expect(run(["create", "--count", "0"]).code).to.equal(2);
    expect(run(["create", "a", "--count", "2"]).code).to.equal(2);
    const noTty = run(["delete-all"]);
    expect(noTty.code).to.equal(2);
    expect(noTty.stderr).to.contain("refusing to delete every worker without --yes");
  });

  it("missing credentials fail before the engine runs, naming what to set", () => {
    const { run, engine } = fleetRunner();
    const r = run(["create", "a"], { DIGITALOCEAN_TOKEN: "" });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("DIGITALOCEAN_TOKEN");
    expect(fs.existsSync(path.join(engine, "state.json"))).to.equal(false);
  });

  it("without the Pulumi CLI, says what to install (real LocalWorkspace, no pulumi on PATH)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-nocli-"));
    const r = spawnSync(process.execPath, [CLI, "-C", dir, "list"], {
      env: { PATH: path.dirname(process.execPath), HOME: dir },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).to.equal(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(
      /^fleet: error: fleet needs the Pulumi CLI \(v3\.\d+\.\d+ or newer\) and found none on PATH/,
    );
    expect(lines[0]).to.contain("--install-pulumi").and.not.contain("ENOENT");
  });
});
