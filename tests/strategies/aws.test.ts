import { expect } from "chai";
import { AwsStrategy, byRegion, isAmiId } from "../../strategies/aws";
import type { StrategyArgs, WorkerSpec } from "../../strategies/contract";
import { MOCK_AMI, MOCK_INSTANCE_IP, type RecordingMocks, runUnderMocks } from "../harness/mocks";
import { type RecordedOptions, recordOptions } from "../harness/transformations";

const INSTANCE = "aws:ec2/instance:Instance";
const SG = "aws:ec2/securityGroup:SecurityGroup";
const KEY_PAIR = "aws:ec2/keyPair:KeyPair";
const COMPONENT = "fleet:aws:WorkerFleet";
const GET_AMI = "aws:ec2/getAmi:getAmi";
/** The tag scripts read a worker's creation time from (the contract, not the constant). */
const CREATED_AT_TAG = "fleet:createdAt";

const PATTERN = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";
const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb a";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb b";
const OWNERSHIP = { "fleet:project": "fleet", "fleet:stack": "dev" };

const EGRESS_OPEN = [
  {
    protocol: "-1",
    fromPort: 0,
    toPort: 0,
    cidrBlocks: ["0.0.0.0/0"],
    ipv6CidrBlocks: ["::/0"],
    description: "all outbound",
  },
];
const SG_DESCRIPTION = "fleet workers: SSH only from fleet:sshAllowFrom; outbound open";

function spec(name: string, over: Partial<WorkerSpec> = {}): WorkerSpec {
  return { name, cloud: "aws", region: "us-east-1", size: "t3.micro", image: PATTERN, ...over };
}

function args(over: Partial<StrategyArgs> = {}): StrategyArgs {
  return {
    workers: [spec("a")],
    sshPublicKeys: [],
    sshAllowFrom: [],
    tags: OWNERSHIP,
    extras: {},
    ...over,
  };
}

interface Declared {
  outputs: Record<string, unknown>;
  mocks: RecordingMocks;
  options: RecordedOptions[];
  /** When the program started and ended, to bound the recorded creation time. */
  started: string;
  ended: string;
}

async function declare(a: StrategyArgs): Promise<Declared> {
  const options: RecordedOptions[] = [];
  const started = new Date().toISOString();
  const { outputs, mocks } = await runUnderMocks(async () => {
    recordOptions(options);
    const fleet = new AwsStrategy("aws", a);
    return { workers: fleet.workers, securityGroupIds: fleet.securityGroupIds };
  }, {});
  return { outputs, mocks, options, started, ended: new Date().toISOString() };
}

