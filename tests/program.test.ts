/**
 * The whole program under mocks: stack config in, resources and the `workers` output out.
 * Every refusal is checked for its exact message and for having happened before any resource
 * was declared.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CLOUDS } from "../config/rules";
import * as pulumi from "@pulumi/pulumi";
import { fleetProgram, secretConfigKeys } from "../program";
import type { Worker } from "../strategies/contract";
import { FAKE } from "./harness/credentials";
import {
  MOCK_AMI,
  MOCK_DROPLET_IP,
  MOCK_INSTANCE_IP,
  ROOT_STACK,
  type RecordingMocks,
  runExpectingFailure,
  runUnderMocks,
} from "./harness/mocks";
import { copyPackage, type PackageCopy, shippedYaml } from "./harness/package-copy";

const DROPLET = "digitalocean:index/droplet:Droplet";
const INSTANCE = "aws:ec2/instance:Instance";
const AWS_PATTERN = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";
const DO_CREATED = "2026-01-02T03:04:05.000Z";

const workers = (list: unknown[]) => JSON.stringify(list);

async function run(config: Record<string, string>, secretKeys: string[] = []) {
  const { outputs, mocks } = await runUnderMocks(() => fleetProgram(), config, { secretKeys });
  return { workers: outputs.workers as Worker[], mocks };
}

function dropletWorker(name: string, region: string, size: string): Worker {
  return {
    name,
    cloud: "digitalocean",
    region,
    size,
    ip: MOCK_DROPLET_IP,
    createdAt: DO_CREATED,
    id: `digitalocean-${name}-id`,
    status: "active",
  };
}

function instanceWorker(name: string, region: string, size: string, createdAt: string): Worker {
  return {
    name,
    cloud: "aws",
    region,
    size,
    ip: MOCK_INSTANCE_IP,
    createdAt,
    id: `aws-${name}-id`,
    status: "running",
  };
}

/** What each declared droplet was given, by worker name. */
function droplets(mocks: RecordingMocks): Record<string, Record<string, unknown>> {
  return Object.fromEntries(mocks.ofType(DROPLET).map((d) => [d.inputs.name as string, d.inputs]));
}

