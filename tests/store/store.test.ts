/**
 * `store/store.ts` on the real thing: `weed` built from `store/go.mod` (the `before` hook builds
 * it, minutes the first time, seconds with Go's caches warm; no Go, no tests: the hook fails
 * with the reason) and Pulumi's own engine (`npm run engine`) keeping stacks in it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  buildStore,
  type RunningStore,
  runningStore,
  STORE_HOST,
  type StorePorts,
  startStore,
  stopStore,
} from "../../store/store";
import { alive, ENGINE_BIN, eventually, ROOT } from "../harness/project";

const STORE_CLI = path.join(ROOT, "dist", "store", "store.js");
/** weed mini's default ports (weed help mini), and their gRPC ports (+10000). */
const WEED_DEFAULTS = [9333, 9340, 8888, 8333, 12535, 23646, 7333, 8181, 9101];

/** `node dist/store/store.js …args`. */
function storeCli(...args: string[]) {
  return spawnSync(process.execPath, [STORE_CLI, ...args], { encoding: "utf8" });
}

/** The TCP addresses process `pid` listens on (`127.0.0.1:port`; IPv6 ones as `[hex]:port`). */
function listening(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const found: string[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const rows = fs.readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
    for (const row of rows) {
      // sl local_address rem_address st … inode: state 0A is LISTEN.
      const [, local, , state, , , , , , inode] = row.trim().split(/\s+/);
      if (state !== "0A" || !inodes.has(inode)) continue;
      const [hex, port] = local.split(":");
      const host =
        table === "tcp"
          ? (hex.match(/../g) ?? [])
              .map((b) => parseInt(b, 16))
              .reverse()
              .join(".")
          : `[${hex}]`;
      found.push(`${host}:${parseInt(port, 16)}`);
    }
  }
  return found.sort();
}

/** The store running in `dir`; fails the test when there is none. */
function running(dir: string): RunningStore {
  const store = runningStore(dir);
  assert.ok(store, `a store runs in ${dir} (server.json names a live weed)`);
  return store;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: STORE_HOST }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** Runs Pulumi's engine in a fresh `runtime: yaml` project whose backend is `store`. */
