/**
 * The registry of clouds: one entry per cloud, and the only place that knows cloud names.
 * Adding a cloud is adding one strategy file, one `config/<cloud>.yaml` and one entry here.
 *
 * Entries are light: a strategy's module (and with it the provider SDK) is loaded only by
 * `load()`, so a DigitalOcean stack never loads `@pulumi/aws` and the reverse.
 */
import { CLOUD_RULES, type CloudRules, type RuledCloud } from "../config/cloud-rules";
import {
  CAPACITY_ERROR_RULES,
  type CapacityErrorRule,
  matchCapacityError,
} from "./capacity-errors";
import type { StrategyClass } from "./contract";

/** How a cloud finds its credentials; used to fail early, before any engine call. */
export interface CredentialSources {
  /** Environment variables any one of which provides credentials. */
  env: readonly string[];
  /** Stack config keys any one of which provides credentials (must be secrets where sensitive). */
  config: readonly string[];
  /** Files under the home directory whose presence provides credentials (e.g. `.aws/credentials`). */
  homeFiles: readonly string[];
  /** Stack config keys that hold a secret and must never be stored in plain text. */
  secretConfig: readonly string[];
  /** A region the provider itself needs configured (config key or env vars), if any. */
  region?: { config: string; env: readonly string[] };
  /** One sentence telling a person where the credentials belong. */
  hint: string;
}

/** One cloud as the registry knows it; its title and input rules come from `config/cloud-rules.ts`. */
export interface CloudDescriptor extends CloudRules {
  /** Settings beyond region/size/image/sizes that `config/<cloud>.yaml` may hold for this cloud. */
  extraKeys?: readonly string[];
  /** A provider config key whose value is the region when neither the worker nor fleet:region sets one. */
  regionConfigKey?: string;
  /** Where its credentials come from; `undefined` for a cloud that needs none. */
  credentials?: CredentialSources;
  /**
   * The provider errors that move a worker to its next placement candidate (capacity, quota,
   * availability), listed with their sources in `strategies/capacity-errors.ts`.
   */
  capacityErrors: readonly CapacityErrorRule[];
  /** The type token of the resource that is one worker (its name is `<cloud>-<worker>`). */
  workerType: string;
  /** Loads the strategy class (and its provider SDK) on first use. */
  load(): Promise<StrategyClass>;
  /**
   * Optional. For a worker whose create the engine left pending (killed mid-create: the
   * checkpoint holds the inputs but no id), what the create left behind: `{ id }` of the object
   * it made, or "absent" when it made none that still exists; undefined when it cannot tell (the
   * local cloud, for a worker another machine started). Clouds without it (fleet does not call
   * cloud APIs) leave the pending create to the user, with the command to resolve it.
   */
  findPendingCreate?(
    inputs: Record<string, unknown>,
  ): Promise<{ id: string } | "absent" | undefined>;
}

