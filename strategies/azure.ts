/**
 * Azure: one Linux VirtualMachine per worker whose VM name and computer name are exactly the
 * worker name, each with a static Standard-SKU public IP and a NIC. Once per fleet a resource
 * group; once per region in use a virtual network with one subnet and a network security group
 * on that subnet that allows nothing inbound but SSH from `fleet:sshAllowFrom`: a deny-all rule
 * outranks Azure's default rules, which would also let in the virtual network and the load
 * balancer (`DENY_ALL_INBOUND`).
 *
 * Login is by SSH key only (password authentication disabled), as the admin user `fleet`.
 * Azure refuses a Linux VM with neither key nor password, so a fleet without
 * `fleet:sshPublicKeys` is an error. VMs use Trusted Launch (secure boot, vTPM), which needs a
 * Generation 2 image such as the default Ubuntu 24.04 LTS.
 *
 * The provider SDK is imported by submodule so that loading this strategy stays fast.
 */
import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import { FleetConfigError } from "../config/errors";
import { type StrategyArgs, type Worker, WorkerFleet, toIsoUtc } from "./contract";
import { byRegion } from "./grouping";
import { assertSshKeys, assertWorkerNames } from "../config/cloud-rules";

/** The admin user created on every VM; SSH keys are installed for it. */
export const ADMIN_USER = "fleet";

/** The address space of each region's virtual network (and its one subnet). */
export const ADDRESS_SPACE = "10.0.0.0/16";

/** A marketplace image reference, as `publisher:offer:sku:version` names it. */
export interface ImageReference {
  publisher: string;
  offer: string;
  sku: string;
  version: string;
}

/**
 * Parses an image URN `publisher:offer:sku:version` (what `az vm image list` prints, e.g.
 * `Canonical:ubuntu-24_04-lts:server:latest`). `worker` names the worker in errors.
 */
export function parseImageUrn(image: string, worker: string): ImageReference {
  const parts = image.split(":");
  if (parts.length !== 4 || parts.some((p) => p === "")) {
    throw new FleetConfigError(
      `image of worker ${worker}`,
      image,
      "an Azure image URN publisher:offer:sku:version, e.g. Canonical:ubuntu-24_04-lts:server:latest",
      "invalid Azure image:",
    );
  }
  const [publisher, offer, sku, version] = parts;
  return { publisher, offer, sku, version };
}

/** Azure tag keys may not contain `< > % & \ ? /`; those become `_`. Values stay as they are. */
export function azureTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) out[k.replace(/[<>%&\\?/]/g, "_").slice(0, 512)] = v;
  return out;
}

/**
 * Outranks the NSG default rules `AllowVnetInBound` (65000: anything in the virtual network's
 * address space, peered networks and gateways) and `AllowAzureLoadBalancerInBound` (65001), which
 * `DenyAllInBound` (65500) comes after (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
 * So only SSH from fleet:sshAllowFrom (priority 1000) gets in.
 */
export const DENY_ALL_INBOUND = {
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
};

export class AzureStrategy extends WorkerFleet {
  /** The resource group holding every resource of this fleet. */
  public readonly resourceGroupName: pulumi.Output<string>;
  /** Network security group ids, one per region in use. */
  public readonly securityGroupIds: pulumi.Output<string[]>;
  public readonly workers: pulumi.Output<Worker[]>;

  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    // Refuse before anything is registered (config validation has checked this already).
    assertSshKeys("azure", args.sshPublicKeys);
    assertWorkerNames("azure", args.workers);
    const images = new Map(args.workers.map((w) => [w.name, parseImageUrn(w.image, w.name)]));
    super("fleet:azure:WorkerFleet", name, {}, opts);
    const parent = { parent: this };
    const tags = azureTags(args.tags);
    const publicKeys = args.sshPublicKeys.map((keyData) => ({
      path: `/home/${ADMIN_USER}/.ssh/authorized_keys`,
      keyData,
    }));
    const customData =
      args.userData === undefined ? undefined : Buffer.from(args.userData).toString("base64");

    const group = new resources.ResourceGroup(
      `${name}-rg`,
      { location: args.workers[0].region, tags },
      parent,
    );

