/**
 * Pulumi mocks for tests: records every resource and invoke, returns the output-only
 * properties fleet reads, and throws on invokes it does not expect (so a new, unmocked cloud
 * call fails the test instead of returning nothing).
 */
import * as pulumi from "@pulumi/pulumi";

/** One registered resource, as the engine would have seen it. */
export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** The id returned, or undefined for components. */
  id?: string;
}

/** The creation time every mocked droplet reports (as DigitalOcean writes it). */
export const MOCK_DROPLET_CREATED_AT = "2026-01-02T03:04:05Z";
/** The public IPv4 every mocked droplet reports. */
export const MOCK_DROPLET_IP = "203.0.113.10";
/** The public IPv4 every mocked EC2 instance reports. */
export const MOCK_INSTANCE_IP = "198.51.100.7";
/** The suffix the mocked provider appends when it auto-names a DigitalOcean tag. */
export const MOCK_TAG_SUFFIX = "-abc1234";

/** The self-link prefix of the mocked GCP project's resources. */
export const MOCK_GCP_PROJECT_URL = "https://www.googleapis.com/compute/v1/projects/mock-project";

/** Output-only properties per resource type: what a real provider would return. */
export function providerOutputs(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const i = args.inputs as Record<string, unknown>;
  switch (args.type) {
    case "digitalocean:index/droplet:Droplet":
      return {
        ipv4Address: MOCK_DROPLET_IP,
        createdAt: MOCK_DROPLET_CREATED_AT,
        status: "active",
        urn: `do:droplet:${args.name}`,
      };
    case "digitalocean:index/tag:Tag":
      return { name: i.name ?? `${args.name}${MOCK_TAG_SUFFIX}` };
    case "digitalocean:index/sshKey:SshKey":
      return { fingerprint: `fp:${args.name}` };
    case "aws:ec2/instance:Instance":
      return { publicIp: MOCK_INSTANCE_IP, instanceState: "running", region: i.region };
    case "aws:ec2/keyPair:KeyPair":
      return { keyName: `${args.name}-kp` };
    case "azure-native:resources:ResourceGroup":
      return { name: i.resourceGroupName ?? `${args.name}1a2b3c4d` };
    case "azure-native:network:VirtualNetwork":
      return { name: i.virtualNetworkName ?? `${args.name}1a2b3c4d` };
    case "azure-native:network:NetworkSecurityGroup":
      return { name: i.networkSecurityGroupName ?? `${args.name}1a2b3c4d` };
    case "azure-native:network:PublicIPAddress":
      return { ipAddress: "192.0.2.20", provisioningState: "Succeeded" };
    case "azure-native:compute:VirtualMachine":
      return {
        name: i.vmName,
        timeCreated: "2026-01-02T03:04:05.6789012+00:00",
        provisioningState: "Succeeded",
        vmId: "00000000-0000-4000-8000-000000000001",
      };
    case "gcp:compute/instance:Instance": {
      const nics = (i.networkInterfaces as Record<string, unknown>[] | undefined) ?? [];
      return {
        creationTimestamp: "2026-01-02T03:04:05.678-08:00",
        currentStatus: "RUNNING",
        instanceId: "1234567890123456789",
        networkInterfaces: nics.map((n) => ({
          ...n,
          accessConfigs: ((n.accessConfigs as object[] | undefined) ?? []).map((a) => ({
            ...a,
            natIp: "198.51.100.30",
          })),
        })),
      };
    }
    case "gcp:compute/network:Network": {
      const name = i.name ?? `${args.name}-1a2b3c4`;
      return { name, selfLink: `${MOCK_GCP_PROJECT_URL}/global/networks/${name}` };
    }
    case "gcp:compute/subnetwork:Subnetwork": {
      const name = i.name ?? `${args.name}-1a2b3c4`;
      return { name, selfLink: `${MOCK_GCP_PROJECT_URL}/regions/${i.region}/subnetworks/${name}` };
    }
    case "gcp:compute/firewall:Firewall":
      return { name: i.name ?? `${args.name}-1a2b3c4` };
    case "hcloud:index/server:Server":
      return { ipv4Address: "203.0.113.40", status: "running" };
    case "hcloud:index/sshKey:SshKey":
      return { fingerprint: `fp:${args.name}` };
    case "pulumi-nodejs:dynamic:Resource":
      // A local worker (strategies/local.ts): what its provider's create would have returned.
      return {
        pid: 4242,
        startTime: "123456",
        createdAt: "2026-01-02T03:04:05.000Z",
        status: "running",
        logFile: `${i.stateDir}/${i.workerName}.log`,
      };
    default:
      return {};
  }
}

