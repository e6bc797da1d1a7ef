/**
 * Builds Pulumi's own engine from its Go module, for machines where Pulumi's release binaries
 * cannot be downloaded. `npm run engine` runs this file; fleet's `--install-pulumi` calls
 * `buildEngine` when `PulumiCommand.install` (a download) fails.
 *
 * What it builds, into the install root fleet already uses (`~/.fleet/pulumi/<version>/bin`,
 * `cliInstallRoot()`), so every path that finds an installed CLI finds this one:
 * - `pulumi`: `github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`, pinned in `engine/go.mod`;
 * - `pulumi-language-nodejs`: Pulumi's Node.js language host, pinned in
 *   `engine/language-nodejs/go.mod` (why that version: the comment in its `tools.go`);
 * - `pulumi-resource-pulumi-nodejs`: the few-line shim that runs the SDK's dynamic-provider host.
 * The engine looks for these bundled plugins next to its own executable before `PATH`
 * (sdk/go/common/workspace/plugins.go `GetPluginPath`, `IsPluginBundled`).
 *
 * Go's module and build caches make a second build quick; a stamp of the pinned inputs makes
 * an unchanged one a no-op. Binaries are written beside their final path and renamed, so a
 * half-built engine is never found.
 */
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** fleet's repository root (this file runs from `dist/engine/`, or from `engine/` as source). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`fleet: no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** The Go module that pins the engine. */
export const ENGINE_MODULE_DIR = path.join(repoRoot(), "engine");
/** The Go module that pins the Node.js language host. */
export const LANGUAGE_MODULE_DIR = path.join(ENGINE_MODULE_DIR, "language-nodejs");

const ENGINE_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi";
const LANGUAGE_PACKAGE = "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs";
/** Where Pulumi's release builds stamp their version (Pulumi's Makefile, `-ldflags -X`). */
const VERSION_VARIABLE = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version";

/** The version a module requires of `modulePath`, read from `go.mod`. */
export function requiredVersion(goModDir: string, modulePath: string): string {
  const text = fs.readFileSync(path.join(goModDir, "go.mod"), "utf8");
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(text);
  if (!m) throw new Error(`${path.join(goModDir, "go.mod")} does not require ${modulePath}`);
  return m[1];
}

/** The engine version pinned in `engine/go.mod`, without the `v`. */
export function pinnedEngineVersion(): string {
  return requiredVersion(ENGINE_MODULE_DIR, "github.com/pulumi/pulumi/pkg/v3").replace(/^v/, "");
}

/** The root the engine is built into: `~/.fleet/pulumi/<version>`, like `cliInstallRoot()`. */
export function engineInstallRoot(version = pinnedEngineVersion()): string {
  return path.join(os.homedir(), ".fleet", "pulumi", version);
}

/**
 * The dynamic-provider shim, as Pulumi ships it beside its CLI (sdk/nodejs/dist/
 * pulumi-resource-pulumi-nodejs), but resolving the SDK the way Node does from the program's
 * directory (the engine starts plugins there) instead of assuming `./node_modules`, so a
 * project whose `main` lives elsewhere still finds the SDK that serialized its providers.
 * `node` is the one on PATH, as for Pulumi's own shim; fleet puts its Node first on the PATH
 * it gives the engine.
 */
export const DYNAMIC_PROVIDER_SHIM = `#!/bin/sh
# Pulumi's dynamic-provider plugin: runs the @pulumi/pulumi SDK's provider host
# (@pulumi/pulumi/cmd/dynamic-provider) found from the working directory. Written by fleet
# (engine/build.ts), as Pulumi writes it beside its CLI.
host="$(node -p 'require.resolve("@pulumi/pulumi/cmd/dynamic-provider", { paths: [process.cwd()] })')" || exit 1
exec node "$host" "$@"
`;

export class EngineBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineBuildError";
  }
}

export interface BuildEngineOptions {
  /** Install root; the binaries go to `<root>/bin`. @default engineInstallRoot() */
  root?: string;
  /** Build even when the stamp says the pinned inputs are unchanged. @default false */
  force?: boolean;
  /** Progress lines (what is being built, elapsed time every 15 s). */
  onProgress?: (line: string) => void;
  /** Environment for `go`. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface BuildEngineResult {
  /** The folder with `pulumi` and its bundled plugins. */
  bin: string;
  /** The engine version built (from engine/go.mod). */
  version: string;
  /** False when an identical build was already there. */
  built: boolean;
  /** Wall-clock seconds this call took. */
  seconds: number;
}

/** What the build depends on: the pinned modules, the shim and the Go version. */
function stamp(goVersion: string): string {
  const h = crypto.createHash("sha256");
  for (const dir of [ENGINE_MODULE_DIR, LANGUAGE_MODULE_DIR])
    for (const f of ["go.mod", "go.sum"]) h.update(fs.readFileSync(path.join(dir, f)));
  h.update(DYNAMIC_PROVIDER_SHIM).update(goVersion);
  return h.digest("hex");
}

