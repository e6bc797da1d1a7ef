/**
 * A real S3-compatible object store on loopback, for fleet's shared-backend tests and CI:
 * SeaweedFS (`weed mini`: master, volume server, filer and S3 gateway in one process), built
 * from its Go module pinned in `store/go.mod`. `npm run store -- start|stop|env|build` runs this
 * file; tests call `buildStore`, `startStore` and `stopStore`.
 *
 * - `buildStore` builds `weed` into `~/.fleet/store/<version>/bin` (the pinned module version,
 *   without the `v`), skipped when unchanged, like the engine (gobuild/gobuild.ts).
 * - `startStore` starts `weed mini` detached, in its own process group, with its data, log and
 *   state in one folder (default `<repo>/.fleet/store`). Every listener binds 127.0.0.1 only, on
 *   ports chosen free at start (below the kernel's ephemeral range, so no outgoing connection
 *   takes one before weed binds it), so any number of stores run side by side. The bucket
 *   `fleet` exists once it returns. Access keys are made once per folder and reused.
 * - `stopStore` stops it: SIGTERM to the process group, SIGKILL after a timeout.
 *
 * Files in the store folder besides weed's own data:
 * - `credentials.json` (0600): the store's access key, in SeaweedFS's identities format, given
 *   to weed as `-s3.config`; made on first start, reused after;
 * - `server.json`: the running server (pid, ports, endpoint); removed by `stopStore`;
 * - `ports.json`: the ports of the last start. weed's master keeps its metadata in
 *   `m<master port>` (weed/command/master.go), and a master started on another port rebuilds
 *   its state and freezes volume growth ("a volume server reports topology id … but this
 *   cluster is …"), so a restart takes the same master ports again, and the others when free;
 * - `weed.log` (the previous start's in `weed.previous.log`); `store.lock` (start and stop
 *   take it, so two callers never start two servers on one folder).
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { LockTimeoutError, withLock } from "../context/lock";
import {
  buildGoTools,
  type GoBuildOptions,
  type GoToolResult,
  readOr,
  repoRoot,
  requiredVersion,
  writeAtomically,
} from "../gobuild/gobuild";

/** The Go module that pins SeaweedFS. */
export const STORE_MODULE_DIR = path.join(repoRoot(), "store");
const SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs";
const WEED_PACKAGE = `${SEAWEEDFS_MODULE}/weed`;
/** Where SeaweedFS's builds stamp the commit `weed version` prints (weed/util/version). */
const COMMIT_VARIABLE = `${SEAWEEDFS_MODULE}/weed/util/version.COMMIT`;

/** The bucket every store has (`-bucket`); the backend URL names it. */
export const STORE_BUCKET = "fleet";
/** The region the environment names; SeaweedFS accepts any, the AWS SDK needs one. */
export const STORE_REGION = "us-east-1";
/** The only address a store listens on. */
export const STORE_HOST = "127.0.0.1";

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

/** The SeaweedFS version pinned in `store/go.mod`, without the `v`. */
export function pinnedStoreVersion(): string {
  return requiredVersion(STORE_MODULE_DIR, SEAWEEDFS_MODULE).replace(/^v/, "");
}

/** The root `weed` is built into: `~/.fleet/store/<version>`. */
export function storeInstallRoot(version = pinnedStoreVersion()): string {
  return path.join(os.homedir(), ".fleet", "store", version);
}

/** The store folder `npm run store` uses without `--dir`: `<repo>/.fleet/store`. */
export function defaultStoreDir(): string {
  return path.join(repoRoot(), ".fleet", "store");
}

/** `root` defaults to `storeInstallRoot()`. */
export type BuildStoreOptions = GoBuildOptions;

export interface BuildStoreResult extends GoToolResult {
  /** The built `weed` executable, `<root>/bin/weed`. */
  weed: string;
}

/** Builds `weed` from `store/go.mod` into `<root>/bin` (or finds it already built). */
export async function buildStore(options: BuildStoreOptions = {}): Promise<BuildStoreResult> {
  const version = pinnedStoreVersion();
  // A pseudo-version ends in the commit's first 12 hex digits; a release is its tag.
  const commit = /-([0-9a-f]{12})$/.exec(version)?.[1] ?? `v${version}`;
  const r = await buildGoTools({
    ...options,
    defaultRoot: storeInstallRoot(version),
    stampName: ".fleet-store-stamp",
    binaries: [
      {
        moduleDir: STORE_MODULE_DIR,
        pkg: WEED_PACKAGE,
        name: "weed",
        what: `SeaweedFS ${version} (${WEED_PACKAGE})`,
        linkerVariables: { [COMMIT_VARIABLE]: commit },
      },
    ],
    goMissing: (why) =>
      `building the SeaweedFS object store (weed, pinned in store/go.mod) needs Go 1.26 or newer, and \`go\` ${why}; ` +
      `install Go (https://go.dev/dl/)`,
    error: (message) => new StoreError(message),
  });
  return { ...r, weed: path.join(r.bin, "weed"), version };
}

