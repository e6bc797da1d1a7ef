/**
 * The contract every cloud strategy implements. A strategy is a Pulumi ComponentResource that
 * declares the workers of one cloud and exposes them, cloud-neutral, as `workers`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CloudName } from "./registry";

/**
 * One worker as fleet reports it: the seed's `Worker` (name, size, ip, created_at), typed and
 * cloud-neutral. This is the shape of each item of the `workers` stack output.
 */
export interface Worker {
  /** The worker name, unique in the stack; a droplet's `name`, an EC2 instance's `Name` tag. */
  name: string;
  /** The cloud it runs in. */
  cloud: CloudName;
  /** The provider region it runs in (`localhost` for the local cloud). */
  region: string;
  /** The provider size / instance type (`process` for the local cloud). */
  size: string;
  /** The public IPv4 address (empty while the cloud has not assigned one). */
  ip: string;
  /** When it was created: an ISO-8601 UTC timestamp that does not change on later updates. */
  createdAt: string;
  /** The provider's id for it (droplet id, instance id, …). */
  id: string;
  /** The provider's status (`active`, `running`, …); `missing` when a refresh found it gone. */
  status: string;
}

/** One desired worker after config layering: every field resolved for its cloud. */
export interface WorkerSpec {
  /** The worker name. */
  name: string;
  /** The cloud it runs in. */
  cloud: CloudName;
  /** Provider region. */
  region: string;
  /** Provider size (abstract sizes already mapped). */
  size: string;
  /** Provider image (an AMI id or AMI name pattern on AWS, an image slug on DigitalOcean). */
  image: string;
}

/** Everything a strategy needs, resolved and validated by `config/` before it is called. */
export interface StrategyArgs {
  /** The workers of this cloud, in the order they were declared. Never empty. */
  workers: readonly WorkerSpec[];
  /** OpenSSH public keys allowed to log in. @default [] (no key is installed) */
  sshPublicKeys: readonly string[];
  /** CIDR blocks allowed to reach port 22. @default [] (no inbound traffic at all) */
  sshAllowFrom: readonly string[];
  /** Cloud-init user data given to every worker. @default undefined (none) */
  userData?: string;
  /**
   * Tags marking ownership (`fleet:project`, `fleet:stack`) plus the user's extra tags; applied
   * to every resource that can carry tags.
   */
  tags: Readonly<Record<string, string>>;
  /** Per-cloud settings that only one strategy understands (e.g. AWS's AMI owner). */
  extras: Readonly<Record<string, string>>;
  /**
   * The project directory (where `Pulumi.yaml` is); the local cloud keeps its logs and state
   * under it. @default the directory of `Pulumi.yaml` (config/paths.ts `projectDirectory`)
   */
  projectDir?: string;
}

/** The class shape the registry loads: a ComponentResource constructor. */
export interface StrategyClass {
  new (name: string, args: StrategyArgs, opts?: pulumi.ComponentResourceOptions): WorkerFleet;
}

/**
 * Base class of every strategy. Subclasses declare their resources in the constructor, assign
 * `workers` and call `registerOutputs`.
 */
export abstract class WorkerFleet extends pulumi.ComponentResource {
  /** The workers of this cloud, in declaration order, in the `Worker` shape. */
  public abstract readonly workers: pulumi.Output<Worker[]>;
}

/** Formats a provider timestamp as ISO-8601 UTC; an unparsable value is kept as it came. */
export function toIsoUtc(value: string | undefined): string {
  if (!value) return "";
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : new Date(t).toISOString();
}
