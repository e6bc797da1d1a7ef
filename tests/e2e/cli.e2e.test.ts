/**
 * End to end: the real `fleet` command and plain `pulumi up`/`destroy`, through a `pulumi` on
 * PATH, with a file backend in a temporary directory.
 *
 * By default the `pulumi` is the double (`tests/engine/bin/pulumi`, first on PATH): it runs
 * the program through the SDK's real runtime, the local cloud's dynamic provider through the
 * SDK's own provider host, and simulates the clouds. With `FLEET_E2E_REAL=1` and a real
 * `pulumi` on PATH, the same scenarios run against the real CLI (simulated-cloud scenarios,
 * which need the double's cloud, are then reported as skipped with the reason).
 */
import { expect } from "chai";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openCloud } from "../engine/cloud";
import { readLedger } from "../engine/faults";

const ROOT = path.join(__dirname, "..", "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const DOUBLE_BIN = path.join(ROOT, "tests", "engine", "bin");
const REAL = process.env.FLEET_E2E_REAL === "1";
const realProbe = REAL ? spawnSync("pulumi", ["version"], { encoding: "utf8" }) : undefined;
const REAL_MISSING = REAL && realProbe?.status !== 0;
const ENGINE = REAL ? "the real Pulumi CLI" : "the pulumi double";

interface Project {
  dir: string;
  env: NodeJS.ProcessEnv;
  fleet(...args: string[]): SpawnSyncReturns<string>;
  pulumi(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  checkpoint(): { resources?: { type: string; urn: string; id?: string }[] } | undefined;
}

/** A fleet project in a temporary directory: the repository's Pulumi.yaml with `main` pointing at the built program. */
function project(stack: string, config: Record<string, string>): Project {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-e2e-"));
  const yaml = fs
    .readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")
    .replace(/^main: .*$/m, `main: ${path.join(ROOT, "dist", "index.js")}`);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml);
  const lines = Object.entries(config).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  // Stack files live where Pulumi.yaml's `stackConfigDir` says (each clone's own, gitignored).
  const stackDir = path.join(dir, /^stackConfigDir: (.*)$/m.exec(yaml)?.[1] ?? ".");
  fs.mkdirSync(stackDir, { recursive: true });
  fs.writeFileSync(path.join(stackDir, `Pulumi.${stack}.yaml`), `config:\n${lines.join("\n")}\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: REAL ? process.env.PATH : `${DOUBLE_BIN}${path.delimiter}${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_DOUBLE_DIR: path.join(dir, "double"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    DIGITALOCEAN_TOKEN: "dop_v1_e2e",
  };
  fs.mkdirSync(path.join(dir, "state"));
  return {
    dir,
    env,
    fleet: (...args) =>
      spawnSync(process.execPath, [CLI, "-C", dir, "--stack", stack, ...args], {
        env,
        encoding: "utf8",
        input: "",
        timeout: 240_000,
      }),
    pulumi: (args, extraEnv = {}) =>
      spawnSync("pulumi", [...args, "--stack", stack, "--non-interactive", "--cwd", dir], {
        env: { ...env, ...extraEnv },
        encoding: "utf8",
        timeout: 240_000,
      }),
    checkpoint: () => {
      const file = path.join(dir, "state", ".pulumi", "stacks", "fleet", `${stack}.json`);
      if (!fs.existsSync(file)) return undefined;
      const cp = JSON.parse(fs.readFileSync(file, "utf8")) as {
        checkpoint: { latest?: { resources?: { type: string; urn: string; id?: string }[] } };
      };
      return cp.checkpoint.latest;
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface ListedWorker {
  name: string;
  cloud: string;
  ip: string;
  id: string;
  status: string;
  region: string;
  size: string;
  createdAt: string;
}

const pidOf = (w: ListedWorker) => Number(w.id.split(":")[0]);

async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe(`end to end through ${ENGINE}${REAL_MISSING ? " [skipped: FLEET_E2E_REAL=1 but no pulumi on PATH]" : ""}`, function () {
  this.timeout(600_000);
  before(function () {
    if (REAL_MISSING) {
      console.log(
        "    skipped: FLEET_E2E_REAL=1 but `pulumi version` failed: install the Pulumi CLI",
      );
      this.skip();
    }
  });

  it("local cloud: create starts two real processes, list shows their pids, delete stops one, delete-all the rest", async () => {
    const p = project("e2e", { "fleet:cloud": "local" });
    const created = p.fleet("create", "e2e-a", "e2e-b", "--json");
    expect(created.status, created.stderr).to.equal(0);
    const workers = JSON.parse(created.stdout) as ListedWorker[];
    expect(workers.map((w) => [w.name, w.cloud, w.ip, w.status])).to.deep.equal([
      ["e2e-a", "local", "127.0.0.1", "running"],
      ["e2e-b", "local", "127.0.0.1", "running"],
    ]);
    const [a, b] = workers.map(pidOf);
    expect(alive(a), "e2e-a process").to.equal(true);
    expect(alive(b), "e2e-b process").to.equal(true);
    const logs = path.join(p.dir, ".fleet", "local", "e2e");
    expect(
      await eventually(
        () =>
          fs.existsSync(path.join(logs, "e2e-a.log")) &&
          /heartbeat/.test(fs.readFileSync(path.join(logs, "e2e-a.log"), "utf8")),
      ),
      "heartbeat in e2e-a.log",
    ).to.equal(true);

    const listed = JSON.parse(p.fleet("list", "--json").stdout) as ListedWorker[];
    expect(listed.map((w) => [w.name, pidOf(w)])).to.deep.equal([
      ["e2e-a", a],
      ["e2e-b", b],
    ]);

    const deleted = p.fleet("delete", "e2e-a");
    expect(deleted.status, deleted.stderr).to.equal(0);
    expect(await eventually(() => !alive(a)), "e2e-a stopped").to.equal(true);
    expect(alive(b), "e2e-b still running").to.equal(true);
    expect(
      (JSON.parse(p.fleet("list", "--json").stdout) as ListedWorker[]).map((w) => w.name),
    ).to.deep.equal(["e2e-b"]);

    const all = p.fleet("delete-all", "--yes");
    expect(all.status, all.stderr).to.equal(0);
    expect(await eventually(() => !alive(b)), "e2e-b stopped").to.equal(true);
    expect(JSON.parse(p.fleet("list", "--json").stdout)).to.deep.equal([]);
    const types = (p.checkpoint()?.resources ?? []).map((r) => r.type);
    expect(types.filter((t) => t === "pulumi-nodejs:dynamic:Resource")).to.deep.equal([]);
  });

  it("plain `pulumi up` / `pulumi destroy` after `fleet env` run the same program", async () => {
    const p = project("plain", { "fleet:cloud": "local", "fleet:workers": '["plain-a"]' });
    // fleet's own defaults: a file backend and a generated passphrase in the project's .fleet/.
    const own = { ...p.env, PULUMI_BACKEND_URL: undefined, PULUMI_CONFIG_PASSPHRASE: undefined };
    const env = spawnSync(process.execPath, [CLI, "-C", p.dir, "env"], {
      env: own,
      encoding: "utf8",
    });
    expect(env.status, env.stderr).to.equal(0);
    const vars: NodeJS.ProcessEnv = {};
    for (const line of env.stdout.trim().split("\n")) {
      const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
      if (m) vars[m[1]] = JSON.parse(m[2]) as string;
    }
    expect(Object.keys(vars).sort()).to.deep.equal([
      "PULUMI_BACKEND_URL",
      "PULUMI_CONFIG_PASSPHRASE_FILE",
    ]);
    const plainEnv = { ...vars, PULUMI_CONFIG_PASSPHRASE: undefined };
    expect(vars.PULUMI_BACKEND_URL).to.equal(`file://${path.join(p.dir, ".fleet", "state")}`);
    const init = p.pulumi(["stack", "init"], plainEnv);
    expect(init.status, init.stderr).to.equal(0);
    const up = p.pulumi(["up", "--yes"], plainEnv);
    expect(up.status, `${up.stdout}\n${up.stderr}`).to.equal(0);
    const out = p.pulumi(["stack", "output", "workers", "--json"], plainEnv);
    const workers = JSON.parse(out.stdout) as ListedWorker[];
    expect(workers.map((w) => w.name)).to.deep.equal(["plain-a"]);
    const pid = pidOf(workers[0]);
    expect(alive(pid)).to.equal(true);
    // The program ran with dist/ as its working directory; state and logs still live in the project.
    expect(fs.existsSync(path.join(p.dir, ".fleet", "local", "plain", "plain-a.log"))).to.equal(
      true,
    );
    const destroy = p.pulumi(["destroy", "--yes"], plainEnv);
    expect(destroy.status, `${destroy.stdout}\n${destroy.stderr}`).to.equal(0);
    expect(await eventually(() => !alive(pid))).to.equal(true);
  });

  describe(`simulated DigitalOcean${REAL ? " [skipped: needs the double's simulated cloud]" : ""}`, () => {
    before(function () {
      if (REAL) this.skip();
    });

    it("creates droplets in the simulated cloud; a failed create names the worker and the provider's message, and nothing is lost", async () => {
      const p = project("sim", { "fleet:cloud": "digitalocean" });
      const ok = p.fleet("create", "do-a", "do-b", "--json");
      expect(ok.status, ok.stderr).to.equal(0);
      const cloud = openCloud(p.env.PULUMI_DOUBLE_DIR as string);
      const droplets = async () =>
        (await cloud.list({ type: "digitalocean:index/droplet:Droplet" }))
          .map((o) => String(o.outputs.name))
          .sort();
      expect(await droplets()).to.deep.equal(["do-a", "do-b"]);

      const faults = JSON.stringify([
        {
          op: "create",
          match: { name: "digitalocean-do-c" },
          error:
            "Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 Size is not available in this region.",
        },
      ]);
      const failed = spawnSync(
        process.execPath,
        [CLI, "-C", p.dir, "--stack", "sim", "create", "do-c", "do-d"],
        {
          env: { ...p.env, PULUMI_DOUBLE_FAULTS: faults },
          encoding: "utf8",
          input: "",
        },
      );
      expect(failed.status).to.equal(1);
      expect(failed.stderr).to.contain("do-c");
      expect(failed.stderr).to.contain("Size is not available in this region");
      expect(failed.stderr).to.not.match(/<\{%/);
      const ledger = readLedger(p.env.PULUMI_DOUBLE_DIR as string);
      expect(ledger.filter((l) => l.outcome === "fault").map((l) => l.name)).to.deep.equal([
        "digitalocean-do-c",
      ]);

      const listed = (JSON.parse(p.fleet("list", "--json").stdout) as ListedWorker[])
        .map((w) => w.name)
        .sort();
      // Every worker in the cloud is listed, and every listed worker is in the cloud.
      expect(listed).to.deep.equal(await droplets());
      expect(listed).to.include.members(["do-a", "do-b"]);
      expect(listed).to.not.include("do-c");

      // A droplet deleted outside fleet: `list --refresh` reads the cloud and says it is missing.
      const doA = (await cloud.list({ type: "digitalocean:index/droplet:Droplet" })).find(
        (o) => o.outputs.name === "do-a",
      );
      await cloud.deleteOutOfBand(
        "digitalocean",
        "digitalocean:index/droplet:Droplet",
        String(doA?.id),
      );
      const refreshed = p.fleet("list", "--refresh", "--json");
      expect(refreshed.status, refreshed.stderr).to.equal(0);
      const status = Object.fromEntries(
        (JSON.parse(refreshed.stdout) as ListedWorker[]).map((w) => [w.name, w.status]),
      );
      expect(status["do-a"]).to.equal("missing");
      expect(status["do-b"]).to.equal("active");

      const all = p.fleet("delete-all", "--yes");
      expect(all.status, all.stderr).to.equal(0);
      expect(await droplets()).to.deep.equal([]);
    });
  });
});
