import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type JsonObject, SimulatedCloud } from "./cloud";
import {
  ProviderError,
  type SimulatedProvider,
  applyIgnoreChanges,
  simulatedProvider,
  supportedTypes,
} from "./providers";

const KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9sK3y2hP1mR0b3mV9c0a1b2c3d4e5f6a7b8c9d0e1 fleet@test";
const KEY2 =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx7d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2 other@test";

function setup(
  pkg: string,
  config: JsonObject = {},
): { p: SimulatedProvider; cloud: SimulatedCloud } {
  const cloud = new SimulatedCloud(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-prov-")));
  const p = simulatedProvider(pkg, cloud);
  if (!p) throw new Error(`no provider ${pkg}`);
  p.configure(config);
  return { p, cloud };
}

const urn = (type: string, name: string) => `urn:pulumi:dev::fleet::${type}::${name}`;

/** check (must pass) then create; returns id, outputs and the checked inputs. */
async function make(p: SimulatedProvider, type: string, name: string, news: JsonObject) {
  const { inputs, failures } = p.check(type, news, undefined, urn(type, name));
  expect(failures, JSON.stringify(failures)).to.deep.equal([]);
  const { id, outputs } = await p.create(type, urn(type, name), inputs, false);
  return { id, outputs, inputs };
}

async function providerError(fn: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ProviderError);
    return e as ProviderError;
  }
  throw new Error("expected a ProviderError");
}

const DROPLET = "digitalocean:index/droplet:Droplet";
const INSTANCE = "aws:ec2/instance:Instance";

