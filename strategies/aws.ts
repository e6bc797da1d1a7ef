/**
 * AWS EC2: one Instance per worker whose `Name` tag is exactly the worker name, plus once per
 * region in use a security group (SSH from `fleet:sshAllowFrom` only, outbound open), a key
 * pair when a public key is configured, and one AMI lookup. Instances require IMDSv2 and have
 * encrypted root volumes. Workers are placed in each region's default VPC.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type StrategyArgs, type Worker, type WorkerSpec, WorkerFleet } from "./contract";

/** The tag that records a worker's creation time; written once, then ignored on updates. */
export const CREATED_AT_TAG = "fleet:createdAt";

/** Canonical, publisher of the Ubuntu AMIs, used when `imageOwner` is not configured. */
export const DEFAULT_AMI_OWNER = "099720109477";

/** True when an image setting is an AMI id rather than a name pattern to look up. */
export function isAmiId(image: string): boolean {
  return /^ami-[0-9a-f]{8,17}$/.test(image);
}

/** Groups workers by region, keeping declaration order inside each group. */
export function byRegion(workers: readonly WorkerSpec[]): Map<string, WorkerSpec[]> {
  const out = new Map<string, WorkerSpec[]>();
  for (const w of workers) {
    const group = out.get(w.region);
    if (group) group.push(w);
    else out.set(w.region, [w]);
  }
  return out;
}

export class AwsStrategy extends WorkerFleet {
  /** Security group ids, one per region in use. */
  public readonly securityGroupIds: pulumi.Output<string[]>;
  public readonly workers: pulumi.Output<Worker[]>;

  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("fleet:aws:WorkerFleet", name, {}, opts);
    const parent = { parent: this };
    const tags = { ...args.tags };
    const owner = args.extras.imageOwner ?? DEFAULT_AMI_OWNER;
    if (args.sshPublicKeys.length > 1) {
      pulumi.log.warn(
        `AWS key pairs hold one key: only the first of ${args.sshPublicKeys.length} fleet:sshPublicKeys is installed`,
        this,
      );
    }
    const createdAt = new Date().toISOString();

    const instances = new Map<string, aws.ec2.Instance>();
    const groups: pulumi.Output<string>[] = [];
    for (const [region, workers] of byRegion(args.workers)) {
      const sg = new aws.ec2.SecurityGroup(
        `${name}-${region}-sg`,
        {
          region,
          description: "fleet workers: SSH only from fleet:sshAllowFrom; outbound open",
          ingress: args.sshAllowFrom.length
            ? [
                {
                  protocol: "tcp",
                  fromPort: 22,
                  toPort: 22,
                  cidrBlocks: args.sshAllowFrom.filter((c) => !c.includes(":")),
                  ipv6CidrBlocks: args.sshAllowFrom.filter((c) => c.includes(":")),
                  description: "SSH from fleet:sshAllowFrom",
                },
              ]
            : [],
          egress: [
            {
              protocol: "-1",
              fromPort: 0,
              toPort: 0,
              cidrBlocks: ["0.0.0.0/0"],
              ipv6CidrBlocks: ["::/0"],
              description: "all outbound",
            },
          ],
          tags,
        },
        parent,
      );
      groups.push(sg.id);

      const keyPair = args.sshPublicKeys.length
        ? new aws.ec2.KeyPair(
            `${name}-${region}-key`,
            { region, publicKey: args.sshPublicKeys[0], tags },
            parent,
          )
        : undefined;

      const amis = new Map<string, pulumi.Input<string>>();
      const amiFor = (image: string): pulumi.Input<string> => {
        if (isAmiId(image)) return image;
        let ami = amis.get(image);
        if (!ami) {
          ami = aws.ec2
            .getAmiOutput(
              {
                region,
                mostRecent: true,
                owners: [owner],
                filters: [
                  { name: "name", values: [image] },
                  { name: "virtualization-type", values: ["hvm"] },
                ],
              },
              parent,
            )
            .apply((r) => r.id);
          amis.set(image, ami);
        }
        return ami;
      };

      for (const w of workers) {
        instances.set(
          w.name,
          new aws.ec2.Instance(
            `${name}-${w.name}`,
            {
              region,
              ami: amiFor(w.image),
              instanceType: w.size,
              vpcSecurityGroupIds: [sg.id],
              keyName: keyPair?.keyName,
              associatePublicIpAddress: true,
              metadataOptions: {
                httpTokens: "required",
                httpEndpoint: "enabled",
                httpPutResponseHopLimit: 1,
              },
              rootBlockDevice: { encrypted: true, volumeType: "gp3", deleteOnTermination: true },
              userData: args.userData,
              userDataReplaceOnChange: false,
              tags: { ...tags, Name: w.name, [CREATED_AT_TAG]: createdAt },
              volumeTags: { ...tags, Name: w.name },
            },
            { parent: this, ignoreChanges: [`tags["${CREATED_AT_TAG}"]`] },
          ),
        );
      }
    }

    this.securityGroupIds = pulumi.all(groups);
    this.workers = pulumi.all(
      args.workers.map((w) => {
        const i = instances.get(w.name) as aws.ec2.Instance;
        return pulumi
          .all([i.id, i.region, i.instanceType, i.publicIp, i.tags, i.instanceState])
          .apply(
            ([id, region, size, ip, t, status]): Worker => ({
              name: w.name,
              cloud: "aws",
              region,
              size,
              ip: ip ?? "",
              createdAt: t?.[CREATED_AT_TAG] ?? "",
              id,
              status,
            }),
          );
      }),
    );
    this.registerOutputs({ workers: this.workers, securityGroupIds: this.securityGroupIds });
  }
}
