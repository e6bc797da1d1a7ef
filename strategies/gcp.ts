/**
 * Google Compute Engine: one `gcp.compute.Instance` per worker, named exactly as the worker,
 * with an ephemeral external IPv4 address, on fleet's own VPC network: once per fleet a custom-mode
 * `gcp.compute.Network` (no auto subnets), one `gcp.compute.Subnetwork` per region in use, a
 * network tag on every instance and a firewall rule on that tag that allows tcp:22 from
 * `fleet:sshAllowFrom` only.
 *
 * Not the project's `default` network: GCP creates that one with the rules `default-allow-ssh`,
 * `default-allow-rdp` and `default-allow-icmp` open to 0.0.0.0/0 (and `default-allow-internal`).
 * A new VPC network has only the implied rules, "deny all ingress" and "allow all egress"
 * (https://cloud.google.com/firewall/docs/firewalls#default_firewall_rules), so without
 * `sshAllowFrom` nothing reaches a worker from outside, and outbound stays open.
 *
 * On GCP, fleet's `region` (and `fleet:region`, and the default from `gcp:zone`) is a *zone*,
 * such as `us-central1-a`: instances live in zones. The project comes from `gcp:project`.
 *
 * SSH keys go into the instance metadata `ssh-keys` for the user `fleet` (projects that enforce
 * OS Login ignore them). Instances have no service account and use Shielded VM with secure boot.
 */
import * as crypto from "node:crypto";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { type StrategyArgs, type Worker, WorkerFleet, toIsoUtc } from "./contract";
import { assertWorkerNames } from "../config/cloud-rules";

/** The user the SSH keys are installed for. */
export const SSH_USER = "fleet";

/**
 * The subnet range of a GCP region in fleet's network: a /20 (4,091 usable addresses) in
 * 10.0.0.0/8, chosen by a hash of the region name, so a region's range never depends on which
 * other regions are in use (adding a region never replaces another region's subnet).
 * The 42 regions GCP had in 2025 map to distinct ranges (tests/strategies/gcp.test.ts).
 */
export function subnetRange(region: string): string {
  const slot = crypto.createHash("sha256").update(region).digest().readUInt16BE(0) & 0xfff;
  return `10.${slot >> 4}.${(slot & 0xf) << 4}.0/20`;
}

/** The region of a zone: `us-central1-a` → `us-central1`. */
export function zoneRegion(zone: string): string {
  return zone.replace(/-[a-z]$/, "");
}

/**
 * A GCP label key or value: lowercase letters, digits, `_` and `-`, at most 63 characters;
 * anything else becomes `_`. Keys must also start with a lowercase letter.
 */
export function gcpLabelPart(value: string, isKey: boolean): string {
  let out = value.toLowerCase().replace(/[^a-z0-9_-]/g, "_");
  if (isKey && !/^[a-z]/.test(out)) out = `k_${out}`;
  return out.slice(0, 63);
}

/** fleet's tags as GCP labels (`fleet:stack` → `fleet_stack`, values lowercased). */
export function gcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) out[gcpLabelPart(k, true)] = gcpLabelPart(v, false);
  return out;
}

/**
 * The network tag marking this fleet's instances: `fleet-<stack>-<component>`, made a valid
 * GCP tag (lowercase letters, digits and `-`, starting with a letter, at most 63 characters).
 */