/** The AMI every lookup resolves to under mocks. */
export const MOCK_AMI = "ami-0123456789abcdef0";

/** Waits until every resource registration has reached the mocks (an `@internal` SDK function). */
export async function waitForRPCs(): Promise<void> {
  const fn = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (fn) await fn();
}

export class RecordingMocks implements pulumi.runtime.Mocks {
  public readonly resources: RecordedResource[] = [];
  public readonly calls: { token: string; inputs: Record<string, unknown> }[] = [];
  private numericIds = 1000;

  newResource(args: pulumi.runtime.MockResourceArgs): {
    id: string | undefined;
    state: Record<string, unknown>;
  } {
    const custom =
      args.custom !== false &&
      !args.type.includes(":WorkerFleet") &&
      args.type !== "pulumi:pulumi:Stack";
    // Hetzner ids are numbers (servers take firewall ids as numbers); other clouds' are strings.
    const numeric = args.type.startsWith("hcloud:");
    const id = custom ? (numeric ? String(++this.numericIds) : `${args.name}-id`) : undefined;
    this.resources.push({ type: args.type, name: args.name, inputs: args.inputs, id });
    return { id, state: { ...args.inputs, ...providerOutputs(args) } };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    this.calls.push({ token: args.token, inputs: args.inputs });
    if (args.token === "aws:ec2/getAmi:getAmi")
      return { id: MOCK_AMI, imageId: MOCK_AMI, name: "ubuntu" };
    throw new Error(`unexpected invoke in test: ${args.token}`);
  }

  /** Resources of one type, in registration order. */
  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** `type name` of every resource, in registration order: the easiest thing to compare exactly. */
  summary(): string[] {
    return this.resources.map((r) => `${r.type} ${r.name}`);
  }
}

/** Options for one run under mocks. */
export interface RunOptions {
  /** Config keys the engine marks secret. @default [] */
  secretKeys?: string[];
  /** The stack name. @default "dev" */
  stack?: string;
  /** Mocks to record into. @default a fresh RecordingMocks */
  mocks?: RecordingMocks;
}

/**
 * Runs `program` as a stack under fresh mocks with the given config; returns the stack's
 * resolved outputs and the mocks that recorded it. Can be called any number of times.
 */
export async function runUnderMocks(
  program: () => Promise<object>,
  config: Record<string, string>,
  options: RunOptions = {},
): Promise<{ outputs: Record<string, unknown>; mocks: RecordingMocks }> {
  const mocks = options.mocks ?? new RecordingMocks();
  await pulumi.runtime.setMocks(mocks, "fleet", options.stack ?? "dev", false);
  pulumi.runtime.setAllConfig(config, options.secretKeys ?? []);
  const outputs = (await pulumi.runtime.runInPulumiStack(program)) ?? {};
  await waitForRPCs();
  return { outputs: outputs as Record<string, unknown>, mocks };
}

/**
 * Runs `program` like `runUnderMocks` and expects it to fail; returns the error and the mocks,
 * after every registration that did start has reached them (so "nothing was registered" is
 * a real observation, not a race). Throws when the program succeeds.
 */
export async function runExpectingFailure(
  program: () => Promise<object>,
  config: Record<string, string>,
  options: RunOptions = {},
): Promise<{ error: Error; mocks: RecordingMocks }> {
  const mocks = options.mocks ?? new RecordingMocks();
  let outcome: { error: Error } | undefined;
  try {
    await runUnderMocks(program, config, { ...options, mocks });
  } catch (e) {
    outcome = { error: e instanceof Error ? e : new Error(String(e)) };
  }
  await waitForRPCs();
  if (!outcome) throw new Error("expected the program to fail, but it succeeded");
  return { ...outcome, mocks };
}

/** The resource the SDK registers for the stack itself, before the program runs. */
export const ROOT_STACK = "pulumi:pulumi:Stack fleet-dev";
