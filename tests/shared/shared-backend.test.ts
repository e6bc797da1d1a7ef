/**
 * One fleet, many machines: two clones (their own directories, HOMEs and stack config) on one
 * shared backend, Pulumi's S3 backend on a real object store (SeaweedFS, built from store/go.mod
 * and started on loopback by this suite), driven through Pulumi's own engine. The desired state
 * lives in the stack's checkpoint and is changed under the engine's lock (config/shared-state.ts);
 * these tests show what that buys: either clone sees every worker, neither deletes the other's,
 * an idle clone changes nothing, a stale copy is refused, concurrent processes on both clones
 * lose and orphan nothing, a killed engine's lock is named with the command that clears it, and
 * one team passphrase reads every clone's secrets.
 *
 * Workers are the local cloud's real processes, counted from /proc by their log files, and
 * simulated DigitalOcean droplets, counted from the simulated cloud both clones share.
 */
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { STALE_MARKER } from "../../config/shared-state";
import { type RunningStore, buildStore, startStore, stopStore } from "../../store/store";
import { openCloud } from "../sim/cloud";
import { SIM_DIR_VAR } from "../sim/faults";
import {
  CLI,
  engineChildren,
  eventually,
  fleetProject,
  type FleetProject,
  killProcessGroups,
  localWorkerProcesses,
} from "../harness/project";

interface Listed {
  name: string;
  cloud: string;
}

/** Clones of one fleet project on the store: each its own directory, HOME and stack config. */
function clones(store: RunningStore, stack: string, env: NodeJS.ProcessEnv = {}): FleetProject[] {
  return [0, 1].map(() => fleetProject({ stack, env: { ...store.env, ...env } }));
}

function names(p: FleetProject): string[] {
  const r = p.fleet("list", "--json");
  if (r.status !== 0) throw new Error(`fleet list failed:\n${r.stdout}${r.stderr}`);
  return (JSON.parse(r.stdout) as Listed[]).map((w) => w.name).sort();
}

function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): string {
  expect(r.status, `${what}:\n${r.stdout}${r.stderr}`).to.equal(0);
  return r.stdout + r.stderr;
}

/** Running local workers of these clones' stack: name → pids. */
function processes(ps: readonly FleetProject[]): Map<string, number[]> {
  const dirs = ps.map((p) => path.join(p.dir, ".fleet", "local", p.stack) + path.sep);
  return localWorkerProcesses((log) => dirs.some((d) => log.startsWith(d)));
}

/** The environment `fleet env` prints for a clone, over the clone's own. */
function fleetEnv(p: FleetProject): NodeJS.ProcessEnv {
  const out = ok(p.fleet("env"), "fleet env");
  const env: NodeJS.ProcessEnv = { ...p.env };
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]] = JSON.parse(m[2]) as string;
  return env;
}

/** The last update's resource changes, from the engine's own history of the stack. */
function lastChanges(p: FleetProject): Record<string, number> {
  const r = p.pulumi(["stack", "history", "--json"]);
  expect(r.status, r.stderr).to.equal(0);
  const history = JSON.parse(r.stdout) as { resourceChanges?: Record<string, number> }[];
  return history[0]?.resourceChanges ?? {};
}

