/** Placement candidates: validation of `fleet:placements`, and which candidates a worker has. */
import { expect } from "chai";
import { type WorkerOverrides, orderPlacements, parseFleetConfig } from "../../config/fleet-config";
import { candidatesOf, describePlacement, parsePlacements } from "../../config/placements";

const KEY = "fleet:placements";
const SSH =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsZWV0IHRlc3Qga2V5IGZvciBwbGFjZW1lbnRz me@laptop";

function parse(values: Record<string, string>) {
  return parseFleetConfig(values, { stack: "dev", projectDir: "/tmp" });
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("config/placements", () => {
  describe("parsePlacements", () => {
    it("keeps the order and only the fields given", () => {
      expect(
        parsePlacements(KEY, [
          { cloud: "aws", region: "us-east-1", size: "t3.micro" },
          { cloud: "gcp" },
          { cloud: "hetzner", size: "small" },
        ]),
      ).to.deep.equal([
        { cloud: "aws", region: "us-east-1", size: "t3.micro" },
        { cloud: "gcp" },
        { cloud: "hetzner", size: "small" },
      ]);
    });

    const bad: [string, unknown, string][] = [
      [
        "not a list",
        { cloud: "aws" },
        `${KEY}: not a list: got {"cloud":"aws"}; a non-empty list of { cloud, region?, size? } objects`,
      ],
      ["an empty list", [], `${KEY}: empty placement list: got []`],
      [
        "an unknown cloud",
        [{ cloud: "linode" }],
        `${KEY}[0].cloud: unknown cloud: got "linode"; known clouds: aws, azure, digitalocean, gcp, hetzner, local`,
      ],
      ["a missing cloud", [{ region: "nyc3" }], `${KEY}[0].cloud: missing cloud:`],
      ["an item that is not an object", ["aws"], `${KEY}[0]: invalid placement: got "aws"`],
      [
        "an unknown field",
        [{ cloud: "aws", zone: "us-east-1a" }],
        `${KEY}[0].zone: unknown placement field: got "zone"; a placement has cloud, region and size`,
      ],
      [
        "a GCP region that is not a zone",
        [{ cloud: "aws" }, { cloud: "gcp", region: "us-central1" }],
        `${KEY}[1].region: invalid region for gcp: got "us-central1"; a GCP zone such as us-central1-a`,
      ],
      [
        "an AWS size that is not an instance type",
        [{ cloud: "aws", size: "s-1vcpu-1gb" }],
        `${KEY}[0].size: invalid size for aws: got "s-1vcpu-1gb"; an EC2 instance type such as t3.micro, or small/medium/large`,
      ],
      [
        "a DigitalOcean region of another cloud",
        [{ cloud: "digitalocean", region: "us-east-1" }],
        `${KEY}[0].region: invalid region for digitalocean: got "us-east-1"`,
      ],
      [
        "an Azure size without its tier",
        [{ cloud: "azure", size: "B1s" }],
        `${KEY}[0].size: invalid size for azure: got "B1s"`,
      ],
      [
        "a local region",
        [{ cloud: "local", region: "eu" }],
        `${KEY}[0].region: invalid region for local: got "eu"; the local cloud's only region, localhost`,
      ],
      [
        "a region with spaces",
        [{ cloud: "aws", region: "us east" }],
        `${KEY}[0].region: invalid region: got "us east"`,
      ],
    ];
    for (const [what, value, message] of bad) {
      it(`refuses ${what}, naming the key, the value and what is allowed`, () => {
        expect(errorOf(() => parsePlacements(KEY, value))).to.contain(message);
      });
    }

    it("accepts abstract sizes on every cloud", () => {
      for (const cloud of ["aws", "azure", "digitalocean", "gcp", "hetzner", "local"])
        expect(parsePlacements(KEY, [{ cloud, size: "large" }])[0].size).to.equal("large");
    });
  });

  describe("candidatesOf", () => {
    const stack = parsePlacements(KEY, [{ cloud: "aws" }, { cloud: "gcp" }]);
    it("a bare name or a worker without cloud, region or size: the stack's candidates", () => {
      expect(candidatesOf("w1", stack)).to.equal(stack);
      expect(candidatesOf({ name: "w2", image: "ubuntu" } as WorkerOverrides, stack)).to.equal(
        stack,
      );
      expect(candidatesOf("w1", [])).to.equal(undefined);
    });
    it("a worker's own candidates come before the stack's", () => {
      const own = parsePlacements(KEY, [{ cloud: "hetzner" }]);
      expect(candidatesOf({ placements: own }, stack)).to.equal(own);
    });
    it("a worker with a cloud stays where it is; a region or size of its own pins it to the default cloud", () => {
      expect(
        candidatesOf({ cloud: "aws", region: "us-east-1", placements: stack }, stack),
      ).to.equal(undefined);
      expect(candidatesOf({ size: "large" }, stack)).to.equal(undefined);
    });
    it("describes a candidate with its defaults spelled out", () => {
      expect(describePlacement({ cloud: "gcp" })).to.equal("gcp (default region) (default size)");
    });
  });

  describe("in parseFleetConfig", () => {
    const placements = JSON.stringify([
      { cloud: "digitalocean", region: "sfo3", size: "medium" },
      { cloud: "hetzner", region: "fsn1" },
    ]);

    it("a worker without its own placement is on the first candidate, resolved", () => {
      const c = parse({
        "fleet:cloud": "local",
        "fleet:placements": placements,
        "fleet:workers": JSON.stringify([
          "a",
          { name: "b", cloud: "hetzner", region: "nbg1", size: "cx33" },
          { name: "c", placements: [{ cloud: "hetzner", size: "large" }] },
        ]),
      });
      expect(c.placements).to.deep.equal(JSON.parse(placements));
      expect(c.workers.map((w) => [w.name, w.cloud, w.region, w.size])).to.deep.equal([
        ["a", "digitalocean", "sfo3", "s-2vcpu-4gb"],
        ["b", "hetzner", "nbg1", "cx33"],
        ["c", "hetzner", "fsn1", "cx33"],
      ]);
    });

    it("refuses bad fleet:placements before anything runs, with the key and the value", () => {
      expect(errorOf(() => parse({ "fleet:placements": "[]" }))).to.contain(
        "fleet:placements: empty placement list",
      );
      expect(errorOf(() => parse({ "fleet:placements": '{"cloud":"aws"}' }))).to.contain(
        "fleet:placements: not a list",
      );
      expect(errorOf(() => parse({ "fleet:placements": "[{" }))).to.contain("fleet:placements");
    });

    it("checks each candidate cloud's own rules for the workers that may land there", () => {
      const gcp = JSON.stringify([{ cloud: "digitalocean" }, { cloud: "gcp" }]);
      expect(
        errorOf(() =>
          parse({
            "fleet:placements": gcp,
            "fleet:workers": '["Web-1"]',
            "fleet:cloud": "digitalocean",
          }),
        ),
      ).to.contain("fleet:workers: invalid worker name for gcp");
      const azure = JSON.stringify([{ cloud: "digitalocean" }, { cloud: "azure" }]);
      expect(errorOf(() => parse({ "fleet:placements": azure }))).to.contain(
        "fleet:sshPublicKeys: no SSH public key, but Azure Virtual Machines needs one",
      );
      expect(() =>
        parse({ "fleet:placements": azure, "fleet:sshPublicKeys": JSON.stringify([SSH]) }),
      ).to.not.throw();
    });

    it("refuses a worker's placements with a region or size but no cloud", () => {
      const workers = JSON.stringify([
        { name: "w", size: "large", placements: [{ cloud: "aws" }] },
      ]);
      expect(errorOf(() => parse({ "fleet:workers": workers }))).to.contain(
        "fleet:workers[0].placements: placements with a region or size but no cloud",
      );
    });
  });
});

describe("fleet:placementOrder", () => {
  // A price book of our own: the cheapest candidate is the last one written.
  const table = (cloud: "aws" | "digitalocean" | "hetzner", prices: Record<string, number>) => ({
    cloud,
    currency: "USD" as const,
    sources: [],
    sizes: Object.fromEntries(
      Object.entries(prices).map(([size, usd]) => [
        size,
        { source: "test", regions: { "*": usd } },
      ]),
    ),
    unknown: {},
  });
  const book = {
    aws: table("aws", { "t3.micro": 0.0104 }),
    digitalocean: table("digitalocean", { "s-1vcpu-1gb": 0.00893 }),
  };
  const candidates = JSON.stringify([
    { cloud: "hetzner", size: "cx22" },
    { cloud: "aws", region: "us-east-1", size: "t3.micro" },
    { cloud: "digitalocean", region: "nyc3", size: "s-1vcpu-1gb" },
  ]);
  const creds = { "fleet:sshPublicKeys": JSON.stringify([SSH]) };
  const parseWith = (values: Record<string, string>) =>
    parseFleetConfig(
      { "fleet:workers": '["w1"]', "fleet:placements": candidates, ...creds, ...values },
      { stack: "dev", projectDir: "/tmp", loadPrices: () => book },
    );

  it("listed (the default) tries candidates as written", () => {
    const c = parseWith({});
    expect(c.placementOrder).to.equal("listed");
    expect(c.workers[0].cloud).to.equal("hetzner");
    expect(
      orderPlacements(c.placementOrder, c.placements, { prices: () => book })?.map((p) => p.cloud),
    ).to.deep.equal(["hetzner", "aws", "digitalocean"]);
  });

  it("cheapest tries the cheapest priced candidate first and unknown prices last", () => {
    const c = parseWith({ "fleet:placementOrder": "cheapest" });
    expect(
      orderPlacements(c.placementOrder, c.placements, { prices: () => book })?.map((p) => p.cloud),
    ).to.deep.equal(["digitalocean", "aws", "hetzner"]);
    // A new worker sits on its first candidate: the cheapest.
    expect([c.workers[0].cloud, c.workers[0].region, c.workers[0].size]).to.deep.equal([
      "digitalocean",
      "nyc3",
      "s-1vcpu-1gb",
    ]);
  });

  it("refuses an unknown order, naming the key, the value and what is allowed", () => {
    expect(errorOf(() => parseWith({ "fleet:placementOrder": "fastest" }))).to.contain(
      'fleet:placementOrder: unknown placement order: got "fastest"; one of listed, cheapest',
    );
  });
});