/** Every port a store listens on, each chosen at start. */
export interface StorePorts {
  master: number;
  masterGrpc: number;
  volume: number;
  volumeGrpc: number;
  filer: number;
  filerGrpc: number;
  s3: number;
  s3Grpc: number;
  admin: number;
  adminGrpc: number;
}

/** The weed mini flag for each port. */
const PORT_FLAGS: Record<keyof StorePorts, string> = {
  master: "master.port",
  masterGrpc: "master.port.grpc",
  volume: "volume.port",
  volumeGrpc: "volume.port.grpc",
  filer: "filer.port",
  filerGrpc: "filer.port.grpc",
  s3: "s3.port",
  s3Grpc: "s3.port.grpc",
  admin: "admin.port",
  adminGrpc: "admin.port.grpc",
};
const PORT_NAMES = Object.keys(PORT_FLAGS) as (keyof StorePorts)[];
/** The ports the master's metadata depends on (see the file comment): kept across restarts. */
const MASTER_PORTS: (keyof StorePorts)[] = ["master", "masterGrpc"];

/**
 * weed mini's default ports (weed help mini; gRPC ones are the HTTP port + 10000), never
 * chosen, so a store never answers where another SeaweedFS would be expected.
 */
const WEED_DEFAULT_PORTS = new Set([
  9333, 19333, 9340, 19340, 8888, 18888, 8333, 18333, 12535, 22535, 23646, 33646, 7333, 8181, 9101,
  6060,
]);

/** The store's S3 credentials. */
export interface StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What `server.json` records about a running store. */
export interface StoreServer {
  /** weed's pid, also its process group. */
  pid: number;
  /** The store folder (absolute). */
  dir: string;
  /** The S3 endpoint, `http://127.0.0.1:<s3 port>`. */
  endpoint: string;
  ports: StorePorts;
  /** The `weed` executable running. */
  weed: string;
  /** weed's log. */
  log: string;
  /** ISO time it was started. */
  startedAt: string;
}

/** A running store and the environment that points Pulumi at it. */
export interface RunningStore extends StoreServer {
  credentials: StoreCredentials;
  /** `PULUMI_BACKEND_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`. */
  env: Record<string, string>;
  /** True when `startStore` found it already running. */
  reused: boolean;
}

export interface StartStoreOptions {
  /** The store folder (data, log, credentials, state). @default defaultStoreDir() */
  dir?: string;
  /** The `weed` to run. @default `weed` in storeInstallRoot()'s `bin` (buildStore builds it) */
  weed?: string;
  /** How long weed may take to serve S3 with the bucket in place. @default 60000 */
  timeoutMs?: number;
  /** Progress lines. @default none */
  onProgress?: (line: string) => void;
}

export interface StopStoreOptions {
  /** The store folder. @default defaultStoreDir() */
  dir?: string;
  /** How long weed may take to exit after SIGTERM before it gets SIGKILL. @default 15000 */
  timeoutMs?: number;
}

export interface StopStoreResult {
  /** False when no store was running there. */
  stopped: boolean;
  /** The pid stopped. */
  pid?: number;
  /** True when it needed SIGKILL. */
  killed?: boolean;
}

const files = (dir: string) => ({
  credentials: path.join(dir, "credentials.json"),
  server: path.join(dir, "server.json"),
  ports: path.join(dir, "ports.json"),
  log: path.join(dir, "weed.log"),
  previousLog: path.join(dir, "weed.previous.log"),
  lock: path.join(dir, "store.lock"),
});

/**
 * The environment that points Pulumi (and any AWS SDK) at a store. The backend URL's query
 * parameters are gocloud.dev's, which Pulumi's S3 backend opens it with:
 * `use_path_style` (blob/s3blob/s3blob.go, URLOpener: "sets the UsePathStyle option", so the
 * bucket is in the path, not a `fleet.127.0.0.1` host name); `endpoint`, `region` and
 * `response_checksum_validation` (aws/aws.go, V2ConfigFromURLParams). `when_required` stops
 * aws-sdk-go-v2 from warning "Response has no supported checksum" on every object SeaweedFS
 * returns without one.
 */
