import { expect } from "chai";
import { loadCloudDefaults } from "../../config/defaults";
import { FleetConfigError } from "../../config/errors";
import { fleetProgram } from "../../program";
import { ADMIN_USER, AzureStrategy, azureTags, parseImageUrn } from "../../strategies/azure";
import type { StrategyArgs, WorkerSpec } from "../../strategies/contract";
import { RecordingMocks, runUnderMocks } from "../harness/mocks";
import { buildStrategy, only } from "../harness/strategy";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDzQ9Yk8wR0aTestKeyOnlyForUnitTests me@laptop";
const IMAGE = "Canonical:ubuntu-24_04-lts:server:latest";
const TAGS = { "fleet:project": "fleet", "fleet:stack": "dev", team: "batch" };

function spec(name: string, region = "eastus", size = "Standard_B1s"): WorkerSpec {
  return { name, cloud: "azure", region, size, image: IMAGE };
}

function args(overrides: Partial<StrategyArgs> = {}): StrategyArgs {
  return {
    workers: [spec("a"), spec("b")],
    sshPublicKeys: [KEY],
    sshAllowFrom: [],
    tags: TAGS,
    extras: {},
    ...overrides,
  };
}

const build = (a: StrategyArgs, mocks?: RecordingMocks) =>
  buildStrategy(AzureStrategy, "azure", a, mocks);