/** Builds the engine and its bundled plugins into `<root>/bin` (or finds them already built). */
export async function buildEngine(options: BuildEngineOptions = {}): Promise<BuildEngineResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => undefined);
  const version = pinnedEngineVersion();
  const bin = path.join(options.root ?? engineInstallRoot(version), "bin");
  const go = spawnSync("go", ["env", "GOVERSION"], { env, encoding: "utf8" });
  if (go.error || go.status !== 0) {
    throw new EngineBuildError(
      `building the Pulumi engine needs Go 1.26 or newer, and \`go\` ${go.error ? "was not found on PATH" : `failed: ${go.stderr.trim()}`}; ` +
        `install Go (https://go.dev/dl/) or install the Pulumi CLI v${version} (https://www.pulumi.com/docs/install/)`,
    );
  }
  const goVersion = go.stdout.trim();
  const stampFile = path.join(bin, ".fleet-engine-stamp");
  const want = stamp(goVersion);
  const binaries = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"];
  const complete = binaries.every((b) => fs.existsSync(path.join(bin, b)));
  if (!options.force && complete && readOr(stampFile) === want) {
    return { bin, version, built: false, seconds: (Date.now() - started) / 1000 };
  }
  fs.mkdirSync(bin, { recursive: true });
  const languageVersion = requiredVersion(LANGUAGE_MODULE_DIR, "github.com/pulumi/pulumi/sdk/v3");
  await goBuild(
    ENGINE_MODULE_DIR,
    ENGINE_PACKAGE,
    `v${version}`,
    path.join(bin, "pulumi"),
    `the Pulumi engine v${version} (${ENGINE_PACKAGE}, ${goVersion})`,
    env,
    progress,
  );
  await goBuild(
    LANGUAGE_MODULE_DIR,
    LANGUAGE_PACKAGE,
    languageVersion,
    path.join(bin, "pulumi-language-nodejs"),
    `Pulumi's Node.js language host (${LANGUAGE_PACKAGE}@${languageVersion})`,
    env,
    progress,
  );
  writeAtomically(path.join(bin, "pulumi-resource-pulumi-nodejs"), DYNAMIC_PROVIDER_SHIM, 0o755);
  writeAtomically(stampFile, want, 0o644);
  return { bin, version, built: true, seconds: (Date.now() - started) / 1000 };
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** `go build -v` in `moduleDir`, reporting elapsed time and packages compiled every 15 s. */
function goBuild(
  moduleDir: string,
  pkg: string,
  version: string,
  output: string,
  what: string,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
): Promise<void> {
  const tmp = `${output}.${process.pid}.tmp`;
  const args = [
    "build",
    "-v",
    "-trimpath",
    "-ldflags",
    `-s -w -X ${VERSION_VARIABLE}=${version}`,
    "-o",
    tmp,
    pkg,
  ];
  progress(`building ${what}…`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd: moduleDir, env, stdio: ["ignore", "ignore", "pipe"] });
    let compiled = 0;
    let tail = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      // `go build -v` names each package as it compiles it (cached ones are not named).
      compiled += chunk.split("\n").filter((l) => /^[\w.-]+(\/[\w.~-]+)*$/.test(l.trim())).length;
      tail = (tail + chunk).slice(-4000);
    });
    const timer = setInterval(
      () =>
        progress(
          `  still building (${Math.round((Date.now() - started) / 1000)} s, ${compiled} packages compiled)`,
        ),
      15_000,
    );
    child.on("error", (e) => {
      clearInterval(timer);
      reject(new EngineBuildError(`could not run go build for ${what}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearInterval(timer);
      if (code !== 0) {
        fs.rmSync(tmp, { force: true });
        const errors = tail
          .split("\n")
          .filter((l) => l.trim() && !/^[\w.-]+(\/[\w.~-]+)*$/.test(l.trim()))
          .slice(-8)
          .join("\n");
        reject(
          new EngineBuildError(
            `go build of ${what} in ${moduleDir} failed (${signal ?? `exit ${code}`}):\n${errors}`,
          ),
        );
        return;
      }
      fs.renameSync(tmp, output);
      progress(
        `  built ${path.basename(output)} in ${Math.round((Date.now() - started) / 1000)} s`,
      );
      resolve();
    });
  });
}

/** `npm run engine [-- --force]`: builds, then prints where the engine is and how to use it. */
async function main(argv: string[]): Promise<number> {
  const force = argv.includes("--force");
  const unknown = argv.filter((a) => a !== "--force");
  if (unknown.length) {
    process.stderr.write(
      `engine: error: unknown argument ${unknown[0]}; usage: npm run engine [-- --force]\n`,
    );
    return 2;
  }
  try {
    const r = await buildEngine({ force, onProgress: (l) => process.stderr.write(`${l}\n`) });
    process.stderr.write(
      r.built
        ? `engine: Pulumi v${r.version} built into ${r.bin} in ${r.seconds.toFixed(0)} s\n`
        : `engine: Pulumi v${r.version} is already built in ${r.bin} (npm run engine -- --force rebuilds)\n`,
    );
    process.stdout.write(`${r.bin}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`engine: error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
