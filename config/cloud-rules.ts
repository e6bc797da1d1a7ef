/**
 * Each cloud's own rules for fleet's input, beyond fleet's common rules (`rules.ts`): worker
 * names the cloud refuses, and whether it needs an SSH key. A leaf module (it imports only
 * `errors.ts`), so config validation, the registry and the strategies can all use it while
 * imports run one way: registry → strategies → config.
 */
import { FleetConfigError } from "./errors";

/** A cloud's naming rule for worker names. */
export interface NameRule {
  /** What a valid name matches. */
  pattern: RegExp;
  /** The rule in words, for error messages. */
  rule: string;
}

/** The rules of one cloud. */
export interface CloudRules {
  /** Human name for messages and tables. */
  title: string;
  /**
   * This cloud's own rule for worker names, on top of fleet's rule (which every name already
   * meets). @default undefined (fleet's rule is enough)
   */
  workerName?: NameRule;
  /**
   * Why this cloud refuses workers without an SSH public key, when it does.
   * @default undefined (keys are optional)
   */
  sshKeyRequired?: string;
}

/** The rules of every cloud the registry knows (the registry spreads each into its entry). */
export const CLOUD_RULES = {
  aws: { title: "AWS EC2" },
  azure: {
    title: "Azure Virtual Machines",
    sshKeyRequired:
      "Azure Linux VMs need an SSH key or a password, and fleet disables password login",
    workerName: {
      // Azure VM names (Linux): at most 64 characters, no trailing '.' or '-'.
      pattern: /^.*[A-Za-z0-9]$/,
      rule: "an Azure VM name does not end with '.' or '-'",
    },
  },
  digitalocean: { title: "DigitalOcean Droplets" },
  gcp: {
    title: "Google Compute Engine",
    workerName: {
      pattern: /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
      rule: "a GCP instance name starts with a lowercase letter, uses only lowercase letters, digits and '-', does not end with '-', and has at most 63 characters",
    },
  },
  hetzner: {
    title: "Hetzner Cloud",
    workerName: {
      // Hetzner server names are hostnames (RFC 1123): dot-separated labels of letters,
      // digits and '-', each starting and ending with a letter or digit.
      pattern:
        /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
      rule: "a Hetzner server name is a hostname: labels of letters, digits and '-' separated by single dots, each label starting and ending with a letter or digit",
    },
  },
  local: { title: "local processes" },
} as const satisfies Record<string, CloudRules>;

/** A cloud that has rules here: every cloud of the registry. */
export type RuledCloud = keyof typeof CLOUD_RULES;

/**
 * Throws a `FleetConfigError` naming `fleet:sshPublicKeys` when `cloud` needs an SSH key
 * (`sshKeyRequired`) and none is configured. Config validation calls it before any engine
 * call; strategies call it again.
 */
export function assertSshKeys(cloud: RuledCloud, sshPublicKeys: readonly string[]): void {
  const r: CloudRules = CLOUD_RULES[cloud];
  if (!r.sshKeyRequired || sshPublicKeys.length > 0) return;
  throw new FleetConfigError(
    "fleet:sshPublicKeys",
    [],
    `at least one OpenSSH public key, e.g. pulumi config set --path 'fleet:sshPublicKeys[0]' "$(cat ~/.ssh/id_ed25519.pub)"`,
    `no SSH public key, but ${r.title} needs one (${r.sshKeyRequired}):`,
  );
}

/**
 * Throws a `FleetConfigError` naming the workers and the rule when worker names break their
 * cloud's own naming rule (`workerName`). Config validation calls it before any engine call;
 * strategies call it again so a component is never built with a name its cloud refuses.
 */
export function assertWorkerNames(
  cloud: RuledCloud,
  workers: readonly { readonly name: string }[],
): void {
  const r: CloudRules = CLOUD_RULES[cloud];
  const rule = r.workerName;
  if (!rule) return;
  const bad = workers.map((w) => w.name).filter((n) => !rule.pattern.test(n));
  if (bad.length) {
    throw new FleetConfigError(
      "fleet:workers",
      bad.length === 1 ? bad[0] : bad,
      `${rule.rule} (${r.title})`,
      `invalid worker name${bad.length === 1 ? "" : "s"} for ${cloud}:`,
    );
  }
}
