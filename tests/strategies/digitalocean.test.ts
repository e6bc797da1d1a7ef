import { expect } from "chai";
import type { StrategyArgs, WorkerSpec } from "../../strategies/contract";
import { DigitalOceanStrategy, doTag } from "../../strategies/digitalocean";
import {
  MOCK_DROPLET_IP,
  MOCK_TAG_SUFFIX,
  type RecordingMocks,
  runUnderMocks,
} from "../harness/mocks";
import { type RecordedOptions, recordOptions } from "../harness/transformations";

const DROPLET = "digitalocean:index/droplet:Droplet";
const TAG = "digitalocean:index/tag:Tag";
const FIREWALL = "digitalocean:index/firewall:Firewall";
const SSH_KEY = "digitalocean:index/sshKey:SshKey";
const COMPONENT = "fleet:digitalocean:WorkerFleet";

/** The auto-named tag the mocked provider gives `<name>-fleet`. */
const FLEET_TAG = `digitalocean-fleet${MOCK_TAG_SUFFIX}`;

const OUTBOUND_OPEN = [
  { protocol: "tcp", portRange: "1-65535", destinationAddresses: ["0.0.0.0/0", "::/0"] },
  { protocol: "udp", portRange: "1-65535", destinationAddresses: ["0.0.0.0/0", "::/0"] },
  { protocol: "icmp", destinationAddresses: ["0.0.0.0/0", "::/0"] },
];

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb a";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb b";

function spec(name: string, over: Partial<WorkerSpec> = {}): WorkerSpec {
  return {
    name,
    cloud: "digitalocean",
    region: "nyc3",
    size: "s-1vcpu-1gb",
    image: "ubuntu-24-04-x64",
    ...over,
  };
}

function args(over: Partial<StrategyArgs> = {}): StrategyArgs {
  return {
    workers: [spec("a")],
    sshPublicKeys: [],
    sshAllowFrom: [],
    tags: { "fleet:project": "fleet", "fleet:stack": "dev" },
    extras: {},
    ...over,
  };
}

/** Declares one DigitalOcean fleet under mocks; returns its outputs, the mocks and every child's options. */
async function declare(a: StrategyArgs): Promise<{
  outputs: Record<string, unknown>;
  mocks: RecordingMocks;
  options: RecordedOptions[];
}> {
  const options: RecordedOptions[] = [];
  const { outputs, mocks } = await runUnderMocks(async () => {
    recordOptions(options);
    const fleet = new DigitalOceanStrategy("digitalocean", a);
    return { workers: fleet.workers, fleetTag: fleet.fleetTag, firewallId: fleet.firewallId };
  }, {});
  return { outputs, mocks, options };
}

