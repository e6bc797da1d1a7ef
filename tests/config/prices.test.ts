import { expect } from "chai";
import { loadCloudDefaults } from "../../config/defaults";
import { FleetConfigError } from "../../config/errors";
import {
  ANY_REGION,
  type Candidate,
  currencyOf,
  HOURS_PER_30_DAYS,
  type PriceBook,
  costLines,
  fleetCost,
  formatPrice,
  loadPriceBook,
  orderByPrice,
  parsePriceTable,
  priceOf,
} from "../../config/prices";
import { CLOUDS } from "../../strategies/registry";

/** A small book written for these tests, independent of fleet's real figures. */
function book(): PriceBook {
  return {
    aws: parsePriceTable(
      "aws",
      `
currency: USD
unit: hour
sources: [{ id: s, url: "https://example.com/p", read: "2026-11-26" }]
sizes:
  t3.micro: { source: s, regions: { us-east-1: 0.0104, us-west-1: 0.0124 } }
  t3.small: { source: s, regions: { us-east-1: 0.0208 } }
unknown:
  t3.nano: not verified
`,
      "aws.yaml",
    ),
    gcp: parsePriceTable(
      "gcp",
      `
currency: USD
unit: hour
sources: [{ id: s, url: "https://example.com/p", read: "2026-11-26" }]
sizes:
  e2-standard-4: { source: s, regions: { us-central1: 0.13402, us-central1-f: 0.2, "*": 0.5 } }
`,
      "gcp.yaml",
    ),
    hetzner: parsePriceTable(
      "hetzner",
      `
currency: EUR
unit: hour
sources: [{ id: s, url: "https://example.com/h", read: "2026-11-27" }]
sizes:
  cx23: { source: s, regions: { fsn1: 0.006 } }
`,
      "hetzner.yaml",
    ),
    local: parsePriceTable(
      "local",
      `
currency: USD
unit: hour
sources: [{ id: fleet, read: "2026-11-26" }]
sizes:
  process: { source: fleet, regions: { "*": 0 } }
`,
      "local.yaml",
    ),
  };
}

/** The error a thunk throws, as a FleetConfigError. */
function refusal(fn: () => unknown): FleetConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(FleetConfigError);
    return e as FleetConfigError;
  }
  expect.fail("expected a FleetConfigError");
}

const HEAD = `currency: USD\nunit: hour\nsources: [{ id: s, url: "https://example.com/p", read: "2026-11-26" }]\n`;

