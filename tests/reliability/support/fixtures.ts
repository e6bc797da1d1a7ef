/**
 * Shared helpers of the reliability suite: realistic fake credentials and scanners for them,
 * temporary directories, and output capture for in-process CLI runs. Projects on Pulumi's
 * engine and the reckoning of lost, orphaned and phantom workers are in `project.ts`.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

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
 * Scans every file under `dir` for fake credentials (stack files, checkpoint, the plugins'
 * ledger and simulated cloud, logs). Excluded by design: the generated passphrase file.
 * Returns the leaks found as "file: count".
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
    const text = fs.readFileSync(file, "utf8");
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