describe("strategies/aws", () => {
  describe("helpers", () => {
    it("tells AMI ids from name patterns", () => {
      expect(isAmiId("ami-0123456789abcdef0")).to.equal(true);
      expect(isAmiId("ami-01234567")).to.equal(true);
      expect(isAmiId("ami-0123")).to.equal(false);
      expect(isAmiId("ami-0123456789ABCDEF0")).to.equal(false);
      expect(isAmiId(PATTERN)).to.equal(false);
      expect(isAmiId("ami-*")).to.equal(false);
    });

    it("groups workers by region, keeping declaration order", () => {
      const groups = byRegion([spec("a"), spec("b", { region: "eu-west-1" }), spec("c")]);
      expect([...groups].map(([r, ws]) => [r, ws.map((w) => w.name)])).to.deep.equal([
        ["us-east-1", ["a", "c"]],
        ["eu-west-1", ["b"]],
      ]);
    });
  });

  describe("with defaults (one region, no key, no sshAllowFrom)", () => {
    let r: Declared;
    before(async () => {
      r = await declare(args({ workers: [spec("a"), spec("b", { size: "t3.large" })] }));
    });

    it("declares exactly the component, one security group and one instance per worker", () => {
      expect(r.mocks.summary()).to.have.members([
        "pulumi:pulumi:Stack fleet-dev",
        `${COMPONENT} aws`,
        `${SG} aws-us-east-1-sg`,
        `${INSTANCE} aws-a`,
        `${INSTANCE} aws-b`,
      ]);
      expect(r.mocks.resources).to.have.length(5);
      expect(r.mocks.ofType(KEY_PAIR)).to.deep.equal([]);
    });

    it("has a security group with no ingress at all and outbound open", () => {
      expect(r.mocks.ofType(SG).map((s) => s.inputs)).to.deep.equal([
        {
          region: "us-east-1",
          description: SG_DESCRIPTION,
          ingress: [],
          egress: EGRESS_OPEN,
          tags: OWNERSHIP,
        },
      ]);
      expect(r.outputs.securityGroupIds).to.deep.equal(["aws-us-east-1-sg-id"]);
    });

    it("looks the AMI up once per region, from Canonical, by name pattern, most recent", () => {
      expect(r.mocks.calls).to.deep.equal([
        {
          token: GET_AMI,
          inputs: {
            region: "us-east-1",
            mostRecent: true,
            owners: ["099720109477"],
            filters: [
              { name: "name", values: [PATTERN] },
              { name: "virtualization-type", values: ["hvm"] },
            ],
          },
        },
      ]);
    });

    it("declares instances with IMDSv2 required, encrypted root volume and the Name tag", () => {
      const instances = r.mocks.ofType(INSTANCE);
      const createdAt = instances[0].inputs.tags as Record<string, string>;
      const stamp = createdAt[CREATED_AT_TAG];
      expect(instances.map((i) => i.inputs)).to.deep.equal(
        ["a", "b"].map((name) => ({
          region: "us-east-1",
          ami: MOCK_AMI,
          instanceType: name === "a" ? "t3.micro" : "t3.large",
          vpcSecurityGroupIds: ["aws-us-east-1-sg-id"],
          associatePublicIpAddress: true,
          metadataOptions: {
            httpTokens: "required",
            httpEndpoint: "enabled",
            httpPutResponseHopLimit: 1,
          },
          rootBlockDevice: { encrypted: true, volumeType: "gp3", deleteOnTermination: true },
          userDataReplaceOnChange: false,
          tags: { ...OWNERSHIP, Name: name, [CREATED_AT_TAG]: stamp },
          volumeTags: { ...OWNERSHIP, Name: name },
        })),
      );
    });

    it("records the creation time once, as ISO-8601 UTC, in the fleet:createdAt tag", () => {
      const stamp = (r.mocks.ofType(INSTANCE)[0].inputs.tags as Record<string, string>)[
        CREATED_AT_TAG
      ];
      expect(stamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(
        stamp >= r.started && stamp <= r.ended,
        `${r.started} <= ${stamp} <= ${r.ended}`,
      ).to.equal(true);
    });

    it("ignores later changes of the fleet:createdAt tag and of the looked-up AMI, and nothing else", () => {
      const instances = r.options.filter((o) => o.type === INSTANCE);
      expect(instances.map((o) => [o.name, o.ignoreChanges])).to.deep.equal([
        ["aws-a", ['tags["fleet:createdAt"]', "ami"]],
        ["aws-b", ['tags["fleet:createdAt"]', "ami"]],
      ]);
      for (const o of r.options.filter((x) => x.type !== INSTANCE)) {
        expect(o.ignoreChanges, o.name).to.equal(undefined);
      }
    });

    it("parents every child to the component", () => {
      const children = r.options.filter((o) => o.type !== COMPONENT);
      expect(children).to.have.length(3);
      for (const c of children) {
        expect([c.name, c.parentType, c.parentName]).to.deep.equal([c.name, COMPONENT, "aws"]);
      }
    });

    it("exports each worker in the Worker shape, createdAt from the tag", () => {
      const stamp = (r.mocks.ofType(INSTANCE)[0].inputs.tags as Record<string, string>)[
        CREATED_AT_TAG
      ];
      expect(r.outputs.workers).to.deep.equal([
        {
          name: "a",
          cloud: "aws",
          region: "us-east-1",
          size: "t3.micro",
          ip: MOCK_INSTANCE_IP,
          createdAt: stamp,
          id: "aws-a-id",
          status: "running",
        },
        {
          name: "b",
          cloud: "aws",
          region: "us-east-1",
          size: "t3.large",
          ip: MOCK_INSTANCE_IP,
          createdAt: stamp,
          id: "aws-b-id",
          status: "running",
        },
      ]);
    });
  });

  describe("with two regions, keys, sshAllowFrom, user data, an AMI id and an AMI owner", () => {
    let r: Declared;
    before(async () => {
      r = await declare(
        args({
          workers: [
            spec("a"),
            spec("b", { region: "eu-west-1" }),
            spec("c", { image: "ami-0fedcba9876543210" }),
            spec("d", { region: "eu-west-1" }),
          ],
          sshPublicKeys: [KEY_A, KEY_B],
          sshAllowFrom: ["203.0.113.7/32", "2001:db8::/48", "198.51.100.0/24"],
          userData: "#cloud-config\n",
          tags: { team: "batch", ...OWNERSHIP },
          extras: { imageOwner: "123456789012" },
        }),
      );
    });

    it("declares one security group and one key pair per region, not per worker", () => {
      expect(r.mocks.summary()).to.have.members([
        "pulumi:pulumi:Stack fleet-dev",
        `${COMPONENT} aws`,
        `${SG} aws-us-east-1-sg`,
        `${SG} aws-eu-west-1-sg`,
        `${KEY_PAIR} aws-us-east-1-key`,
        `${KEY_PAIR} aws-eu-west-1-key`,
        `${INSTANCE} aws-a`,
        `${INSTANCE} aws-b`,
        `${INSTANCE} aws-c`,
        `${INSTANCE} aws-d`,
      ]);
      expect(r.mocks.resources).to.have.length(10);
    });

    it("allows only SSH, only from the listed CIDRs (IPv4 and IPv6 apart)", () => {
      const ingress = [
        {
          protocol: "tcp",
          fromPort: 22,
          toPort: 22,
          cidrBlocks: ["203.0.113.7/32", "198.51.100.0/24"],
          ipv6CidrBlocks: ["2001:db8::/48"],
          description: "SSH from fleet:sshAllowFrom",
        },
      ];
      const tags = { team: "batch", ...OWNERSHIP };
      const byName = new Map(r.mocks.ofType(SG).map((s) => [s.name, s.inputs]));
      expect(byName.get("aws-us-east-1-sg")).to.deep.equal({
        region: "us-east-1",
        description: SG_DESCRIPTION,
        ingress,
        egress: EGRESS_OPEN,
        tags,
      });
      expect(byName.get("aws-eu-west-1-sg")).to.deep.equal({
        region: "eu-west-1",
        description: SG_DESCRIPTION,
        ingress,
        egress: EGRESS_OPEN,
        tags,
      });
    });

    it("installs the first SSH key (an AWS key pair holds one)", () => {
      const byName = new Map(r.mocks.ofType(KEY_PAIR).map((k) => [k.name, k.inputs]));
      const tags = { team: "batch", ...OWNERSHIP };
      expect(byName.get("aws-us-east-1-key")).to.deep.equal({
        region: "us-east-1",
        publicKey: KEY_A,
        tags,
      });
      expect(byName.get("aws-eu-west-1-key")).to.deep.equal({
        region: "eu-west-1",
        publicKey: KEY_A,
        tags,
      });
    });

    it("uses a configured AMI id as is and looks patterns up with the configured owner", () => {
      const amis = Object.fromEntries(r.mocks.ofType(INSTANCE).map((i) => [i.name, i.inputs.ami]));
      expect(amis).to.deep.equal({
        "aws-a": MOCK_AMI,
        "aws-b": MOCK_AMI,
        "aws-c": "ami-0fedcba9876543210",
        "aws-d": MOCK_AMI,
      });
      expect(
        r.mocks.calls.map((c) => [c.token, c.inputs.region, c.inputs.owners]).sort(),
      ).to.deep.equal([
        [GET_AMI, "eu-west-1", ["123456789012"]],
        [GET_AMI, "us-east-1", ["123456789012"]],
      ]);
    });

    it("wires each instance to its region's group and key pair, with user data and tags", () => {
      for (const i of r.mocks.ofType(INSTANCE)) {
        const region = i.inputs.region as string;
        const name = i.name.slice("aws-".length);
        expect(region).to.equal(name === "b" || name === "d" ? "eu-west-1" : "us-east-1");
        expect(i.inputs.vpcSecurityGroupIds).to.deep.equal([`aws-${region}-sg-id`]);
        expect(i.inputs.keyName).to.equal(`aws-${region}-key-kp`);
        expect(i.inputs.userData).to.equal("#cloud-config\n");
        expect(i.inputs.metadataOptions).to.deep.include({ httpTokens: "required" });
        expect(i.inputs.rootBlockDevice).to.deep.include({ encrypted: true });
        const tags = i.inputs.tags as Record<string, string>;
        expect(Object.keys(tags).sort()).to.deep.equal([
          "Name",
          "fleet:createdAt",
          "fleet:project",
          "fleet:stack",
          "team",
        ]);
        expect(tags.Name).to.equal(name);
        expect(tags.team).to.equal("batch");
      }
    });

    it("exports the workers in declaration order across regions", () => {
      const workers = r.outputs.workers as { name: string; region: string; id: string }[];
      expect(workers.map((w) => [w.name, w.region, w.id])).to.deep.equal([
        ["a", "us-east-1", "aws-a-id"],
        ["b", "eu-west-1", "aws-b-id"],
        ["c", "us-east-1", "aws-c-id"],
        ["d", "eu-west-1", "aws-d-id"],
      ]);
      expect(r.outputs.securityGroupIds).to.deep.equal([
        "aws-us-east-1-sg-id",
        "aws-eu-west-1-sg-id",
      ]);
    });
  });

  describe("with only AMI ids", () => {
    it("never calls getAmi", async () => {
      const r = await declare(args({ workers: [spec("a", { image: "ami-0123abcd" })] }));
      expect(r.mocks.calls).to.deep.equal([]);
      expect(r.mocks.ofType(INSTANCE)[0].inputs.ami).to.equal("ami-0123abcd");
    });
  });
});