describe("a fleet shared by two clones (Pulumi's engine, S3 backend on SeaweedFS)", function () {
  this.timeout(900_000);
  let store: RunningStore;
  let storeDir: string;
  const started: ChildProcess[] = [];
  const projects: FleetProject[] = [];
  let stackNo = 0;
  const fresh = (env: NodeJS.ProcessEnv = {}) => {
    const ps = clones(store, `shared${++stackNo}-${process.pid}`, env);
    projects.push(...ps);
    return ps;
  };

  before(async function () {
    this.timeout(1_200_000); // a first build of weed takes minutes
    await buildStore();
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-store-"));
    store = await startStore({ dir: storeDir });
  });

  after(async () => {
    killProcessGroups(started.map((c) => c.pid).filter((p): p is number => p !== undefined));
    for (const pids of processes(projects).values()) for (const pid of pids) kill(pid);
    if (storeDir) await stopStore({ dir: storeDir });
  });

  it("either clone lists every worker; a create on one keeps the other's; a delete removes only what it names; an idle clone's sync changes nothing", () => {
    const [a, b] = fresh();
    ok(a.fleet("create", "a1"), "A: create a1");
    expect(names(b), "B sees A's worker").to.deep.equal(["a1"]);
    ok(b.fleet("create", "b1"), "B: create b1");
    expect(names(a)).to.deep.equal(["a1", "b1"]);
    expect([...processes([a, b]).keys()].sort(), "both run").to.deep.equal(["a1", "b1"]);

    ok(a.fleet("delete", "b1"), "A: delete b1");
    expect(names(b)).to.deep.equal(["a1"]);
    expect([...processes([a, b]).keys()], "a1 still runs; b1 is gone").to.deep.equal(["a1"]);

    // B's own stack config still lists b1: the backend's record, not that copy, is the truth.
    const sync = ok(b.fleet("sync"), "B: sync");
    expect(sync).to.include("nothing to change");
    const changes = lastChanges(b);
    expect(changes, JSON.stringify(changes)).to.not.have.any.keys(
      "create",
      "update",
      "delete",
      "replace",
    );
    expect(names(a)).to.deep.equal(["a1"]);
    expect(b.configuredNames(), "B's copy now says what the fleet is").to.deep.equal(["a1"]);
  });

  it("plain `pulumi up` from a clone whose copy is stale is refused before it changes anything; `fleet sync` brings the clone up to date", () => {
    const [a, b] = fresh();
    ok(a.fleet("create", "x1"), "A: create x1");
    ok(b.fleet("sync"), "B: sync");
    ok(a.fleet("create", "x2"), "A: create x2");

    const env = fleetEnv(b);
    expect(env.FLEET_SHARED_STATE).to.equal("1");
    const up = b.pulumi(["up", "--yes", "--skip-preview"], env);
    expect(up.status, up.stdout + up.stderr).to.not.equal(0);
    expect(up.stdout + up.stderr)
      .to.include(STALE_MARKER)
      .and.include("fleet sync");
    expect(names(a), "x2 was not deleted").to.deep.equal(["x1", "x2"]);
    expect([...processes([a, b]).keys()].sort()).to.deep.equal(["x1", "x2"]);

    ok(b.fleet("sync"), "B: sync");
    const again = b.pulumi(["up", "--yes", "--skip-preview"], env);
    expect(again.status, again.stdout + again.stderr).to.equal(0);
    expect(names(b)).to.deep.equal(["x1", "x2"]);
  });

  for (const cloud of ["local", "digitalocean"] as const)
    it(`${cloud}: K processes on each clone creating and deleting at once lose nothing and orphan nothing; the engine's lock takes turns`, async () => {
      const sim = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-sim-shared-"));
      const [a, b] = fresh({
        [SIM_DIR_VAR]: sim,
        DIGITALOCEAN_TOKEN: "dop_v1_shared",
        ...(cloud === "local" ? {} : { FLEET_SIM_LATENCY_MS: "200" }),
      });
      const K = 3;
      const run = (p: FleetProject, ...args: string[]) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(process.execPath, [CLI, "-C", p.dir, "--stack", p.stack, ...args], {
            env: p.env,
            stdio: ["ignore", "pipe", "pipe"],
          });
          started.push(child);
          let out = "";
          child.stdout.on("data", (d: Buffer) => (out += d.toString()));
          child.stderr.on("data", (d: Buffer) => (out += d.toString()));
          child.on("exit", (code) => resolve({ code, out }));
        });
      // Each process: create two workers, then delete the second. Run on both clones at once.
      const jobs: Promise<{ keep: string; code: number | null; out: string }>[] = [];
      let operations = 0;
      for (const [c, p] of [a, b].entries())
        for (let k = 0; k < K; k++) {
          const keep = `c${c}p${k}-keep`;
          const drop = `c${c}p${k}-drop`;
          operations += 2;
          jobs.push(
            (async () => {
              const created = await run(p, "create", "--cloud", cloud, keep, drop);
              if (created.code !== 0) return { keep, ...created };
              const deleted = await run(p, "delete", drop);
              return { keep, code: deleted.code, out: created.out + deleted.out };
            })(),
          );
        }
      const results = await Promise.all(jobs);
      for (const r of results) expect(r.code, r.out).to.equal(0);
      const turns = results.filter((r) =>
        /another clone changed the fleet|locked by another update/.test(r.out),
      );

      // What exists: the local cloud's processes, or the droplets in the simulated cloud.
      const existing = new Map<string, number>();
      if (cloud === "local")
        for (const [n, pids] of processes([a, b])) existing.set(n, pids.length);
      else
        for (const o of await openCloud(sim).list({ type: "digitalocean:index/droplet:Droplet" }))
          existing.set(String(o.inputs.name), (existing.get(String(o.inputs.name)) ?? 0) + 1);
      const wanted = results.map((r) => r.keep).sort();
      const listedA = names(a);
      const listedB = names(b);
      const lost = wanted.filter((n) => !listedA.includes(n) || !existing.has(n));
      const orphaned = [...existing.keys()].filter((n) => !listedA.includes(n));
      const doubled = [...existing].filter(([, count]) => count > 1);
      console.log(
        `      ${cloud}: 2 clones × ${K} processes × 2 operations = ${operations} operations; ` +
          `${results.length - turns.length} processes ran without waiting, ${turns.length} waited for the lock or re-read the fleet; ` +
          `workers lost ${lost.length}, orphaned ${orphaned.length}`,
      );
      expect(listedA).to.deep.equal(wanted);
      expect(listedB).to.deep.equal(wanted);
      expect(lost, "lost").to.deep.equal([]);
      expect(orphaned, "orphaned").to.deep.equal([]);
      expect(doubled, "one per worker").to.deep.equal([]);
    });

  it("simulated DigitalOcean: droplets made from either clone stay until one of them deletes them by name", async () => {
    const sim = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-sim-shared-"));
    const [a, b] = fresh({ [SIM_DIR_VAR]: sim, DIGITALOCEAN_TOKEN: "dop_v1_shared" });
    const droplets = async () =>
      (await openCloud(sim).list({ type: "digitalocean:index/droplet:Droplet" }))
        .map((o) => String(o.inputs.name))
        .sort();
    ok(a.fleet("create", "--cloud", "digitalocean", "d1"), "A: create d1");
    ok(b.fleet("create", "--cloud", "digitalocean", "d2"), "B: create d2");
    expect(await droplets()).to.deep.equal(["d1", "d2"]);
    ok(b.fleet("delete", "d1"), "B: delete d1");
    expect(await droplets(), "only d1 went").to.deep.equal(["d2"]);
    expect(names(a)).to.deep.equal(["d2"]);
    ok(a.fleet("delete-all", "--yes"), "A: delete-all");
    expect(await droplets()).to.deep.equal([]);
    expect(names(b)).to.deep.equal([]);
  });

  it("a lock left by a killed engine is named with the command that clears it; after `pulumi cancel` both clones go on and nothing is lost", async () => {
    const [a, b] = fresh();
    ok(a.fleet("create", "k0"), "A: create k0");
    const child = spawn(process.execPath, [CLI, "-C", a.dir, "--stack", a.stack, "create", "k1"], {
      detached: true,
      env: { ...a.env, FLEET_LOCAL_STARTUP_CHECK_MS: "20000" },
      stdio: "ignore",
    });
    started.push(child);
    const log = path.join(a.dir, ".fleet", "local", a.stack, "k1.log");
    expect(await eventually(() => fs.existsSync(log), 120_000), "k1's create started").to.equal(
      true,
    );
    const engines = engineChildren(child.pid as number);
    expect(engines, "the engine runs the update").to.have.length(1);
    process.kill(engines[0], "SIGKILL");
    process.kill(-(child.pid as number), "SIGKILL");

    const blocked = b.fleet("create", "k2");
    expect(blocked.status, blocked.stdout + blocked.stderr).to.not.equal(0);
    expect(blocked.stderr, blocked.stderr).to.include(
      `locked by an update that is no longer running (pulumi, pid ${engines[0]} on this machine`,
    );
    expect(blocked.stderr).to.include(`\`pulumi cancel --yes --stack ${b.stack}\``);

    ok(b.pulumi(["cancel", "--yes"], fleetEnv(b)), "B: pulumi cancel, as advised");
    // The killed update left k1's create pending; the clone that ran it finds its process.
    ok(a.fleet("sync"), "A: sync");
    ok(b.fleet("create", "k2"), "B: create k2");
    const listed = names(a);
    expect(listed).to.deep.equal(["k0", "k1", "k2"]);
    expect([...processes([a, b]).keys()].sort(), "0 lost, 0 orphaned").to.deep.equal(listed);
  });

  it("one team passphrase reads every clone's secrets: the second clone takes the stack's salt, and fleet makes no passphrase of its own", () => {
    const [a, b] = fresh();
    ok(a.fleet("create", "s1"), "A: create s1");
    ok(a.pulumi(["config", "set", "--secret", "extra:token", "s3cr3t-value"]), "A: a secret");
    ok(b.fleet("list"), "B: list");
    ok(b.fleet("sync"), "B: sync");
    const stackFile = (p: FleetProject) =>
      path.join(p.dir, ".fleet", "stacks", `Pulumi.${p.stack}.yaml`);
    const doc = (p: FleetProject) =>
      yaml.load(fs.readFileSync(stackFile(p), "utf8")) as {
        encryptionsalt?: string;
        config?: Record<string, unknown>;
      };
    expect(doc(a).encryptionsalt).to.be.a("string");
    expect(doc(b).encryptionsalt, "one salt").to.equal(doc(a).encryptionsalt);

    // A's encrypted value, as a teammate would share it, decrypts in B.
    const mine = doc(b);
    mine.config = { ...mine.config, "extra:token": doc(a).config?.["extra:token"] };
    fs.writeFileSync(stackFile(b), yaml.dump(mine));
    const got = b.pulumi(["config", "get", "extra:token"]);
    expect(got.stdout.trim(), got.stderr).to.equal("s3cr3t-value");
    for (const p of [a, b])
      expect(
        fs.existsSync(path.join(p.dir, ".fleet", "passphrase")),
        "no per-clone passphrase",
      ).to.equal(false);

    // Another passphrase cannot read the shared state: the state is under the team's.
    const wrong = b.fleetWith({ PULUMI_CONFIG_PASSPHRASE: "not-the-team-passphrase" }, "list");
    expect(wrong.status).to.not.equal(0);
    expect(wrong.stderr).to.match(/passphrase/i);
  });
});

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
