/**
 * Capacity failover end to end: the real `fleet` command on Pulumi's engine with the simulated
 * clouds' provider plugins (tests/sim), with capacity and other errors injected through
 * `FLEET_SIM_FAULTS` in each cloud's real wording
 * (`CAPACITY_ERRORS`). Each scenario counts what exists three ways — the simulated cloud, the
 * stack's checkpoint and `fleet list` — so nothing is lost, orphaned or half-created.
 */
import { expect } from "chai";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as jsYaml from "js-yaml";
import { openCloud } from "../sim/cloud";
import { SIM_DIR_VAR, readLedger } from "../sim/faults";
import { pathFor } from "../harness/project";
import { CAPACITY_ERRORS } from "../sim/errors";

const ROOT = path.join(__dirname, "..", "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const DROPLET = "digitalocean:index/droplet:Droplet";
const SERVER = "hcloud:index/server:Server";
const INSTANCE = "aws:ec2/instance:Instance";
const WORKER_TYPES = [DROPLET, SERVER, INSTANCE];

interface Listed {
  name: string;
  cloud: string;
  region: string;
  size: string;
  id: string;
}

interface Project {
  dir: string;
  simDir: string;
  fleet(faults: unknown[], ...args: string[]): SpawnSyncReturns<string>;
  list(): Listed[];
  /** Worker resources in the checkpoint: `<type> <logical name>`. */
  inState(): string[];
  /** Worker objects in the simulated cloud: `<type> <name> <region>`. */
  inCloud(): Promise<string[]>;
  /** `fleet:workers` as the stack file says. */
  workersConfig(): unknown;
  /** Engine updates (`up`) run on the stack so far, from the backend's update history. */
  updates(): number;
}

/** A fleet project in a temporary directory on Pulumi's engine (as tests/e2e/cli.e2e.test.ts). */
function project(stack: string, config: Record<string, string>): Project {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-failover-"));
  const yaml = fs
    .readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")
    .replace(/^main: .*$/m, `main: ${path.join(ROOT, "dist", "index.js")}`);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml);
  const stackDir = path.join(dir, /^stackConfigDir: (.*)$/m.exec(yaml)?.[1] ?? ".");
  fs.mkdirSync(stackDir, { recursive: true });
  const stackFile = path.join(stackDir, `Pulumi.${stack}.yaml`);
  const lines = Object.entries(config).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  fs.writeFileSync(stackFile, `config:\n${lines.join("\n")}\n`);
  fs.mkdirSync(path.join(dir, "state"));
  const simDir = path.join(dir, "sim");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pathFor("engine"),
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "failover-test-passphrase",
    PULUMI_HOME: path.join(dir, "home"),
    [SIM_DIR_VAR]: simDir,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    DIGITALOCEAN_TOKEN: "dop_v1_failover",
    // terraform-provider-hcloud refuses a token that is not 64 characters (tests/sim/credentials.ts).
    HCLOUD_TOKEN: "h".repeat(64),
    AWS_ACCESS_KEY_ID: "AKIAFAILOVERTEST0000",
    AWS_SECRET_ACCESS_KEY: "failover-test-secret",
    AWS_REGION: "us-east-1",
  };
  const fleet = (faults: unknown[], ...args: string[]) =>
    spawnSync(process.execPath, [CLI, "-C", dir, "--stack", stack, ...args], {
      env: { ...env, FLEET_SIM_FAULTS: JSON.stringify(faults) },
      encoding: "utf8",
      input: "",
      timeout: 280_000,
    });
  return {
    dir,
    simDir,
    fleet,
    list: () => {
      const r = fleet([], "list", "--json");
      expect(r.status, r.stderr).to.equal(0);
      return (JSON.parse(r.stdout) as Listed[]).sort((a, b) => a.name.localeCompare(b.name));
    },
    inState: () => {
      const file = path.join(dir, "state", ".pulumi", "stacks", "fleet", `${stack}.json`);
      const cp = JSON.parse(fs.readFileSync(file, "utf8")) as {
        checkpoint: { latest?: { resources?: { type: string; urn: string; id?: string }[] } };
      };
      return (cp.checkpoint.latest?.resources ?? [])
        .filter((r) => WORKER_TYPES.includes(r.type))
        .map((r) => `${r.type} ${r.urn.split("::").pop()}`)
        .sort();
    },
    inCloud: async () => {
      const cloud = openCloud(simDir);
      const out: string[] = [];
      for (const type of WORKER_TYPES)
        for (const o of await cloud.list({ type }))
          out.push(
            `${type} ${workerName(o.outputs)} ${String(o.outputs.region ?? o.outputs.location)}`,
          );
      return out.sort();
    },
    updates: () => {
      const hist = path.join(dir, "state", ".pulumi", "history", "fleet", stack);
      if (!fs.existsSync(hist)) return 0;
      return fs
        .readdirSync(hist)
        .filter((f) => f.endsWith(".history.json"))
        .map((f) => JSON.parse(fs.readFileSync(path.join(hist, f), "utf8")) as { kind: string })
        .filter((u) => u.kind === "update").length;
    },
    workersConfig: () => {
      const file = jsYaml.load(fs.readFileSync(stackFile, "utf8")) as {
        config?: Record<string, string>;
      };
      const raw = file.config?.["fleet:workers"];
      return raw === undefined ? undefined : (JSON.parse(raw) as unknown);
    },
  };
}