describe("simulated providers", () => {
  it("covers exactly the packages and types fleet's strategies use", () => {
    const cloud = new SimulatedCloud(os.tmpdir());
    expect(simulatedProvider("random", cloud)).to.equal(undefined);
    expect(supportedTypes("digitalocean")).to.have.members([
      DROPLET,
      "digitalocean:index/tag:Tag",
      "digitalocean:index/sshKey:SshKey",
      "digitalocean:index/firewall:Firewall",
    ]);
    expect(supportedTypes("gcp")).to.include.members([
      "gcp:compute/network:Network",
      "gcp:compute/subnetwork:Subnetwork",
    ]);
    expect(supportedTypes("azure-native")).to.have.length(7);
  });

  describe("DigitalOcean", () => {
    it("auto-names the tag as <logical>-<7 hex>, keeps it on update, renews it for a replacement", () => {
      const { p } = setup("digitalocean");
      const t = "digitalocean:index/tag:Tag";
      const first = p.check(t, {}, undefined, urn(t, "fleet-fleet")).inputs;
      expect(first.name).to.match(/^fleet-fleet-[0-9a-f]{7}$/);
      expect(first.__defaults).to.deep.equal(["name"]);
      expect(p.check(t, {}, first, urn(t, "fleet-fleet")).inputs.name).to.equal(first.name);
      expect(p.check(t, {}, undefined, urn(t, "fleet-fleet")).inputs.name).to.not.equal(first.name);
      const seed = Buffer.from("seed");
      expect(p.check(t, {}, undefined, urn(t, "x"), seed).inputs.name).to.equal(
        p.check(t, {}, undefined, urn(t, "x"), seed).inputs.name,
      );
    });

    it("creates droplets with what fleet reads; read finds them until deleted out of band", async () => {
      const { p, cloud } = setup("digitalocean");
      const key = await make(p, "digitalocean:index/sshKey:SshKey", "k0", {
        name: "k0",
        publicKey: KEY,
      });
      expect(key.outputs.fingerprint).to.match(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const tag = await make(p, "digitalocean:index/tag:Tag", "fleet-fleet", {});
      const d = await make(p, DROPLET, "fleet-w1", {
        name: "w1",
        image: "ubuntu-24-04-x64",
        region: "nyc3",
        size: "s-1vcpu-1gb",
        sshKeys: [key.outputs.fingerprint],
        tags: [tag.inputs.name, "fleet:stack_dev"],
        monitoring: true,
        ipv6: false,
      });
      expect(d.id).to.match(/^\d+$/);
      expect(d.outputs.ipv4Address).to.match(/^203\.0\.113\.\d+$/);
      expect(d.outputs).to.include({ status: "active", region: "nyc3", size: "s-1vcpu-1gb" });
      expect(d.outputs.createdAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect((await p.read(DROPLET, d.id, d.outputs))?.outputs.ipv4Address).to.equal(
        d.outputs.ipv4Address,
      );
      expect(await cloud.deleteOutOfBand("digitalocean", DROPLET, d.id)).to.equal(true);
      expect(await p.read(DROPLET, d.id, d.outputs)).to.equal(undefined);
      const e = await providerError(() =>
        p.update(DROPLET, d.id, d.inputs, { ...d.inputs, size: "s-2vcpu-2gb" }, d.outputs, false),
      );
      expect(e.message).to.include("404");
    });

    it("preview omits what only the cloud knows", async () => {
      const { p, cloud } = setup("digitalocean");
      const { inputs } = p.check(
        DROPLET,
        { name: "w1", image: "i", size: "s-1vcpu-1gb" },
        undefined,
        urn(DROPLET, "w"),
      );
      const r = await p.create(DROPLET, urn(DROPLET, "w"), inputs, true);
      expect(r.id).to.equal("");
      expect(r.outputs).to.not.have.any.keys("ipv4Address", "createdAt", "status");
      expect(await cloud.count()).to.equal(0);
    });

    it("refuses missing required inputs, bad tags, bad names and a reused SSH key", async () => {
      const { p } = setup("digitalocean");
      const { failures } = p.check(
        DROPLET,
        { name: "w1", size: "s-1vcpu-1gb" },
        undefined,
        urn(DROPLET, "w"),
      );
      expect(failures).to.deep.equal([
        {
          property: "image",
          reason:
            'Missing required argument. The argument "image" is required, but no definition was found.',
        },
      ]);
      expect(
        p.check(
          DROPLET,
          { image: "i", size: "s", tags: ["fleet/stack"] },
          undefined,
          urn(DROPLET, "w"),
        ).failures[0].property,
      ).to.equal("tags[0]");
      const bad = p.check(
        DROPLET,
        { name: "w_1", image: "i", size: "s-1vcpu-1gb" },
        undefined,
        urn(DROPLET, "w"),
      ).inputs;
      expect(
        (await providerError(() => p.create(DROPLET, urn(DROPLET, "w"), bad, false))).message,
      ).to.include("Only valid hostname characters are allowed");
      await make(p, "digitalocean:index/sshKey:SshKey", "k0", { publicKey: KEY });
      const again = p.check(
        "digitalocean:index/sshKey:SshKey",
        { publicKey: KEY },
        undefined,
        urn("x", "k1"),
      ).inputs;
      const e = await providerError(() =>
        p.create("digitalocean:index/sshKey:SshKey", urn("x", "k1"), again, false),
      );
      expect(e.message).to.match(
        /^Error creating SSH Key: POST https:\/\/api\.digitalocean\.com\/v2\/account\/keys: 422 \(request "[0-9a-f-]+"\) SSH Key is already in use on your account$/,
      );
    });

    it("replaces droplets on image/region change, resizes in place", () => {
      const { p } = setup("digitalocean");
      const olds = { name: "w1", image: "a", region: "nyc3", size: "s-1vcpu-1gb", __defaults: [] };
      const size = p.diff(DROPLET, olds, { ...olds, size: "s-2vcpu-2gb" }, {}, []);
      expect(size).to.deep.include({ changes: true, replaces: [], diffs: ["size"] });
      const image = p.diff(DROPLET, olds, { ...olds, image: "b", region: "ams3" }, {}, []);
      expect(image.replaces).to.have.members(["image", "region"]);
      // The user named it: a replacement would reuse the name, the bridge deletes first.
      expect(image.deleteBeforeReplace).to.equal(true);
      expect(p.diff(DROPLET, olds, olds, {}, []).changes).to.equal(false);
    });
  });

  describe("AWS", () => {
    const sgInputs = (region: string): JsonObject => ({
      region,
      description: "fleet workers",
      ingress: [],
      egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
      tags: { "fleet:stack": "dev" },
    });

    it("creates the security group, key pair and instance with the outputs fleet reads", async () => {
      const { p } = setup("aws", { region: "us-east-1" });
      const sg = await make(
        p,
        "aws:ec2/securityGroup:SecurityGroup",
        "fleet-us-east-1-sg",
        sgInputs("us-east-1"),
      );
      expect(sg.inputs.name).to.match(/^fleet-us-east-1-sg-[0-9a-f]{7}$/);
      expect(sg.id).to.match(/^sg-0[0-9a-f]{16}$/);
      const kp = await make(p, "aws:ec2/keyPair:KeyPair", "fleet-us-east-1-key", {
        region: "us-east-1",
        publicKey: KEY,
      });
      expect(kp.outputs.keyName).to.match(/^fleet-us-east-1-key-[0-9a-f]{7}$/);
      const ami = await p.invoke("aws:ec2/getAmi:getAmi", {
        region: "us-east-1",
        mostRecent: true,
        owners: ["099720109477"],
        filters: [
          { name: "name", values: ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"] },
          { name: "virtualization-type", values: ["hvm"] },
        ],
      });
      expect(ami.id).to.match(/^ami-0[0-9a-f]{16}$/);
      const i = await make(p, INSTANCE, "fleet-w1", {
        region: "us-east-1",
        ami: ami.id,
        instanceType: "t3.micro",
        vpcSecurityGroupIds: [sg.id],
        keyName: kp.outputs.keyName,
        associatePublicIpAddress: true,
        metadataOptions: { httpTokens: "required" },
        userData: "#!/bin/sh\n",
        tags: { Name: "w1", "fleet:createdAt": "2026-01-02T03:04:05.000Z" },
      });
      expect(i.id).to.match(/^i-0[0-9a-f]{16}$/);
      expect(i.outputs).to.include({
        instanceState: "running",
        region: "us-east-1",
        instanceType: "t3.micro",
      });
      expect(i.outputs.publicIp).to.match(/^198\.51\.100\.\d+$/);
      expect(i.outputs.tags).to.deep.equal({
        Name: "w1",
        "fleet:createdAt": "2026-01-02T03:04:05.000Z",
      });
      expect(i.outputs.userData).to.match(/^[0-9a-f]{40}$/);
    });

    it("refuses a duplicate key pair, an unknown security group, a missing AMI and no region", async () => {
      const { p } = setup("aws", { region: "us-east-1" });
      await make(p, "aws:ec2/keyPair:KeyPair", "k", { keyName: "fleet", publicKey: KEY });
      const dup = p.check(
        "aws:ec2/keyPair:KeyPair",
        { keyName: "fleet", publicKey: KEY2 },
        undefined,
        urn("k", "k2"),
      ).inputs;
      const e = await providerError(() =>
        p.create("aws:ec2/keyPair:KeyPair", urn("k", "k2"), dup, false),
      );
      expect(e.message).to.match(
        /^importing EC2 Key Pair \(fleet\): operation error EC2: ImportKeyPair, https response error StatusCode: 400, RequestID: [0-9a-f-]+, api error InvalidKeyPair.Duplicate: /,
      );
      const inst = p.check(
        INSTANCE,
        {
          ami: "ami-0123456789abcdef0",
          instanceType: "t3.micro",
          vpcSecurityGroupIds: ["sg-0000"],
        },
        undefined,
        urn(INSTANCE, "w"),
      ).inputs;
      expect(
        (await providerError(() => p.create(INSTANCE, urn(INSTANCE, "w"), inst, false))).code,
      ).to.equal("InvalidGroup.NotFound");
      expect(
        p.check(INSTANCE, { instanceType: "t3.micro" }, undefined, urn(INSTANCE, "w")).failures[0]
          .property,
      ).to.equal("ami");
      const none = await p
        .invoke("aws:ec2/getAmi:getAmi", {
          owners: ["099720109477"],
          filters: [{ name: "name", values: ["nothing-*"] }],
        })
        .catch((x: Error) => x);
      expect((none as Error).message).to.equal(
        "Your query returned no results. Please change your search criteria and try again.",
      );
      const { p: noRegion } = setup("aws", {});
      const saved = [process.env.AWS_REGION, process.env.AWS_DEFAULT_REGION];
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      try {
        noRegion.configure({});
        expect(
          noRegion
            .check("aws:ec2/keyPair:KeyPair", { publicKey: KEY }, undefined, urn("k", "k"))
            .failures.map((f) => f.property),
        ).to.deep.equal(["region"]);
      } finally {
        if (saved[0] !== undefined) process.env.AWS_REGION = saved[0];
        if (saved[1] !== undefined) process.env.AWS_DEFAULT_REGION = saved[1];
      }
      expect(p.check("pulumi:providers:aws", { region: "mars-1" }).failures[0].reason).to.equal(
        "invalid AWS Region: mars-1",
      );
    });

    it("replaces on ami/region, updates instanceType and userData unless userDataReplaceOnChange; honours ignoreChanges", () => {
      const { p } = setup("aws", { region: "us-east-1" });
      const olds: JsonObject = {
        region: "us-east-1",
        ami: "ami-0aaaaaaaaaaaaaaaa",
        instanceType: "t3.micro",
        userData: "a",
        userDataReplaceOnChange: false,
        tags: { Name: "w1", "fleet:createdAt": "2026-01-01T00:00:00.000Z" },
        rootBlockDevice: { encrypted: true, volumeType: "gp3" },
      };
      const news: JsonObject = {
        ...olds,
        ami: "ami-0bbbbbbbbbbbbbbbb",
        tags: { Name: "w1", "fleet:createdAt": "2026-05-05T00:00:00.000Z" },
      };
      const ignored = p.diff(INSTANCE, olds, news, {}, ['tags["fleet:createdAt"]', "ami"]);
      expect(ignored).to.deep.include({ changes: false, replaces: [], diffs: [] });
      expect(p.diff(INSTANCE, olds, news, {}, []).replaces).to.deep.equal(["ami"]);
      expect(p.diff(INSTANCE, olds, { ...olds, instanceType: "t3.small" }, {}, [])).to.deep.include(
        { replaces: [], diffs: ["instanceType"] },
      );
      expect(p.diff(INSTANCE, olds, { ...olds, userData: "b" }, {}, []).replaces).to.deep.equal([]);
      expect(
        p.diff(INSTANCE, olds, { ...olds, userData: "b", userDataReplaceOnChange: true }, {}, [])
          .replaces,
      ).to.deep.equal(["userData"]);
      expect(
        p.diff(
          INSTANCE,
          olds,
          { ...olds, rootBlockDevice: { encrypted: false, volumeType: "gp3" } },
          {},
          [],
        ).replaces,
      ).to.deep.equal(["rootBlockDevice"]);
      expect(
        p.diff(
          INSTANCE,
          olds,
          { ...olds, rootBlockDevice: { encrypted: true, volumeType: "gp2" } },
          {},
          [],
        ).replaces,
      ).to.deep.equal([]);
      expect(
        p.diff(INSTANCE, olds, { ...olds, region: "eu-west-1" }, {}, []).replaces,
      ).to.deep.equal(["region"]);
      expect(applyIgnoreChanges({ a: { b: 1 } }, { c: 2 }, ["a.b", "x"])).to.deep.equal({
        a: { b: 1 },
        c: 2,
      });
    });
    it("provider resources: config is checked, a region change replaces the provider", async () => {
      const { p } = setup("aws", { region: "us-east-1" });
      const T = "pulumi:providers:aws";
      expect(p.check(T, { region: "eu-west-1" }).failures).to.deep.equal([]);
      expect(p.diff(T, { region: "us-east-1" }, { region: "eu-west-1" }, {}, [])).to.deep.include({
        changes: true,
        replaces: ["region"],
      });
      expect(p.diff(T, { region: "us-east-1" }, { region: "us-east-1" }, {}, []).changes).to.equal(
        false,
      );
      expect(() => p.configure({ region: "nowhere" })).to.throw(
        ProviderError,
        "invalid AWS Region: nowhere",
      );
      expect(
        (await p.create(T, urn(T, "default"), { region: "eu-west-1" }, false)).outputs,
      ).to.deep.equal({ region: "eu-west-1" });
    });
  });

  describe("Azure", () => {
    it("auto-names with 8 hex, builds /subscriptions ids, returns what fleet reads, refuses orphans", async () => {
      const { p } = setup("azure-native");
      const rg = await make(p, "azure-native:resources:ResourceGroup", "fleet-rg", {
        location: "westeurope",
      });
      expect(rg.inputs.resourceGroupName).to.match(/^fleet-rg[0-9a-f]{8}$/);
      expect(rg.id).to.match(
        /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/fleet-rg[0-9a-f]{8}$/,
      );
      const g = rg.inputs.resourceGroupName as string;
      const nsg = await make(
        p,
        "azure-native:network:NetworkSecurityGroup",
        "fleet-westeurope-nsg",
        { resourceGroupName: g, location: "westeurope", securityRules: [] },
      );
      const vnet = await make(p, "azure-native:network:VirtualNetwork", "fleet-westeurope-vnet", {
        resourceGroupName: g,
        location: "westeurope",
        addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
      });
      const subnet = await make(p, "azure-native:network:Subnet", "fleet-westeurope-subnet", {
        resourceGroupName: g,
        virtualNetworkName: vnet.outputs.name,
        subnetName: "workers",
        addressPrefix: "10.0.0.0/16",
        networkSecurityGroup: { id: nsg.id },
      });
      expect(subnet.id).to.match(
        /\/virtualNetworks\/fleet-westeurope-vnet[0-9a-f]{8}\/subnets\/workers$/,
      );
      const ip = await make(p, "azure-native:network:PublicIPAddress", "fleet-w1-ip", {
        resourceGroupName: g,
        location: "westeurope",
        publicIpAddressName: "w1-ip",
        publicIPAllocationMethod: "Static",
        sku: { name: "Standard" },
      });
      expect(ip.outputs.ipAddress).to.match(/^192\.0\.2\.\d+$/);
      const nic = await make(p, "azure-native:network:NetworkInterface", "fleet-w1-nic", {
        resourceGroupName: g,
        location: "westeurope",
        networkInterfaceName: "w1-nic",
        ipConfigurations: [
          { name: "primary", subnet: { id: subnet.id }, publicIPAddress: { id: ip.id } },
        ],
      });
      const vmInputs: JsonObject = {
        resourceGroupName: g,
        location: "westeurope",
        vmName: "w1",
        hardwareProfile: { vmSize: "Standard_B1s" },
        osProfile: {
          computerName: "w1",
          adminUsername: "fleet",
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            ssh: { publicKeys: [{ path: "/home/fleet/.ssh/authorized_keys", keyData: KEY }] },
          },
        },
        networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
      };
      const vm = await make(p, "azure-native:compute:VirtualMachine", "fleet-w1", vmInputs);
      expect(vm.outputs).to.include({
        provisioningState: "Succeeded",
        location: "westeurope",
        name: "w1",
      });
      expect(vm.outputs.timeCreated).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$/);
      const e = await providerError(() =>
        p.update(
          "azure-native:compute:VirtualMachine",
          vm.id,
          vmInputs,
          {
            ...vmInputs,
            osProfile: { ...(vmInputs.osProfile as JsonObject), adminUsername: "other" },
          },
          vm.outputs,
          false,
        ),
      );
      expect(e.message).to.include("ERROR CODE: PropertyChangeNotAllowed");
      const orphan = p.check(
        "azure-native:network:VirtualNetwork",
        { resourceGroupName: "nope", location: "westeurope" },
        undefined,
        urn("v", "v"),
      ).inputs;
      expect(
        (
          await providerError(() =>
            p.create("azure-native:network:VirtualNetwork", urn("v", "v"), orphan, false),
          )
        ).code,
      ).to.equal("ResourceGroupNotFound");
      expect(
        p.check(
          "azure-native:network:Subnet",
          { virtualNetworkName: "v" },
          undefined,
          urn("s", "s"),
        ).failures,
      ).to.deep.equal([
        { property: "resourceGroupName", reason: "missing required property 'resourceGroupName'" },
      ]);
      const noKey = {
        ...vmInputs,
        vmName: "w2",
        osProfile: {
          computerName: "w2",
          adminUsername: "fleet",
          linuxConfiguration: { disablePasswordAuthentication: true },
        },
      };
      expect(
        (
          await providerError(() =>
            p.create("azure-native:compute:VirtualMachine", urn("vm", "w2"), noKey, false),
          )
        ).message,
      ).to.include("Authentication using either SSH or by user name and password");
    });

    it("replaces on name or location change; a user-set name deletes before replacing", () => {
      const { p } = setup("azure-native");
      const olds = { resourceGroupName: "g", location: "westeurope", vmName: "w1", __defaults: [] };
      const d = p.diff(
        "azure-native:compute:VirtualMachine",
        olds,
        { ...olds, location: "northeurope" },
        {},
        [],
      );
      expect(d).to.deep.include({ replaces: ["location"], deleteBeforeReplace: true });
      expect(
        p.diff("azure-native:compute:VirtualMachine", olds, { ...olds, tags: { a: "b" } }, {}, [])
          .replaces,
      ).to.deep.equal([]);
    });
  });

  describe("GCP", () => {
    it("creates firewall and instance with self-link ids, natIp and creation time; needs a project", async () => {
      const { p } = setup("gcp", { project: "fleet-project", zone: "us-central1-a" });
      const fw = await make(p, "gcp:compute/firewall:Firewall", "fleet-ssh", {
        network: "default",
        direction: "INGRESS",
        allows: [{ protocol: "tcp", ports: ["22"] }],
        sourceRanges: ["203.0.113.0/24"],
        targetTags: ["fleet-dev-fleet"],
      });
      expect(fw.inputs.name).to.match(/^fleet-ssh-[0-9a-f]{7}$/);
      expect(fw.id).to.equal(`projects/fleet-project/global/firewalls/${fw.inputs.name}`);
      const i = await make(p, "gcp:compute/instance:Instance", "fleet-w1", {
        name: "w1",
        zone: "us-central1-a",
        machineType: "e2-micro",
        bootDisk: { initializeParams: { image: "ubuntu-os-cloud/ubuntu-2404-lts-amd64" } },
        networkInterfaces: [{ network: "default", accessConfigs: [{}] }],
        allowStoppingForUpdate: true,
      });
      expect(i.id).to.equal("projects/fleet-project/zones/us-central1-a/instances/w1");
      expect(i.outputs.currentStatus).to.equal("RUNNING");
      const nics = i.outputs.networkInterfaces as JsonObject[];
      expect((nics[0].accessConfigs as JsonObject[])[0].natIp).to.match(/^198\.51\.100\.\d+$/);
      expect(i.outputs.creationTimestamp).to.match(/-08:00$/);
      const dup = await providerError(() =>
        p.create("gcp:compute/instance:Instance", urn("i", "again"), i.inputs, false),
      );
      expect(dup.message).to.equal(
        "Error creating instance: googleapi: Error 409: The resource 'projects/fleet-project/zones/us-central1-a/instances/w1' already exists, alreadyExists",
      );
      const net = await providerError(() =>
        p.create(
          "gcp:compute/firewall:Firewall",
          urn("f", "f"),
          { name: "f", network: "custom", allows: [{ protocol: "tcp" }] },
          false,
        ),
      );
      expect(net.code).to.equal("notFound");
      await make(p, "gcp:compute/network:Network", "custom", {
        name: "custom",
        autoCreateSubnetworks: false,
      });
      await make(p, "gcp:compute/subnetwork:Subnetwork", "custom-sub", {
        network: "custom",
        region: "us-central1",
        ipCidrRange: "10.10.0.0/24",
      });
      await make(p, "gcp:compute/firewall:Firewall", "f2", {
        network: "custom",
        allows: [{ protocol: "tcp" }],
      });
      const { p: noProject } = setup("gcp", {});
      const saved = process.env.GOOGLE_PROJECT;
      delete process.env.GOOGLE_PROJECT;
      try {
        noProject.configure({ zone: "us-central1-a" });
        expect(
          (
            await providerError(() =>
              noProject.create("gcp:compute/network:Network", urn("n", "n"), { name: "n" }, false),
            )
          ).message,
        ).to.equal("project: required field is not set");
      } finally {
        if (saved !== undefined) process.env.GOOGLE_PROJECT = saved;
      }
    });

    it("preview leaves networkInterfaces unknown (natIp is the cloud's), keeps them on an unchanged update", async () => {
      const { p } = setup("gcp", { project: "p", zone: "us-central1-a" });
      const T = "gcp:compute/instance:Instance";
      const base: JsonObject = {
        name: "w1",
        machineType: "e2-micro",
        bootDisk: { initializeParams: { image: "a" } },
        networkInterfaces: [{ network: "default", accessConfigs: [{}] }],
        labels: { a: "b" },
      };
      const planned = await p.create(T, urn(T, "w1"), base, true);
      expect(planned.outputs).to.not.have.any.keys("networkInterfaces", "currentStatus");
      const i = await make(p, T, "w1", base);
      const same = await p.update(
        T,
        i.id,
        i.inputs,
        { ...i.inputs, labels: { a: "c" } },
        i.outputs,
        true,
      );
      expect(same.networkInterfaces).to.deep.equal(i.outputs.networkInterfaces);
      const changed = await p.update(
        T,
        i.id,
        i.inputs,
        { ...i.inputs, networkInterfaces: [{ network: "default" }] },
        i.outputs,
        true,
      );
      expect(changed).to.not.have.key("networkInterfaces");
    });

    it("machineType needs allowStoppingForUpdate; boot disk replaces; bad names refused", async () => {
      const { p } = setup("gcp", { project: "p", zone: "us-central1-a" });
      const base: JsonObject = {
        name: "w1",
        machineType: "e2-micro",
        bootDisk: { initializeParams: { image: "a" } },
        networkInterfaces: [{ network: "default" }],
      };
      const i = await make(p, "gcp:compute/instance:Instance", "w1", base);
      const e = await providerError(() =>
        p.update(
          "gcp:compute/instance:Instance",
          i.id,
          i.inputs,
          { ...i.inputs, machineType: "e2-small" },
          i.outputs,
          false,
        ),
      );
      expect(e.message).to.include("allow_stopping_for_update = true");
      expect(
        p.diff(
          "gcp:compute/instance:Instance",
          i.inputs,
          { ...i.inputs, bootDisk: { initializeParams: { image: "b" } } },
          {},
          [],
        ).replaces,
      ).to.deep.equal(["bootDisk"]);
      expect(
        p.check("gcp:compute/instance:Instance", { ...base, name: "W_1" }, undefined, urn("i", "x"))
          .failures[0].property,
      ).to.equal("name");
    });
  });

  describe("Hetzner", () => {
    it("creates key, firewall and server with numeric ids and the outputs fleet reads; refuses duplicates", async () => {
      const { p } = setup("hcloud");
      const key = await make(p, "hcloud:index/sshKey:SshKey", "k0", {
        name: "fleet-dev-fleet-key-0",
        publicKey: KEY,
        labels: { fleet_stack: "dev" },
      });
      expect(key.id).to.match(/^\d+$/);
      const fw = await make(p, "hcloud:index/firewall:Firewall", "fw", {
        name: "fleet-dev-fleet-firewall",
        rules: [{ direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24"] }],
      });
      const s = await make(p, "hcloud:index/server:Server", "fleet-w1", {
        name: "w1",
        serverType: "cx23",
        image: "ubuntu-24.04",
        location: "fsn1",
        sshKeys: [key.id],
        firewallIds: [Number(fw.id)],
        publicNets: [{ ipv4Enabled: true, ipv6Enabled: false }],
        labels: { fleet_created_at: "20260102T030405Z" },
      });
      expect(s.id).to.match(/^\d+$/);
      expect(s.outputs).to.include({
        status: "running",
        location: "fsn1",
        serverType: "cx23",
        ipv6Address: "",
      });
      expect(s.outputs.ipv4Address).to.match(/^203\.0\.113\.\d+$/);
      const again = await providerError(() =>
        p.create(
          "hcloud:index/server:Server",
          urn("s", "x"),
          { name: "w1", serverType: "cx23", image: "ubuntu-24.04" },
          false,
        ),
      );
      expect(again.message).to.match(
        /^server name is already used \(uniqueness_error, [0-9a-f]{16}\)$/,
      );
      const dupKey = await providerError(() =>
        p.create(
          "hcloud:index/sshKey:SshKey",
          urn("k", "k1"),
          { name: "other", publicKey: KEY },
          false,
        ),
      );
      expect(dupKey.code).to.equal("uniqueness_error");
      expect(
        p.check("hcloud:index/server:Server", { name: "w1" }, undefined, urn("s", "s")).failures[0]
          .property,
      ).to.equal("serverType");
      expect(
        p.diff("hcloud:index/server:Server", s.inputs, { ...s.inputs, serverType: "cx33" }, {}, [])
          .replaces,
      ).to.deep.equal([]);
      expect(
        p.diff(
          "hcloud:index/server:Server",
          s.inputs,
          { ...s.inputs, image: "debian-12", labels: { fleet_created_at: "x" } },
          {},
          ['labels["fleet_created_at"]'],
        ),
      ).to.deep.include({ replaces: ["image"], diffs: ["image"] });
    });
  });
});
