/**
 * Early credential checks: before any engine call, each cloud in use must have credentials
 * where its provider looks for them. Only presence is checked, never the value, and no value
 * is ever printed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type CloudName, descriptor } from "../strategies/registry";
import { FleetConfigError } from "./errors";

/** Missing credentials for a cloud: names what to set. */
export class MissingCredentialsError extends FleetConfigError {
  constructor(cloud: CloudName, what: string, hint: string) {
    super(`credentials for ${cloud}`, undefined, hint, `${what} not found:`);
    this.name = "MissingCredentialsError";
  }
}

/** Where to look; injectable for tests. */
export interface CredentialEnvironment {
  env: NodeJS.ProcessEnv;
  /** Config keys present in the stack (values are not needed). */
  configKeys: ReadonlySet<string>;
  /** @default os.homedir() */
  homeDir?: string;
  /** @default fs.existsSync */
  exists?: (file: string) => boolean;
}

/** Throws `MissingCredentialsError` when a cloud's credentials (or required region) are absent. */
export function checkCredentials(cloud: CloudName, where: CredentialEnvironment): void {
  const c = descriptor(cloud).credentials;
  if (!c) return;
  const env = where.env;
  const home = where.homeDir ?? os.homedir();
  const exists = where.exists ?? fs.existsSync;
  const found =
    c.env.some((k) => !!env[k]) ||
    c.config.some((k) => where.configKeys.has(k)) ||
    c.homeFiles.some((f) => exists(path.join(home, f)));
  if (!found) {
    const names = [...c.env, ...c.config].join(", ");
    throw new MissingCredentialsError(
      cloud,
      `${descriptor(cloud).title} credentials (${names})`,
      c.hint,
    );
  }
  if (c.region && !where.configKeys.has(c.region.config) && !c.region.env.some((k) => !!env[k])) {
    throw new MissingCredentialsError(
      cloud,
      `a region for the ${cloud} provider (${[c.region.config, ...c.region.env].join(", ")})`,
      `set it with \`pulumi config set ${c.region.config} <region>\` or ${c.region.env.join("/")}`,
    );
  }
}