/** A worker's name as its cloud object carries it: `name`, or the `Name` tag on EC2. */
function workerName(outputs: Record<string, unknown>): string {
  const tags = outputs.tags as Record<string, unknown> | undefined;
  return String(outputs.name ?? tags?.Name);
}

/** A fault rule: creates matching `match` fail with `error`. */
const fail = (match: Record<string, string>, error: string, type?: string) => ({
  op: "create",
  ...(type ? { type } : {}),
  match,
  error,
});

const NYC3_FULL = fail({ region: "nyc3" }, CAPACITY_ERRORS.digitalocean.sizeUnavailable, DROPLET);

describe("capacity failover end to end on Pulumi's engine (simulated clouds through their plugins)", function () {
  this.timeout(600_000);

  it("capacity failures on the first candidate land every worker of the call on the next one, recorded in config", async () => {
    const p = project("fo1", {
      "fleet:cloud": "digitalocean",
      "fleet:placements": JSON.stringify([
        { cloud: "digitalocean", region: "nyc3" },
        { cloud: "digitalocean", region: "sfo3", size: "s-1vcpu-2gb" },
        { cloud: "hetzner", region: "fsn1" },
      ]),
    });
    const r = p.fleet([NYC3_FULL], "create", "a1", "a2", "a3", "--json");
    expect(r.status, r.stderr).to.equal(0);
    // One round moves all three together: the first update, then one more.
    expect(p.updates()).to.equal(2);
    const made = JSON.parse(r.stdout) as Listed[];
    expect(made.map((w) => [w.name, w.cloud, w.region, w.size])).to.deep.equal([
      ["a1", "digitalocean", "sfo3", "s-1vcpu-2gb"],
      ["a2", "digitalocean", "sfo3", "s-1vcpu-2gb"],
      ["a3", "digitalocean", "sfo3", "s-1vcpu-2gb"],
    ]);
    // Where each landed is in the stack config, resolved, so the next update keeps it there.
    expect(p.workersConfig()).to.deep.equal(
      ["a1", "a2", "a3"].map((name) => ({
        name,
        cloud: "digitalocean",
        region: "sfo3",
        size: "s-1vcpu-2gb",
      })),
    );
    // nyc3 answered at least once (every fault is in the ledger); nothing was created there.
    const faults = readLedger(p.simDir).filter((l) => l.outcome === "fault");
    expect(faults.map((l) => l.name).sort()).to.deep.equal(
      ["a1", "a2", "a3"].map((n) => `digitalocean-${n}`),
    );
    expect(await p.inCloud()).to.deep.equal(["a1", "a2", "a3"].map((n) => `${DROPLET} ${n} sfo3`));
    expect(p.inState()).to.deep.equal(
      ["a1", "a2", "a3"].map((n) => `${DROPLET} digitalocean-${n}`),
    );
    expect(p.list().map((w) => [w.name, w.region])).to.deep.equal([
      ["a1", "sfo3"],
      ["a2", "sfo3"],
      ["a3", "sfo3"],
    ]);

    // The next update (nyc3 has room again) does not move them back.
    const sync = p.fleet([], "sync");
    expect(sync.status, sync.stderr).to.equal(0);
    expect(await p.inCloud()).to.deep.equal(["a1", "a2", "a3"].map((n) => `${DROPLET} ${n} sfo3`));
  });

  it("one burst with mixed outcomes: some land first try, some fail over to another cloud, one runs out", async () => {
    const p = project("fo2", {
      "fleet:cloud": "digitalocean",
      "fleet:placements": JSON.stringify([
        { cloud: "digitalocean", region: "nyc3" },
        { cloud: "hetzner", region: "fsn1", size: "cx23" },
      ]),
    });
    // A worker from before the burst, which must survive it untouched.
    const first = p.fleet([], "create", "old1");
    expect(first.status, first.stderr).to.equal(0);
    const faults = [
      // The plugins match the inputs they receive: `name` is the worker's name on both clouds.
      fail({ name: "m2" }, CAPACITY_ERRORS.digitalocean.dropletLimit, DROPLET),
      fail({ name: "m3" }, CAPACITY_ERRORS.digitalocean.regionUnavailable, DROPLET),
      fail({ name: "m3" }, CAPACITY_ERRORS.hetzner.resourceUnavailable, SERVER),
    ];
    const before = p.updates();
    const r = p.fleet(faults, "create", "m1", "m2", "m3", "m4");
    expect(r.status).to.equal(1);
    // Two rounds (m2 and m3 move together), then the update that converges the outputs.
    expect(p.updates() - before).to.equal(3);
    // One clear error: m3, with what each candidate answered.
    expect(r.stderr).to.contain("m3");
    expect(r.stderr).to.contain("no placement candidate could take it (2 tried)");
    expect(r.stderr).to.match(
      /1\) digitalocean nyc3 s-1vcpu-1gb: 422 region not available: .*Region is not available/,
    );
    expect(r.stderr).to.match(
      /2\) hetzner fsn1 cx23: resource_unavailable: error during placement/,
    );
    expect(r.stderr).to.not.match(/m[124] \(/);

    expect(p.list().map((w) => [w.name, w.cloud, w.region])).to.deep.equal([
      ["m1", "digitalocean", "nyc3"],
      ["m2", "hetzner", "fsn1"],
      ["m4", "digitalocean", "nyc3"],
      ["old1", "digitalocean", "nyc3"],
    ]);
    expect(await p.inCloud()).to.deep.equal([
      `${DROPLET} m1 nyc3`,
      `${DROPLET} m4 nyc3`,
      `${DROPLET} old1 nyc3`,
      `${SERVER} m2 fsn1`,
    ]);
    expect(p.inState()).to.deep.equal([
      `${DROPLET} digitalocean-m1`,
      `${DROPLET} digitalocean-m4`,
      `${DROPLET} digitalocean-old1`,
      `${SERVER} hetzner-m2`,
    ]);
    const names = (p.workersConfig() as (string | { name: string })[]).map((e) =>
      typeof e === "string" ? e : e.name,
    );
    expect(names.sort()).to.deep.equal(["m1", "m2", "m4", "old1"]);
    // Every injected fault fired once: m3 was tried on both candidates, m2 on both too.
    const ledger = readLedger(p.simDir);
    expect(
      ledger
        .filter((l) => l.outcome === "fault")
        .map((l) => l.name)
        .sort(),
    ).to.deep.equal(["digitalocean-m2", "digitalocean-m3", "hetzner-m3"]);
  });

  it("running out of candidates: one error lists each candidate's answer, nothing is left behind", async () => {
    const p = project("fo3", {
      "fleet:cloud": "digitalocean",
      "fleet:placements": JSON.stringify([
        { cloud: "digitalocean", region: "nyc3" },
        { cloud: "digitalocean", region: "ams3" },
        { cloud: "hetzner", region: "nbg1" },
      ]),
    });
    const faults = [
      fail({ region: "nyc3" }, CAPACITY_ERRORS.digitalocean.sizeUnavailable, DROPLET),
      fail({ region: "ams3" }, CAPACITY_ERRORS.digitalocean.dropletLimit, DROPLET),
      fail({ location: "nbg1" }, CAPACITY_ERRORS.hetzner.placementError, SERVER),
    ];
    const r = p.fleet(faults, "create", "x1");
    expect(r.status).to.equal(1);
    // One round per candidate, then the converging update.
    expect(p.updates()).to.equal(4);
    expect(r.stderr).to.contain("x1");
    expect(r.stderr).to.contain("no placement candidate could take it (3 tried)");
    expect(r.stderr).to.contain("1) digitalocean nyc3");
    expect(r.stderr).to.contain("Size is not available in this region");
    expect(r.stderr).to.contain("2) digitalocean ams3");
    expect(r.stderr).to.contain("exceed your droplet limit");
    expect(r.stderr).to.contain("3) hetzner nbg1");
    expect(r.stderr).to.contain("placement_error");
    expect(await p.inCloud()).to.deep.equal([]);
    expect(p.inState()).to.deep.equal([]);
    expect(p.list()).to.deep.equal([]);
    expect(p.workersConfig() ?? []).to.deep.equal([]);
  });

  it("an error another placement cannot fix does not fail over", async () => {
    const p = project("fo4", {
      "fleet:cloud": "digitalocean",
      "fleet:placements": JSON.stringify([
        { cloud: "digitalocean", region: "nyc3" },
        { cloud: "hetzner", region: "fsn1" },
      ]),
    });
    const badImage =
      'Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 (request "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b") You specified an invalid image for Droplet creation.';
    const r = p.fleet([fail({ name: "n1" }, badImage, DROPLET)], "create", "n1", "n2");
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("n1");
    expect(r.stderr).to.contain("invalid image");
    expect(r.stderr).to.not.contain("no placement candidate");
    // The failed round, then the converging one: no failover round. n2 landed in the first.
    expect(p.updates()).to.equal(2);
    expect(p.list().map((w) => w.name)).to.deep.equal(["n2"]);
    // Hetzner was never asked for n1.
    const ledger = readLedger(p.simDir);
    expect(ledger.filter((l) => l.name === "hetzner-n1")).to.deep.equal([]);
    const landed = p.list().map((w) => w.name);
    expect(landed).to.not.include("n1");
    const cloud = await p.inCloud();
    expect(cloud.filter((c) => c.includes(" n1 "))).to.deep.equal([]);
    expect(p.inState()).to.deep.equal(landed.map((n) => `${DROPLET} digitalocean-${n}`));
    expect(cloud).to.deep.equal(landed.map((n) => `${DROPLET} ${n} nyc3`));
  });

  it("AWS: InsufficientInstanceCapacity in one region moves the worker to the next region and size; nothing stays in the first", async () => {
    const p = project("fo5", {
      "fleet:cloud": "aws",
      // An AMI id, not a name pattern: the AMI lookup is not what this scenario is about.
      "fleet:image": "ami-0123456789abcdef0",
      "fleet:placements": JSON.stringify([
        { cloud: "aws", region: "us-east-1", size: "t3.micro" },
        { cloud: "aws", region: "eu-west-1", size: "small" },
      ]),
    });
    const faults = [
      {
        ...fail({ "tags.Name": "e1" }, CAPACITY_ERRORS.aws.insufficientCapacity, INSTANCE),
        times: 1,
      },
    ];
    const r = p.fleet(faults, "create", "e1", "--json");
    expect(r.status, r.stderr).to.equal(0);
    const [w] = JSON.parse(r.stdout) as Listed[];
    expect([w.name, w.cloud, w.region, w.size]).to.deep.equal([
      "e1",
      "aws",
      "eu-west-1",
      "t3.small",
    ]);
    expect(p.workersConfig()).to.deep.equal([
      { name: "e1", cloud: "aws", region: "eu-west-1", size: "t3.small" },
    ]);
    expect(p.updates()).to.equal(2);
    expect(await p.inCloud()).to.deep.equal([`${INSTANCE} e1 eu-west-1`]);
    expect(p.inState()).to.deep.equal([`${INSTANCE} aws-e1`]);
    // Nothing of the refused region is left: no instance, key pair or security group.
    const all = await openCloud(p.simDir).list({ provider: "aws" });
    expect(all.filter((o) => JSON.stringify(o.outputs).includes("us-east-1"))).to.deep.equal([]);
  });
});
