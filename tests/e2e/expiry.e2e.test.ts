/**
 * Prices and expiry end to end: the real `fleet` command on Pulumi's engine (`npm run engine`,
 * first on PATH, with the simulated clouds' provider plugins from tests/sim/bin), a file backend
 * and a simulated cloud in a temporary project, as in `cli.e2e.test.ts`.
 *
 * Workers are made "expired" the way a clock would: their recorded `expiresAt` is moved into
 * the past in the stack file, so nothing here waits for time to pass.
 */
import { expect } from "chai";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { openCloud } from "../sim/cloud";
import { alive, eventually, pathFor } from "../harness/project";
import { SIM_DIR_VAR } from "../sim/faults";

const ROOT = path.join(__dirname, "..", "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const PAST = "2020-01-01T00:00:00.000Z";

interface Entry {
  name: string;
  ttl?: string;
  expiresAt?: string;
}

interface Listed {
  name: string;
  id: string;
  pricePerHour: number | null;
  expiresAt: string | null;
}

/** A temporary project on Pulumi's engine (`npm run engine`) with the simulated clouds' plugins. */
function project(stack: string, config: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-expiry-"));
  // The engine starts the dynamic-provider plugin here; it finds the SDK from here.
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  const pulumiYaml = fs
    .readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")
    .replace(/^main: .*$/m, `main: ${path.join(ROOT, "dist", "index.js")}`);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), pulumiYaml);
  const stackDir = path.join(dir, /^stackConfigDir: (.*)$/m.exec(pulumiYaml)?.[1] ?? ".");
  fs.mkdirSync(stackDir, { recursive: true });
  const stackFile = path.join(stackDir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(stackFile, yaml.dump({ config }));
  fs.mkdirSync(path.join(dir, "state"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pathFor("engine"),
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "expiry-test-passphrase",
    PULUMI_HOME: path.join(dir, "home"),
    [SIM_DIR_VAR]: path.join(dir, "sim"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    DIGITALOCEAN_TOKEN: "dop_v1_expiry",
  };
  const history = path.join(dir, "state", ".pulumi", "history", "fleet", stack);
  return {
    dir,
    env,
    fleet: (args: string[], extraEnv: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
      spawnSync(process.execPath, [CLI, "-C", dir, "--stack", stack, ...args], {
        env: { ...env, ...extraEnv },
        encoding: "utf8",
        input: "",
        timeout: 240_000,
      }),
    /** The `fleet:workers` entries in the stack file. */
    entries(): (string | Entry)[] {
      const doc = yaml.load(fs.readFileSync(stackFile, "utf8")) as {
        config: Record<string, unknown>;
      };
      const raw = doc.config["fleet:workers"];
      return raw === undefined ? [] : (JSON.parse(String(raw)) as (string | Entry)[]);
    },
    /** Moves the named workers' recorded expiry into the past, as time passing would. */
    expire(...names: string[]): void {
      const doc = yaml.load(fs.readFileSync(stackFile, "utf8")) as {
        config: Record<string, unknown>;
      };
      const entries = JSON.parse(String(doc.config["fleet:workers"])) as (string | Entry)[];
      doc.config["fleet:workers"] = JSON.stringify(
        entries.map((e) =>
          typeof e !== "string" && names.includes(e.name) ? { ...e, expiresAt: PAST } : e,
        ),
      );
      fs.writeFileSync(stackFile, yaml.dump(doc));
    },
    /** Engine updates run so far (one history record per update). */
    updates(): number {
      return fs.existsSync(history)
        ? fs.readdirSync(history).filter((f) => f.endsWith(".history.json")).length
        : 0;
    },
  };
}

const entryOf = (entries: (string | Entry)[], name: string) =>
  entries.find((e) => (typeof e === "string" ? e : e.name) === name);

const pidOf = (w: Listed) => Number(w.id.split(":")[0]);

describe("prices and expiry end to end on Pulumi's engine (local cloud; simulated DigitalOcean through its plugin)", function () {
  this.timeout(900_000);

  it("local cloud: --ttl records expiresAt, list shows price and expiry, reap stops exactly the expired processes in one update", async () => {
    const p = project("exp", { "fleet:cloud": "local" });

    // A bad ttl is refused before any engine call: without a `pulumi` on PATH it still names the ttl.
    const bad = p.fleet(["create", "x1", "--ttl", "2x"], { PATH: path.dirname(process.execPath) });
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.contain(
      '--ttl: invalid ttl: got "2x"; a duration of whole minutes, hours or days',
    );
    const far = p.fleet(["create", "x1", "--ttl", "31d"]);
    expect(far.status).to.equal(1);
    expect(far.stderr).to.contain("ttl out of bounds");
    expect(p.updates()).to.equal(0);

    const before = Date.now();
    const made = p.fleet(["create", "e-a", "e-c", "--ttl", "2h", "--json"]);
    expect(made.status, made.stderr).to.equal(0);
    const plain = p.fleet(["create", "e-b", "--json"]);
    expect(plain.status, plain.stderr).to.equal(0);
    expect(p.updates()).to.equal(2);

    // Recorded in the worker's config entry at create time: absolute, ISO-8601 UTC.
    const a = entryOf(p.entries(), "e-a") as Entry;
    expect(a.ttl).to.equal("2h");
    expect(a.expiresAt).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const at = Date.parse(a.expiresAt as string);
    expect(at).to.be.within(before + 2 * 3_600_000 - 1_000, Date.now() + 2 * 3_600_000);
    expect(entryOf(p.entries(), "e-b")).to.equal("e-b");

    // fleet list: price and expiry per worker, the total under the table, numbers in --json.
    const table = p.fleet(["list"]);
    expect(table.status, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/PER HOUR\s*│\s*EXPIRES/);
    expect(table.stdout).to.contain(a.expiresAt as string);
    expect(table.stdout).to.contain("$0.0000");
    expect(table.stdout).to.contain("total: $0.0000 per hour, $0.00 per 30 days (720 h)");
    const listed = JSON.parse(p.fleet(["list", "--json"]).stdout) as Listed[];
    expect(listed.map((w) => [w.name, w.pricePerHour, w.expiresAt])).to.deep.equal([
      ["e-a", 0, a.expiresAt],
      ["e-c", 0, (entryOf(p.entries(), "e-c") as Entry).expiresAt],
      ["e-b", 0, null],
    ]);
    const cost = JSON.parse(p.fleet(["cost", "--json"]).stdout) as {
      perHour: number;
      per30Days: number;
    };
    expect([cost.perHour, cost.per30Days]).to.deep.equal([0, 0]);
    const pids = Object.fromEntries(listed.map((w) => [w.name, pidOf(w)]));
    for (const n of ["e-a", "e-b", "e-c"]) expect(alive(pids[n]), n).to.equal(true);

    // Nothing expired yet: reap exits 0 without an engine update, and nobody is warned.
    const early = p.fleet(["reap"]);
    expect(early.status, early.stderr).to.equal(0);
    expect(early.stderr).to.contain("no expired workers");
    expect(early.stderr).to.not.contain("past its expiry");
    expect(p.updates()).to.equal(2);

    // Time passes for e-a and e-c: every other command says so on stderr, --json stdout stays clean.
    p.expire("e-a", "e-c");
    const warned = p.fleet(["list", "--json"]);
    expect(warned.status, warned.stderr).to.equal(0);
    expect(JSON.parse(warned.stdout)).to.have.length(3);
    const warnings = warned.stderr.split("\n").filter((l) => l.includes("past their expiry"));
    expect(warnings).to.deep.equal([
      `fleet: 2 workers are past their expiry: e-a (expired ${PAST}), e-c (expired ${PAST}); \`fleet reap\` removes them`,
    ]);
    expect(warned.stdout).to.not.contain("expiry:");
    expect(p.fleet(["cost"]).stderr).to.contain("past their expiry: e-a");
    expect(p.fleet(["sync", "--json"]).stderr).to.contain("past their expiry: e-a");
    // Expiry never changes what `up` declares: the sync above kept every worker.
    expect(p.updates()).to.equal(3);
    for (const n of ["e-a", "e-b", "e-c"]) expect(alive(pids[n]), n).to.equal(true);

    // reap: exactly the expired workers, in one engine update.
    const reap = p.fleet(["reap", "--json"]);
    expect(reap.status, reap.stderr).to.equal(0);
    expect(JSON.parse(reap.stdout)).to.deep.equal({ reaped: ["e-a", "e-c"] });
    expect(p.updates()).to.equal(4);
    expect(
      await eventually(() => !alive(pids["e-a"]) && !alive(pids["e-c"])),
      "expired processes stopped",
    ).to.equal(true);
    expect(alive(pids["e-b"]), "e-b still running").to.equal(true);
    expect(p.entries()).to.deep.equal(["e-b"]);
    const after = p.fleet(["list", "--json"]);
    expect((JSON.parse(after.stdout) as Listed[]).map((w) => w.name)).to.deep.equal(["e-b"]);
    expect(after.stderr).to.not.contain("expiry");

    // Idempotent: again, nothing to do, exit 0, no update (safe from cron).
    const again = p.fleet(["reap"]);
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).to.contain("no expired workers");
    expect(p.updates()).to.equal(4);

    const all = p.fleet(["delete-all", "--yes"]);
    expect(all.status, all.stderr).to.equal(0);
    expect(await eventually(() => !alive(pids["e-b"]))).to.equal(true);
  });

  it("simulated DigitalOcean: prices per region (unknown stays unknown), ttl in a worker object, reap deletes only the expired droplets", async () => {
    const p = project("sim", {
      "fleet:cloud": "digitalocean",
      "fleet:workers": JSON.stringify([{ name: "d-big", size: "large", ttl: "1d" }]),
    });
    const droplets = async () =>
      (
        await openCloud(String(p.env[SIM_DIR_VAR])).list({
          type: "digitalocean:index/droplet:Droplet",
        })
      )
        .map((o) => String(o.outputs.name))
        .sort();

    // A ttl written into stack config by hand is recorded by the next fleet update.
    const sync = p.fleet(["sync", "--json"]);
    expect(sync.status, sync.stderr).to.equal(0);
    const big = entryOf(p.entries(), "d-big") as Entry;
    expect(big.ttl).to.equal("1d");
    expect(big.expiresAt).to.be.a("string");
    const made = p.fleet(["create", "d-small", "d-gone", "--ttl", "30m", "--json"]);
    expect(made.status, made.stderr).to.equal(0);
    expect(await droplets()).to.deep.equal(["d-big", "d-gone", "d-small"]);

    // s-4vcpu-8gb (large) has a cited price in nyc3; the default size has none: unknown, never 0.
    const listed = JSON.parse(p.fleet(["list", "--json"]).stdout) as Listed[];
    expect(listed.map((w) => [w.name, w.pricePerHour])).to.deep.equal([
      ["d-big", 0.07143],
      ["d-small", null],
      ["d-gone", null],
    ]);
    const table = p.fleet(["list"]).stdout;
    expect(table).to.contain("$0.0714");
    expect(table).to.contain("unknown");
    expect(table).to.match(/total: unknown \(no price for d-small, d-gone\)/);
    const cost = JSON.parse(p.fleet(["cost", "--json"]).stdout) as {
      perHour: number | null;
      knownPerHour: number;
      knownPer30Days: number;
      unknown: string[];
    };
    expect(cost).to.include({ perHour: null, knownPerHour: 0.07143 });
    expect(cost.knownPer30Days).to.equal(51.4296);
    expect(cost.unknown).to.deep.equal(["d-small", "d-gone"]);

    p.expire("d-big", "d-gone");
    const updates = p.updates();
    const reap = p.fleet(["reap", "--json"]);
    expect(reap.status, reap.stderr).to.equal(0);
    expect(JSON.parse(reap.stdout)).to.deep.equal({ reaped: ["d-big", "d-gone"] });
    expect(p.updates()).to.equal(updates + 1);
    expect(await droplets()).to.deep.equal(["d-small"]);
    expect(p.fleet(["reap"]).status).to.equal(0);
    expect(p.updates()).to.equal(updates + 1);
    expect(await droplets()).to.deep.equal(["d-small"]);
  });
});
