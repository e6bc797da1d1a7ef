/**
 * Builds tools from Go modules pinned in this repository, the way fleet builds both Pulumi's
 * engine (`engine/build.ts`, `npm run engine`) and the SeaweedFS object store its tests use
 * (`store/store.ts`, `npm run store -- build`).
 *
 * Each tool has a Go module of its own (a `go.mod` and `go.sum` with a `tools.go` importing the
 * package), so the version is in one reviewed file. `buildGoTools`:
 * - refuses with a clear error when `go` is missing, naming what it was building and what to do;
 * - skips the build when a stamp of the pinned inputs (the modules' `go.mod`/`go.sum`, any
 *   extra files it writes, the Go version) matches the one written by the last build;
 * - writes every output beside its final path and renames it, so a half-built binary is never
 *   found, and writes the stamp last;
 * - reports what it builds and, every 15 s, the elapsed time and packages compiled.
 * Go's module and build caches make a rebuild quick; an unchanged one is a no-op.
 */
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** fleet's repository root (found upwards from this file, compiled or not). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`fleet: no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** The version a module requires of `modulePath`, read from `go.mod`. */
export function requiredVersion(goModDir: string, modulePath: string): string {
  const text = fs.readFileSync(path.join(goModDir, "go.mod"), "utf8");
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(text);
  if (!m) throw new Error(`${path.join(goModDir, "go.mod")} does not require ${modulePath}`);
  return m[1];
}

/** One binary `go build` makes. */
export interface GoBinary {
  /** The Go module (folder with `go.mod`) it is built in. */
  moduleDir: string;
  /** The package built, e.g. `github.com/seaweedfs/seaweedfs/weed`. */
  pkg: string;
  /** The file name in the output folder. */
  name: string;
  /** For progress and errors: what is being built. */
  what: string;
  /** `-X name=value` settings for the linker (`-s -w` are always given). */
  linkerVariables?: Record<string, string>;
}

/** A small file written beside the binaries (a script, for example). */
export interface GoBuildExtraFile {
  name: string;
  text: string;
  mode: number;
}

/** What the caller of a tool's build chooses (`buildEngine`, `buildStore`). */
export interface GoBuildOptions {
  /** Install root; the tool goes to `<root>/bin`. @default the tool's own, under `~/.fleet` */
  root?: string;
  /** Build even when the stamp says the pinned inputs are unchanged. @default false */
  force?: boolean;
  /** Progress lines (what is being built, elapsed time every 15 s). @default none */
  onProgress?: (line: string) => void;
  /** Environment for `go`. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface GoBuildSpec extends GoBuildOptions {
  /** The install root when `root` is not given; the binaries go to `<root>/bin`. */
  defaultRoot: string;
  /** The stamp's file name in `bin`. */
  stampName: string;
  /** Built in this order. */
  binaries: GoBinary[];
  /** Written after the binaries; part of the stamp. */
  extraFiles?: GoBuildExtraFile[];
  /** The whole error when `go` cannot run; given why (`was not found on PATH`, …). */
  goMissing: (why: string) => string;
  /** Makes the error thrown (the caller's own class). */
  error: (message: string) => Error;
}

export interface GoBuildResult {
  /** The folder with the binaries, `<root>/bin`. */
  bin: string;
  /** False when an identical build was already there. */
  built: boolean;
  /** `go env GOVERSION`, e.g. `go1.26.8`. */
  goVersion: string;
  /** Wall-clock seconds this call took. */
  seconds: number;
}

/** What a tool's build function returns. */
export interface GoToolResult extends GoBuildResult {
  /** The version built: the tool's module version pinned in its go.mod, without the `v`. */
  version: string;
}

/**
 * What a build depends on: each module's `go.mod` and `go.sum` (each module once, in the order
 * first named), the extra files' text and the Go version.
 */
