/**
 * The Pulumi program: stack config → validated FleetConfig → strategy registry → one
 * ComponentResource per cloud in use → the `workers` stack output.
 *
 * Written as a function so it runs under `pulumi up` (through `index.ts`), inline under the
 * Automation API (CloudContext), and again and again under mocks in tests and the engine double.
 */
import * as pulumi from "@pulumi/pulumi";
import { FleetConfigError, FleetConfigErrors } from "./config/errors";
import { type FleetConfig, PROJECT, parseFleetConfig } from "./config/fleet-config";
import { projectDirectory } from "./config/paths";
import {
  type DesiredRecord,
  NO_RECORD,
  RECORD_NAME,
  STATE_REVISION_KEY,
  desiredRecord,
  isRecordUrn,
  parseRecord,
  sharedState,
  staleMessage,
} from "./config/shared-state";
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
  /**
   * Whether the desired state lives in the backend (config/shared-state.ts).
   * @default sharedState(process.env)
   */
  sharedState?: boolean;
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
  /** On a shared backend: the revision of the desired state this update recorded. */
  fleetRevision?: string;
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
export async function declareFleet(
  config: FleetConfig,
  opts: pulumi.ComponentResourceOptions = {},
): Promise<FleetOutputs> {
  const perCloud: pulumi.Output<Worker[]>[] = [];
  for (const cloud of config.clouds) {
    const Strategy = await loadStrategy(cloud);
    const fleet = new Strategy(
      cloud,
      {
        workers: config.workers.filter((w) => w.cloud === cloud),
        sshPublicKeys: config.sshPublicKeys,
        sshAllowFrom: config.sshAllowFrom,
        userData: config.userData,
        tags: config.tags,
        extras: config.extras[cloud] ?? {},
        projectDir: config.projectDir,
      },
      opts,
    );
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
  const config = readFleetConfig(options);
  if (!(options.sharedState ?? sharedState())) return declareFleet(config);
  // On a shared backend (config/shared-state.ts): this runs inside `pulumi up`/`preview`, which
  // holds the stack's lock on the backend (pkg/backend/diy/lock.go), so the record read here is
  // the one this update replaces, and no other clone can change it until the update ends.
  const expected = new pulumi.Config(PROJECT).get(STATE_REVISION_KEY) ?? NO_RECORD;
  const actual = (await readDesiredRecord())?.revision ?? NO_RECORD;
  if (actual !== expected) throw new pulumi.RunError(staleMessage(expected, actual));
  const record = desiredRecord(config.cloud, config.entries);
  // Every worker depends on the record, so the engine finishes (and checkpoints) its step
  // before any worker's: a worker that then fails leaves the record saying what is wanted.
  const resource = new DesiredStateRecord(record);
  const outputs = await declareFleet(config, { dependsOn: [resource] });
  return { ...outputs, fleetRevision: record.revision };
}

/**
 * The record in the stack's last checkpoint, read through the engine's built-in
 * `pulumi:pulumi:readStackResourceOutputs` invoke (pkg/resource/deploy/builtins.go), which loads
 * the stack's snapshot from the backend (pkg/backend/backend.go `GetStackResourceOutputs`).
 */
export async function readDesiredRecord(): Promise<DesiredRecord | undefined> {
  const stackName = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  const result = (await pulumi.runtime.invoke("pulumi:pulumi:readStackResourceOutputs", {
    stackName,
  })) as { outputs?: Record<string, { outputs?: unknown }> } | undefined;
  for (const [urn, r] of Object.entries(result?.outputs ?? {}))
    if (isRecordUrn(urn)) return parseRecord(r.outputs);
  return undefined;
}

/** The record's provider: it keeps what it is given (no cloud behind it). */
const recordProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: Record<string, unknown>) {
    return { id: "fleet-desired", outs: inputs };
  },
  async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
    return { changes: olds.revision !== news.revision };
  },
  async update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>) {
    return { outs: news };
  },
};

/** The shared desired state, kept in the stack's checkpoint. */
class DesiredStateRecord extends pulumi.dynamic.Resource {
  constructor(record: DesiredRecord) {
    super(recordProvider, RECORD_NAME, { ...record }, {});
  }
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
