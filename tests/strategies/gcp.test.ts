import { expect } from "chai";
import { loadCloudDefaults } from "../../config/defaults";
import { FleetConfigError } from "../../config/errors";
import { fleetProgram } from "../../program";
import type { StrategyArgs, WorkerSpec } from "../../strategies/contract";
import {
  GcpStrategy,
  gcpLabelPart,
  gcpLabels,
  networkTag,
  sshKeysMetadata,
  subnetRange,
  zoneRegion,
} from "../../strategies/gcp";
import { MOCK_GCP_PROJECT_URL, RecordingMocks, runUnderMocks } from "../harness/mocks";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDzQ9Yk8wR0aTestKeyOnlyForUnitTests me@laptop";
const IMAGE = "ubuntu-os-cloud/ubuntu-2404-lts-amd64";
const TAGS = { "fleet:project": "fleet", "fleet:stack": "dev", Team: "Batch.Jobs" };
const LABELS = { fleet_project: "fleet", fleet_stack: "dev", team: "batch_jobs" };
const TAG = "fleet-dev-gcp";
const NETWORK = `${MOCK_GCP_PROJECT_URL}/global/networks/gcp-network-1a2b3c4`;
const subnet = (region: string) =>
  `${MOCK_GCP_PROJECT_URL}/regions/${region}/subnetworks/gcp-${region}-1a2b3c4`;
/** GCP's regions in 2025 (https://cloud.google.com/compute/docs/regions-zones). */
const GCP_REGIONS =
  "africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2 asia-southeast1 asia-southeast2 australia-southeast1 australia-southeast2 europe-central2 europe-north1 europe-north2 europe-southwest1 europe-west1 europe-west2 europe-west3 europe-west4 europe-west6 europe-west8 europe-west9 europe-west10 europe-west12 me-central1 me-central2 me-west1 northamerica-northeast1 northamerica-northeast2 northamerica-south1 southamerica-east1 southamerica-west1 us-central1 us-east1 us-east4 us-east5 us-south1 us-west1 us-west2 us-west3 us-west4".split(
    " ",
  );

function spec(name: string, region = "us-central1-a", size = "e2-micro"): WorkerSpec {
  return { name, cloud: "gcp", region, size, image: IMAGE };
}

function args(overrides: Partial<StrategyArgs> = {}): StrategyArgs {
  return {
    workers: [spec("a"), spec("b", "europe-west1-b")],
    sshPublicKeys: [KEY],
    sshAllowFrom: [],
    tags: TAGS,
    extras: {},
    ...overrides,
  };
}

// GCP's build also exports the fleet's network tag.
async function build(a: StrategyArgs, mocks = new RecordingMocks()) {
  return runUnderMocks(
    async () => {
      const fleet = new GcpStrategy("gcp", a);
      return { workers: fleet.workers, networkTag: fleet.networkTag };
    },
    {},
    { mocks },
  );
}

