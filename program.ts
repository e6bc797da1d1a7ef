/**
 * The Pulumi program: stack config → validated FleetConfig → strategy registry → one
 * ComponentResource per cloud in use → the `workers` stack output.
 *
 * Written as a function so it runs under `pulumi up` (through `index.ts`), inline under the
 * Automation API (CloudContext), and again and again under mocks in tests and the engine double.
 */
import * as pulumi from "@pulumi/pulumi";
import { type FleetConfig, parseFleetConfig } from "./config/fleet-config";
import type { Worker } from "./strategies/contract";
import { loadStrategy } from "./strategies/registry";

/** Options for running the program outside the project directory. */
export interface FleetProgramOptions {
  /** Where relative paths in config (`fleet:userDataFile`) are resolved. @default process.cwd() */
  projectDir?: string;
}

/** The stack outputs fleet exports. */
export interface FleetOutputs {
  /** Every worker, in the order of `fleet:workers`. */
  workers: pulumi.Output<Worker[]>;
}

/**
 * Whether the engine marked a config key secret. The SDK has this as an `@internal` function
 * (runtime/config.js); when a future SDK drops it, every key counts as secret, so fleet never
 * refuses a properly stored secret.
 */
function isConfigSecret(key: string): boolean {
  const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean })
    .isConfigSecret;
  return fn ? fn(key) : true;
}

/** Reads the running stack's config through the Pulumi runtime and validates it. */
export function readFleetConfig(options: FleetProgramOptions = {}): FleetConfig {
  const values = pulumi.runtime.allConfig();
  const secretKeys = new Set(Object.keys(values).filter(isConfigSecret));
  return parseFleetConfig(values, {
    stack: pulumi.getStack(),
    secretKeys,
    projectDir: options.projectDir,
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