function pulumiOn(store: RunningStore, project: string) {
  fs.mkdirSync(path.join(project, "home"), { recursive: true });
  if (!fs.existsSync(path.join(project, "Pulumi.yaml")))
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: t\nruntime: yaml\n");
  return (...args: string[]) => {
    const r = spawnSync(path.join(ENGINE_BIN, "pulumi"), [...args, "--non-interactive"], {
      cwd: project,
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        HOME: path.join(project, "home"),
        PULUMI_CONFIG_PASSPHRASE: "store-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        ...store.env,
      },
    });
    assert.equal(r.status, 0, `pulumi ${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /checksum/i, "no checksum warnings from the AWS SDK");
    return r.stdout;
  };
}

/** The stack names `pulumi stack ls --json` lists. */
function stackNames(pulumi: (...args: string[]) => string): string[] {
  return (JSON.parse(pulumi("stack", "ls", "--json")) as { name: string }[]).map((s) => s.name);
}

describe("store: SeaweedFS on 127.0.0.1 as Pulumi's S3 backend", function () {
  this.timeout(120_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-store-"));
  const dirA = path.join(tmp, "a");
  const dirB = path.join(tmp, "b");
  let weed: string;

  before(async function () {
    // The first build compiles SeaweedFS (about 5 minutes on 2 cores); then it is skipped.
    this.timeout(30 * 60_000);
    weed = (await buildStore({ onProgress: (l) => process.stderr.write(`      ${l}\n`) })).weed;
  });

  after(async () => {
    for (const dir of [dirA, dirB]) await stopStore({ dir });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("`start` prints only export lines a shell can eval, for a server on 127.0.0.1 alone, on ports of its own", () => {
    const r = storeCli("start", "--dir", dirA);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    for (const l of lines) assert.match(l, /^export [A-Z_]+='[^']*'$/);
    const sh = spawnSync("sh", ["-c", `eval "$1" && env`, "sh", r.stdout], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });
    const exported = Object.fromEntries(
      sh.stdout
        .split("\n")
        .map((l) => l.split(/=(.*)/s))
        .filter(([k]) => /^(PULUMI_BACKEND_URL|AWS_\w+)$/.test(k))
        .map(([k, v]) => [k, v]),
    );
    const store = running(dirA);
    assert.deepEqual(exported, store.env);
    assert.equal(
      exported.PULUMI_BACKEND_URL,
      `s3://fleet?endpoint=http://127.0.0.1:${store.ports.s3}&use_path_style=true&region=us-east-1&response_checksum_validation=when_required`,
    );
    assert.equal(exported.AWS_REGION, "us-east-1");
    assert.equal(exported.AWS_ACCESS_KEY_ID, store.credentials.accessKeyId);
    assert.equal(fs.statSync(path.join(dirA, "credentials.json")).mode & 0o777, 0o600);

    // Every listener is one of the ports chosen, on 127.0.0.1; none is one of weed's defaults.
    const ports = Object.values(store.ports);
    assert.deepEqual(listening(store.pid), ports.map((p) => `127.0.0.1:${p}`).sort());
    for (const p of ports) {
      assert.ok(!WEED_DEFAULTS.includes(p) && !WEED_DEFAULTS.includes(p - 10_000), `port ${p}`);
    }
  });

  it("Pulumi's engine keeps stacks in it: stack init, stack ls, stack export", () => {
    const store = running(dirA);
    const pulumi = pulumiOn(store, path.join(tmp, "project-a"));
    pulumi("stack", "init", "dev");
    assert.deepEqual(stackNames(pulumi), ["dev"]);
    const exported = JSON.parse(pulumi("stack", "export")) as { version: number };
    assert.equal(exported.version, 3);
  });

  it("a second store in another folder runs at the same time, on other ports, with other keys and its own stacks", async () => {
    const a = running(dirA);
    const b = await startStore({ dir: dirB, weed });
    assert.equal(b.reused, false);
    assert.notEqual(b.pid, a.pid);
    const portsA = new Set(Object.values(a.ports));
    for (const p of Object.values(b.ports)) assert.ok(!portsA.has(p), `port ${p} used twice`);
    assert.notEqual(b.credentials.accessKeyId, a.credentials.accessKeyId);
    const pulumiB = pulumiOn(b, path.join(tmp, "project-b"));
    assert.deepEqual(stackNames(pulumiB), []);
    pulumiB("stack", "init", "other");
    assert.deepEqual(stackNames(pulumiB), ["other"]);
    assert.deepEqual(stackNames(pulumiOn(a, path.join(tmp, "project-a"))), ["dev"]);
    assert.ok(alive(a.pid) && alive(b.pid));
  });

  it("`start` on a running store reuses it; a restart keeps its keys, its master's ports and its stacks", async () => {
    const first = running(dirA);
    const again = await startStore({ dir: dirA, weed });
    assert.equal(again.reused, true);
    assert.equal(again.pid, first.pid);

    assert.equal((await stopStore({ dir: dirA })).stopped, true);
    const restarted = await startStore({ dir: dirA, weed });
    assert.equal(restarted.reused, false);
    assert.notEqual(restarted.pid, first.pid);
    assert.deepEqual(restarted.credentials, first.credentials);
    const masterPorts = (p: StorePorts) => [p.master, p.masterGrpc];
    assert.deepEqual(masterPorts(restarted.ports), masterPorts(first.ports));
    assert.deepEqual(stackNames(pulumiOn(restarted, path.join(tmp, "project-a"))), ["dev"]);
    const log = fs.readFileSync(restarted.log, "utf8");
    assert.doesNotMatch(log, /growth frozen|topology id/i, "the master found its own state");
  });

  it("`stop` stops it: the process is gone, the port closed, the state file removed; stopping again succeeds", async () => {
    const store = running(dirB);
    const r = storeCli("stop", "--dir", dirB);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`stopped weed \\(pid ${store.pid}\\)`));
    // weed is this process's child (the test before started it): gone once reaped.
    assert.equal(await eventually(() => !alive(store.pid), 5_000), true, "weed has exited");
    assert.equal(await accepts(store.ports.s3), false);
    assert.equal(fs.existsSync(path.join(dirB, "server.json")), false);
    assert.equal(runningStore(dirB), undefined);

    const again = storeCli("stop", "--dir", dirB);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /not running/);
    const env = storeCli("env", "--dir", dirB);
    assert.equal(env.status, 1);
    assert.equal(env.stdout, "");
    assert.match(env.stderr, /no store is running/);
  });

  it("a restart is refused, saying why, when another process holds the master's port (its metadata is kept by port)", async () => {
    const store = running(dirA);
    assert.equal((await stopStore({ dir: dirA })).stopped, true);
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(store.ports.master, STORE_HOST, r));
    try {
      await assert.rejects(startStore({ dir: dirA, weed }), (e: Error) => {
        assert.equal(e.name, "StoreError");
        assert.match(
          e.message,
          new RegExp(`m${store.ports.master}\\).*is now used by another process`),
        );
        return true;
      });
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    const restarted = await startStore({ dir: dirA, weed });
    assert.equal(restarted.ports.master, store.ports.master);
  });

  it("a weed that dies while starting is reported with the end of its log, and nothing is left running", async () => {
    const dir = path.join(tmp, "broken");
    fs.mkdirSync(dir);
    // The filer keeps its metadata in the folder filerldb2: a file there is fatal to weed.
    fs.writeFileSync(path.join(dir, "filerldb2"), "not a folder\n");
    await assert.rejects(startStore({ dir, weed }), (e: Error) => {
      assert.equal(e.name, "StoreError");
      assert.match(e.message, /weed exited \(exit \d+\) before S3 answered/);
      assert.match(e.message, /weed\.log:\n(.*\n)*.*filerldb2.*Not a valid folder/);
      return true;
    });
    assert.equal(fs.existsSync(path.join(dir, "server.json")), false);
    assert.equal(runningStore(dir), undefined);
  });
});