export function storeEnv(endpoint: string, credentials: StoreCredentials): Record<string, string> {
  const query = [
    `endpoint=${endpoint}`,
    "use_path_style=true",
    `region=${STORE_REGION}`,
    "response_checksum_validation=when_required",
  ].join("&");
  return {
    PULUMI_BACKEND_URL: `s3://${STORE_BUCKET}?${query}`,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: STORE_REGION,
  };
}

/** `export NAME='value'` lines, quoted for sh, for `eval "$(npm run --silent store -- start)"`. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`)
    .join("");
}

/** SeaweedFS's identities file (`-s3.config`): one identity, `fleet`, with every action. */
interface IdentitiesFile {
  identities: {
    name: string;
    credentials: { accessKey: string; secretKey: string }[];
    actions: string[];
  }[];
}

/** The folder's credentials, made (0600) on first use. */
function credentialsFor(dir: string): StoreCredentials {
  const file = files(dir).credentials;
  const text = readOr(file);
  if (text !== undefined) {
    const key = (JSON.parse(text) as Partial<IdentitiesFile>).identities?.[0]?.credentials?.[0];
    if (!key?.accessKey || !key.secretKey)
      throw new StoreError(`${file} has no access key; delete it to make new credentials`);
    return { accessKeyId: key.accessKey, secretAccessKey: key.secretKey };
  }
  const accessKeyId = `FLEET${crypto.randomBytes(10).toString("hex").toUpperCase()}`;
  const secretAccessKey = crypto.randomBytes(30).toString("base64url");
  const identities: IdentitiesFile = {
    identities: [
      {
        name: "fleet",
        credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
        actions: ["Admin", "Read", "Write", "List", "Tagging"],
      },
    ],
  };
  writeAtomically(file, `${JSON.stringify(identities, null, 2)}\n`, 0o600);
  return { accessKeyId, secretAccessKey };
}

/**
 * What `pid` is, as the `weed` serving `dir`: `running`; `exiting` (its memory is gone, so its
 * command line reads empty, but it may still hold its sockets); or `gone` (no such process, a
 * zombie, or a recycled pid whose command line names no `-dir=<dir>`). Without /proc, signal 0
 * alone decides.
 */
function weedState(pid: number, dir: string): "running" | "exiting" | "gone" {
  try {
    process.kill(pid, 0);
  } catch {
    return "gone"; // or another user's process (EPERM): not a weed this user started
  }
  if (!fs.existsSync(`/proc/${process.pid}`)) return "running";
  const stat = readOr(`/proc/${pid}/stat`);
  // pid (comm) state …: the state follows the last ")".
  const state = stat?.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  if (state === undefined || state === "Z" || state === "X") return "gone";
  const cmdline = readOr(`/proc/${pid}/cmdline`) ?? "";
  if (cmdline === "") return "exiting";
  return cmdline.split("\0").includes(`-dir=${dir}`) ? "running" : "gone";
}