describe("prices", () => {
  describe("fleet's own price files (config/prices/<cloud>.yaml)", () => {
    const real = loadPriceBook();

    it("exist for every cloud, load and validate", () => {
      expect(Object.keys(real).sort()).to.deep.equal([...CLOUDS].sort());
      for (const c of CLOUDS) {
        const t = real[c];
        expect(t?.sources.length, c).to.be.greaterThan(0);
        for (const s of t?.sources ?? [])
          expect(s.read, `${c} ${s.id}`).to.match(/^\d{4}-\d{2}-\d{2}$/);
      }
    });

    it("cover every default and abstract size of every cloud: priced, or listed as unknown", () => {
      for (const c of CLOUDS) {
        const d = loadCloudDefaults(c);
        const t = real[c];
        for (const size of [d.size, d.sizes.small, d.sizes.medium, d.sizes.large]) {
          const priced = t !== undefined && size in t.sizes;
          const unknown = t !== undefined && size in t.unknown;
          expect(priced || unknown, `${c} ${size}`).to.equal(true);
          expect(priced && unknown, `${c} ${size} in both`).to.equal(false);
        }
      }
    });

    it("price every priced default size in the cloud's default region (where it was verified)", () => {
      for (const c of CLOUDS) {
        const d = loadCloudDefaults(c);
        if (!(d.size in (real[c]?.sizes ?? {}))) continue;
        expect(priceOf(real, { cloud: c, region: d.region, size: d.size }), c).to.be.a("number");
      }
    });

    it("price the local cloud at 0: a real price, not an unknown one", () => {
      const p = priceOf(real, { cloud: "local", region: "localhost", size: "process" });
      expect(p).to.equal(0);
      expect(formatPrice(p)).to.equal("$0.0000");
    });

    it("leave unverified sizes unknown (undefined), never 0", () => {
      const p = priceOf(real, { cloud: "digitalocean", region: "nyc3", size: "s-1vcpu-1gb" });
      expect(p).to.equal(undefined);
      expect(formatPrice(p)).to.equal("unknown");
    });

    it("keep Hetzner's prices in EUR, the currency Hetzner publishes", () => {
      expect(real.hetzner?.currency).to.equal("EUR");
      expect(currencyOf(real, "hetzner")).to.equal("EUR");
      const p = priceOf(real, { cloud: "hetzner", region: "fsn1", size: "cx23" });
      expect(p).to.be.a("number");
      expect(formatPrice(p, 4, "EUR")).to.match(/^€0\.\d{4}$/);
    });

    it("cite a URL and a read date for every priced size (local, which nobody bills, excepted)", () => {
      for (const c of CLOUDS) {
        const t = real[c];
        for (const [size, p] of Object.entries(t?.sizes ?? {})) {
          const src = t?.sources.find((s) => s.id === p.source);
          expect(src?.read, `${c} ${size}`).to.match(/^\d{4}-\d{2}-\d{2}$/);
          if (c !== "local") expect(src?.url, `${c} ${size}`).to.match(/^https:\/\//);
        }
      }
    });
  });

  describe("priceOf", () => {
    it("uses the price of the worker's region where regions differ", () => {
      const b = book();
      expect(priceOf(b, { cloud: "aws", region: "us-east-1", size: "t3.micro" })).to.equal(0.0104);
      expect(priceOf(b, { cloud: "aws", region: "us-west-1", size: "t3.micro" })).to.equal(0.0124);
    });

    it("is unknown for an unlisted region, size or cloud, and without a size", () => {
      const b = book();
      expect(priceOf(b, { cloud: "aws", region: "eu-west-1", size: "t3.micro" })).to.equal(
        undefined,
      );
      expect(priceOf(b, { cloud: "aws", region: "us-east-1", size: "t3.nano" })).to.equal(
        undefined,
      );
      expect(priceOf(b, { cloud: "azure", region: "eastus", size: "Standard_B1s" })).to.equal(
        undefined,
      );
      expect(priceOf(b, { cloud: "aws", region: "us-east-1" })).to.equal(undefined);
    });

    it("prices a zone as the longest listed region it belongs to, then falls back to *", () => {
      const b = book();
      expect(priceOf(b, { cloud: "gcp", region: "us-central1-a", size: "e2-standard-4" })).to.equal(
        0.13402,
      );
      expect(priceOf(b, { cloud: "gcp", region: "us-central1-f", size: "e2-standard-4" })).to.equal(
        0.2,
      );
      expect(
        priceOf(b, { cloud: "gcp", region: "europe-west4-a", size: "e2-standard-4" }),
      ).to.equal(0.5);
      expect(priceOf(b, { cloud: "gcp", size: "e2-standard-4" })).to.equal(0.5);
      // A prefix that is not a whole region part does not match: us-central10 is not us-central1.
      expect(priceOf(b, { cloud: "aws", region: "us-east-10", size: "t3.small" })).to.equal(
        undefined,
      );
    });

    it(`treats ${ANY_REGION} with 0 as a price for every region`, () => {
      expect(priceOf(book(), { cloud: "local", region: "anywhere", size: "process" })).to.equal(0);
    });
  });

  describe("fleetCost (totals per hour and per 30 days)", () => {
    it("sums without floating-point drift and multiplies by 720 hours", () => {
      const w = (name: string) => ({
        name,
        cloud: "aws" as const,
        region: "us-east-1",
        size: "t3.micro",
      });
      const cost = fleetCost([w("a"), w("b"), w("c")], book());
      expect(HOURS_PER_30_DAYS).to.equal(720);
      expect(cost.perHour).to.equal(0.0312);
      expect(cost.per30Days).to.equal(22.464);
      expect(cost.unknown).to.deep.equal([]);
      expect(cost.workers.map((x) => x.pricePerHour)).to.deep.equal([0.0104, 0.0104, 0.0104]);
      expect(costLines(cost)).to.deep.equal([
        "total: $0.0312 per hour, $22.46 per 30 days (720 h), on-demand list prices",
      ]);
    });

    it("adds per-region prices, counts a free worker as 0, and makes the total unknown when one price is", () => {
      const cost = fleetCost(
        [
          { name: "east", cloud: "aws", region: "us-east-1", size: "t3.small" },
          { name: "west", cloud: "aws", region: "us-west-1", size: "t3.micro" },
          { name: "here", cloud: "local", region: "localhost", size: "process" },
          { name: "eu", cloud: "aws", region: "eu-west-1", size: "t3.micro" },
        ],
        book(),
      );
      expect(cost.workers.map((x) => [x.name, x.pricePerHour])).to.deep.equal([
        ["east", 0.0208],
        ["west", 0.0124],
        ["here", 0],
        ["eu", null],
      ]);
      expect(cost.perHour).to.equal(null);
      expect(cost.per30Days).to.equal(null);
      expect(cost.knownPerHour).to.equal(0.0332);
      expect(cost.knownPer30Days).to.equal(23.904);
      expect(cost.unknown).to.deep.equal(["eu"]);
      const [line] = costLines(cost);
      expect(line).to.match(/^total: unknown \(no price for eu\)/);
      expect(line).to.contain("$0.0332 per hour");
      expect(line).to.not.match(/total: \$0/);
    });

    it("an empty fleet costs 0 and prints no total", () => {
      const cost = fleetCost([], book());
      expect([cost.perHour, cost.per30Days, cost.unknown]).to.deep.equal([0, 0, []]);
      expect(costLines(cost)).to.deep.equal([]);
    });

    it("is JSON-ready: unknown prices are null", () => {
      const cost = fleetCost(
        [{ name: "x", cloud: "hetzner", region: "ash", size: "cx23" }],
        book(),
      );
      expect(JSON.parse(JSON.stringify(cost)).workers[0].pricePerHour).to.equal(null);
    });
  });

  describe("parsePriceTable (validation)", () => {
    const parse = (body: string) => () =>
      parsePriceTable("aws", HEAD + body, "config/prices/aws.yaml");

    it("accepts a well-formed table", () => {
      const t = parse("sizes:\n  t3.micro: { source: s, regions: { us-east-1: 0.0104 } }\n")();
      expect(t.sizes["t3.micro"].regions["us-east-1"]).to.equal(0.0104);
      expect(t.unknown).to.deep.equal({});
    });

    it("names the file, the key and the value of a bad price", () => {
      const e = refusal(parse("sizes:\n  t3.micro: { source: s, regions: { us-east-1: -1 } }\n"));
      expect(e.key).to.equal("config/prices/aws.yaml: sizes.t3.micro.regions.us-east-1");
      expect(e.value).to.equal("-1");
      expect(e.message).to.contain("a price per hour in the table's currency");
      const s = refusal(
        parse('sizes:\n  t3.micro: { source: s, regions: { us-east-1: "cheap" } }\n'),
      );
      expect(s.key).to.equal("config/prices/aws.yaml: sizes.t3.micro.regions.us-east-1");
      expect(s.value).to.equal('"cheap"');
    });

    it("refuses unknown keys, naming the typo", () => {
      const e = refusal(parse("sizes: {}\nsizez: {}\n"));
      expect(e.key).to.equal("config/prices/aws.yaml: sizez");
      expect(e.message).to.contain("unknown key (a typo?)");
      const n = refusal(parse("sizes:\n  t3.micro: { source: s, regons: { us-east-1: 1 } }\n"));
      expect(n.key).to.equal("config/prices/aws.yaml: sizes.t3.micro.regons");
    });

    it("accepts a currency code (EUR) and refuses anything else, a bad date, an unknown source, empty regions and contradictions", () => {
      expect(
        parsePriceTable("aws", HEAD.replace("USD", "EUR") + "sizes: {}\n", "f.yaml").currency,
      ).to.equal("EUR");
      for (const bad of ["euro", "usd", "US$"]) {
        const e = refusal(() =>
          parsePriceTable(
            "aws",
            HEAD.replace("USD", JSON.stringify(bad)) + "sizes: {}\n",
            "f.yaml",
          ),
        );
        expect(e.key, bad).to.equal("f.yaml: currency");
        expect(e.allowed).to.contain("ISO 4217");
      }
      const date = refusal(() =>
        parsePriceTable("aws", HEAD.replace("2026-11-26", "26.11.2026") + "sizes: {}\n", "f.yaml"),
      );
      expect(date.key).to.equal("f.yaml: sources.0.read");
      expect(date.allowed).to.contain("YYYY-MM-DD");
      const src = refusal(
        parse("sizes:\n  t3.micro: { source: nope, regions: { us-east-1: 1 } }\n"),
      );
      expect(src.key).to.equal("config/prices/aws.yaml: sizes.t3.micro.source");
      expect(src.allowed).to.contain("s");
      expect(refusal(parse("sizes:\n  t3.micro: { source: s, regions: {} }\n")).key).to.equal(
        "config/prices/aws.yaml: sizes.t3.micro.regions",
      );
      const both = refusal(
        parse(
          "sizes:\n  t3.micro: { source: s, regions: { us-east-1: 1 } }\nunknown:\n  t3.micro: why\n",
        ),
      );
      expect(both.key).to.equal("config/prices/aws.yaml: unknown.t3.micro");
    });

    it("refuses a region name that is not an identifier", () => {
      const e = refusal(parse('sizes:\n  t3.micro: { source: s, regions: { "us east": 1 } }\n'));
      expect(e.key).to.match(/^config\/prices\/aws\.yaml: sizes\.t3\.micro\.regions/);
    });

    it("reports malformed YAML with its line", () => {
      const e = refusal(() => parsePriceTable("aws", "sizes: [\n", "config/prices/aws.yaml"));
      expect(e.key).to.equal("config/prices/aws.yaml");
      expect(e.message).to.match(/malformed YAML .*line/);
    });
  });

  describe("currencies (a table in EUR, totals per currency)", () => {
    const mixed = () =>
      fleetCost(
        [
          { name: "us", cloud: "aws", region: "us-east-1", size: "t3.micro" },
          { name: "de1", cloud: "hetzner", region: "fsn1", size: "cx23" },
          { name: "de2", cloud: "hetzner", region: "fsn1", size: "cx23" },
          { name: "here", cloud: "local", region: "localhost", size: "process" },
        ],
        book(),
      );

    it("gives each worker its price's currency, and never adds EUR to USD", () => {
      const cost = mixed();
      expect(cost.workers.map((w) => [w.name, w.pricePerHour, w.currency])).to.deep.equal([
        ["us", 0.0104, "USD"],
        ["de1", 0.006, "EUR"],
        ["de2", 0.006, "EUR"],
        ["here", 0, "USD"],
      ]);
      expect(cost.totals).to.deep.equal([
        { currency: "USD", perHour: 0.0104, per30Days: 7.488, workers: ["us", "here"] },
        { currency: "EUR", perHour: 0.012, per30Days: 8.64, workers: ["de1", "de2"] },
      ]);
      // The single-currency fields cannot be filled without adding the two: they are null.
      expect([cost.currency, cost.perHour, cost.per30Days, cost.knownPerHour]).to.deep.equal([
        null,
        null,
        null,
        null,
      ]);
    });

    it("prints one total line per currency, saying it does not convert", () => {
      expect(costLines(mixed())).to.deep.equal([
        "total in USD: $0.0104 per hour, $7.49 per 30 days (720 h)",
        "total in EUR: €0.0120 per hour, €8.64 per 30 days (720 h)",
        "(on-demand list prices; totals are per currency: fleet does not convert USD and EUR)",
      ]);
    });

    it("keeps the single-currency fields for a fleet in one currency (EUR too)", () => {
      const cost = fleetCost(
        [{ name: "de", cloud: "hetzner", region: "fsn1", size: "cx23" }],
        book(),
      );
      expect([cost.currency, cost.perHour, cost.per30Days]).to.deep.equal(["EUR", 0.006, 4.32]);
      expect(costLines(cost)).to.deep.equal([
        "total: €0.0060 per hour, €4.32 per 30 days (720 h), on-demand list prices",
      ]);
    });

    it("names the known part per currency when some price is unknown", () => {
      const cost = fleetCost(
        [
          { name: "us", cloud: "aws", region: "us-east-1", size: "t3.micro" },
          { name: "de", cloud: "hetzner", region: "fsn1", size: "cx23" },
          { name: "x", cloud: "hetzner", region: "ash", size: "cx23" },
        ],
        book(),
      );
      expect(cost.unknown).to.deep.equal(["x"]);
      expect(costLines(cost)).to.deep.equal([
        "total: unknown (no price for x); the workers with a known price cost $0.0104 per hour, $7.49 per 30 days (720 h) in USD, and €0.0060 per hour, €4.32 per 30 days (720 h) in EUR",
      ]);
    });

    it("formats each currency with its symbol, or its code", () => {
      expect(formatPrice(0.006, 4, "EUR")).to.equal("€0.0060");
      expect(formatPrice(0.0104, 4, "USD")).to.equal("$0.0104");
      expect(formatPrice(0.0104, 4, "CHF")).to.equal("0.0104 CHF");
      expect(formatPrice(null, 4, "EUR")).to.equal("unknown");
    });

    it("orderByPrice never compares EUR with USD: currencies in order of first appearance, each cheapest first", () => {
      const list = [
        { cloud: "hetzner" as const, region: "fsn1", size: "cx23", tag: "eur" },
        { cloud: "aws" as const, region: "us-west-1", size: "t3.micro", tag: "usd-0.0124" },
        { cloud: "aws" as const, region: "eu-west-1", size: "t3.micro", tag: "unknown" },
        { cloud: "aws" as const, region: "us-east-1", size: "t3.micro", tag: "usd-0.0104" },
      ];
      expect(orderByPrice(list, book()).map((x) => x.tag)).to.deep.equal([
        "eur",
        "usd-0.0104",
        "usd-0.0124",
        "unknown",
      ]);
      expect(orderByPrice([list[1], list[0]], book()).map((x) => x.tag)).to.deep.equal([
        "usd-0.0124",
        "eur",
      ]);
    });
  });

  describe("orderByPrice", () => {
    const c = (cloud: Candidate["cloud"], region: string, size: string, tag: string) => ({
      cloud,
      region,
      size,
      tag,
    });

    it("puts the cheapest first and unknown prices last", () => {
      const list = [
        c("aws", "eu-west-1", "t3.micro", "unknown-1"),
        c("aws", "us-west-1", "t3.micro", "0.0124"),
        c("local", "localhost", "process", "free"),
        c("aws", "us-east-1", "t3.micro", "0.0104"),
        c("gcp", "us-central1-a", "e2-standard-4", "0.134"),
      ];
      expect(orderByPrice(list, book()).map((x) => x.tag)).to.deep.equal([
        "free",
        "0.0104",
        "0.0124",
        "0.134",
        "unknown-1",
      ]);
    });

    it("is stable: equal prices and unknowns keep their order; the input is not changed", () => {
      const list = [
        c("aws", "eu-west-1", "t3.micro", "u1"),
        c("aws", "us-east-1", "t3.micro", "a"),
        c("hetzner", "ash", "cx23", "u2"),
        c("aws", "us-east-1", "t3.micro", "b"),
        c("azure", "eastus", "Standard_B1s", "u3"),
        c("aws", "us-east-1", "t3.micro", "c"),
      ];
      const before = list.map((x) => x.tag);
      expect(orderByPrice(list, book()).map((x) => x.tag)).to.deep.equal([
        "a",
        "b",
        "c",
        "u1",
        "u2",
        "u3",
      ]);
      expect(list.map((x) => x.tag)).to.deep.equal(before);
    });

    it("accepts a lookup function, and candidates without region or size (unknown unless the table says *)", () => {
      const prices = (x: Candidate) => (x.size === "big" ? 2 : x.size === "tiny" ? 1 : undefined);
      const list: Candidate[] = [
        { cloud: "aws" },
        { cloud: "gcp", size: "big" },
        { cloud: "azure", size: "tiny" },
      ];
      expect(orderByPrice(list, prices)).to.deep.equal([list[2], list[1], list[0]]);
      expect(orderByPrice([], book())).to.deep.equal([]);
    });
  });
});
