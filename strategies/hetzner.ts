/**
 * Hetzner Cloud: one `hcloud.Server` per worker, named exactly as the worker (fleet's region is
 * the Hetzner location, its size the server type), with a public IPv4 address and no IPv6. Once
 * per fleet an `hcloud.SshKey` per configured key and one `hcloud.Firewall` attached to every
 * server: inbound SSH from `fleet:sshAllowFrom` only, and no rule at all when that is empty (a
 * Hetzner firewall without inbound rules blocks all inbound traffic; outbound stays open).
 *
 * The Hetzner API reports no creation time through the provider, so — as on AWS — the creation
 * time is written once into a label and ignored on later updates.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { type StrategyArgs, type Worker, WorkerFleet } from "./contract";
import { assertWorkerNames } from "../config/cloud-rules";

/** The label that records a worker's creation time; written once, then ignored on updates. */
export const CREATED_AT_LABEL = "fleet_created_at";

/**
 * A Hetzner label key or value: at most 63 characters of letters, digits, `-`, `_` and `.`,
 * starting and ending with a letter or digit; anything else becomes `_`, and characters that
 * cannot start or end one are dropped there.
 */
export function hetznerLabelPart(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[^A-Za-z0-9]+$/, "");
}

/** fleet's tags as Hetzner labels (`fleet:stack` → `fleet_stack`). */
export function hetznerLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    const key = hetznerLabelPart(k);
    if (key) out[key] = hetznerLabelPart(v);
  }
  return out;
}

/**
 * A time as a label value: label values cannot hold `:`, so ISO-8601 basic format
 * (`20260102T030405Z`), which `labelToIso` turns back into `2026-01-02T03:04:05.000Z`.
 */
export function isoToLabel(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}/, "")
    .replace(/[-:]/g, "");
}

/** Reads a time written by `isoToLabel` as ISO-8601 UTC; anything else is returned as it is. */
export function labelToIso(label: string | undefined): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(label ?? "");
  if (!m) return label ?? "";
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`).toISOString();
}

export class HetznerStrategy extends WorkerFleet {
  /** The firewall's id. */
  public readonly firewallId: pulumi.Output<string>;
  public readonly workers: pulumi.Output<Worker[]>;

  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    assertWorkerNames("hetzner", args.workers);
    super("fleet:hetzner:WorkerFleet", name, {}, opts);
    const parent = { parent: this };
    const labels = hetznerLabels(args.tags);
    // Hetzner names SSH keys and firewalls uniquely per project: include the stack.
    const prefix = `fleet-${pulumi.getStack()}-${name}`;
    if (args.sshPublicKeys.length === 0) {
      pulumi.log.warn(
        "no fleet:sshPublicKeys: Hetzner then sets a root password and e-mails it to the project owner",
        this,
      );
    }
    const createdAt = isoToLabel(new Date());

    const sshKeys = args.sshPublicKeys.map(
      (publicKey, i) =>
        new hcloud.SshKey(
          `${name}-key-${i}`,
          { name: `${prefix}-key-${i}`, publicKey, labels },
          parent,
        ),
    );

    const firewall = new hcloud.Firewall(
      `${name}-firewall`,
      {
        name: `${prefix}-firewall`,
        labels,
        rules: args.sshAllowFrom.length
          ? [
              {
                direction: "in",
                protocol: "tcp",
                port: "22",
                sourceIps: [...args.sshAllowFrom],
                description: "SSH from fleet:sshAllowFrom",
              },
            ]
          : [],
      },
      parent,
    );
    const firewallIds = [firewall.id.apply((id) => Number(id))];

    const servers = args.workers.map(
      (w) =>
        new hcloud.Server(
          `${name}-${w.name}`,
          {
            name: w.name,
            serverType: w.size,
            image: w.image,
            location: w.region,
            sshKeys: sshKeys.map((k) => k.id),
            firewallIds,
            publicNets: [{ ipv4Enabled: true, ipv6Enabled: false }],
            labels: { ...labels, [CREATED_AT_LABEL]: createdAt },
            userData: args.userData,
          },
          { parent: this, ignoreChanges: [`labels["${CREATED_AT_LABEL}"]`] },
        ),
    );

    this.firewallId = firewall.id;
    this.workers = pulumi.all(
      servers.map((s, i) =>
        pulumi.all([s.id, s.location, s.serverType, s.ipv4Address, s.labels, s.status]).apply(
          ([id, location, serverType, ip, l, status]): Worker => ({
            name: args.workers[i].name,
            cloud: "hetzner",
            region: location,
            size: serverType,
            ip: ip ?? "",
            createdAt: labelToIso(l?.[CREATED_AT_LABEL]),
            id,
            status,
          }),
        ),
      ),
    );
    this.registerOutputs({ workers: this.workers, firewallId: this.firewallId });
  }
}