describe("strategies/azure", () => {
  describe("parseImageUrn", () => {
    it("splits publisher:offer:sku:version", () => {
      expect(parseImageUrn(IMAGE, "a")).to.deep.equal({
        publisher: "Canonical",
        offer: "ubuntu-24_04-lts",
        sku: "server",
        version: "latest",
      });
    });
    it("refuses anything else, naming the worker", () => {
      expect(() => parseImageUrn("ubuntu-24-04", "w1"))
        .to.throw(FleetConfigError)
        .with.property("message")
        .that.matches(/worker w1.*publisher:offer:sku:version/);
      expect(() => parseImageUrn("a::c:d", "w1")).to.throw(FleetConfigError);
    });
  });

  it("azureTags keeps fleet's tags and replaces characters Azure refuses in keys", () => {
    expect(azureTags({ "fleet:stack": "dev", "a/b": "x" })).to.deep.equal({
      "fleet:stack": "dev",
      a_b: "x",
    });
  });

  it("declares exactly: resource group, NSG, VNet, subnet, then per worker public IP, NIC and VM", async () => {
    const { mocks } = await build(args());
    // Registration order depends on when inputs resolve, so compare as sets.
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).to.have.members([
      "pulumi:pulumi:Stack fleet-dev",
      "fleet:azure:WorkerFleet azure",
      "azure-native:resources:ResourceGroup azure-rg",
      "azure-native:network:NetworkSecurityGroup azure-eastus-nsg",
      "azure-native:network:VirtualNetwork azure-eastus-vnet",
      "azure-native:network:Subnet azure-eastus-subnet",
      "azure-native:network:PublicIPAddress azure-a-ip",
      "azure-native:network:NetworkInterface azure-a-nic",
      "azure-native:compute:VirtualMachine azure-a",
      "azure-native:network:PublicIPAddress azure-b-ip",
      "azure-native:network:NetworkInterface azure-b-nic",
      "azure-native:compute:VirtualMachine azure-b",
    ]);
  });

  it("creates Linux VMs named as the workers, key-only login, tagged, from the parsed image", async () => {
    const { mocks } = await build(args({ userData: "#cloud-config\n" }));
    const vm = mocks.ofType("azure-native:compute:VirtualMachine")[0];
    expect(vm.inputs).to.deep.include({
      vmName: "a",
      location: "eastus",
      resourceGroupName: "azure-rg1a2b3c4d",
      hardwareProfile: { vmSize: "Standard_B1s" },
      tags: { ...TAGS, Name: "a" },
      networkProfile: { networkInterfaces: [{ id: "azure-a-nic-id", primary: true }] },
    });
    expect(vm.inputs.osProfile).to.deep.equal({
      computerName: "a",
      adminUsername: ADMIN_USER,
      customData: Buffer.from("#cloud-config\n").toString("base64"),
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        provisionVMAgent: true,
        ssh: { publicKeys: [{ path: "/home/fleet/.ssh/authorized_keys", keyData: KEY }] },
      },
    });
    expect(vm.inputs.osProfile).not.to.have.property("adminPassword");
    expect(vm.inputs.storageProfile).to.deep.equal({
      imageReference: {
        publisher: "Canonical",
        offer: "ubuntu-24_04-lts",
        sku: "server",
        version: "latest",
      },
      osDisk: {
        createOption: "FromImage",
        deleteOption: "Delete",
        managedDisk: { storageAccountType: "StandardSSD_LRS" },
      },
    });
    expect(vm.inputs.securityProfile).to.deep.equal({
      securityType: "TrustedLaunch",
      uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
    });
  });

  it("gives each worker a static Standard public IP and a NIC in the fleet's subnet", async () => {
    const { mocks } = await build(args());
    const ip = mocks.ofType("azure-native:network:PublicIPAddress")[0];
    expect(ip.inputs).to.deep.include({
      publicIpAddressName: "a-ip",
      publicIPAllocationMethod: "Static",
      publicIPAddressVersion: "IPv4",
      sku: { name: "Standard", tier: "Regional" },
      tags: { ...TAGS, Name: "a" },
    });
    const nic = mocks.ofType("azure-native:network:NetworkInterface")[0];
    expect(nic.inputs.ipConfigurations).to.deep.equal([
      {
        name: "primary",
        primary: true,
        privateIPAllocationMethod: "Dynamic",
        subnet: { id: "azure-eastus-subnet-id" },
        publicIPAddress: { id: "azure-a-ip-id" },
      },
    ]);
    const subnet = only(mocks.ofType("azure-native:network:Subnet"));
    expect(subnet.inputs.networkSecurityGroup).to.deep.equal({ id: "azure-eastus-nsg-id" });
  });

  it("allows no inbound traffic without sshAllowFrom: one deny-all rule outranks Azure's AllowVnetInBound/AllowAzureLoadBalancerInBound", async () => {
    const { mocks } = await build(args());
    const nsg = only(mocks.ofType("azure-native:network:NetworkSecurityGroup"));
    // Azure's default rules sit at 65000 (VirtualNetwork) and 65001 (AzureLoadBalancer).
    expect(nsg.inputs.securityRules).to.deep.equal([
      {
        name: "deny-all-inbound",
        description: "fleet: nothing inbound but SSH from fleet:sshAllowFrom",
        priority: 4096,
        direction: "Inbound",
        access: "Deny",
        protocol: "*",
        sourcePortRange: "*",
        sourceAddressPrefix: "*",
        destinationPortRange: "*",
        destinationAddressPrefix: "*",
      },
    ]);
    expect(4096).to.be.lessThan(65000);
  });

  it("allows SSH only from sshAllowFrom when set", async () => {
    const { mocks } = await build(args({ sshAllowFrom: ["203.0.113.0/24", "2001:db8::/48"] }));
    const nsg = only(mocks.ofType("azure-native:network:NetworkSecurityGroup"));
    expect(nsg.inputs.securityRules).to.deep.equal([
      {
        name: "ssh-from-allowed",
        description: "SSH from fleet:sshAllowFrom",
        priority: 1000,
        direction: "Inbound",
        access: "Allow",
        protocol: "Tcp",
        sourcePortRange: "*",
        sourceAddressPrefixes: ["203.0.113.0/24", "2001:db8::/48"],
        destinationPortRange: "22",
        destinationAddressPrefix: "*",
      },
      {
        name: "deny-all-inbound",
        description: "fleet: nothing inbound but SSH from fleet:sshAllowFrom",
        priority: 4096,
        direction: "Inbound",
        access: "Deny",
        protocol: "*",
        sourcePortRange: "*",
        sourceAddressPrefix: "*",
        destinationPortRange: "*",
        destinationAddressPrefix: "*",
      },
    ]);
  });

  it("shares network resources per region, not per worker", async () => {
    const { mocks } = await build(
      args({ workers: [spec("a"), spec("b"), spec("c", "westeurope")] }),
    );
    expect(mocks.ofType("azure-native:resources:ResourceGroup")).to.have.length(1);
    expect(
      mocks.ofType("azure-native:network:NetworkSecurityGroup").map((r) => r.inputs.location),
    ).to.deep.equal(["eastus", "westeurope"]);
    expect(mocks.ofType("azure-native:network:VirtualNetwork")).to.have.length(2);
    expect(mocks.ofType("azure-native:compute:VirtualMachine")).to.have.length(3);
  });

  it("refuses a fleet without SSH keys, naming fleet:sshPublicKeys, before registering anything", async () => {
    const mocks = new RecordingMocks();
    const err = await build(args({ sshPublicKeys: [] }), mocks).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(mocks.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    expect(err).to.be.instanceOf(FleetConfigError);
    expect((err as Error).message).to.match(/fleet:sshPublicKeys.*Azure/);
  });

  describe("the whole program with fleet:cloud=azure", () => {
    it("exports every worker with its IP, creation time, id and status", async () => {
      const { outputs } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "azure",
        "fleet:workers": JSON.stringify(["w1", { name: "w2", size: "large" }]),
        "fleet:sshPublicKeys": JSON.stringify([KEY]),
      });
      const d = loadCloudDefaults("azure");
      const worker = (name: string, size: string) => ({
        name,
        cloud: "azure",
        region: d.region,
        size,
        ip: "192.0.2.20",
        createdAt: "2026-01-02T03:04:05.678Z",
        id: `azure-${name}-id`,
        status: "Succeeded",
      });
      expect(outputs.workers).to.deep.equal([worker("w1", d.size), worker("w2", d.sizes.large)]);
    });

    it("maps small/medium/large to the VM sizes of config/azure.yaml", async () => {
      const { mocks } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "azure",
        "fleet:workers": JSON.stringify([
          { name: "s", size: "small" },
          { name: "m", size: "medium" },
          { name: "l", size: "large" },
        ]),
        "fleet:sshPublicKeys": JSON.stringify([KEY]),
      });
      const sizes = mocks
        .ofType("azure-native:compute:VirtualMachine")
        .map((r) => (r.inputs.hardwareProfile as { vmSize: string }).vmSize);
      expect(sizes).to.deep.equal(["Standard_B1ms", "Standard_B2s", "Standard_B4ms"]);
    });

    it("refuses to run without fleet:sshPublicKeys, before any resource", async () => {
      const err = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "azure",
        "fleet:workers": JSON.stringify(["w1"]),
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(FleetConfigError);
      expect((err as Error).message)
        .to.contain("fleet:sshPublicKeys")
        .and.contain("Azure");
    });
  });
});
