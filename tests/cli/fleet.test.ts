/**
 * The real `fleet` command in a subprocess on Pulumi's engine (the Automation API spawns it
 * exactly as a person's shell would): a file backend, a real checkpoint, and for the simulated
 * clouds their provider plugins (tests/sim) with a simulated cloud per test. The shipped CLI
 * has no test switch.
 */
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { killProcessGroups, alive, CLI, eventually, fleetProject } from "../harness/project";
import type { CloudObject } from "../sim/cloud";

const DROPLET = "digitalocean:index/droplet:Droplet";
const EC2 = "aws:ec2/instance:Instance";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Dummy credentials for every simulated cloud: fleet checks that they are present, and each
 * plugin checks their shape as its provider does (tests/sim/credentials.ts).
 */
const CREDENTIALS: NodeJS.ProcessEnv = {
  DIGITALOCEAN_TOKEN: "dop_v1_test",
  AWS_ACCESS_KEY_ID: "k",
  AWS_SECRET_ACCESS_KEY: "s",
  AWS_REGION: "us-east-1",
  HCLOUD_TOKEN: "h".repeat(64),
  ARM_CLIENT_ID: "00000000-0000-0000-0000-000000000001",
  ARM_CLIENT_SECRET: "azure-test-secret",
  ARM_TENANT_ID: "00000000-0000-0000-0000-000000000002",
  ARM_SUBSCRIPTION_ID: "0b1f6471-1bf0-4dda-aec3-111122223333",
  GOOGLE_CREDENTIALS: '{"type":"service_account","project_id":"fleet-project"}',
  GOOGLE_PROJECT: "fleet-project",
};

const SSH_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsZWV0LXRlc3Qta2V5LWZvci10aGUtc2ltdWxhdGVk fleet-test";

/** Each simulated cloud's worker resource, and the name its cloud object carries. */
const WORKERS: Record<string, { type: string; name: (o: CloudObject) => string }> = {
  aws: { type: EC2, name: (o) => String((o.outputs.tags as Record<string, string>).Name) },
  azure: {
    type: "azure-native:compute:VirtualMachine",
    name: (o) => String(o.outputs.vmName ?? o.name),
  },
  digitalocean: { type: DROPLET, name: (o) => String(o.outputs.name) },
  gcp: { type: "gcp:compute/instance:Instance", name: (o) => String(o.outputs.name) },
  hetzner: { type: "hcloud:index/server:Server", name: (o) => String(o.outputs.name) },
};

