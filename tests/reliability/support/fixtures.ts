/**
 * Shared helpers of the reliability suite: temporary engine doubles, realistic fake
 * credentials and scanners for them, output capture for in-process CLI runs, and the
 * "truth" of a stack (config, outputs, state) in one call.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudContext, type CloudContextOptions } from "../../../context/cloud-context";
import type { ConfigValue } from "../../../context/stack";
import { entryName, parseWorkerEntries } from "../../../config/fleet-config";
import { EngineDouble } from "../../harness/engine-double";

/** Realistic fake credentials: shaped like the real ones, valid nowhere. */
export const FAKE = {
  doToken: `dop_v1_${crypto.randomBytes(32).toString("hex")}`,
  awsKeyId: `AKIA${Array.from({ length: 16 }, () => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[crypto.randomInt(32)]).join("")}`,
  awsSecret: crypto.randomBytes(30).toString("base64"),
  pem: [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    ...Array.from({ length: 5 }, () => crypto.randomBytes(52).toString("base64")),
    "-----END OPENSSH PRIVATE KEY-----",
  ].join("\n"),
} as const;

/** Distinctive fragments whose presence anywhere means a leak. */
export function secretNeedles(): string[] {
  const pemBody = FAKE.pem.split("\n").slice(1, -1);
  return [
    FAKE.doToken,
    FAKE.doToken.slice("dop_v1_".length), // the hex body alone
    FAKE.awsKeyId,
    FAKE.awsSecret,
    ...pemBody,
    Buffer.from(FAKE.doToken).toString("base64"),
  ];
}