describe("strategies/gcp", () => {
  describe("pure helpers", () => {
    it("gcpLabels lowercases and replaces characters GCP labels refuse", () => {
      expect(gcpLabels(TAGS)).to.deep.equal(LABELS);
      expect(gcpLabelPart("9lives", true)).to.equal("k_9lives");
      expect(gcpLabelPart("9lives", false)).to.equal("9lives");
      expect(gcpLabelPart("x".repeat(80), false)).to.have.length(63);
    });
    it("networkTag is a valid GCP tag unique to stack and component", () => {
      expect(networkTag("dev", "gcp")).to.equal(TAG);
      expect(networkTag("Prod_EU", "gcp")).to.equal("fleet-prod-eu-gcp");
      const long = networkTag("s".repeat(70), "gcp");
      expect(long).to.match(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    });
    it("subnetRange gives every GCP region its own /20 in 10.0.0.0/8, independent of the others", () => {
      const ranges = GCP_REGIONS.map(subnetRange);
      expect(new Set(ranges).size).to.equal(GCP_REGIONS.length);
      for (const r of ranges) expect(r).to.match(/^10\.\d{1,3}\.\d{1,3}\.0\/20$/);
      expect(subnetRange("us-central1")).to.equal(subnetRange("us-central1"));
      expect(zoneRegion("europe-west1-b")).to.equal("europe-west1");
      expect(zoneRegion("us-central1")).to.equal("us-central1");
    });
    it("sshKeysMetadata writes one user:key line per key", () => {
      expect(sshKeysMetadata([KEY, KEY])).to.equal(`fleet:${KEY}\nfleet:${KEY}`);
    });
  });

  it("declares one instance per worker on fleet's own network, one subnet per region, no firewall without sshAllowFrom", async () => {
    const { mocks, outputs } = await build(
      args({ workers: [spec("a"), spec("b", "europe-west1-b"), spec("c", "us-central1-f")] }),
    );
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).to.have.members([
      "pulumi:pulumi:Stack fleet-dev",
      "fleet:gcp:WorkerFleet gcp",
      "gcp:compute/network:Network gcp-network",
      "gcp:compute/subnetwork:Subnetwork gcp-europe-west1",
      "gcp:compute/subnetwork:Subnetwork gcp-us-central1",
      "gcp:compute/instance:Instance gcp-a",
      "gcp:compute/instance:Instance gcp-b",
      "gcp:compute/instance:Instance gcp-c",
    ]);
    expect(outputs.networkTag).to.equal(TAG);
  });

  it("the network is custom-mode (none of the default network's open rules), one subnet per region", async () => {
    const { mocks } = await build(args());
    const [network] = mocks.ofType("gcp:compute/network:Network");
    expect(network.inputs).to.deep.equal({
      description: "fleet workers: nothing inbound but SSH from fleet:sshAllowFrom",
      autoCreateSubnetworks: false,
    });
    const subnets = mocks.ofType("gcp:compute/subnetwork:Subnetwork");
    expect(subnets.map((s) => s.inputs)).to.deep.equal([
      {
        network: NETWORK,
        region: "europe-west1",
        ipCidrRange: subnetRange("europe-west1"),
      },
      { network: NETWORK, region: "us-central1", ipCidrRange: subnetRange("us-central1") },
    ]);
    // Nothing of fleet's is on the project's default network.
    expect(JSON.stringify(mocks.resources.map((r) => r.inputs))).not.to.match(/"default"/);
  });

  it("names instances exactly as the workers, with external IP, tag, labels, keys and user data", async () => {
    const { mocks } = await build(args({ userData: "#cloud-config\n" }));
    const byName = (n: string) =>
      mocks.ofType("gcp:compute/instance:Instance").find((r) => r.inputs.name === n);
    const [a, b] = [byName("a"), byName("b")].map((r) => {
      if (!r) throw new Error("instance missing");
      return r;
    });
    expect(a.inputs).to.deep.include({
      name: "a",
      zone: "us-central1-a",
      machineType: "e2-micro",
      bootDisk: { autoDelete: true, initializeParams: { image: IMAGE } },
      networkInterfaces: [{ subnetwork: subnet("us-central1"), accessConfigs: [{}] }],
      tags: [TAG],
      labels: LABELS,
      metadata: { "ssh-keys": `fleet:${KEY}`, "user-data": "#cloud-config\n" },
      shieldedInstanceConfig: {
        enableSecureBoot: true,
        enableVtpm: true,
        enableIntegrityMonitoring: true,
      },
      allowStoppingForUpdate: true,
    });
    expect(a.inputs).not.to.have.property("serviceAccount");
    expect(b.inputs).to.deep.include({
      name: "b",
      zone: "europe-west1-b",
      networkInterfaces: [{ subnetwork: subnet("europe-west1"), accessConfigs: [{}] }],
    });
  });

  it("opens tcp:22 on the fleet's tag from sshAllowFrom only, one rule per address family", async () => {
    const { mocks } = await build(args({ sshAllowFrom: ["203.0.113.0/24", "2001:db8::/48"] }));
    const rules = mocks.ofType("gcp:compute/firewall:Firewall");
    expect(rules.map((r) => r.name)).to.deep.equal(["gcp-ssh", "gcp-ssh-v6"]);
    const common = {
      network: NETWORK,
      direction: "INGRESS",
      allows: [{ protocol: "tcp", ports: ["22"] }],
      targetTags: [TAG],
    };
    expect(rules[0].inputs).to.deep.include({ ...common, sourceRanges: ["203.0.113.0/24"] });
    expect(rules[1].inputs).to.deep.include({ ...common, sourceRanges: ["2001:db8::/48"] });
  });

  it("refuses a worker name GCP does not accept, naming the worker and the rule", async () => {
    const mocks = new RecordingMocks();
    const err = await build(args({ workers: [spec("a"), spec("Web1")] }), mocks).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(FleetConfigError);
    expect((err as Error).message)
      .to.contain('"Web1"')
      .and.contain("lowercase letter")
      .and.contain("63 characters");
    expect(mocks.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
  });

  describe("the whole program with fleet:cloud=gcp", () => {
    it("exports every worker with its IP, creation time, id and status", async () => {
      const { outputs } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "gcp",
        "fleet:workers": JSON.stringify(["w1", { name: "w2", region: "europe-west1-b" }]),
      });
      const d = loadCloudDefaults("gcp");
      const worker = (name: string, region: string) => ({
        name,
        cloud: "gcp",
        region,
        size: d.size,
        ip: "198.51.100.30",
        createdAt: "2026-01-02T11:04:05.678Z",
        id: `gcp-${name}-id`,
        status: "RUNNING",
      });
      expect(outputs.workers).to.deep.equal([
        worker("w1", d.region),
        worker("w2", "europe-west1-b"),
      ]);
    });

    it("takes the zone from gcp:zone when fleet:region is unset", async () => {
      const { mocks } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "gcp",
        "fleet:workers": JSON.stringify(["w1"]),
        "gcp:zone": "asia-east1-c",
      });
      expect(mocks.ofType("gcp:compute/instance:Instance")[0].inputs.zone).to.equal("asia-east1-c");
    });

    it("maps small/medium/large to the machine types of config/gcp.yaml", async () => {
      const { mocks } = await runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "gcp",
        "fleet:workers": JSON.stringify([
          { name: "s", size: "small" },
          { name: "m", size: "medium" },
          { name: "l", size: "large" },
        ]),
      });
      expect(
        mocks.ofType("gcp:compute/instance:Instance").map((r) => r.inputs.machineType),
      ).to.deep.equal(["e2-small", "e2-medium", "e2-standard-4"]);
    });

    it("refuses an invalid GCP name during config validation, before any resource", async () => {
      const mocks = new RecordingMocks();
      const err = await runUnderMocks(
        () => fleetProgram(),
        { "fleet:cloud": "gcp", "fleet:workers": JSON.stringify(["ok", "Bad.Name"]) },
        { mocks },
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(FleetConfigError);
      expect((err as Error).message).to.match(/fleet:workers.*"Bad\.Name".*lowercase/);
      expect(mocks.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });
  });
});