describe("program", () => {
  describe("the workers output", () => {
    it("on DigitalOcean: one entry per worker, exact, with the shipped defaults", async () => {
      const { workers: out, mocks } = await run({
        "fleet:cloud": "digitalocean",
        "fleet:workers": workers(["a", "b"]),
      });
      expect(out).to.deep.equal([
        dropletWorker("a", "nyc3", "s-1vcpu-1gb"),
        dropletWorker("b", "nyc3", "s-1vcpu-1gb"),
      ]);
      expect(mocks.summary()).to.have.members([
        ROOT_STACK,
        "fleet:digitalocean:WorkerFleet digitalocean",
        "digitalocean:index/tag:Tag digitalocean-fleet",
        "digitalocean:index/firewall:Firewall digitalocean-firewall",
        `${DROPLET} digitalocean-a`,
        `${DROPLET} digitalocean-b`,
      ]);
      expect(mocks.resources).to.have.length(6);
      expect(droplets(mocks).a.image).to.equal("ubuntu-24-04-x64");
      expect(droplets(mocks).a.tags).to.deep.equal([
        "digitalocean-fleet-abc1234",
        "fleet:project:fleet",
        "fleet:stack:dev",
      ]);
    });

    it("on AWS: one entry per worker, exact, createdAt recorded at declaration", async () => {
      const before = new Date().toISOString();
      const { workers: out, mocks } = await run({
        "fleet:cloud": "aws",
        "fleet:workers": workers(["a", { name: "b", region: "eu-west-1" }]),
      });
      const after = new Date().toISOString();
      const createdAt = out[0].createdAt;
      expect(createdAt >= before && createdAt <= after, createdAt).to.equal(true);
      expect(out).to.deep.equal([
        instanceWorker("a", "us-east-1", "t3.micro", createdAt),
        instanceWorker("b", "eu-west-1", "t3.micro", createdAt),
      ]);
      expect(mocks.summary()).to.have.members([
        ROOT_STACK,
        "fleet:aws:WorkerFleet aws",
        "aws:ec2/securityGroup:SecurityGroup aws-us-east-1-sg",
        "aws:ec2/securityGroup:SecurityGroup aws-eu-west-1-sg",
        `${INSTANCE} aws-a`,
        `${INSTANCE} aws-b`,
      ]);
      expect(mocks.resources).to.have.length(6);
      for (const i of mocks.ofType(INSTANCE)) expect(i.inputs.ami).to.equal(MOCK_AMI);
      expect(mocks.calls.map((c) => c.inputs.filters)).to.deep.equal([
        [
          { name: "name", values: [AWS_PATTERN] },
          { name: "virtualization-type", values: ["hvm"] },
        ],
        [
          { name: "name", values: [AWS_PATTERN] },
          { name: "virtualization-type", values: ["hvm"] },
        ],
      ]);
    });

    it("across clouds: one component per cloud, entries in the order of fleet:workers", async () => {
      const { workers: out, mocks } = await run({
        "fleet:cloud": "digitalocean",
        "fleet:workers": workers([{ name: "x", cloud: "aws" }, "y", { name: "z", cloud: "aws" }]),
      });
      expect(out.map((w) => [w.name, w.cloud])).to.deep.equal([
        ["x", "aws"],
        ["y", "digitalocean"],
        ["z", "aws"],
      ]);
      expect(
        mocks.resources.filter((r) => r.type.endsWith(":WorkerFleet")).map((r) => r.name),
      ).to.have.members(["aws", "digitalocean"]);
    });

    it("is an empty list, with nothing declared, when there are no workers", async () => {
      const { workers: out, mocks } = await run({ "fleet:cloud": "aws" });
      expect(out).to.deep.equal([]);
      expect(mocks.summary()).to.deep.equal([ROOT_STACK]);
    });
  });

  describe("config layering: defaults ← stack ← worker", () => {
    it("on DigitalOcean", async () => {
      const { workers: out, mocks } = await run({
        "fleet:cloud": "digitalocean",
        "fleet:region": "fra1",
        "fleet:size": "s-2vcpu-2gb",
        "fleet:image": "debian-12-x64",
        "fleet:workers": workers([
          "stack",
          { name: "own", region: "sfo3", size: "s-8vcpu-16gb", image: "fedora-40-x64" },
          { name: "part", size: "large" },
        ]),
      });
      expect(out).to.deep.equal([
        dropletWorker("stack", "fra1", "s-2vcpu-2gb"),
        dropletWorker("own", "sfo3", "s-8vcpu-16gb"),
        dropletWorker("part", "fra1", "s-4vcpu-8gb"),
      ]);
      const d = droplets(mocks);
      expect([d.stack.image, d.own.image, d.part.image]).to.deep.equal([
        "debian-12-x64",
        "fedora-40-x64",
        "debian-12-x64",
      ]);
    });

    it("on AWS, where an ami- id skips the lookup", async () => {
      const { workers: out, mocks } = await run({
        "fleet:cloud": "aws",
        "fleet:region": "eu-west-1",
        "fleet:size": "t3.nano",
        "fleet:image": "ami-0aaaaaaaaaaaaaaaa",
        "fleet:workers": workers([
          "stack",
          { name: "own", region: "us-west-2", size: "m7i.large", image: "my-images-*" },
        ]),
      });
      const t = out[0].createdAt;
      expect(out).to.deep.equal([
        instanceWorker("stack", "eu-west-1", "t3.nano", t),
        instanceWorker("own", "us-west-2", "m7i.large", t),
      ]);
      const amis = Object.fromEntries(mocks.ofType(INSTANCE).map((i) => [i.name, i.inputs.ami]));
      expect(amis).to.deep.equal({ "aws-stack": "ami-0aaaaaaaaaaaaaaaa", "aws-own": MOCK_AMI });
      expect(
        mocks.calls.map((c) => [c.inputs.region, c.inputs.owners, c.inputs.filters]),
      ).to.deep.equal([
        [
          "us-west-2",
          ["099720109477"],
          [
            { name: "name", values: ["my-images-*"] },
            { name: "virtualization-type", values: ["hvm"] },
          ],
        ],
      ]);
    });

    it("maps the abstract sizes small, medium and large per cloud", async () => {
      const list = workers([
        { name: "s", size: "small" },
        { name: "m", size: "medium" },
        { name: "l", size: "large" },
        { name: "as", size: "small", cloud: "aws" },
        { name: "am", size: "medium", cloud: "aws" },
        { name: "al", size: "large", cloud: "aws" },
      ]);
      const { workers: out } = await run({ "fleet:cloud": "digitalocean", "fleet:workers": list });
      expect(out.map((w) => [w.name, w.size])).to.deep.equal([
        ["s", "s-1vcpu-2gb"],
        ["m", "s-2vcpu-4gb"],
        ["l", "s-4vcpu-8gb"],
        ["as", "t3.small"],
        ["am", "t3.medium"],
        ["al", "t3.xlarge"],
      ]);
    });

    it("maps an abstract fleet:size for every worker of the stack's cloud", async () => {
      const { workers: out } = await run({
        "fleet:cloud": "aws",
        "fleet:size": "medium",
        "fleet:workers": workers(["a"]),
      });
      expect(out[0].size).to.equal("t3.medium");
    });

    it("uses aws:region when fleet:region is unset, and fleet:region over it", async () => {
      const base = { "fleet:cloud": "aws", "aws:region": "ap-southeast-2" };
      const list = workers(["a", { name: "b", region: "eu-north-1" }]);
      const unset = await run({ ...base, "fleet:workers": list });
      expect(unset.workers.map((w) => w.region)).to.deep.equal(["ap-southeast-2", "eu-north-1"]);
      expect(unset.mocks.ofType(INSTANCE).map((i) => i.inputs.region)).to.have.members([
        "ap-southeast-2",
        "eu-north-1",
      ]);
      const set = await run({ ...base, "fleet:region": "ca-central-1", "fleet:workers": list });
      expect(set.workers.map((w) => w.region)).to.deep.equal(["ca-central-1", "eu-north-1"]);
    });

    it("opens SSH only when fleet:sshAllowFrom is set, and installs configured keys", async () => {
      const key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb me";
      const { mocks } = await run({
        "fleet:cloud": "digitalocean",
        "fleet:workers": workers(["a", { name: "b", cloud: "aws" }]),
        "fleet:sshAllowFrom": workers(["203.0.113.0/24"]),
        "fleet:sshPublicKeys": key,
      });
      expect(
        mocks.ofType("digitalocean:index/firewall:Firewall").map((f) => f.inputs.inboundRules),
      ).to.deep.equal([
        [{ protocol: "tcp", portRange: "22", sourceAddresses: ["203.0.113.0/24"] }],
      ]);
      expect(
        mocks.ofType("aws:ec2/securityGroup:SecurityGroup").map((s) => s.inputs.ingress),
      ).to.deep.equal([
        [
          {
            protocol: "tcp",
            fromPort: 22,
            toPort: 22,
            cidrBlocks: ["203.0.113.0/24"],
            ipv6CidrBlocks: [],
            description: "SSH from fleet:sshAllowFrom",
          },
        ],
      ]);
      expect(
        mocks.ofType("digitalocean:index/sshKey:SshKey").map((k) => k.inputs.publicKey),
      ).to.deep.equal([key]);
      expect(mocks.ofType("aws:ec2/keyPair:KeyPair").map((k) => k.inputs.publicKey)).to.deep.equal([
        key,
      ]);
    });

    it("passes the user-data file and the extra tags to every worker", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-program-"));
      try {
        fs.writeFileSync(path.join(dir, "init.yaml"), "#cloud-config\nruncmd: [true]\n");
        const { mocks } = await runUnderMocks(() => fleetProgram({ projectDir: dir }), {
          "fleet:cloud": "aws",
          "fleet:workers": workers(["a", { name: "b", cloud: "digitalocean" }]),
          "fleet:userDataFile": "init.yaml",
          "fleet:tags": JSON.stringify({ team: "batch" }),
        });
        const instance = mocks.ofType(INSTANCE)[0].inputs;
        expect(instance.userData).to.equal("#cloud-config\nruncmd: [true]\n");
        expect(instance.tags).to.deep.include({
          team: "batch",
          "fleet:project": "fleet",
          "fleet:stack": "dev",
        });
        const droplet = mocks.ofType(DROPLET)[0].inputs;
        expect(droplet.userData).to.equal("#cloud-config\nruncmd: [true]\n");
        expect(droplet.tags).to.include.members(["team:batch", "fleet:stack:dev"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("accepts digitalocean:token when it is a secret", async () => {
      const { workers: out } = await run(
        {
          "fleet:cloud": "digitalocean",
          "fleet:workers": workers(["a"]),
          "digitalocean:token": FAKE.doToken,
        },
        ["digitalocean:token"],
      );
      expect(out).to.deep.equal([dropletWorker("a", "nyc3", "s-1vcpu-1gb")]);
    });
  });

  describe("bad input fails with a clear message before any resource is declared", () => {
    /** Runs the program, expects `message` exactly, and that only the root stack was registered. */
    async function refused(
      config: Record<string, string>,
      message: string,
      program: () => Promise<object> = () => fleetProgram(),
    ): Promise<void> {
      const { error, mocks } = await runExpectingFailure(program, config);
      expect(error.message).to.equal(message);
      expect(error.name).to.equal("FleetConfigError");
      expect(mocks.summary()).to.deep.equal([ROOT_STACK]);
      expect(mocks.calls).to.deep.equal([]);
    }
    const ok = { "fleet:cloud": "digitalocean", "fleet:workers": workers(["a"]) };

    it("an unknown cloud, listing the known ones", async () => {
      await refused(
        { ...ok, "fleet:cloud": "azur" },
        `fleet:cloud: unknown cloud: got "azur"; known clouds: ${CLOUDS.join(", ")}`,
      );
      expect(CLOUDS).to.include.members(["aws", "digitalocean", "local"]);
    });

    it("an unknown cloud on one worker", async () => {
      await refused(
        { ...ok, "fleet:workers": workers([{ name: "a", cloud: "gcp-typo" }]) },
        `fleet:workers[0].cloud: unknown cloud: got "gcp-typo"; known clouds: ${CLOUDS.join(", ")}`,
      );
    });

    const NAME_RULE =
      "a worker name uses letters, digits, '-' and '.', starts with a letter or digit, and has at most 63 characters";
    for (const bad of ["-web", "web_1", "a b", "x".repeat(64), ""]) {
      it(`an invalid worker name ${JSON.stringify(bad.length > 20 ? `${bad.length} chars` : bad)}`, async () => {
        await refused(
          { ...ok, "fleet:workers": workers(["good", bad]) },
          `fleet:workers[1]: invalid worker name: got ${JSON.stringify(bad)}; ${NAME_RULE}`,
        );
      });
    }

    it("a duplicate worker name, ignoring case", async () => {
      await refused(
        { ...ok, "fleet:workers": workers(["web", "db", { name: "WEB", cloud: "aws" }]) },
        'fleet:workers[2]: duplicate worker name: got "WEB"; worker names are unique in the stack, ignoring case (first at fleet:workers[0])',
      );
    });

    it("an unknown fleet: key (a typo)", async () => {
      const { error, mocks } = await runExpectingFailure(() => fleetProgram(), {
        ...ok,
        "fleet:sshAllowForm": "[]",
      });
      expect(error.message).to.match(
        /^fleet:sshAllowForm: unknown config key \(a typo\?\): got "sshAllowForm"; known keys: fleet:cloud, fleet:workers, fleet:region, /,
      );
      expect(error.message).to.include("fleet:sshAllowFrom");
      expect(mocks.summary()).to.deep.equal([ROOT_STACK]);
    });

    it("an invalid CIDR in fleet:sshAllowFrom", async () => {
      await refused(
        { ...ok, "fleet:sshAllowFrom": workers(["0.0.0.0/0", "10.1.2.3"]) },
        'fleet:sshAllowFrom[1]: invalid CIDR: got "10.1.2.3"; a CIDR block such as 203.0.113.7/32 or 2001:db8::/48',
      );
    });

    it("a missing user-data file", async () => {
      const dir = path.join(os.tmpdir(), "fleet-no-such-dir");
      await refused(
        { ...ok, "fleet:userDataFile": "cloud-init.yaml" },
        `fleet:userDataFile: user-data file not found or unreadable (ENOENT): got "cloud-init.yaml"; a readable cloud-init file (resolved to ${path.join(dir, "cloud-init.yaml")})`,
        () => fleetProgram({ projectDir: dir }),
      );
    });

    it("digitalocean:token in plain (non-secret) config", async () => {
      await refused(
        { ...ok, "digitalocean:token": FAKE.doToken },
        'digitalocean:token: credential stored in plain text: got "(hidden)"; store it as a secret: pulumi config set --secret digitalocean:token <value>',
      );
    });

    it("a credential in a fleet: key", async () => {
      await refused(
        { ...ok, "fleet:image": FAKE.doToken },
        "fleet:image: credential in plain stack config: got a credential-like value (hidden); fleet's keys never hold credentials; put cloud credentials where the cloud expects them (see the README)",
      );
    });

    it("several problems at once, all listed", async () => {
      await refused(
        {
          "fleet:cloud": "aws",
          "fleet:workers": workers(["ok", "bad_name"]),
          "fleet:sshAllowFrom": "everyone",
        },
        [
          "2 problems in fleet's configuration:",
          `  - fleet:workers[1]: invalid worker name: got "bad_name"; ${NAME_RULE}`,
          '  - fleet:sshAllowFrom[0]: invalid CIDR: got "everyone"; a CIDR block such as 203.0.113.7/32 or 2001:db8::/48',
        ].join("\n"),
      );
    });

    describe("in the per-cloud config YAML", () => {
      const copies: PackageCopy[] = [];
      afterEach(() => copies.splice(0).forEach((c) => c.remove()));
      /** The compiled program of a package copy whose `file` has `text`. */
      function withYaml(file: string, text: string): () => Promise<object> {
        const copy = copyPackage({ [file]: text });
        copies.push(copy);
        return () => copy.program.fleetProgram();
      }
      const DO_HINT =
        "set the DIGITALOCEAN_TOKEN environment variable, or store the token as a secret with `pulumi config set --secret digitalocean:token <token>`";
      const AWS_HINT =
        "AWS credentials come from the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or `aws sso login`; the AWS provider also needs a region: `pulumi config set aws:region <region>` or AWS_REGION (workers may still pick their own with fleet:region)";

      it("runs the copy's program as the real one (control)", async () => {
        const program = withYaml(
          "digitalocean.yaml",
          shippedYaml("digitalocean.yaml").replace("region: nyc3", "region: ams3"),
        );
        const { outputs } = await runUnderMocks(program, ok);
        expect(outputs.workers).to.deep.equal([dropletWorker("a", "ams3", "s-1vcpu-1gb")]);
      });

      it("malformed YAML", async () => {
        const program = withYaml("digitalocean.yaml", "region: [nyc3\nsize: x\n");
        const { error, mocks } = await runExpectingFailure(program, ok);
        expect(error.message).to.match(
          /^config\/digitalocean\.yaml: malformed YAML \(missed comma between flow collection entries at line 2, column 1\)/,
        );
        expect(error.message).to.match(/: got "\(unparsable YAML\)"; valid YAML$/);
        expect(mocks.summary()).to.deep.equal([ROOT_STACK]);
      });

      it("an unknown key (a typo)", async () => {
        await refused(
          ok,
          'config/digitalocean.yaml: imgae: unknown key (a typo?): got "imgae"; allowed keys: region, size, image, sizes',
          withYaml(
            "digitalocean.yaml",
            shippedYaml("digitalocean.yaml").replace("image:", "imgae:"),
          ),
        );
      });

      it("a credential key, pointing to where DigitalOcean tokens belong", async () => {
        await refused(
          ok,
          `config/digitalocean.yaml: token: credential key found: got "(hidden)"; credentials never belong in config/digitalocean.yaml: ${DO_HINT}`,
          withYaml("digitalocean.yaml", `${shippedYaml("digitalocean.yaml")}token: abc\n`),
        );
      });

      it("a credential value, pointing to the AWS credential chain", async () => {
        await refused(
          { "fleet:cloud": "aws", "fleet:workers": workers(["a"]) },
          `config/aws.yaml: imageOwner: credential found: got a credential-like value (hidden); credentials never belong in config/aws.yaml: ${AWS_HINT}`,
          withYaml(
            "aws.yaml",
            shippedYaml("aws.yaml").replace(
              'imageOwner: "099720109477"',
              `imageOwner: ${FAKE.awsKeyId}`,
            ),
          ),
        );
      });

      it("only the YAML of clouds in use is read", async () => {
        const program = withYaml("aws.yaml", "not: [valid");
        const { outputs } = await runUnderMocks(program, ok);
        expect((outputs.workers as Worker[]).map((w) => w.name)).to.deep.equal(["a"]);
      });
    });
  });
});

describe("program: which config keys are secret", () => {
  it("uses the SDK's own record of secret keys", () => {
    const source = { isConfigSecret: (k: string) => k === "digitalocean:token" };
    expect([...secretConfigKeys(["fleet:cloud", "digitalocean:token"], source)]).to.deep.equal([
      "digitalocean:token",
    ]);
  });

  it("refuses to run (fails closed) when the SDK cannot say which keys are secret", () => {
    // Before, a missing isConfigSecret made every key secret: a plain-text token was accepted.
    expect(() => secretConfigKeys(["digitalocean:token"], {})).to.throw(
      /cannot tell secret stack config from plain text .*runtime\.isConfigSecret is missing/,
    );
  });

  it("the pinned SDK has it, so the program checks secrets for real", () => {
    expect(
      typeof (pulumi.runtime as unknown as { isConfigSecret?: unknown }).isConfigSecret,
    ).to.equal("function");
    expect(() => secretConfigKeys([])).not.to.throw();
  });
});
