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
  /**
   * What a region of this cloud looks like, checked where a region is offered as a placement
   * candidate (`fleet:placements`). @default undefined (any provider identifier)
   */
  regionRule?: NameRule;
  /**
   * What a provider size of this cloud looks like (abstract sizes are always allowed), checked
   * for placement candidates. @default undefined (any provider identifier)
   */
  sizeRule?: NameRule;
}

/** The rules of every cloud the registry knows (the registry spreads each into its entry). */
export const CLOUD_RULES = {
  aws: {
    title: "AWS EC2",
    regionRule: { pattern: /^[a-z]{2}(-[a-z]+)+-\d+$/, rule: "an AWS region such as us-east-1" },
    sizeRule: {
      pattern: /^[a-z][a-z0-9-]*\.[a-z0-9]+$/,
      rule: "an EC2 instance type such as t3.micro, or small/medium/large",
    },
  },
  azure: {
    title: "Azure Virtual Machines",
    sshKeyRequired:
      "Azure Linux VMs need an SSH key or a password, and fleet disables password login",
    workerName: {
      // Azure VM names (Linux): at most 64 characters, no trailing '.' or '-'.
      pattern: /^.*[A-Za-z0-9]$/,
      rule: "an Azure VM name does not end with '.' or '-'",
    },
    regionRule: { pattern: /^[a-z][a-z0-9]*$/, rule: "an Azure location such as eastus" },
    sizeRule: {
      pattern: /^(Standard|Basic)_[A-Za-z0-9_]+$/,
      rule: "an Azure VM size such as Standard_B1s, or small/medium/large",
    },
  },
  digitalocean: {
    title: "DigitalOcean Droplets",
    regionRule: { pattern: /^[a-z]{3}\d$/, rule: "a DigitalOcean region slug such as nyc3" },
    sizeRule: {
      pattern: /^[a-z0-9]+(-[a-z0-9]+)*$/,
      rule: "a DigitalOcean size slug such as s-1vcpu-1gb, or small/medium/large",
    },
  },
  gcp: {
    title: "Google Compute Engine",
    workerName: {
      pattern: /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
      rule: "a GCP instance name starts with a lowercase letter, uses only lowercase letters, digits and '-', does not end with '-', and has at most 63 characters",
    },
    regionRule: {
      pattern: /^[a-z]+-[a-z]+\d+-[a-z]$/,
      rule: "a GCP zone such as us-central1-a (fleet's region is a zone on GCP)",
    },
    sizeRule: {
      pattern: /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/,
      rule: "a GCP machine type such as e2-micro, or small/medium/large",
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
    regionRule: { pattern: /^[a-z]{3}\d*$/, rule: "a Hetzner location such as fsn1" },
    sizeRule: {
      pattern: /^[a-z]+\d+[a-z]*$/,
      rule: "a Hetzner server type such as cx23, or small/medium/large",
    },
  },
  local: {
    title: "local processes",
    regionRule: { pattern: /^localhost$/, rule: "the local cloud's only region, localhost" },
    sizeRule: {
      pattern: /^process$/,
      rule: "the local cloud's only size, process (or small/medium/large)",
    },
  },
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