describe("strategies/digitalocean", () => {
  describe("doTag", () => {
    it("joins key and value with ':' and replaces what DigitalOcean tags do not allow", () => {
      expect(doTag("fleet:stack", "dev")).to.equal("fleet:stack:dev");
      expect(doTag("cost.center", "a b/c")).to.equal("cost_center:a_b_c");
      expect(doTag("k", "v".repeat(300))).to.have.length(255);
    });
  });

  describe("with defaults (no SSH keys, no sshAllowFrom)", () => {
    let r: Awaited<ReturnType<typeof declare>>;
    before(async () => {
      r = await declare(
        args({
          workers: [
            spec("a"),
            spec("b", { region: "fra1", size: "s-2vcpu-4gb", image: "debian-12-x64" }),
          ],
        }),
      );
    });

    it("declares exactly one component, one tag, one firewall and one droplet per worker", () => {
      expect(r.mocks.summary()).to.have.members([
        "pulumi:pulumi:Stack fleet-dev",
        `${COMPONENT} digitalocean`,
        `${TAG} digitalocean-fleet`,
        `${FIREWALL} digitalocean-firewall`,
        `${DROPLET} digitalocean-a`,
        `${DROPLET} digitalocean-b`,
      ]);
      expect(r.mocks.resources).to.have.length(6);
      expect(r.mocks.ofType(SSH_KEY)).to.deep.equal([]);
      expect(r.mocks.calls).to.deep.equal([]);
    });

    it("names each droplet exactly as its worker, with its image, region and size, monitoring on", () => {
      expect(r.mocks.ofType(DROPLET).map((d) => d.inputs)).to.deep.equal([
        {
          name: "a",
          image: "ubuntu-24-04-x64",
          region: "nyc3",
          size: "s-1vcpu-1gb",
          monitoring: true,
          ipv6: false,
          sshKeys: [],
          tags: [FLEET_TAG, "fleet:project:fleet", "fleet:stack:dev"],
        },
        {
          name: "b",
          image: "debian-12-x64",
          region: "fra1",
          size: "s-2vcpu-4gb",
          monitoring: true,
          ipv6: false,
          sshKeys: [],
          tags: [FLEET_TAG, "fleet:project:fleet", "fleet:stack:dev"],
        },
      ]);
    });

    it("lets the provider name the fleet's tag (unique per fleet)", () => {
      expect(r.mocks.ofType(TAG).map((t) => t.inputs)).to.deep.equal([{}]);
      expect(r.outputs.fleetTag).to.equal(FLEET_TAG);
    });

    it("has a firewall on the fleet's tag with no inbound rule and outbound open", () => {
      expect(r.mocks.ofType(FIREWALL).map((f) => f.inputs)).to.deep.equal([
        { tags: [FLEET_TAG], inboundRules: [], outboundRules: OUTBOUND_OPEN },
      ]);
      expect(r.outputs.firewallId).to.equal("digitalocean-firewall-id");
    });

    it("creates the firewall before any droplet, so no droplet is ever reachable without it", () => {
      // A droplet without a firewall accepts every connection; a tag firewall covers a droplet
      // from the moment it carries the tag.
      const droplets = r.options.filter((o) => o.type === DROPLET);
      expect(droplets).to.have.length.greaterThan(0);
      for (const d of droplets)
        expect(d.dependsOn, d.name).to.deep.equal(["digitalocean-firewall"]);
    });

    it("parents every child to the component, and the component to the stack", () => {
      const children = r.options.filter((o) => o.type !== COMPONENT);
      expect(children).to.have.length(4);
      for (const c of children) {
        expect([c.name, c.parentType, c.parentName]).to.deep.equal([
          c.name,
          COMPONENT,
          "digitalocean",
        ]);
      }
      const component = r.options.find((o) => o.type === COMPONENT);
      expect(component?.parentType).to.equal(undefined);
    });

    it("exports each worker in the Worker shape, in declaration order", () => {
      expect(r.outputs.workers).to.deep.equal([
        {
          name: "a",
          cloud: "digitalocean",
          region: "nyc3",
          size: "s-1vcpu-1gb",
          ip: MOCK_DROPLET_IP,
          createdAt: "2026-01-02T03:04:05.000Z",
          id: "digitalocean-a-id",
          status: "active",
        },
        {
          name: "b",
          cloud: "digitalocean",
          region: "fra1",
          size: "s-2vcpu-4gb",
          ip: MOCK_DROPLET_IP,
          createdAt: "2026-01-02T03:04:05.000Z",
          id: "digitalocean-b-id",
          status: "active",
        },
      ]);
    });
  });

  describe("with SSH keys, sshAllowFrom, user data and extra tags", () => {
    let r: Awaited<ReturnType<typeof declare>>;
    before(async () => {
      r = await declare(
        args({
          workers: [spec("a"), spec("b"), spec("c")],
          sshPublicKeys: [KEY_A, KEY_B],
          sshAllowFrom: ["203.0.113.7/32", "2001:db8::/48"],
          userData: "#cloud-config\n",
          tags: { team: "batch", "fleet:project": "fleet", "fleet:stack": "prod" },
        }),
      );
    });

    it("declares one SSH key resource per key, once per fleet, not per worker", () => {
      expect(r.mocks.ofType(SSH_KEY).map((k) => [k.name, k.inputs])).to.deep.equal([
        ["digitalocean-key-0", { name: "digitalocean-key-0", publicKey: KEY_A }],
        ["digitalocean-key-1", { name: "digitalocean-key-1", publicKey: KEY_B }],
      ]);
      expect(r.mocks.ofType(TAG)).to.have.length(1);
      expect(r.mocks.ofType(FIREWALL)).to.have.length(1);
      expect(r.mocks.ofType(DROPLET)).to.have.length(3);
      expect(r.mocks.resources).to.have.length(2 + 2 + 1 + 1 + 3);
    });

    it("installs every key, passes the user data and carries the ownership and extra tags", () => {
      for (const d of r.mocks.ofType(DROPLET)) {
        expect(d.inputs.sshKeys).to.deep.equal(["fp:digitalocean-key-0", "fp:digitalocean-key-1"]);
        expect(d.inputs.userData).to.equal("#cloud-config\n");
        expect(d.inputs.tags).to.deep.equal([
          FLEET_TAG,
          "team:batch",
          "fleet:project:fleet",
          "fleet:stack:prod",
        ]);
      }
    });

    it("allows only tcp/22 inbound, only from the listed CIDRs; outbound open", () => {
      expect(r.mocks.ofType(FIREWALL).map((f) => f.inputs)).to.deep.equal([
        {
          tags: [FLEET_TAG],
          inboundRules: [
            {
              protocol: "tcp",
              portRange: "22",
              sourceAddresses: ["203.0.113.7/32", "2001:db8::/48"],
            },
          ],
          outboundRules: OUTBOUND_OPEN,
        },
      ]);
    });
  });
});