export function networkTag(stack: string, name: string): string {
  const tag = `fleet-${stack}-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 63);
  return tag.replace(/-+$/, "");
}

/** The `ssh-keys` metadata value: one `user:key` line per key. */
export function sshKeysMetadata(keys: readonly string[]): string {
  return keys.map((k) => `${SSH_USER}:${k}`).join("\n");
}

export class GcpStrategy extends WorkerFleet {
  /** The self link of fleet's own VPC network, which the instances and firewall rules use. */
  public readonly network: pulumi.Output<string>;
  /** The network tag on every instance of this fleet; the firewall rules target it. */
  public readonly networkTag: pulumi.Output<string>;
  /** The SSH firewall rules' names (none when `sshAllowFrom` is empty). */
  public readonly firewallNames: pulumi.Output<string[]>;
  public readonly workers: pulumi.Output<Worker[]>;

  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    assertWorkerNames("gcp", args.workers);
    super("fleet:gcp:WorkerFleet", name, {}, opts);
    const parent = { parent: this };
    const tag = networkTag(pulumi.getStack(), name);
    const labels = gcpLabels(args.tags);

    const network = new gcp.compute.Network(
      `${name}-network`,
      {
        description: "fleet workers: nothing inbound but SSH from fleet:sshAllowFrom",
        autoCreateSubnetworks: false,
      },
      parent,
    );
    const regions = [...new Set(args.workers.map((w) => zoneRegion(w.region)))].sort();
    const ranges = new Map<string, string>();
    for (const region of regions) {
      const range = subnetRange(region);
      const clash = ranges.get(range);
      if (clash)
        throw new Error(
          `fleet: GCP regions ${clash} and ${region} map to the same subnet range ${range}; run their workers in separate stacks`,
        );
      ranges.set(range, region);
    }
    const subnets = new Map(
      regions.map((region) => [
        region,
        new gcp.compute.Subnetwork(
          `${name}-${region}`,
          {
            network: network.selfLink,
            region,
            ipCidrRange: subnetRange(region),
          },
          parent,
        ),
      ]),
    );

    // A GCP firewall rule holds either IPv4 or IPv6 source ranges, never both.
    const families = [
      { suffix: "ssh", ranges: args.sshAllowFrom.filter((c) => !c.includes(":")) },
      { suffix: "ssh-v6", ranges: args.sshAllowFrom.filter((c) => c.includes(":")) },
    ].filter((f) => f.ranges.length > 0);
    const firewalls = families.map(
      (f) =>
        new gcp.compute.Firewall(
          `${name}-${f.suffix}`,
          {
            network: network.selfLink,
            description: "fleet workers: SSH only from fleet:sshAllowFrom",
            direction: "INGRESS",
            allows: [{ protocol: "tcp", ports: ["22"] }],
            sourceRanges: f.ranges,
            targetTags: [tag],
          },
          parent,
        ),
    );

    const metadata: Record<string, string> = {};
    if (args.sshPublicKeys.length) metadata["ssh-keys"] = sshKeysMetadata(args.sshPublicKeys);
    if (args.userData !== undefined) metadata["user-data"] = args.userData;

    const instances = args.workers.map(
      (w) =>
        new gcp.compute.Instance(
          `${name}-${w.name}`,
          {
            name: w.name,
            zone: w.region,
            machineType: w.size,
            bootDisk: { autoDelete: true, initializeParams: { image: w.image } },
            networkInterfaces: [
              {
                subnetwork: (subnets.get(zoneRegion(w.region)) as gcp.compute.Subnetwork).selfLink,
                accessConfigs: [{}],
              },
            ],
            tags: [tag],
            labels,
            metadata,
            shieldedInstanceConfig: {
              enableSecureBoot: true,
              enableVtpm: true,
              enableIntegrityMonitoring: true,
            },
            allowStoppingForUpdate: true,
          },
          parent,
        ),
    );

    this.network = network.selfLink;
    this.networkTag = pulumi.output(tag);
    this.firewallNames = pulumi.all(firewalls.map((f) => f.name));
    this.workers = pulumi.all(
      instances.map((inst, i) =>
        pulumi
          .all([
            inst.id,
            inst.zone,
            inst.machineType,
            inst.networkInterfaces,
            inst.creationTimestamp,
            inst.currentStatus,
          ])
          .apply(
            ([id, zone, machineType, nics, created, status]): Worker => ({
              name: args.workers[i].name,
              cloud: "gcp",
              region: zone,
              size: machineType,
              ip: nics?.[0]?.accessConfigs?.[0]?.natIp ?? "",
              createdAt: toIsoUtc(created),
              id,
              status,
            }),
          ),
      ),
    );
    this.registerOutputs({
      workers: this.workers,
      network: this.network,
      networkTag: this.networkTag,
      firewallNames: this.firewallNames,
    });
  }
}