/** Runs the real `fleet` command against a fresh project on Pulumi's engine. */
function fleetRunner(
  config: Record<string, string> = { "fleet:cloud": "digitalocean" },
  env: NodeJS.ProcessEnv = {},
) {
  const p = fleetProject({ config, env: { ...CREDENTIALS, ...env } });
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Run => {
    const r = p.fleetWith(env, ...args);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { p, run };
}

describe("fleet command on Pulumi's engine (simulated clouds: provider plugins)", function () {
  this.timeout(240_000);

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

  it("the shipped CLI has no test switch, and no product code loads anything from tests/", () => {
    expect(fs.readFileSync(CLI, "utf8")).to.not.contain("FLEET_TEST_");
    const dist = path.dirname(path.dirname(CLI));
    const product = ["api.js", "index.js", "program.js", "cli", "config", "context", "strategies"];
    const files = product.flatMap((f) => {
      const full = path.join(dist, f);
      return fs.statSync(full).isDirectory()
        ? fs
            .readdirSync(full)
            .filter((n) => n.endsWith(".js"))
            .map((n) => path.join(full, n))
        : [full];
    });
    expect(files.length).to.be.greaterThan(10);
    for (const file of files)
      expect(fs.readFileSync(file, "utf8"), file).to.not.match(/require\([^)]*tests\//);
  });

  it("creates, lists as a table and as JSON, deletes, and deletes all: the cloud agrees each time", async () => {
    const { p, run } = fleetRunner();
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
    // What fleet printed is what the (simulated) cloud holds: ids, addresses, region, size.
    const droplets = await p.cloud(DROPLET);
    expect(
      made.map((w) => [w.name, w.id, w.ip, w.region, w.size, Date.parse(w.createdAt)]),
    ).to.deep.equal(
      ["a", "b"].map((n) => {
        const d = droplets.find((o) => o.outputs.name === n);
        expect(d, `droplet ${n}`).to.not.equal(undefined);
        return [
          n,
          d?.id,
          d?.outputs.ipv4Address,
          "nyc3",
          "s-1vcpu-1gb",
          Date.parse(String(d?.outputs.createdAt)),
        ];
      }),
    );

    const t = run(["list"]);
    expect(t.code, t.stderr).to.equal(0);
    expect(t.stdout).to.match(
      /NAME\s+│\s+CLOUD\s+│\s+REGION\s+│\s+SIZE\s+│\s+IP\s+│\s+CREATED\s+│\s+STATUS/,
    );
    expect(t.stdout).to.contain(
      `│ a    │ digitalocean │ nyc3   │ s-1vcpu-1gb │ ${made[0].ip} │ ${made[0].createdAt} │`,
    );

    const n = run(["create", "--count", "3", "--json", "--cloud", "aws"]);
    expect(n.code, n.stderr).to.equal(0);
    const random = JSON.parse(n.stdout) as Record<string, string>[];
    expect(random).to.have.length(3);
    for (const w of random)
      expect(w)
        .to.include({ cloud: "aws", region: "us-east-1" })
        .and.have.property("name")
        .match(/^[A-Z0-9]{10}$/);
    const instances = await p.cloud(EC2);
    expect(
      instances.map((o) => [o.id, (o.outputs.tags as Record<string, string>).Name]).sort(),
    ).to.deep.equal(random.map((w) => [w.id, w.name]).sort());

    const d = run(["delete", "a", "--json"]);
    expect(d.code, d.stderr).to.equal(0);
    expect(JSON.parse(d.stdout)).to.deep.equal({ deleted: ["a"] });
    expect((await p.cloud(DROPLET)).map((o) => o.outputs.name)).to.deep.equal(["b"]);
    const l = JSON.parse(run(["list", "--json"]).stdout) as { name: string }[];
    expect(l.map((w) => w.name)).to.deep.equal(["b", ...random.map((w) => w.name)]);

    const all = run(["delete-all", "--yes"]);
    expect(all.code, all.stderr).to.equal(0);
    expect(JSON.parse(run(["list", "--json"]).stdout)).to.deep.equal([]);
    expect(await p.cloud(DROPLET)).to.deep.equal([]);
    expect(await p.cloud(EC2)).to.deep.equal([]);
  });

  it("shows per-worker progress on stderr", () => {
    const { run } = fleetRunner();
    const r = run(["create", "p1", "p2"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr)
      .to.contain("p1: creating")
      .and.contain("p1: created")
      .and.contain("p2: created");
  });

  it("errors: one line, exit 1; usage errors exit 2", () => {
    const { p, run } = fleetRunner();
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
    expect(p.updates(), "no update ran for any of them").to.equal(0);
  });

  it("a provider failure is one line per worker naming it, exit 1, without engine colour markup", async () => {
    const { p, run } = fleetRunner();
    const faults = JSON.stringify([
      {
        op: "create",
        match: { name: "f2" }, // the plugin sees the droplet's inputs: `name` is the worker's
        error: "Error creating droplet: 422 Size is not available in this region.",
      },
    ]);
    const r = run(["create", "f1", "f2"], { FLEET_SIM_FAULTS: faults });
    expect(r.code).to.equal(1);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("fleet: error:"));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.contain("f2").and.contain("Size is not available in this region");
    expect(r.stderr).to.not.match(/<\{%/);
    expect(
      p
        .ledger()
        .filter((l) => l.outcome === "fault")
        .map((l) => l.name),
    ).to.deep.equal(["digitalocean-f2"]);
  });

  it("a create that fails after the droplet exists: the engine keeps it in state, and the converging update retries its initialization", async () => {
    const { p, run } = fleetRunner();
    const faults = JSON.stringify([
      { op: "create", match: { name: "late" }, error: "droplet never became active", after: true },
    ]);
    const r = run(["create", "late"], { FLEET_SIM_FAULTS: faults });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("late").and.contain("droplet never became active");
    const [droplet] = await p.cloud(DROPLET);
    expect(droplet?.outputs.name).to.equal("late");
    // `pkg/resource/deploy/step.go` (CreateStep.Apply): a partial failure keeps the object in
    // state with initErrors; fleet's converging update then finds them, and the engine issues
    // an update to "continue awaiting initialization" (`step_generator.go`, hasInitErrors),
    // which succeeds here and clears them. Nothing is orphaned either way.
    expect(
      p
        .ledger()
        .filter((l) => l.name === "digitalocean-late")
        .map((l) => [l.op, l.outcome, l.id]),
    ).to.deep.equal([
      ["create", "fault", droplet.id],
      ["update", "ok", droplet.id],
    ]);
    const inState = (p.checkpoint()?.resources ?? []).filter((x) => x.type === DROPLET) as {
      id?: string;
      initErrors?: string[];
    }[];
    expect(inState.map((x) => [x.id, x.initErrors])).to.deep.equal([[droplet.id, undefined]]);
    const listed = JSON.parse(run(["list", "--json"]).stdout) as { name: string; id: string }[];
    expect(listed.map((w) => [w.name, w.id])).to.deep.equal([["late", droplet.id]]);
  });

  it("a failure of a shared resource names it and the provider's reason for every worker it stopped", () => {
    const { run } = fleetRunner();
    const faults = JSON.stringify([
      {
        op: "create",
        type: "digitalocean:index/firewall:Firewall", // auto-named: match its type
        match: {},
        error:
          "POST https://api.digitalocean.com/v2/firewalls: 403 You do not have access for the attempted action.",
      },
    ]);
    const r = run(["create", "s1"], { FLEET_SIM_FAULTS: faults });
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split("\n").pop()).to.equal(
      "fleet: error: 1 worker failed: s1 (not started: the update stopped after digitalocean-firewall failed: " +
        "POST https://api.digitalocean.com/v2/firewalls: 403 You do not have access for the attempted action.)",
    );
  });

  it("Ctrl-C while a worker is being created: exit 130, a graceful cancel, the running create finishes", async () => {
    const { p } = fleetRunner();
    const faults = JSON.stringify([{ op: "create", match: { name: "slow" }, delayMs: 4000 }]);
    const child = spawn(
      process.execPath,
      [CLI, "-C", p.dir, "--stack", p.stack, "create", "slow"],
      {
        detached: true, // its own process group, as a shell gives a foreground job
        env: { ...p.env, FLEET_SIM_FAULTS: faults },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    const deadline = Date.now() + 120_000;
    // First prove a create is running, then press Ctrl-C: the terminal signals the whole group.
    while (!stderr.includes("slow: creating")) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`fleet never started creating slow:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(-(child.pid as number), "SIGINT");
    const code = await exited;
    expect(code, stderr).to.equal(130);
    expect(stderr).to.contain("fleet: Ctrl-C: cancelling: nothing new starts");
    expect(stderr.trim().split("\n").pop()).to.equal(
      "fleet: error: cancelled: created slow; the stack config lists exactly what exists",
    );
    // The step in flight finished: the worker exists in the cloud, in state and in config.
    const droplets = await p.cloud(DROPLET);
    expect(droplets.map((d) => d.outputs.name)).to.deep.equal(["slow"]);
    const inState = (p.checkpoint()?.resources ?? []).filter((r) => r.type === DROPLET);
    expect(inState.map((r) => r.id)).to.deep.equal([droplets[0].id]);
    expect(p.configuredNames()).to.deep.equal(["slow"]);
  });

  it("missing credentials fail before the engine runs, naming what to set", () => {
    const { p, run } = fleetRunner();
    const r = run(["create", "a"], { DIGITALOCEAN_TOKEN: undefined });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("DIGITALOCEAN_TOKEN");
    expect(p.updates(), "no update ran").to.equal(0);
    expect(p.ledger()).to.deep.equal([]);
    expect(p.configuredNames(), "the refused worker is not left in config").to.deep.equal([]);
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

describe("every simulated cloud end to end on Pulumi's engine: create, list, delete, use, delete-all", function () {
  this.timeout(600_000);
  const clouds = ["aws", "azure", "digitalocean", "gcp", "hetzner"];

  for (const [i, cloud] of clouds.entries()) {
    const next = clouds[(i + 1) % clouds.length];
    it(`${cloud} (then \`use ${next}\`): the plugin's cloud, the checkpoint and fleet list agree at every step`, async () => {
      // Azure needs an SSH key; with one, every cloud makes its key resource too.
      const { p, run } = fleetRunner({
        "fleet:cloud": cloud,
        "fleet:sshPublicKeys": JSON.stringify([SSH_KEY]),
      });
      const w = WORKERS[cloud];
      /** `name id` of each worker object of `c` in the simulated cloud. */
      const inCloud = async (c: string) =>
        (await p.cloud(WORKERS[c].type)).map((o) => `${WORKERS[c].name(o)} ${o.id}`).sort();
      /** `name id` of each worker resource of `c` in the checkpoint. */
      const inState = (c: string) =>
        (p.checkpoint()?.resources ?? [])
          .filter((r) => r.type === WORKERS[c].type)
          .map((r) => `${r.urn.split("::").pop()?.slice(`${c}-`.length)} ${r.id}`)
          .sort();
      const listed = () => {
        const l = run(["list", "--json"]);
        expect(l.code, l.stderr).to.equal(0);
        return JSON.parse(l.stdout) as Record<string, string>[];
      };
      const asPairs = (ws: Record<string, string>[]) => ws.map((x) => `${x.name} ${x.id}`).sort();

      const c = run(["create", "w-a", "w-b", "--json"]);
      expect(c.code, c.stderr).to.equal(0);
      const made = JSON.parse(c.stdout) as Record<string, string>[];
      expect(made.map((x) => [x.name, x.cloud])).to.deep.equal([
        ["w-a", cloud],
        ["w-b", cloud],
      ]);
      for (const x of made)
        expect(x.ip, `${x.name} has an address`).to.match(/^\d+\.\d+\.\d+\.\d+$/);
      expect(await inCloud(cloud)).to.deep.equal(asPairs(made));
      expect(inState(cloud)).to.deep.equal(asPairs(made));
      expect(asPairs(listed())).to.deep.equal(asPairs(made));
      const creates = p.ledger().filter((l) => l.op === "create" && l.type === w.type);
      expect(creates.map((l) => [l.outcome, l.id]).sort()).to.deep.equal(
        made.map((x) => ["ok", x.id]).sort(),
      );

      if (cloud === "aws") {
        // AWS all the way: the image is a name pattern, resolved by the plugin's AMI lookup.
        const lookups = p.ledger().filter((l) => l.op === "invoke");
        expect(lookups.map((l) => [l.type, l.outcome])).to.deep.include([
          "aws:ec2/getAmi:getAmi",
          "ok",
        ]);
        for (const o of await p.cloud(EC2))
          expect(String(o.outputs.ami)).to.match(/^ami-[0-9a-f]+$/);
      }

      const d = run(["delete", "w-a", "--json"]);
      expect(d.code, d.stderr).to.equal(0);
      const left = made.filter((x) => x.name === "w-b");
      expect(await inCloud(cloud)).to.deep.equal(asPairs(left));
      expect(inState(cloud)).to.deep.equal(asPairs(left));
      expect(asPairs(listed())).to.deep.equal(asPairs(left));

      // `use` moves the worker without a cloud of its own to the next cloud, new one first.
      const u = run(["use", next, "--json"]);
      expect(u.code, u.stderr).to.equal(0);
      const moved = listed();
      expect(moved.map((x) => [x.name, x.cloud])).to.deep.equal([["w-b", next]]);
      expect(await inCloud(cloud), `nothing of w-b is left on ${cloud}`).to.deep.equal([]);
      expect(inState(cloud)).to.deep.equal([]);
      expect(await inCloud(next)).to.deep.equal(asPairs(moved));
      expect(inState(next)).to.deep.equal(asPairs(moved));

      const all = run(["delete-all", "--yes"]);
      expect(all.code, all.stderr).to.equal(0);
      expect(listed()).to.deep.equal([]);
      // Nothing at all is left in either cloud: workers and the fleet's shared resources.
      const objects = (await p.cloud(undefined)).filter((o) => o.provider !== "_double");
      expect(objects.map((o) => `${o.type} ${o.id}`)).to.deep.equal([]);
      // Every create the plugins performed was matched by a delete.
      const ledger = p.ledger().filter((l) => l.outcome === "ok");
      const ids = (op: string) =>
        ledger
          .filter((l) => l.op === op)
          .map((l) => `${l.type} ${l.id}`)
          .sort();
      expect(ids("delete")).to.deep.equal(ids("create"));
    });
  }
});

describe("fleet command on Pulumi's engine (local cloud: real worker processes)", function () {
  this.timeout(300_000);
  const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
  const pidOf = (id: string) => Number(id.split(":")[0]);
  const started: number[] = [];
  after(() => killProcessGroups(started));

  it("creates, lists as a table and as JSON, deletes, and deletes all: processes, checkpoint and list agree", async () => {
    const { p, run } = fleetRunner({ "fleet:cloud": "local" });
    const c = run(["create", "a", "b", "--json"]);
    expect(c.code, c.stderr).to.equal(0);
    const made = JSON.parse(c.stdout) as Record<string, string>[];
    expect(made.map((w) => [w.name, w.cloud, w.region, w.size, w.ip, w.status])).to.deep.equal([
      ["a", "local", "localhost", "process", "127.0.0.1", "running"],
      ["b", "local", "localhost", "process", "127.0.0.1", "running"],
    ]);
    started.push(...made.map((w) => pidOf(w.id)));
    for (const w of made) expect(alive(pidOf(w.id)), `${w.name} runs`).to.equal(true);
    // What fleet printed is what the engine recorded.
    const inState = () =>
      (p.checkpoint()?.resources ?? [])
        .filter((r) => r.type === DYNAMIC)
        .map((r) => [r.urn.split("::").pop(), r.id])
        .sort();
    expect(inState()).to.deep.equal(made.map((w) => [`local-${w.name}`, w.id]));

    const t = run(["list"]);
    expect(t.code, t.stderr).to.equal(0);
    expect(t.stdout).to.match(
      /NAME\s*│\s*CLOUD\s*│\s*REGION\s*│\s*SIZE\s*│\s*IP\s*│\s*CREATED\s*│\s*STATUS/,
    );
    expect(t.stdout).to.contain("a").and.contain("127.0.0.1");

    const d = run(["delete", "a", "--json"]);
    expect(d.code, d.stderr).to.equal(0);
    expect(JSON.parse(d.stdout)).to.deep.equal({ deleted: ["a"] });
    expect(await eventually(() => !alive(pidOf(made[0].id))), "a stopped").to.equal(true);
    expect(alive(pidOf(made[1].id)), "b runs on").to.equal(true);
    expect(inState()).to.deep.equal([["local-b", made[1].id]]);

    const all = run(["delete-all", "--yes"]);
    expect(all.code, all.stderr).to.equal(0);
    expect(JSON.parse(run(["list", "--json"]).stdout)).to.deep.equal([]);
    expect(await eventually(() => !alive(pidOf(made[1].id))), "b stopped").to.equal(true);
    expect(inState()).to.deep.equal([]);
    expect(p.configuredNames()).to.deep.equal([]);
  });

  it("reports name every worker the engine created or deleted: after a plain `pulumi destroy`, create c says it also re-created a and b", async () => {
    const { p, run } = fleetRunner({ "fleet:cloud": "local" });
    const reported = (r: Run) =>
      r.stderr.split("\n").filter((l) => /^(created|deleted|replaced|removed) /.test(l));
    const pids = (r: Run) => (JSON.parse(r.stdout) as { id: string }[]).map((w) => pidOf(w.id));
    const first = run(["create", "a", "b", "--json"]);
    expect(first.code, first.stderr).to.equal(0);
    started.push(...pids(first));
    const destroyed = p.pulumi(["destroy", "--yes"]);
    expect(destroyed.status, destroyed.stderr).to.equal(0);
    for (const pid of pids(first)) expect(await eventually(() => !alive(pid))).to.equal(true);

    const c = run(["create", "c"]);
    expect(c.code, c.stderr).to.equal(0);
    expect(reported(c)).to.deep.equal([
      "created 3 workers: a, b, c (not asked for: a, b, which the stack config lists and the stack did not have)",
    ]);
    const listed = run(["list", "--json"]);
    started.push(...pids(listed));
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((w) => w.name)).to.deep.equal([
      "a",
      "b",
      "c",
    ]);
    for (const pid of pids(listed)) expect(alive(pid)).to.equal(true);

    // The same for a delete: the update re-creates b and c, and there was no a to delete.
    expect(p.pulumi(["destroy", "--yes"]).status).to.equal(0);
    const d = run(["delete", "a"]);
    expect(d.code, d.stderr).to.equal(0);
    expect(reported(d)).to.deep.equal([
      "created 2 workers: b, c (not asked for: b, c, which the stack config lists and the stack did not have)",
      "removed from the stack config, with no worker to delete: a",
    ]);
    started.push(...pids(run(["list", "--json"])));
    const all = run(["delete-all", "--yes"]);
    expect(all.code, all.stderr).to.equal(0);
    expect(reported(all)).to.deep.equal(["deleted 2 workers: b, c"]);
  });

  it("usage errors are one line in fleet's error form, exit 2, refused before anything starts; --help names the limits and use --help the clouds", () => {
    const { p, run } = fleetRunner({ "fleet:cloud": "local" });
    const hint = " (fleet --help shows the usage)";
    const count = (n: string) =>
      `fleet: error: option '-n, --count <n>' argument '${n}' is invalid. expected a whole number from 1 to 10,000, got "${n}"${hint}`;
    const cases: [string[], string][] = [
      [["bogus"], `fleet: error: unknown command 'bogus'${hint}`],
      [["create", "--count", "100001"], count("100001")],
      [["create", "--count", "10001"], count("10001")],
      [["create", "--count", "0"], count("0")],
      [
        ["create", "--cout", "3"],
        `fleet: error: unknown option '--cout' (Did you mean --count?)${hint}`,
      ],
      [["delete"], `fleet: error: missing required argument 'names'${hint}`],
      [["create", "a", "--count", "2"], "fleet: error: give names or --count, not both"],
      [
        ["delete-all"],
        "fleet: error: refusing to delete every worker without --yes (there is no terminal to ask)",
      ],
    ];
    for (const [args, line] of cases) {
      const r = run(args);
      expect(r.code, args.join(" ")).to.equal(2);
      expect(r.stderr, args.join(" ")).to.equal(`${line}\n`);
      expect(r.stdout, args.join(" ")).to.equal("");
    }
    expect(p.updates(), "no update ran").to.equal(0);
    expect(p.checkpoint(), "no stack was even started").to.equal(undefined);

    const flat = (text: string) => text.replace(/\s+/g, " ");
    expect(flat(run(["--help"]).stdout)).to.contain(
      "create workers: the names given, or --count random ones (1 to 10,000; default 1)",
    );
    expect(flat(run(["create", "--help"]).stdout))
      .to.contain("create this many workers with random names (1 to 10,000)")
      .and.contain("instead of the stack's default: aws, azure, digitalocean, gcp, hetzner, local");
    expect(flat(run(["use", "--help"]).stdout)).to.contain(
      "the cloud to use: aws, azure, digitalocean, gcp, hetzner, local",
    );
  });

  it("a --stack that does not exist: list, delete, delete-all, cost, reap, sync and env refuse it naming the stacks and write nothing; create and use say they start it", () => {
    const { p, run } = fleetRunner({ "fleet:cloud": "local" });
    const made = run(["create", "a", "--json"]);
    expect(made.code, made.stderr).to.equal(0);
    started.push(...(JSON.parse(made.stdout) as { id: string }[]).map((w) => pidOf(w.id)));
    // Everything a stack lives in: the backend, the stack config files, the selected stack.
    const written = () =>
      [
        path.join(p.dir, "state"),
        path.join(p.dir, ".fleet"),
        path.join(p.dir, "home", "workspaces"),
      ]
        .flatMap((d) =>
          fs.existsSync(d) ? fs.readdirSync(d, { recursive: true, encoding: "utf8" }) : [],
        )
        .map(String)
        .sort();
    const selected = () => {
      const dir = path.join(p.dir, "home", "workspaces");
      return fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
    };
    const before = { files: written(), selected: selected() };
    expect(before.selected.join()).to.contain('"organization/fleet/dev"');
    for (const args of [
      ["list"],
      ["delete", "a"],
      ["delete-all", "--yes"],
      ["cost"],
      ["reap"],
      ["sync"],
      ["env"],
    ]) {
      const r = run(["--stack", "nosuch", ...args]);
      expect(r.code, `${args[0]}: ${r.stderr}`).to.equal(1);
      expect(r.stderr, args[0]).to.equal(
        `fleet: error: stack: no such stack: got "nosuch"; this project's stacks: dev\n`,
      );
      expect(r.stdout, args[0]).to.equal("");
    }
    expect(written(), "no state, no stack config file").to.deep.equal(before.files);
    expect(selected(), "the selected stack is still dev").to.deep.equal(before.selected);

    const other = run(["--stack", "other", "create", "b", "--json"]);
    expect(other.code, other.stderr).to.equal(0);
    started.push(...(JSON.parse(other.stdout) as { id: string }[]).map((w) => pidOf(w.id)));
    expect(other.stderr.split("\n")[0]).to.equal(
      'starting a new stack "other" (this project\'s stacks: dev)',
    );
    const use = run(["--stack", "third", "use", "local"]);
    expect(use.code, use.stderr).to.equal(0);
    expect(use.stderr.split("\n")[0]).to.equal(
      'starting a new stack "third" (this project\'s stacks: dev, other)',
    );
    // A stack that exists opens as before, without a word about starting it.
    const listed = run(["--stack", "other", "list", "--json"]);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stderr).to.equal("");
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((w) => w.name)).to.deep.equal([
      "b",
    ]);
    for (const stack of ["dev", "other"])
      expect(run(["--stack", stack, "delete-all", "--yes"]).code, stack).to.equal(0);
  });

  it("shows per-worker progress; errors are one line with exit 1, usage errors exit 2, and none of them runs an update", () => {
    const { p, run } = fleetRunner({ "fleet:cloud": "local" });
    const r = run(["create", "p1"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain("p1: creating").and.contain("p1: created");
    const after = p.updates();
    expect(after, "one update for the create").to.equal(1);

    const missing = run(["delete", "ghost"]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr.trim().split("\n").pop()).to.equal(
      'fleet: error: worker: no such worker: got "ghost"; existing workers: p1',
    );
    const bad = run(["create", "bad name"]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr.trim()).to.match(
      /^fleet: error: names\[0\]: invalid worker name: got "bad name"/,
    );
    expect(run(["bogus"]).code).to.equal(2);
    expect(run(["create", "--count", "0"]).code).to.equal(2);
    expect(p.updates(), "no update ran for any of them").to.equal(after);
    const all = run(["delete-all", "--yes"]);
    expect(all.code, all.stderr).to.equal(0);
  });
});
