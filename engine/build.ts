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
 * The build itself is `buildGoTools` (gobuild/gobuild.ts, shared with the object store's build):
 * Go's module and build caches make a second build quick; a stamp of the pinned inputs makes
 * an unchanged one a no-op. Binaries are written beside their final path and renamed, so a
 * half-built engine is never found.
 */
import * as os from "node:os";
import * as path from "node:path";
import {
  buildGoTools,
  type GoBuildOptions,
  type GoToolResult,
  repoRoot,
  requiredVersion,
} from "../gobuild/gobuild";

export { requiredVersion };

/** The Go module that pins the engine. */
export const ENGINE_MODULE_DIR = path.join(repoRoot(), "engine");
/** The Go module that pins the Node.js language host. */
export const LANGUAGE_MODULE_DIR = path.join(ENGINE_MODULE_DIR, "language-nodejs");

const ENGINE_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi";
const LANGUAGE_PACKAGE = "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs";
/** Where Pulumi's release builds stamp their version (Pulumi's Makefile, `-ldflags -X`). */
const VERSION_VARIABLE = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version";

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

/** `root` defaults to `engineInstallRoot()`. */
export type BuildEngineOptions = GoBuildOptions;

/** `bin` has `pulumi` and its bundled plugins. */
export type BuildEngineResult = GoToolResult;

/** Builds the engine and its bundled plugins into `<root>/bin` (or finds them already built). */
export async function buildEngine(options: BuildEngineOptions = {}): Promise<BuildEngineResult> {
  const version = pinnedEngineVersion();
  const languageVersion = requiredVersion(LANGUAGE_MODULE_DIR, "github.com/pulumi/pulumi/sdk/v3");
  const r = await buildGoTools({
    ...options,
    defaultRoot: engineInstallRoot(version),
    stampName: ".fleet-engine-stamp",
    binaries: [
      {
        moduleDir: ENGINE_MODULE_DIR,
        pkg: ENGINE_PACKAGE,
        name: "pulumi",
        what: `the Pulumi engine v${version} (${ENGINE_PACKAGE})`,
        linkerVariables: { [VERSION_VARIABLE]: `v${version}` },
      },
      {
        moduleDir: LANGUAGE_MODULE_DIR,
        pkg: LANGUAGE_PACKAGE,
        name: "pulumi-language-nodejs",
        what: `Pulumi's Node.js language host (${LANGUAGE_PACKAGE}@${languageVersion})`,
        linkerVariables: { [VERSION_VARIABLE]: languageVersion },
      },
    ],
    extraFiles: [
      { name: "pulumi-resource-pulumi-nodejs", text: DYNAMIC_PROVIDER_SHIM, mode: 0o755 },
    ],
    goMissing: (why) =>
      `building the Pulumi engine needs Go 1.26 or newer, and \`go\` ${why}; ` +
      `install Go (https://go.dev/dl/) or install the Pulumi CLI v${version} (https://www.pulumi.com/docs/install/)`,
    error: (message) => new EngineBuildError(message),
  });
  return { ...r, version };
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
