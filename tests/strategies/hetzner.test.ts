import { expect } from "chai";
import { loadCloudDefaults } from "../../config/defaults";
import { FleetConfigError } from "../../config/errors";
import { fleetProgram } from "../../program";
import type { StrategyArgs, WorkerSpec } from "../../strategies/contract";
import {
  CREATED_AT_LABEL,
  HetznerStrategy,
  hetznerLabelPart,
  hetznerLabels,
  isoToLabel,
  labelToIso,
} from "../../strategies/hetzner";
import { RecordingMocks, runUnderMocks } from "../harness/mocks";
import { buildStrategy, only } from "../harness/strategy";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDzQ9Yk8wR0aTestKeyOnlyForUnitTests me@laptop";
const TAGS = { "fleet:project": "fleet", "fleet:stack": "dev", team: "batch" };
const LABELS = { fleet_project: "fleet", fleet_stack: "dev", team: "batch" };

function spec(name: string, region = "fsn1", size = "cx23"): WorkerSpec {
  return { name, cloud: "hetzner", region, size, image: "ubuntu-24.04" };
}

function args(overrides: Partial<StrategyArgs> = {}): StrategyArgs {
  return {
    workers: [spec("a"), spec("b", "hel1")],
    sshPublicKeys: [KEY],
    sshAllowFrom: [],
    tags: TAGS,
    extras: {},
    ...overrides,
  };
}

const build = (a: StrategyArgs, mocks?: RecordingMocks) =>
  buildStrategy(HetznerStrategy, "hetzner", a, mocks);

describe("strategies/hetzner", () => {
  describe("pure helpers", () => {
    it("hetznerLabels replaces characters Hetzner labels refuse", () => {
      expect(hetznerLabels(TAGS)).to.deep.equal(LABELS);
      expect(hetznerLabelPart("a:b.c-")).to.equal("a_b.c");
      expect(hetznerLabelPart("x".repeat(80))).to.have.length(63);
    });
    it("stores a time in a label without ':' and reads it back as ISO-8601 UTC", () => {
      const label = isoToLabel(new Date("2026-01-02T03:04:05.678Z"));
      expect(label).to.equal("20260102T030405Z");
      expect(hetznerLabelPart(label)).to.equal(label);
      expect(labelToIso(label)).to.equal("2026-01-02T03:04:05.000Z");
      expect(labelToIso(undefined)).to.equal("");
    });
  });

  it("declares one key per public key, one firewall, and one server per worker", async () => {
    const { mocks } = await build(args({ sshPublicKeys: [KEY, KEY.replace("me@", "you@")] }));
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).to.have.members([
      "pulumi:pulumi:Stack fleet-dev",
      "fleet:hetzner:WorkerFleet hetzner",
      "hcloud:index/sshKey:SshKey hetzner-key-0",
      "hcloud:index/sshKey:SshKey hetzner-key-1",
      "hcloud:index/firewall:Firewall hetzner-firewall",
      "hcloud:index/server:Server hetzner-a",
      "hcloud:index/server:Server hetzner-b",
    ]);
    expect(mocks.ofType("hcloud:index/sshKey:SshKey")[0].inputs).to.deep.equal({
      name: "fleet-dev-hetzner-key-0",
      publicKey: KEY,
      labels: LABELS,
    });
  });

  it("names servers exactly as the workers, with location, type, keys, firewall and labels", async () => {
    const before = isoToLabel(new Date());
    const { mocks } = await build(args({ userData: "#cloud-config\n" }));
    const firewall = only(mocks.ofType("hcloud:index/firewall:Firewall"));
    const key = only(mocks.ofType("hcloud:index/sshKey:SshKey"));
    const [a, b] = mocks.ofType("hcloud:index/server:Server");
    const { labels, ...rest } = a.inputs as { labels: Record<string, string> };
    expect(rest).to.deep.include({
      name: "a",
      serverType: "cx23",
      image: "ubuntu-24.04",
      location: "fsn1",
      sshKeys: [key.id],
      firewallIds: [Number(firewall.id)],
      publicNets: [{ ipv4Enabled: true, ipv6Enabled: false }],
      userData: "#cloud-config\n",
    });
    expect(labels).to.deep.include(LABELS);
    expect(labels[CREATED_AT_LABEL] >= before).to.equal(true);
    expect(b.inputs).to.deep.include({ name: "b", location: "hel1" });
  });

  it("has no firewall rule without sshAllowFrom (Hetzner then blocks all inbound)", async () => {
    const { mocks } = await build(args());
    const firewall = only(mocks.ofType("hcloud:index/firewall:Firewall"));
    expect(firewall.inputs.rules ?? []).to.deep.equal([]);
    expect(firewall.inputs.name).to.equal("fleet-dev-hetzner-firewall");
  });

  it("allows inbound SSH only from sshAllowFrom when set", async () => {
    const { mocks } = await build(args({ sshAllowFrom: ["203.0.113.0/24", "2001:db8::/48"] }));
    expect(only(mocks.ofType("hcloud:index/firewall:Firewall")).inputs.rules).to.deep.equal([
      {
        direction: "in",
        protocol: "tcp",
        port: "22",
        sourceIps: ["203.0.113.0/24", "2001:db8::/48"],
        description: "SSH from fleet:sshAllowFrom",
      },
    ]);
  });

  it("refuses a name that is not a hostname, naming the worker and the rule", async () => {
    const err = await build(args({ workers: [spec("a-")] })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(FleetConfigError);
    expect((err as Error).message)
      .to.contain('"a-"')
      .and.contain("hostname");
  });

  describe("the whole program with fleet:cloud=hetzner", () => {
    it("exports every worker with its IP, creation time, id and status", async () => {
      const start = Date.now() - 1000;
      const { outputs } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "hetzner",
        "fleet:workers": JSON.stringify(["w1", { name: "w2", region: "nbg1" }]),
      });
      const d = loadCloudDefaults("hetzner");
      const workers = outputs.workers as { createdAt: string; id: string }[];
      expect(workers.map(({ createdAt: _c, id: _i, ...w }) => w)).to.deep.equal([
        {
          name: "w1",
          cloud: "hetzner",
          region: d.region,
          size: d.size,
          ip: "203.0.113.40",
          status: "running",
        },
        {
          name: "w2",
          cloud: "hetzner",
          region: "nbg1",
          size: d.size,
          ip: "203.0.113.40",
          status: "running",
        },
      ]);
      for (const w of workers) {
        expect(w.id).to.match(/^\d+$/);
        expect(w.createdAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
        expect(Date.parse(w.createdAt)).to.be.within(start, Date.now());
      }
    });

    it("maps small/medium/large to the server types of config/hetzner.yaml", async () => {
      const { mocks } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "hetzner",
        "fleet:workers": JSON.stringify([
          { name: "s", size: "small" },
          { name: "m", size: "medium" },
          { name: "l", size: "large" },
        ]),
      });
      expect(
        mocks.ofType("hcloud:index/server:Server").map((r) => r.inputs.serverType),
      ).to.deep.equal(["cx23", "cx23", "cx33"]);
    });
  });
});