/** Waits (up to `ms`) until every port can be bound again: the sockets are closed. */
async function portsReleased(ports: StorePorts, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (const port of Object.values(ports)) {
    for (;;) {
      const s = await canBind(port);
      if (s) {
        await new Promise((r) => s.close(r));
        break;
      }
      if (Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function readServer(dir: string): StoreServer | undefined {
  const text = readOr(files(dir).server);
  return text === undefined ? undefined : (JSON.parse(text) as StoreServer);
}

/** The running store in `dir` (with its environment), or undefined when none runs there. */
export function runningStore(dir = defaultStoreDir()): RunningStore | undefined {
  const abs = path.resolve(dir);
  const server = readServer(abs);
  if (!server || weedState(server.pid, abs) !== "running") return undefined;
  const credentials = credentialsFor(abs);
  return { ...server, credentials, env: storeEnv(server.endpoint, credentials), reused: true };
}

/** The last `lines` lines of weed's log. */
function logTail(log: string, lines = 25): string {
  const text = readOr(log) ?? "";
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Whether `port` can be bound on 127.0.0.1 now. */
function canBind(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host: STORE_HOST }, () => resolve(server));
  });
}

/** The first port of the kernel's ephemeral range (`ip_local_port_range`), 32768 if unknown. */
function ephemeralFloor(): number {
  const m = /^(\d+)/.exec(readOr("/proc/sys/net/ipv4/ip_local_port_range") ?? "");
  return m ? Number(m[1]) : 32768;
}

/**
 * Ports for a store: `previous` ones where still free (the master's must be, once its metadata
 * folder exists), the rest chosen at random from 10000 up to the ephemeral range (weed warns
 * that an admin gRPC port inside it can be taken by an outgoing connection before weed binds
 * it), never one of weed's defaults. Each is held while the others are chosen, so they differ.
 */
async function choosePorts(dir: string, previous?: StorePorts): Promise<StorePorts> {
  const held: net.Server[] = [];
  const chosen: Partial<StorePorts> = {};
  const floor = ephemeralFloor();
  const low = 10_000;
  try {
    for (const name of PORT_NAMES) {
      const want = previous?.[name];
      if (want) {
        const s = await canBind(want);
        if (s) {
          held.push(s);
          chosen[name] = want;
          continue;
        }
        if (MASTER_PORTS.includes(name) && fs.existsSync(path.join(dir, `m${previous.master}`))) {
          throw new StoreError(
            `the store in ${dir} keeps its master's metadata under port ${previous.master} ` +
              `(${path.join(dir, `m${previous.master}`)}), and port ${want} (${PORT_FLAGS[name]}) is now used by another process; ` +
              `stop that process, or use another --dir`,
          );
        }
      }
      for (let attempt = 0; ; attempt++) {
        if (attempt === 200) throw new StoreError(`found no free port on ${STORE_HOST}`);
        // The kernel's choice when the range below the ephemeral one is too small.
        const port = floor - low >= 1000 ? low + crypto.randomInt(floor - low) : 0;
        if (WEED_DEFAULT_PORTS.has(port)) continue;
        const s = await canBind(port);
        if (!s) continue;
        const got = (s.address() as net.AddressInfo).port;
        held.push(s);
        if (WEED_DEFAULT_PORTS.has(got)) continue;
        chosen[name] = got;
        break;
      }
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
  return chosen as StorePorts;
}

/** weed's arguments: `mini` with everything on loopback and every port given. */
function weedArgs(dir: string, ports: StorePorts): string[] {
  return [
    // weed's log goes to stderr (weed.log) instead of files in /tmp.
    "-logtostderr",
    "mini",
    `-dir=${dir}`,
    `-ip=${STORE_HOST}`,
    `-ip.bind=${STORE_HOST}`,
    `-bucket=${STORE_BUCKET}`,
    `-s3.config=${files(dir).credentials}`,
    // Only S3 (and the master, volume server and filer behind it) is needed.
    "-webdav=false",
    "-admin.ui=false",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    "-admin.port.legacy=0",
    // mini reports cluster statistics to telemetry.seaweedfs.com unless told not to.
    "-master.telemetry=false",
    ...PORT_NAMES.map((name) => `-${PORT_FLAGS[name]}=${ports[name]}`),
  ];
}

/** An S3 request signed with AWS Signature Version 4 (no body); resolves with the status. */
function signedS3Request(
  endpoint: string,
  method: string,
  pathname: string,
  credentials: StoreCredentials,
): Promise<number> {
  const url = new URL(pathname, endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${STORE_REGION}/s3/aws4_request`;
  const payload = crypto.createHash("sha256").update("").digest("hex");
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": payload,
    "x-amz-date": amzDate,
  };
  const signed = Object.keys(headers).sort();
  const canonical = [
    method,
    url.pathname,
    "",
    ...signed.map((h) => `${h}:${headers[h]}`),
    "",
    signed.join(";"),
    payload,
  ].join("\n");
  const toSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    crypto.createHash("sha256").update(canonical).digest("hex"),
  ].join("\n");
  const hmac = (key: crypto.BinaryLike, data: string) =>
    crypto.createHmac("sha256", key).update(data).digest();
  let key = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [STORE_REGION, "s3", "aws4_request"]) key = hmac(key, part);
  const signature = crypto.createHmac("sha256", key).update(toSign).digest("hex");
  headers.authorization =
    `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signed.join(";")}, Signature=${signature}`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Waits until S3 answers HeadBucket for the store's bucket with 200, signed with its
 * credentials: the gateway is up, has loaded the identities, and mini has made the bucket (it
 * does so after every service is up). Fails at once when `exited()` says weed has exited.
 */
async function waitForS3(
  endpoint: string,
  credentials: StoreCredentials,
  timeoutMs: number,
  exited: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    const gone = exited();
    if (gone) throw new StoreError(`weed exited (${gone}) before S3 answered`);
    try {
      const status = await signedS3Request(endpoint, "HEAD", `/${STORE_BUCKET}`, credentials);
      if (status === 200) return;
      last = `HeadBucket ${STORE_BUCKET}: HTTP ${status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() >= deadline)
      throw new StoreError(
        `S3 at ${endpoint} did not serve bucket ${STORE_BUCKET} within ${Math.round(timeoutMs / 1000)} s (last: ${last})`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Removes the Unix sockets weed puts in /tmp beside its TCP ports (a path fixed in
 * weed/command/mini.go and filer.go/s3.go, keyed by port): weed removes them when it stops
 * cleanly, not when it dies or is killed. Only for a weed that has exited.
 */
function removeSockets(ports: StorePorts): void {
  const names = [
    `master-grpc-${ports.masterGrpc}`,
    `volume-grpc-${ports.volumeGrpc}`,
    `filer-grpc-${ports.filerGrpc}`,
    `s3-grpc-${ports.s3Grpc}`,
    `admin-grpc-${ports.adminGrpc}`,
    `filer-${ports.filer}`,
    `s3-${ports.s3}`,
  ];
  for (const n of names) fs.rmSync(`/tmp/seaweedfs-${n}.sock`, { force: true });
}

/** SIGTERM, then SIGKILL after `timeoutMs`, to the process group `pid` leads. */
async function stopGroup(pid: number, dir: string, timeoutMs: number): Promise<boolean> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // gone already
    }
  };
  const gone = () => weedState(pid, dir) === "gone";
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone()) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  signal("SIGKILL");
  while (!gone()) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** Runs `fn` holding the store folder's lock (start and stop take it), waiting `ms` at most. */
async function withStoreLock<T>(dir: string, ms: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await withLock(files(dir).lock, fn, { timeoutMs: ms });
  } catch (e) {
    if (e instanceof LockTimeoutError)
      throw new StoreError(
        `another process has been starting or stopping the store in ${dir} for over ${Math.round(ms / 1000)} s`,
      );
    throw e;
  }
}

/**
 * Starts a store in `options.dir` (or finds it running there) and waits until S3 serves the
 * bucket. On failure weed is stopped and the error ends with the tail of its log.
 */
export async function startStore(options: StartStoreOptions = {}): Promise<RunningStore> {
  const dir = path.resolve(options.dir ?? defaultStoreDir());
  const progress = options.onProgress ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const weed = options.weed ?? path.join(storeInstallRoot(), "bin", "weed");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = files(dir);
  return withStoreLock(dir, timeoutMs + 30_000, async () => {
    const running = runningStore(dir);
    if (running) {
      await waitForS3(running.endpoint, running.credentials, timeoutMs, () => undefined);
      progress(`store: already running in ${dir} (pid ${running.pid}) at ${running.endpoint}`);
      return running;
    }
    fs.rmSync(f.server, { force: true });
    if (!fs.existsSync(weed))
      throw new StoreError(`${weed} does not exist; build it first (npm run store -- build)`);
    const credentials = credentialsFor(dir);
    const previous = readOr(f.ports);
    const ports = await choosePorts(
      dir,
      previous === undefined ? undefined : (JSON.parse(previous) as StorePorts),
    );
    writeAtomically(f.ports, `${JSON.stringify(ports, null, 2)}\n`, 0o644);
    if (fs.existsSync(f.log)) fs.renameSync(f.log, f.previousLog);
    const log = fs.openSync(f.log, "w", 0o600);
    const started = Date.now();
    let child: ChildProcess;
    try {
      child = spawn(weed, weedArgs(dir, ports), {
        cwd: dir,
        detached: true,
        stdio: ["ignore", log, log],
        env: Object.fromEntries(
          // WEED_* would override weed's settings (viper); S3_BUCKET, S3_TABLE_BUCKET and
          // S3_EXTERNAL_URL are mini's fallbacks for flags.
          Object.entries(process.env).filter(([k]) => !/^(WEED_|S3_)/.test(k)),
        ),
      });
    } finally {
      fs.closeSync(log);
    }
    let exit: string | undefined;
    child.on("exit", (code, sig) => (exit = sig ?? `exit ${code}`));
    child.on("error", (e) => (exit = e.message));
    const pid = child.pid;
    const endpoint = `http://${STORE_HOST}:${ports.s3}`;
    try {
      if (pid === undefined) throw new StoreError(`could not run ${weed}`);
      await waitForS3(endpoint, credentials, timeoutMs, () => exit);
    } catch (e) {
      if (pid !== undefined && exit === undefined) await stopGroup(pid, dir, 5_000);
      await portsReleased(ports, 5_000);
      removeSockets(ports);
      const message = e instanceof Error ? e.message : String(e);
      throw new StoreError(
        `could not start the store in ${dir}: ${message}; the end of ${f.log}:\n${logTail(f.log)}`,
      );
    }
    child.unref();
    const server: StoreServer = {
      pid,
      dir,
      endpoint,
      ports,
      weed,
      log: f.log,
      startedAt: new Date(started).toISOString(),
    };
    writeAtomically(f.server, `${JSON.stringify(server, null, 2)}\n`, 0o644);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    progress(`store: started weed (pid ${pid}) in ${dir} at ${endpoint} in ${seconds} s`);
    return { ...server, credentials, env: storeEnv(endpoint, credentials), reused: false };
  });
}

/** Stops the store in `options.dir`; succeeds (`stopped: false`) when none runs there. */
export async function stopStore(options: StopStoreOptions = {}): Promise<StopStoreResult> {
  const dir = path.resolve(options.dir ?? defaultStoreDir());
  const f = files(dir);
  const timeoutMs = options.timeoutMs ?? 15_000;
  if (!fs.existsSync(f.server)) return { stopped: false };
  return withStoreLock(dir, timeoutMs + 90_000, async () => {
    const server = readServer(dir);
    if (!server || weedState(server.pid, dir) === "gone") {
      fs.rmSync(f.server, { force: true });
      return { stopped: false };
    }
    const killed = await stopGroup(server.pid, dir, timeoutMs);
    // A process is gone before its last thread has closed its sockets.
    await portsReleased(server.ports, 5_000);
    removeSockets(server.ports);
    fs.rmSync(f.server, { force: true });
    return { stopped: true, pid: server.pid, killed };
  });
}

/** `npm run store -- start|stop|env|build`: exit 0 ok, 1 failure, 2 usage error. */
export async function main(argv: readonly string[]): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const dirOption = ["--dir <dir>", "the store folder", defaultStoreDir()] as const;
  const program = new Command("store")
    .description(
      "A SeaweedFS S3 object store on 127.0.0.1 for fleet's shared-backend tests (weed built from store/go.mod).",
    )
    .configureOutput({
      outputError: (text, write) =>
        write(
          `store: error: ${text.replace(/^error: /, "").trim()} (store --help shows the usage)\n`,
        ),
    })
    .exitOverride();
  program
    .command("build")
    .description("build weed from store/go.mod if needed; prints its path")
    .option("--force", "build even when an identical build is there")
    .action(async (opts: { force?: boolean }) => {
      const r = await buildStore({ force: opts.force, onProgress: say });
      say(
        r.built
          ? `store: SeaweedFS ${r.version} built into ${r.weed} in ${r.seconds.toFixed(0)} s`
          : `store: SeaweedFS ${r.version} is already built in ${r.weed} (npm run store -- build --force rebuilds)`,
      );
      process.stdout.write(`${r.weed}\n`);
    });
  program
    .command("start")
    .description(
      "build weed if needed, start the store (or find it running); prints `export` lines",
    )
    .option(...dirOption)
    .action(async (opts: { dir: string }) => {
      const { weed } = await buildStore({ onProgress: say });
      const store = await startStore({ dir: opts.dir, weed, onProgress: say });
      process.stdout.write(exportLines(store.env));
    });
  program
    .command("stop")
    .description("stop the store")
    .option(...dirOption)
    .action(async (opts: { dir: string }) => {
      const r = await stopStore({ dir: opts.dir });
      say(
        r.stopped
          ? `store: stopped weed (pid ${r.pid}${r.killed ? ", with SIGKILL" : ""}) in ${path.resolve(opts.dir)}`
          : `store: not running in ${path.resolve(opts.dir)}`,
      );
    });
  program
    .command("env")
    .description("print the `export` lines of the running store")
    .option(...dirOption)
    .action((opts: { dir: string }) => {
      const store = runningStore(opts.dir);
      if (!store)
        throw new StoreError(
          `no store is running in ${path.resolve(opts.dir)} (npm run store -- start starts one)`,
        );
      process.stdout.write(exportLines(store.env));
    });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError)
      return e.exitCode === 0 || e.code === "commander.helpDisplayed" ? 0 : 2;
    say(`store: error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.stdout.write("", () => process.exit(code));
  });
}
