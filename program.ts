/**
 * The Pulumi program: stack config → validated FleetConfig → strategy registry → one
 * ComponentResource per cloud in use → the `workers` stack output.
 *
 * Written as a function so it runs under `pulumi up` (through `index.ts`), inline under the
 * Automation API (CloudContext), and again and again under mocks in tests and the engine double.
 */
import * as pulumi from "@pulumi/pulumi";
import { FleetConfigError, FleetConfigErrors } from "./config/errors";
import { type FleetConfig, parseFleetConfig } from "./config/fleet-config";
import { projectDirectory } from "./config/paths";
import type { Worker } from "./strategies/contract";
import { loadStrategy } from "./strategies/registry";

/** Options for running the program outside the project directory. */
export interface FleetProgramOptions {
  /**
   * The project directory: relative paths in config (`fleet:userDataFile`) and the local
   * cloud's logs and state are resolved against it.
   * @default the directory of `Pulumi.yaml`, found as `projectDirectory` (config/paths.ts) says
   */
  projectDir?: string;
}

/** The project directory of this run: `options.projectDir`, else where `Pulumi.yaml` is. */
export function programProjectDir(options: FleetProgramOptions = {}): string {
  return projectDirectory({
    explicit: options.projectDir,
    rootDirectory: pulumi.runtime.getRootDirectory(),
  });
}

/** The stack outputs fleet exports. */
export interface FleetOutputs {
  /** Every worker, in the order of `fleet:workers`. */
  workers: pulumi.Output<Worker[]>;
}

/** The part of `pulumi.runtime` that says which config keys the engine marked secret. */
export interface SecretConfigSource {
  isConfigSecret?: (key: string) => boolean;
}

/**
 * The config keys the engine marked secret. The SDK has no public API for this: it is the
 * `@internal` `isConfigSecret` of `runtime/config.js` (which reads the secret keys the language
 * host passes). When an SDK lacks it, fleet refuses to run rather than guess: counting every key
 * as secret would silently switch off the refusal of plain-text credentials, counting none would
 * refuse properly stored secrets with a misleading message.
 */
export function secretConfigKeys(
  keys: readonly string[],
  runtime: SecretConfigSource = pulumi.runtime as unknown as SecretConfigSource,
): Set<string> {
  const isSecret = runtime.isConfigSecret;
  if (typeof isSecret !== "function") {
    throw new Error(
      "fleet cannot tell secret stack config from plain text with this @pulumi/pulumi " +
        "(runtime.isConfigSecret is missing), so it cannot check that credentials are stored " +
        "as secrets; use the @pulumi/pulumi version pinned in fleet's package.json",
    );
  }
  return new Set(keys.filter((k) => isSecret(k)));
}

/** Reads the running stack's config through the Pulumi runtime and validates it. */
export function readFleetConfig(options: FleetProgramOptions = {}): FleetConfig {
  const values = pulumi.runtime.allConfig();
  const secretKeys = secretConfigKeys(Object.keys(values));
  return parseFleetConfig(values, {
    stack: pulumi.getStack(),
    secretKeys,
    projectDir: programProjectDir(options),
  });
}

/** Declares the fleet described by `config`: one strategy component per cloud in use. */
export async function declareFleet(config: FleetConfig): Promise<FleetOutputs> {
  const perCloud: pulumi.Output<Worker[]>[] = [];
  for (const cloud of config.clouds) {
    const Strategy = await loadStrategy(cloud);
    const fleet = new Strategy(cloud, {
      workers: config.workers.filter((w) => w.cloud === cloud),
      sshPublicKeys: config.sshPublicKeys,
      sshAllowFrom: config.sshAllowFrom,
      userData: config.userData,
      tags: config.tags,
      extras: config.extras[cloud] ?? {},
      projectDir: config.projectDir,
    });
    perCloud.push(fleet.workers);
  }
  const order = new Map(config.workers.map((w, i) => [w.name, i]));
  const workers = pulumi
    .all(perCloud)
    .apply((lists) =>
      lists.flat().sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0)),
    );
  return { workers };
}

/** The whole program: validate everything first, then declare. */
export async function fleetProgram(options: FleetProgramOptions = {}): Promise<FleetOutputs> {
  return declareFleet(readFleetConfig(options));
}

/**
 * What plain `pulumi preview` / `up` gets when the program fails: bad stack config becomes a
 * `pulumi.RunError`, which the SDK's program runner logs as its message alone (cmd/run/run.js:
 * "Always hide the stack for RunErrors"), instead of "failed with an unhandled exception" and
 * the stack trace of every nested error. The first line is a short lead, because the engine's
 * progress display repeats only a diagnostic's first line and its Diagnostics section prints the
 * whole message: each problem (the key, the value, what is allowed) appears once, one line each.
 * Any other error is returned unchanged: it is a bug, and its trace helps.
 */
export function runErrorOf(e: unknown): unknown {
  if (!(e instanceof FleetConfigError)) return e;
  const problems = e instanceof FleetConfigErrors ? e.errors.map((x) => x.message) : [e.message];
  return new pulumi.RunError(
    `fleet's stack config is invalid (\`pulumi config set\` or \`pulumi config rm\` fixes it):\n${problems.join("\n")}`,
  );
}