/** Occurrences of any fake credential (or a distinctive fragment of one) in `text`. */
export function countSecrets(text: string): number {
  let n = 0;
  for (const needle of secretNeedles()) {
    let i = text.indexOf(needle);
    while (i >= 0) {
      n++;
      i = text.indexOf(needle, i + needle.length);
    }
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) n++;
  return n;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fleet-rel-${prefix}-`));
}

/** Writes the double's config.json: plain values, or `{ value, secret }`. */
export function writeConfig(dir: string, config: Record<string, string | ConfigValue>): void {
  const values: Record<string, ConfigValue> = {};
  for (const [k, v] of Object.entries(config)) values[k] = typeof v === "string" ? { value: v } : v;
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(values));
}

/** A fresh engine double in a temp dir (the dir is also the project dir). */
export function newDouble(
  prefix: string,
  config: Record<string, string | ConfigValue> = { "fleet:cloud": "digitalocean" },
): { dir: string; stack: EngineDouble } {
  const dir = tempDir(prefix);
  writeConfig(dir, config);
  return { dir, stack: new EngineDouble({ dir }) };
}

/** A CloudContext over `stack` with test-sized retries and lock staleness. */
export function contextFor(
  stack: EngineDouble,
  dir: string,
  options: Partial<CloudContextOptions> = {},
): CloudContext {
  return new CloudContext({
    stack,
    projectDir: dir,
    env: {
      DIGITALOCEAN_TOKEN: FAKE.doToken,
      AWS_ACCESS_KEY_ID: FAKE.awsKeyId,
      AWS_REGION: "us-east-1",
    },
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    lock: { staleMs: 5_000, timeoutMs: 120_000, pollMs: 50 },
    ...options,
  });
}

/** What a stack says about its workers, from each source of truth. */
export interface Truth {
  /** Names in `fleet:workers`, in order. */
  config: string[];
  /** Names in the `workers` output, in order. */
  outputs: string[];
  /** Worker names with a worker resource (Droplet or Instance) in state; repeats kept. */
  state: string[];
  /** Worker resource ids in state. */
  ids: string[];
}

const WORKER_TYPES = new Set(["digitalocean:index/droplet:Droplet", "aws:ec2/instance:Instance"]);

export async function truthOf(stack: EngineDouble): Promise<Truth> {
  const config = await stack.getAllConfig();
  const raw = config["fleet:workers"]?.value;
  const entries = raw ? parseWorkerEntries("fleet:workers", JSON.parse(raw)) : [];
  const outputs = await stack.outputs();
  const listed = Array.isArray(outputs.workers) ? (outputs.workers as { name: string }[]) : [];
  const workers = stack.state().resources.filter((r) => WORKER_TYPES.has(r.type));
  return {
    config: entries.map(entryName),
    outputs: listed.map((w) => w.name),
    state: workers.map((r) => r.name.replace(/^(digitalocean|aws|local)-/, "")),
    ids: workers.map((r) => r.id ?? ""),
  };
}

/** Lost and phantom workers of `truth` against the intended set (duplicates count as phantom). */
export function compareTruth(
  truth: Truth,
  intended: readonly string[],
): { lost: number; phantom: number; details: string[] } {
  const want = new Set(intended);
  let lost = 0;
  let phantom = 0;
  const details: string[] = [];
  for (const [source, names] of Object.entries({
    config: truth.config,
    outputs: truth.outputs,
    state: truth.state,
  })) {
    const have = new Set(names);
    const missing = [...want].filter((n) => !have.has(n));
    const extra = names.filter((n) => !want.has(n));
    const dup = names.length - have.size;
    lost += missing.length;
    phantom += extra.length + dup;
    if (missing.length) details.push(`${source} lacks ${missing.join(", ")}`);
    if (extra.length) details.push(`${source} has unexpected ${extra.join(", ")}`);
    if (dup) details.push(`${source} has ${dup} duplicates`);
  }
  if (new Set(truth.ids).size !== truth.ids.length) {
    phantom++;
    details.push("state has duplicate resource ids");
  }
  return { lost, phantom, details };
}

/** The bytes of the double's config and state: equal snapshots mean nothing changed. */
export function snapshot(dir: string): string {
  const h = crypto.createHash("sha256");
  for (const f of ["config.json", "state.json"]) {
    const file = path.join(dir, f);
    h.update(f);
    h.update(fs.existsSync(file) ? fs.readFileSync(file) : Buffer.from("(none)"));
  }
  return h.digest("hex");
}

/** Output captured from an in-process run. */
export interface Captured<T> {
  result: T;
  stdout: string;
  stderr: string;
}

type Write = typeof process.stdout.write;

/** Runs `fn` with process.stdout/stderr writes captured (not shown). */
export async function capture<T>(fn: () => Promise<T>): Promise<Captured<T>> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write;
  const origErr = process.stderr.write;
  const grab =
    (sink: string[]): Write =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const cb = rest.find((r): r is () => void => typeof r === "function");
      if (cb) cb();
      return true;
    };
  process.stdout.write = grab(out);
  process.stderr.write = grab(err);
  try {
    const result = await fn();
    return { result, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
}

/** Every regular file under `dir`, recursively (lock directories included). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.push(full);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/**
 * Scans every file under `dir` for fake credentials. Excluded by design: the double's
 * config.json entries marked secret (Pulumi keeps those encrypted) and the generated
 * passphrase file. Returns the leaks found as "file: count".
 */
export function scanFiles(
  dir: string,
  fixtures: ReadonlySet<string> = new Set(),
): { scanned: number; leaks: string[] } {
  const leaks: string[] = [];
  let scanned = 0;
  for (const file of filesUnder(dir)) {
    if (path.basename(file) === "passphrase" && path.basename(path.dirname(file)) === ".fleet")
      continue;
    if (fixtures.has(path.relative(dir, file))) continue;
    let text = fs.readFileSync(file, "utf8");
    if (path.basename(file) === "config.json") {
      const config = JSON.parse(text) as Record<string, ConfigValue>;
      for (const [k, v] of Object.entries(config)) if (v.secret) delete config[k];
      text = JSON.stringify(config);
    }
    scanned++;
    const n = countSecrets(text);
    if (n) leaks.push(`${path.relative(dir, file)}: ${n}`);
  }
  return { scanned, leaks };
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
