/**
 * DigitalOcean: one Droplet per worker, named exactly as the worker, plus once per fleet a tag
 * that marks its droplets, a cloud firewall on that tag, and the SSH keys.
 */
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import { type StrategyArgs, type Worker, WorkerFleet, toIsoUtc } from "./contract";

/** DigitalOcean tag names allow letters, digits, `_`, `-` and `:`; anything else becomes `_`. */
export function doTag(key: string, value: string): string {
  return `${key}:${value}`.replace(/[^A-Za-z0-9_:-]/g, "_").slice(0, 255);
}

export class DigitalOceanStrategy extends WorkerFleet {
  /** The droplets' tag (auto-named, unique to this fleet); the firewall applies to it. */
  public readonly fleetTag: pulumi.Output<string>;
  /** The firewall's id. */
  public readonly firewallId: pulumi.Output<string>;
  public readonly workers: pulumi.Output<Worker[]>;

  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("fleet:digitalocean:WorkerFleet", name, {}, opts);
    const parent = { parent: this };

    const tag = new digitalocean.Tag(`${name}-fleet`, {}, parent);
    const ownership = Object.entries(args.tags).map(([k, v]) => doTag(k, v));

    const sshKeys = args.sshPublicKeys.map(
      (publicKey, i) =>
        new digitalocean.SshKey(
          `${name}-key-${i}`,
          { name: `${name}-key-${i}`, publicKey },
          parent,
        ),
    );

    // Created before the droplets (dependsOn below): a droplet with no firewall accepts every
    // connection, and a tag firewall covers a droplet from the moment it carries the tag.
    const firewall = new digitalocean.Firewall(
      `${name}-firewall`,
      {
        tags: [tag.name],
        inboundRules: args.sshAllowFrom.length
          ? [{ protocol: "tcp", portRange: "22", sourceAddresses: [...args.sshAllowFrom] }]
          : [],
        outboundRules: [
          { protocol: "tcp", portRange: "1-65535", destinationAddresses: ["0.0.0.0/0", "::/0"] },
          { protocol: "udp", portRange: "1-65535", destinationAddresses: ["0.0.0.0/0", "::/0"] },
          { protocol: "icmp", destinationAddresses: ["0.0.0.0/0", "::/0"] },
        ],
      },
      parent,
    );

    const droplets = args.workers.map(
      (w) =>
        new digitalocean.Droplet(
          `${name}-${w.name}`,
          {
            name: w.name,
            image: w.image,
            region: w.region,
            size: w.size,
            monitoring: true,
            ipv6: false,
            sshKeys: sshKeys.map((k) => k.fingerprint),
            tags: [tag.name, ...ownership],
            userData: args.userData,
          },
          { ...parent, dependsOn: [firewall] },
        ),
    );

    this.fleetTag = tag.name;
    this.firewallId = firewall.id;
    this.workers = pulumi.all(
      droplets.map((d, i) =>
        pulumi.all([d.id, d.region, d.size, d.ipv4Address, d.createdAt, d.status]).apply(
          ([id, region, size, ip, createdAt, status]): Worker => ({
            name: args.workers[i].name,
            cloud: "digitalocean",
            region,
            size,
            ip: ip ?? "",
            createdAt: toIsoUtc(createdAt),
            id,
            status,
          }),
        ),
      ),
    );
    this.registerOutputs({
      workers: this.workers,
      fleetTag: this.fleetTag,
      firewallId: this.firewallId,
    });
  }
}