    const vms = new Map<string, { vm: compute.VirtualMachine; ip: network.PublicIPAddress }>();
    const nsgIds: pulumi.Output<string>[] = [];
    for (const [region, workers] of byRegion(args.workers)) {
      const nsg = new network.NetworkSecurityGroup(
        `${name}-${region}-nsg`,
        {
          resourceGroupName: group.name,
          location: region,
          securityRules: [
            ...(args.sshAllowFrom.length
              ? [
                  {
                    name: "ssh-from-allowed",
                    description: "SSH from fleet:sshAllowFrom",
                    priority: 1000,
                    direction: "Inbound",
                    access: "Allow",
                    protocol: "Tcp",
                    sourcePortRange: "*",
                    sourceAddressPrefixes: [...args.sshAllowFrom],
                    destinationPortRange: "22",
                    destinationAddressPrefix: "*",
                  },
                ]
              : []),
            DENY_ALL_INBOUND,
          ],
          tags,
        },
        parent,
      );
      nsgIds.push(nsg.id);

      const vnet = new network.VirtualNetwork(
        `${name}-${region}-vnet`,
        {
          resourceGroupName: group.name,
          location: region,
          addressSpace: { addressPrefixes: [ADDRESS_SPACE] },
          tags,
        },
        parent,
      );
      const subnet = new network.Subnet(
        `${name}-${region}-subnet`,
        {
          resourceGroupName: group.name,
          virtualNetworkName: vnet.name,
          subnetName: "workers",
          addressPrefix: ADDRESS_SPACE,
          networkSecurityGroup: { id: nsg.id },
        },
        parent,
      );

      for (const w of workers) {
        const workerTags = { ...tags, Name: w.name };
        const ip = new network.PublicIPAddress(
          `${name}-${w.name}-ip`,
          {
            resourceGroupName: group.name,
            location: region,
            publicIpAddressName: `${w.name}-ip`,
            publicIPAllocationMethod: "Static",
            publicIPAddressVersion: "IPv4",
            sku: { name: "Standard", tier: "Regional" },
            tags: workerTags,
          },
          parent,
        );
        const nic = new network.NetworkInterface(
          `${name}-${w.name}-nic`,
          {
            resourceGroupName: group.name,
            location: region,
            networkInterfaceName: `${w.name}-nic`,
            ipConfigurations: [
              {
                name: "primary",
                primary: true,
                privateIPAllocationMethod: "Dynamic",
                subnet: { id: subnet.id },
                publicIPAddress: { id: ip.id },
              },
            ],
            tags: workerTags,
          },
          parent,
        );
        const vm = new compute.VirtualMachine(
          `${name}-${w.name}`,
          {
            resourceGroupName: group.name,
            location: region,
            vmName: w.name,
            hardwareProfile: { vmSize: w.size },
            storageProfile: {
              imageReference: images.get(w.name),
              osDisk: {
                createOption: "FromImage",
                deleteOption: "Delete",
                managedDisk: { storageAccountType: "StandardSSD_LRS" },
              },
            },
            osProfile: {
              computerName: w.name,
              adminUsername: ADMIN_USER,
              customData,
              linuxConfiguration: {
                disablePasswordAuthentication: true,
                provisionVMAgent: true,
                ssh: { publicKeys },
              },
            },
            networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
            securityProfile: {
              securityType: "TrustedLaunch",
              uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
            },
            tags: workerTags,
          },
          parent,
        );
        vms.set(w.name, { vm, ip });
      }
    }

    this.resourceGroupName = group.name;
    this.securityGroupIds = pulumi.all(nsgIds);
    this.workers = pulumi.all(
      args.workers.map((w) => {
        const { vm, ip } = vms.get(w.name) as {
          vm: compute.VirtualMachine;
          ip: network.PublicIPAddress;
        };
        return pulumi
          .all([
            vm.id,
            vm.location,
            vm.hardwareProfile,
            ip.ipAddress,
            vm.timeCreated,
            vm.provisioningState,
          ])
          .apply(
            ([id, region, hardware, address, created, status]): Worker => ({
              name: w.name,
              cloud: "azure",
              region,
              size: hardware?.vmSize ?? w.size,
              ip: address ?? "",
              createdAt: toIsoUtc(created),
              id,
              status,
            }),
          );
      }),
    );
    this.registerOutputs({
      workers: this.workers,
      resourceGroupName: this.resourceGroupName,
      securityGroupIds: this.securityGroupIds,
    });
  }
}