export const REGISTRY = {
  aws: {
    ...CLOUD_RULES.aws,
    capacityErrors: CAPACITY_ERROR_RULES.aws,
    extraKeys: ["imageOwner"],
    regionConfigKey: "aws:region",
    credentials: {
      env: [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
      ],
      config: ["aws:profile", "aws:accessKey"],
      homeFiles: [".aws/credentials", ".aws/config"],
      secretConfig: ["aws:accessKey", "aws:secretKey", "aws:token"],
      region: { config: "aws:region", env: ["AWS_REGION", "AWS_DEFAULT_REGION"] },
      hint: "AWS credentials come from the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or `aws sso login`; the AWS provider also needs a region: `pulumi config set aws:region <region>` or AWS_REGION (workers may still pick their own with fleet:region)",
    },
    workerType: "aws:ec2/instance:Instance",
    load: async () => (await import("./aws")).AwsStrategy,
  },
  azure: {
    ...CLOUD_RULES.azure,
    capacityErrors: CAPACITY_ERROR_RULES.azure,
    regionConfigKey: "azure-native:location",
    credentials: {
      env: ["ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"],
      config: ["azure-native:clientId", "azure-native:clientSecret"],
      homeFiles: [".azure/msal_token_cache.json", ".azure/msal_token_cache.bin"],
      secretConfig: ["azure-native:clientSecret"],
      hint: "sign in with `az login` (stored under ~/.azure), or use a service principal: ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_TENANT_ID and ARM_SUBSCRIPTION_ID in the environment, or `pulumi config set --secret azure-native:clientSecret <secret>` with azure-native:clientId/tenantId/subscriptionId; set the region with `pulumi config set azure-native:location <location>` or fleet:region",
    },
    workerType: "azure-native:compute:VirtualMachine",
    load: async () => (await import("./azure")).AzureStrategy,
  },
  digitalocean: {
    ...CLOUD_RULES.digitalocean,
    capacityErrors: CAPACITY_ERROR_RULES.digitalocean,
    credentials: {
      env: ["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"],
      config: ["digitalocean:token"],
      homeFiles: [],
      secretConfig: ["digitalocean:token"],
      hint: "set the DIGITALOCEAN_TOKEN environment variable, or store the token as a secret with `pulumi config set --secret digitalocean:token <token>`",
    },
    workerType: "digitalocean:index/droplet:Droplet",
    load: async () => (await import("./digitalocean")).DigitalOceanStrategy,
  },
  gcp: {
    ...CLOUD_RULES.gcp,
    capacityErrors: CAPACITY_ERROR_RULES.gcp,
    regionConfigKey: "gcp:zone",
    credentials: {
      env: ["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN"],
      config: ["gcp:credentials", "gcp:accessToken"],
      homeFiles: [".config/gcloud/application_default_credentials.json"],
      secretConfig: ["gcp:credentials", "gcp:accessToken"],
      hint: "run `gcloud auth application-default login` (~/.config/gcloud/application_default_credentials.json), or point GOOGLE_APPLICATION_CREDENTIALS at a service-account key file, or `pulumi config set --secret gcp:credentials <key JSON>`; also set the project with `pulumi config set gcp:project <project>`; fleet:region is a zone on GCP (e.g. us-central1-a) and defaults to gcp:zone",
    },
    workerType: "gcp:compute/instance:Instance",
    load: async () => (await import("./gcp")).GcpStrategy,
  },
  hetzner: {
    ...CLOUD_RULES.hetzner,
    capacityErrors: CAPACITY_ERROR_RULES.hetzner,
    credentials: {
      env: ["HCLOUD_TOKEN"],
      config: ["hcloud:token"],
      homeFiles: [],
      secretConfig: ["hcloud:token"],
      hint: "set the HCLOUD_TOKEN environment variable, or store the API token as a secret with `pulumi config set --secret hcloud:token <token>`",
    },
    workerType: "hcloud:index/server:Server",
    load: async () => (await import("./hetzner")).HetznerStrategy,
  },
  local: {
    ...CLOUD_RULES.local,
    capacityErrors: CAPACITY_ERROR_RULES.local,
    extraKeys: ["localCommand"],
    workerType: "pulumi-nodejs:dynamic:Resource",
    load: async () => (await import("./local")).LocalStrategy,
    findPendingCreate: async (inputs: Record<string, unknown>) =>
      (await import("./local-process")).pendingWorkerId(inputs),
  },
} as const satisfies Record<RuledCloud, CloudDescriptor>;

export type CloudName = keyof typeof REGISTRY;

/** Every known cloud, sorted, for messages and validation. */
export const CLOUDS: readonly CloudName[] = (Object.keys(REGISTRY) as CloudName[]).sort();

export function descriptor(cloud: CloudName): CloudDescriptor {
  return REGISTRY[cloud];
}

/** Loads a cloud's strategy class; the provider SDK is required here and nowhere earlier. */
export function loadStrategy(cloud: CloudName): Promise<StrategyClass> {
  return REGISTRY[cloud].load();
}

/**
 * The capacity, quota or availability rule that `message` (a worker's create failure on
 * `cloud`) matches, or undefined when another placement would not help. Loads no provider SDK.
 */
export function capacityErrorOf(cloud: CloudName, message: string): CapacityErrorRule | undefined {
  return matchCapacityError(REGISTRY[cloud].capacityErrors, message);
}