function stamp(spec: GoBuildSpec, goVersion: string): string {
  const h = crypto.createHash("sha256");
  for (const dir of new Set(spec.binaries.map((b) => b.moduleDir)))
    for (const f of ["go.mod", "go.sum"]) h.update(fs.readFileSync(path.join(dir, f)));
  for (const extra of spec.extraFiles ?? []) h.update(extra.text);
  h.update(goVersion);
  return h.digest("hex");
}

/** Builds `spec.binaries` into `<root>/bin`, unless the stamp shows an identical build is there. */
export async function buildGoTools(spec: GoBuildSpec): Promise<GoBuildResult> {
  const started = Date.now();
  const env = spec.env ?? process.env;
  const progress = spec.onProgress ?? (() => undefined);
  const go = spawnSync("go", ["env", "GOVERSION"], { env, encoding: "utf8" });
  if (go.error || go.status !== 0) {
    throw spec.error(
      spec.goMissing(go.error ? "was not found on PATH" : `failed: ${go.stderr.trim()}`),
    );
  }
  const goVersion = go.stdout.trim();
  const bin = path.join(spec.root ?? spec.defaultRoot, "bin");
  const stampFile = path.join(bin, spec.stampName);
  const want = stamp(spec, goVersion);
  const outputs = [...spec.binaries, ...(spec.extraFiles ?? [])].map((o) => o.name);
  const complete = outputs.every((name) => fs.existsSync(path.join(bin, name)));
  const seconds = () => (Date.now() - started) / 1000;
  if (!spec.force && complete && readOr(stampFile) === want) {
    return { bin, built: false, goVersion, seconds: seconds() };
  }
  fs.mkdirSync(bin, { recursive: true });
  for (const b of spec.binaries) await goBuild(b, bin, spec.error, goVersion, env, progress);
  for (const extra of spec.extraFiles ?? [])
    writeAtomically(path.join(bin, extra.name), extra.text, extra.mode);
  writeAtomically(stampFile, want, 0o644);
  return { bin, built: true, goVersion, seconds: seconds() };
}

/** A file's text, or undefined when it cannot be read. */
export function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Writes `file` through a temporary file beside it and a rename: readers see old or new. */
export function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** A line `go build -v` prints for a package it compiles (cached ones are not named). */
const PACKAGE_LINE = /^[\w.-]+(\/[\w.~-]+)*$/;

/** `go build -v` of one binary, reporting elapsed time and packages compiled every 15 s. */
function goBuild(
  b: GoBinary,
  bin: string,
  error: (message: string) => Error,
  goVersion: string,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
): Promise<void> {
  const output = path.join(bin, b.name);
  const tmp = `${output}.${process.pid}.tmp`;
  const variables = Object.entries(b.linkerVariables ?? {}).map(([k, v]) => ` -X ${k}=${v}`);
  const args = ["build", "-v", "-trimpath", "-ldflags", `-s -w${variables.join("")}`];
  args.push("-o", tmp, b.pkg);
  const what = `${b.what} (${goVersion})`;
  progress(`building ${what}…`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd: b.moduleDir, env, stdio: ["ignore", "ignore", "pipe"] });
    let compiled = 0;
    let tail = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      compiled += chunk.split("\n").filter((l) => PACKAGE_LINE.test(l.trim())).length;
      tail = (tail + chunk).slice(-4000);
    });
    const elapsed = () => Math.round((Date.now() - started) / 1000);
    const timer = setInterval(
      () => progress(`  still building (${elapsed()} s, ${compiled} packages compiled)`),
      15_000,
    );
    child.on("error", (e) => {
      clearInterval(timer);
      reject(error(`could not run go build for ${what}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearInterval(timer);
      if (code !== 0) {
        fs.rmSync(tmp, { force: true });
        const errors = tail
          .split("\n")
          .filter((l) => l.trim() && !PACKAGE_LINE.test(l.trim()))
          .slice(-8)
          .join("\n");
        const how = signal ?? `exit ${code}`;
        reject(error(`go build of ${what} in ${b.moduleDir} failed (${how}):\n${errors}`));
        return;
      }
      fs.renameSync(tmp, output);
      progress(`  built ${b.name} in ${elapsed()} s`);
      resolve();
    });
  });
}
