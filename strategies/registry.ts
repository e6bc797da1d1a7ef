/**
 * The registry of clouds: one entry per cloud, and the only place that knows cloud names.
 * Adding a cloud is adding one strategy file, one `config/<cloud>.yaml` and one entry here.
 *
 * Entries are light: a strategy's module (and with it the provider SDK) is loaded only by
 * `load()`, so a DigitalOcean stack never loads `@pulumi/aws` and the reverse.
 */
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

/** One cloud as the registry knows it. */
export interface CloudDescriptor {
  /** Human name for messages and tables. */
  title: string;
  /** Settings beyond region/size/image/sizes that `config/<cloud>.yaml` may hold for this cloud. */
  extraKeys?: readonly string[];
  /** A provider config key whose value is the region when neither the worker nor fleet:region sets one. */
  regionConfigKey?: string;
  /** Where its credentials come from; `undefined` for a cloud that needs none. */
  credentials?: CredentialSources;
  /**
   * The provider plugin the engine needs, named after the npm package whose version it must
   * match; the Automation API installs it before inline updates. Absent for clouds with none.
   */
  plugin?: { name: string; package: string };
  /** The type token of the resource that is one worker (its name is `<cloud>-<worker>`). */
  workerType: string;
  /** Loads the strategy class (and its provider SDK) on first use. */
  load(): Promise<StrategyClass>;
}

export const REGISTRY = {
  aws: {
    title: "AWS EC2",
    extraKeys: ["imageOwner"],
    plugin: { name: "aws", package: "@pulumi/aws" },
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
      hint: "AWS credentials come from the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or `aws sso login`; set the region with `pulumi config set aws:region <region>` or fleet:region",
    },
    workerType: "aws:ec2/instance:Instance",
    load: async () => (await import("./aws")).AwsStrategy,
  },
  digitalocean: {
    title: "DigitalOcean Droplets",
    plugin: { name: "digitalocean", package: "@pulumi/digitalocean" },
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
  local: {
    title: "local processes",
    extraKeys: ["localCommand"],
    workerType: "pulumi-nodejs:dynamic:Resource",
    load: async () => (await import("./local")).LocalStrategy,
  },
} as const satisfies Record<string, CloudDescriptor>;

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
