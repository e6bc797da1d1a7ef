/**
 * End to end: the real `fleet` command and plain `pulumi up`/`destroy`, through a `pulumi` on
 * PATH, with a file backend in a temporary directory.
 *
 * By default the `pulumi` is Pulumi's own engine (`npm run engine`, first on PATH) with the
 * simulated clouds' provider plugins (tests/sim/bin) beside it. With `FLEET_E2E_REAL=1` and a
 * real `pulumi` on PATH, the same scenarios run against the real CLI (simulated-cloud
 * scenarios, which need the simulated plugins, are then reported as skipped with the reason).
 */
import { expect } from "chai";
import { openCloud } from "../sim/cloud";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  alive,
  CLI,
  type EngineKind,
  eventually,
  fleetProject,
  type FleetProject,
} from "../harness/project";

const REAL = process.env.FLEET_E2E_REAL === "1";
const realProbe = REAL ? spawnSync("pulumi", ["version"], { encoding: "utf8" }) : undefined;
const REAL_MISSING = REAL && realProbe?.status !== 0;
const ENGINE = REAL ? "the Pulumi CLI on PATH" : "Pulumi's engine (npm run engine)";
const DROPLET = "digitalocean:index/droplet:Droplet";

/** A fleet project in a temporary directory (tests/harness/project.ts), on Pulumi's engine unless FLEET_E2E_REAL=1. */
function project(
  stack: string,
  config: Record<string, string>,
  engine: EngineKind = REAL ? "path" : "engine",
): FleetProject {
  return fleetProject({
    stack,
    config,
    engine,
    inheritEnv: true,
    env: { DIGITALOCEAN_TOKEN: "dop_v1_e2e" },
  });
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

/** The `workers` output contract's fields (DESIGN.md); `fleet list --json` adds price and expiry. */
const contract = (w: ListedWorker) => ({
  name: w.name,
  cloud: w.cloud,
  region: w.region,
  size: w.size,
  ip: w.ip,
  createdAt: w.createdAt,
  id: w.id,
  status: w.status,
});

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
    // The listed worker is the very process that is still running, not just a name.
    const after = JSON.parse(p.fleet("list", "--json").stdout) as ListedWorker[];
    expect(after.map(contract)).to.deep.equal([contract(workers[1])]);

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
    const env = spawnSync(process.execPath, [CLI, "-C", p.dir, "--stack", "plain", "env"], {
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
      "FLEET_SHARED_STATE",
      "PATH",
      "PULUMI_BACKEND_URL",
      "PULUMI_CONFIG_PASSPHRASE_FILE",
      "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER",
    ]);
    expect(
      vars.FLEET_SHARED_STATE,
      "a file backend: the stack config is the desired state",
    ).to.equal("0");
    // The engine's plugins (language host, dynamic providers) run on fleet's own Node.
    expect(vars.PATH?.split(path.delimiter)[0]).to.equal(path.dirname(process.execPath));
    const plainEnv = { ...vars, PULUMI_CONFIG_PASSPHRASE: undefined };
    expect(vars.PULUMI_BACKEND_URL).to.equal(`file://${path.join(p.dir, ".fleet", "state")}`);
    const init = p.pulumi(["stack", "init"], plainEnv);
    expect(init.status, init.stderr).to.equal(0);
    const up = p.pulumi(["up", "--yes"], plainEnv);
    expect(up.status, `${up.stdout}\n${up.stderr}`).to.equal(0);
    const out = p.pulumi(["stack", "output", "workers", "--json"], plainEnv);
    const workers = JSON.parse(out.stdout) as ListedWorker[];
    expect(workers.map((w) => [w.name, w.cloud, w.region, w.size, w.ip, w.status])).to.deep.equal([
      ["plain-a", "local", "localhost", "process", "127.0.0.1", "running"],
    ]);
    expect(Date.parse(workers[0].createdAt)).to.be.within(Date.now() - 600_000, Date.now());
    const pid = pidOf(workers[0]);
    expect(alive(pid)).to.equal(true);
    // What the stack output says is what `fleet list` (the same state, another way in) says.
    const viaFleet = spawnSync(
      process.execPath,
      [CLI, "-C", p.dir, "--stack", "plain", "list", "--json"],
      { env: own, encoding: "utf8" },
    );
    expect(viaFleet.status, viaFleet.stderr).to.equal(0);
    expect((JSON.parse(viaFleet.stdout) as ListedWorker[]).map(contract)).to.deep.equal(
      workers.map(contract),
    );
    // The program ran with dist/ as its working directory; state and logs still live in the project.
    expect(fs.existsSync(path.join(p.dir, ".fleet", "local", "plain", "plain-a.log"))).to.equal(
      true,
    );
    const destroy = p.pulumi(["destroy", "--yes"], plainEnv);
    expect(destroy.status, `${destroy.stdout}\n${destroy.stderr}`).to.equal(0);
    expect(await eventually(() => !alive(pid))).to.equal(true);
    const left = (p.checkpoint()?.resources ?? []).filter(
      (r) => r.type === "pulumi-nodejs:dynamic:Resource",
    );
    expect(left, "destroy leaves no worker in state").to.deep.equal([]);
  });

  it("plain `pulumi preview` and `up` with bad fleet: keys print each problem once, naming the key and what is allowed, without a stack trace", () => {
    const p = project("badkey", { "fleet:cloud": "local" });
    const ok = (r: ReturnType<FleetProject["pulumi"]>) =>
      expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
    ok(p.pulumi(["stack", "init"]));
    ok(p.pulumi(["config", "set", "fleet:bogus", "1"]));
    ok(p.pulumi(["config", "set", "fleet:cloud", "gcloud"]));
    for (const cmd of [["preview"], ["up", "--yes"]]) {
      const r = p.pulumi(cmd);
      const out = `${r.stdout}\n${r.stderr}`;
      expect(r.status, out).to.not.equal(0);
      expect(out, "no stack frames").to.not.match(/^\s+at /m);
      expect(out).to.not.contain("unhandled exception");
      const lines = out.split("\n").map((l) => l.trim());
      expect(
        lines.filter((l) => l.includes("fleet:bogus")),
        `${cmd[0]}: the unknown key, once`,
      ).to.deep.equal([
        'fleet:bogus: unknown config key (a typo?): got "bogus"; known keys: fleet:cloud, fleet:workers, fleet:region, fleet:size, fleet:image, fleet:sshPublicKeys, fleet:sshAllowFrom, fleet:userDataFile, fleet:tags, fleet:placements, fleet:placementOrder, fleet:stateRevision, fleet:imageOwner, fleet:localCommand',
      ]);
      expect(
        lines.filter((l) => l.includes("gcloud")),
        `${cmd[0]}: the bad cloud, once`,
      ).to.deep.equal([
        'fleet:cloud: unknown cloud: got "gcloud"; known clouds: aws, azure, digitalocean, gcp, hetzner, local',
      ]);
    }
    const workers = (p.checkpoint()?.resources ?? []).filter(
      (r) => r.type === "pulumi-nodejs:dynamic:Resource",
    );
    expect(workers, "nothing was created").to.deep.equal([]);
  });

  describe(`simulated DigitalOcean${REAL ? " [skipped: needs the simulated clouds' plugins]" : ""}`, () => {
    before(function () {
      if (REAL) this.skip();
    });

    it("creates droplets in the simulated cloud; a failed create names the worker and the provider's message, and nothing is lost", async () => {
      const p = project("sim", { "fleet:cloud": "digitalocean" });
      const ok = p.fleet("create", "do-a", "do-b", "--json");
      expect(ok.status, ok.stderr).to.equal(0);
      /** Each droplet in the simulated cloud as fleet should list it. */
      const droplets = async () =>
        (await p.cloud(DROPLET))
          .map((o) => [
            String(o.outputs.name),
            o.id,
            String(o.outputs.ipv4Address),
            String(o.outputs.region),
            String(o.outputs.size),
          ])
          .sort();
      const asListed = (ws: ListedWorker[]) =>
        ws.map((w) => [w.name, w.id, w.ip, w.region, w.size]).sort();
      const made = JSON.parse(ok.stdout) as ListedWorker[];
      expect(made.map((w) => [w.name, w.cloud, w.status])).to.deep.equal([
        ["do-a", "digitalocean", "active"],
        ["do-b", "digitalocean", "active"],
      ]);
      // Not only the names: ids, addresses, region and size are the cloud's own.
      expect(asListed(made)).to.deep.equal(await droplets());
      expect(made.map((w) => w.ip)).to.satisfy((ips: string[]) =>
        ips.every((ip) => /^203\.0\.113\.\d+$/.test(ip)),
      );

      const faults = JSON.stringify([
        {
          op: "create",
          match: { name: "do-c" }, // the droplet's `name` input is the worker's name
          error:
            "Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 Size is not available in this region.",
        },
      ]);
      const failed = p.fleetWith({ FLEET_SIM_FAULTS: faults }, "create", "do-c", "do-d");
      expect(failed.status).to.equal(1);
      expect(failed.stderr).to.contain("do-c");
      expect(failed.stderr).to.contain("Size is not available in this region");
      expect(failed.stderr).to.not.match(/<\{%/);
      expect(
        p
          .ledger()
          .filter((l) => l.outcome === "fault")
          .map((l) => l.name),
      ).to.deep.equal(["digitalocean-do-c"]);

      const listed = JSON.parse(p.fleet("list", "--json").stdout) as ListedWorker[];
      // Every worker in the cloud is listed, and every listed worker is in the cloud, field by field.
      expect(asListed(listed)).to.deep.equal(await droplets());
      expect(listed.map((w) => w.name)).to.include.members(["do-a", "do-b"]);
      expect(listed.map((w) => w.name)).to.not.include("do-c");
      // State agrees with the cloud: nothing orphaned, nothing phantom.
      const inState = (p.checkpoint()?.resources ?? [])
        .filter((r) => r.type === DROPLET)
        .map((r) => r.id)
        .sort();
      expect(inState).to.deep.equal((await droplets()).map((d) => d[1]).sort());

      // A droplet deleted outside fleet: `list --refresh` reads the cloud and says it is missing.
      const doA = (await p.cloud(DROPLET)).find((o) => o.outputs.name === "do-a");
      await openCloud(p.simDir).deleteOutOfBand("digitalocean", DROPLET, String(doA?.id));
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
