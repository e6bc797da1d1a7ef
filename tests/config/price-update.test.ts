/**
 * `fleet prices --update` against a loopback HTTP server (node:http on 127.0.0.1) that answers
 * with bodies of the shapes each API documents:
 *
 * - DigitalOcean `GET /v2/sizes`: https://docs.digitalocean.com/reference/api/reference/sizes/
 *   (example in https://github.com/digitalocean/openapi,
 *   specification/resources/sizes/responses/all_sizes.yml: `sizes[]` with `slug`,
 *   `price_hourly`, `price_monthly`, `regions`; `links.pages.next`; `meta.total`).
 * - Hetzner `GET /v1/server_types`:
 *   https://docs.hetzner.cloud/reference/cloud#server-types-list-server-types (`server_types[]`
 *   with `name` and `prices[]` of `{ location, price_hourly: { net, gross }, price_monthly }`,
 *   decimal strings in EUR; `meta.pagination.next_page`).
 * - Azure Retail Prices `GET /api/retail/prices?$filter=…`:
 *   https://learn.microsoft.com/en-us/rest/api/cost-management/retail-prices/azure-retail-prices
 *   (`Items[]` with `currencyCode`, `retailPrice`, `unitOfMeasure: "1 Hour"`, `armRegionName`,
 *   `armSkuName`, `productName`, `skuName`, `type`, `isPrimaryMeterRegion`; `NextPageLink`).
 * - AWS Price List Bulk API, regional offer file as CSV:
 *   https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
 *   (five rows of metadata, then the column names: SKU, OfferTermCode, RateCode, TermType, …).
 * - GCP Cloud Billing Catalog `GET /v1/services/6F81-5844-456A/skus`:
 *   https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list (`skus[]` with
 *   `description`, `category.usageType`, `serviceRegions`, `pricingInfo[].pricingExpression`
 *   `{ usageUnit, tieredRates[].unitPrice { currencyCode, units, nanos } }`; `nextPageToken`).
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { CloudDefaults } from "../../config/defaults";
import {
  PriceUpdateError,
  baseUrlVariable,
  csvFields,
  e2Shape,
  updatePrices,
} from "../../config/price-update";
import { parsePriceTable, priceOf } from "../../config/prices";
import type { CloudName } from "../../strategies/registry";

type Route = (req: http.IncomingMessage) => { status?: number; type?: string; body: string };

/** A loopback server answering `routes` by path; records every request. */
async function serve(routes: Record<string, Route>) {
  const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    const route = routes[new URL(req.url ?? "/", "http://x").pathname];
    if (!route) {
      res.writeHead(404).end("{}");
      return;
    }
    const r = route(req);
    res.writeHead(r.status ?? 200, { "content-type": r.type ?? "application/json" }).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const DEFAULTS: Record<string, CloudDefaults> = {
  digitalocean: {
    region: "nyc3",
    size: "s-1vcpu-1gb",
    image: "x",
    sizes: { small: "s-1vcpu-2gb", medium: "s-2vcpu-4gb", large: "s-4vcpu-8gb" },
    extras: {},
  },
  hetzner: {
    region: "fsn1",
    size: "cx23",
    image: "x",
    sizes: { small: "cx23", medium: "cx23", large: "cx33" },
    extras: {},
  },
  azure: {
    region: "eastus",
    size: "Standard_B1s",
    image: "x",
    sizes: { small: "Standard_B1ms", medium: "Standard_B2s", large: "Standard_B4ms" },
    extras: {},
  },
  aws: {
    region: "us-east-1",
    size: "t3.micro",
    image: "x",
    sizes: { small: "t3.small", medium: "t3.medium", large: "t3.xlarge" },
    extras: {},
  },
  gcp: {
    region: "us-central1-a",
    size: "e2-micro",
    image: "x",
    sizes: { small: "e2-small", medium: "e2-medium", large: "e2-standard-4" },
    extras: {},
  },
};

const NOW = new Date("2026-11-28T10:00:00Z");

/** A temporary price directory holding a copy of fleet's own file of `cloud`. */
function tableDir(cloud: CloudName): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-prices-"));
  fs.copyFileSync(
    path.join(__dirname, "..", "..", "..", "config", "prices", `${cloud}.yaml`),
    path.join(dir, `${cloud}.yaml`),
  );
  return dir;
}

async function update(cloud: CloudName, dir: string, env: NodeJS.ProcessEnv) {
  return updatePrices(cloud, { dir, env, now: NOW, defaultsOf: (c) => DEFAULTS[c] });
}

async function refusal(p: Promise<unknown>): Promise<PriceUpdateError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(PriceUpdateError);
    return e as PriceUpdateError;
  }
  expect.fail("expected a PriceUpdateError");
}

const read = (dir: string, cloud: CloudName) =>
  fs.readFileSync(path.join(dir, `${cloud}.yaml`), "utf8");

/** DigitalOcean: the documented shape, two pages (the second through links.pages.next). */
function doSizes(base: string, page1Override?: unknown): Record<string, Route> {
  const size = (slug: string, monthly: number, hourly: number | string) => ({
    slug,
    memory: 1024,
    vcpus: 1,
    disk: 25,
    transfer: 1.0,
    price_monthly: monthly,
    price_hourly: hourly,
    regions: ["nyc1", "nyc3", "sfo3"],
    available: true,
    description: "Basic",
  });
  return {
    "/v2/sizes": (req) => {
      const page = new URL(req.url ?? "", "http://x").searchParams.get("page");
      if (page === "2")
        return {
          body: JSON.stringify({
            sizes: [size("s-4vcpu-8gb", 48, 0.07143)],
            links: { pages: { prev: `${base}/v2/sizes?page=1&per_page=3` } },
            meta: { total: 4 },
          }),
        };
      return {
        body: JSON.stringify(
          page1Override ?? {
            sizes: [
              size("s-1vcpu-1gb", 6, 0.00892857),
              size("s-1vcpu-2gb", 12, 0.01785714),
              size("s-2vcpu-4gb", 24, 0.03571429),
            ],
            links: { pages: { next: `${base}/v2/sizes?page=2&per_page=3` } },
            meta: { total: 4 },
          },
        ),
      };
    },
  };
}

describe("fleet prices --update (config/price-update.ts), against a loopback server", () => {
  describe("digitalocean (GET /v2/sizes, DIGITALOCEAN_TOKEN)", () => {
    it("updates fleet's four sizes, follows the next page, writes the read date and keeps the header comment", async () => {
      const dir = tableDir("digitalocean");
      const header = read(dir, "digitalocean").split("\ncurrency:")[0];
      // The server's own URL goes into its next-page links, as DigitalOcean's do.
      let url = "";
      const srv = await serve({ "/v2/sizes": (req) => doSizes(url)["/v2/sizes"](req) });
      url = srv.url;
      try {
        const env = {
          DIGITALOCEAN_TOKEN: "dop_v1_secret",
          [baseUrlVariable("digitalocean")]: srv.url,
        };
        const u = await update("digitalocean", dir, env);
        expect(u.read).to.equal("2026-11-28");
        expect(u.missing).to.deep.equal([]);
        expect(u.updated).to.deep.equal({
          "s-1vcpu-1gb": { "*": 0.008929 },
          "s-1vcpu-2gb": { "*": 0.017857 },
          "s-2vcpu-4gb": { "*": 0.035714 },
          "s-4vcpu-8gb": { "*": 0.07143 },
        });
        expect(
          srv.seen.map((r) => new URL(r.url, "http://x").searchParams.get("page")),
        ).to.deep.equal([null, "2"]);
        expect(srv.seen[0].headers.authorization).to.equal("Bearer dop_v1_secret");
        const text = read(dir, "digitalocean");
        expect(text.startsWith(header)).to.equal(true);
        expect(text).to.contain("  s-1vcpu-1gb: # the default size\n");
        expect(text).to.contain("  s-4vcpu-8gb: # large\n");
        expect(text).to.not.contain("unknown:");
        const t = parsePriceTable("digitalocean", text, "f");
        expect(t.sources.map((s) => [s.id, s.read])).to.deep.equal([
          ["digitalocean-api", "2026-11-28"],
        ]);
        expect(
          priceOf(
            { digitalocean: t },
            { cloud: "digitalocean", region: "nyc3", size: "s-1vcpu-1gb" },
          ),
        ).to.equal(0.008929);
      } finally {
        await srv.close();
      }
    });

    it("refuses a malformed response, naming the cloud, the URL and the field, and leaves the file unchanged", async () => {
      const dir = tableDir("digitalocean");
      const before = read(dir, "digitalocean");
      const srv = await serve(
        doSizes("http://unused", {
          sizes: [{ slug: "s-1vcpu-1gb", price_hourly: "cheap" }],
          links: {},
        }),
      );
      try {
        const e = await refusal(
          update("digitalocean", dir, {
            DIGITALOCEAN_TOKEN: "dop_v1_secret",
            [baseUrlVariable("digitalocean")]: srv.url,
          }),
        );
        expect(e.message).to.match(
          /^digitalocean: GET http:\/\/127\.0\.0\.1:\d+\/v2\/sizes\?per_page=200: /,
        );
        expect(e.message).to.contain('sizes[0] (s-1vcpu-1gb).price_hourly is "cheap"');
        expect(e.message).to.contain("nothing written");
        expect(e.message).to.not.contain("dop_v1_secret");
        expect(read(dir, "digitalocean")).to.equal(before);
      } finally {
        await srv.close();
      }
    });

    it("refuses a response that is not the documented object, and an HTTP error", async () => {
      const dir = tableDir("digitalocean");
      const before = read(dir, "digitalocean");
      const srv = await serve({
        "/v2/sizes": () => ({ body: JSON.stringify({ droplets: [] }) }),
        "/bad/v2/sizes": () => ({ status: 401, body: JSON.stringify({ id: "unauthorized" }) }),
      });
      try {
        const env = { DIGITALOCEAN_TOKEN: "t", [baseUrlVariable("digitalocean")]: srv.url };
        expect((await refusal(update("digitalocean", dir, env))).message).to.contain(
          "malformed response: sizes is missing, expected an array of sizes",
        );
        env[baseUrlVariable("digitalocean")] = `${srv.url}/bad`;
        expect((await refusal(update("digitalocean", dir, env))).message).to.contain(
          "HTTP 401 Unauthorized (is the credential valid?)",
        );
        expect(read(dir, "digitalocean")).to.equal(before);
      } finally {
        await srv.close();
      }
    });

    it("names the missing credential before any request, without a value", async () => {
      const dir = tableDir("digitalocean");
      const srv = await serve(doSizes("http://unused"));
      try {
        const e = await refusal(
          update("digitalocean", dir, { [baseUrlVariable("digitalocean")]: srv.url }),
        );
        expect(e.message).to.match(/^digitalocean: DIGITALOCEAN_TOKEN: not set: /);
        expect(srv.seen).to.deep.equal([]);
      } finally {
        await srv.close();
      }
    });
  });

  describe("hetzner (GET /v1/server_types, HCLOUD_TOKEN, EUR)", () => {
    const types = (netCx23: unknown) => ({
      server_types: [
        {
          id: 1,
          name: "cx23",
          description: "CX23",
          cores: 2,
          memory: 4,
          disk: 40,
          prices: [
            {
              location: "fsn1",
              price_hourly: { net: netCx23, gross: "0.0071400000" },
              price_monthly: { net: "3.4900000000", gross: "4.1531000000" },
            },
            {
              location: "nbg1",
              price_hourly: { net: "0.0060000000", gross: "0.0071400000" },
              price_monthly: { net: "3.4900000000", gross: "4.1531000000" },
            },
          ],
        },
        {
          id: 2,
          name: "cx33",
          prices: [
            {
              location: "fsn1",
              price_hourly: { net: "0.0104000000", gross: "0.0123760000" },
              price_monthly: { net: "6.4900000000", gross: "7.7231000000" },
            },
          ],
        },
        { id: 3, name: "cpx11", prices: [] },
      ],
      meta: {
        pagination: {
          page: 1,
          per_page: 50,
          previous_page: null,
          next_page: null,
          last_page: 1,
          total_entries: 3,
        },
      },
    });

    it("writes EUR net prices per location for cx23 and cx33", async () => {
      const dir = tableDir("hetzner");
      const srv = await serve({
        "/v1/server_types": () => ({ body: JSON.stringify(types("0.0060000000")) }),
      });
      try {
        const u = await update("hetzner", dir, {
          HCLOUD_TOKEN: "h",
          [baseUrlVariable("hetzner")]: srv.url,
        });
        expect(u.currency).to.equal("EUR");
        expect(u.updated).to.deep.equal({
          cx23: { fsn1: 0.006, nbg1: 0.006 },
          cx33: { fsn1: 0.0104 },
        });
        const t = parsePriceTable("hetzner", read(dir, "hetzner"), "f");
        expect(t.currency).to.equal("EUR");
        expect(t.sources.map((s) => s.id)).to.deep.equal(["hetzner-api"]);
        expect(read(dir, "hetzner")).to.contain("  cx23: # the default, small and medium size\n");
      } finally {
        await srv.close();
      }
    });

    it("refuses a price that is not a decimal string, and leaves the file unchanged", async () => {
      const dir = tableDir("hetzner");
      const before = read(dir, "hetzner");
      const srv = await serve({
        "/v1/server_types": () => ({ body: JSON.stringify(types({ eur: 1 })) }),
      });
      try {
        const e = await refusal(
          update("hetzner", dir, { HCLOUD_TOKEN: "h", [baseUrlVariable("hetzner")]: srv.url }),
        );
        expect(e.message).to.contain("server_types[0] (cx23).prices[0].price_hourly.net is");
        expect(read(dir, "hetzner")).to.equal(before);
      } finally {
        await srv.close();
      }
    });
  });

  describe("azure (Retail Prices API, no account)", () => {
    const item = (
      sku: string,
      region: string,
      price: unknown,
      extra: Record<string, unknown> = {},
    ) => ({
      currencyCode: "USD",
      tierMinimumUnits: 0.0,
      retailPrice: price,
      unitPrice: price,
      armRegionName: region,
      location: "US East",
      effectiveStartDate: "2024-01-01T00:00:00Z",
      meterId: "m",
      meterName: "B1s",
      productId: "DZH318Z0BQ4B",
      skuId: "DZH318Z0BQ4B/00K1",
      productName: "Virtual Machines BS Series",
      skuName: "B1s",
      serviceName: "Virtual Machines",
      serviceId: "DZH313Z7MMC8",
      serviceFamily: "Compute",
      unitOfMeasure: "1 Hour",
      type: "Consumption",
      isPrimaryMeterRegion: true,
      armSkuName: sku,
      ...extra,
    });

    it("takes the Linux, non-Spot consumption meter per region, following NextPageLink", async () => {
      const dir = tableDir("azure");
      let base = "";
      const srv = await serve({
        "/api/retail/prices": (req) => {
          const u = new URL(req.url ?? "", "http://x");
          const filter = u.searchParams.get("$filter") ?? "";
          const sku = /armSkuName eq '([^']+)'/.exec(filter)?.[1] ?? "";
          if (u.searchParams.get("page") === "2")
            return {
              body: JSON.stringify({
                BillingCurrency: "USD",
                Items: [item(sku, "westus2", 0.0104)],
                NextPageLink: null,
              }),
            };
          return {
            body: JSON.stringify({
              BillingCurrency: "USD",
              CustomerEntityType: "Retail",
              Items: [
                item(sku, "eastus", 0.0104),
                item(sku, "eastus", 0.0032, { skuName: "B1s Spot" }),
                item(sku, "eastus", 0.0114, { productName: "Virtual Machines BS Series Windows" }),
                item(sku, "eastus", 0.0104, { type: "DevTestConsumption" }),
              ],
              NextPageLink:
                sku === "Standard_B1s"
                  ? `${base}/api/retail/prices?page=2&$filter=${encodeURIComponent(filter)}`
                  : null,
              Count: 4,
            }),
          };
        },
      });
      base = srv.url;
      try {
        const u = await update("azure", dir, { [baseUrlVariable("azure")]: srv.url });
        expect(u.updated["Standard_B1s"]).to.deep.equal({ eastus: 0.0104, westus2: 0.0104 });
        expect(Object.keys(u.updated)).to.deep.equal([
          "Standard_B1s",
          "Standard_B1ms",
          "Standard_B2s",
          "Standard_B4ms",
        ]);
        const filters = srv.seen.map((r) => new URL(r.url, "http://x").searchParams.get("$filter"));
        expect(filters[0]).to.equal(
          "serviceName eq 'Virtual Machines' and armSkuName eq 'Standard_B1s' and priceType eq 'Consumption'",
        );
      } finally {
        await srv.close();
      }
    });

    it("refuses prices in another currency, and a next page on another host", async () => {
      const dir = tableDir("azure");
      const before = read(dir, "azure");
      const srv = await serve({
        "/api/retail/prices": () => ({
          body: JSON.stringify({
            Items: [item("Standard_B1s", "eastus", 1, { currencyCode: "EUR" })],
          }),
        }),
        "/other/api/retail/prices": () => ({
          body: JSON.stringify({ Items: [], NextPageLink: "https://elsewhere.example/next" }),
        }),
      });
      try {
        expect(
          (await refusal(update("azure", dir, { [baseUrlVariable("azure")]: srv.url }))).message,
        ).to.contain('Items[0].currencyCode is "EUR", expected "USD"');
        expect(
          (await refusal(update("azure", dir, { [baseUrlVariable("azure")]: `${srv.url}/other` })))
            .message,
        ).to.contain("leaves http://127.0.0.1");
        expect(read(dir, "azure")).to.equal(before);
      } finally {
        await srv.close();
      }
    });
  });

  describe("aws (Price List Bulk API offer file, CSV, no account)", () => {
    const HEAD = [
      '"FormatVersion","v1.0"',
      '"Disclaimer","This pricing list is for informational purposes only."',
      '"Publication Date","2026-11-20T00:00:00Z"',
      '"Version","20261120000000"',
      '"OfferCode","AmazonEC2"',
      '"SKU","OfferTermCode","RateCode","TermType","PriceDescription","EffectiveDate","StartingRange","EndingRange","Unit","PricePerUnit","Currency","Location","Instance Type","Operating System","Tenancy","Pre Installed S/W","License Model","CapacityStatus","Operation"',
    ];
    const row = (type: string, price: string, over: Partial<Record<string, string>> = {}) => {
      const v = {
        term: "OnDemand",
        unit: "Hrs",
        os: "Linux",
        tenancy: "Shared",
        sw: "NA",
        cap: "Used",
        op: "RunInstances",
        ...over,
      };
      return `"SKU1","JRTCKXETXF","SKU1.JRTCKXETXF.6YS6EN2CT7","${v.term}","$${price} per On Demand Linux ${type} Instance Hour","2026-11-01","0","Inf","${v.unit}","${price}","USD","US East (N. Virginia)","${type}","${v.os}","${v.tenancy}","${v.sw}","No License required","${v.cap}","${v.op}"`;
    };
    const file = (rows: string[]) => [...HEAD, ...rows].join("\n") + "\n";

    it("streams each region's offer file and takes the on-demand Linux shared row", async () => {
      const dir = tableDir("aws");
      const regionsRead: string[] = [];
      const srv = await serve(
        Object.fromEntries(
          [
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-central-1",
            "eu-north-1",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-northeast-1",
            "ap-northeast-2",
          ].map((r) => [
            `/offers/v1.0/aws/AmazonEC2/current/${r}/index.csv`,
            () => {
              regionsRead.push(r);
              return {
                type: "text/csv",
                body: file([
                  row("t3.micro", r === "us-east-1" ? "0.0104000000" : "0.0116000000"),
                  row("t3.micro", "0.0200000000", { os: "Windows" }),
                  row("t3.micro", "0.0000000000", { cap: "UnusedCapacityReservation" }),
                  row("t3.micro", "0.0300000000", { term: "Reserved" }),
                  row("t3.small", "0.0208000000"),
                  row("t3.medium", "0.0416000000"),
                  row("t3.xlarge", "0.1664000000"),
                  row("m5.large", "0.0960000000"),
                ]),
              };
            },
          ]),
        ),
      );
      try {
        const u = await update("aws", dir, { [baseUrlVariable("aws")]: srv.url });
        expect(regionsRead[0]).to.equal("us-east-1");
        expect(u.updated["t3.micro"]["us-east-1"]).to.equal(0.0104);
        expect(u.updated["t3.micro"]["eu-west-1"]).to.equal(0.0116);
        expect(u.updated["t3.xlarge"]["us-east-1"]).to.equal(0.1664);
        expect(u.url).to.equal(`${srv.url}/offers/v1.0/aws/AmazonEC2/current/<region>/index.csv`);
      } finally {
        await srv.close();
      }
    });

    it("refuses a file without the documented columns, and a non-hourly unit", async () => {
      const dir = tableDir("aws");
      const before = read(dir, "aws");
      let body = [...HEAD.slice(0, 5), '"SKU","Price"', '"x","1"'].join("\n");
      const srv = await serve({
        "/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.csv": () => ({
          type: "text/csv",
          body,
        }),
      });
      try {
        const env = { [baseUrlVariable("aws")]: srv.url };
        expect((await refusal(update("aws", dir, env))).message).to.match(
          /aws: GET http:\/\/127\.0\.0\.1:\d+\/offers\/v1\.0\/aws\/AmazonEC2\/current\/us-east-1\/index\.csv: malformed response: line 6 \(the column names\) lacks TermType/,
        );
        body = file([row("t3.micro", "0.0104", { unit: "Quantity" })]);
        expect((await refusal(update("aws", dir, env))).message).to.contain(
          'Unit is "Quantity", expected "Hrs"',
        );
        expect(read(dir, "aws")).to.equal(before);
      } finally {
        await srv.close();
      }
    });

    it("splits quoted CSV fields", () => {
      expect(csvFields('"a","b ""c""",d,"e,f"')).to.deep.equal(["a", 'b "c"', "d", "e,f"]);
      expect(() => csvFields('"a')).to.throw(/unterminated/);
    });
  });

  describe("gcp (Cloud Billing Catalog, GOOGLE_API_KEY)", () => {
    const sku = (kind: "Core" | "Ram", region: string, nanos: number, usageType = "OnDemand") => ({
      name: `services/6F81-5844-456A/skus/${kind}-${region}`,
      skuId: `${kind}-${region}`,
      description: `E2 Instance ${kind} running in Americas`,
      category: {
        serviceDisplayName: "Compute Engine",
        resourceFamily: "Compute",
        resourceGroup: kind === "Core" ? "CPU" : "RAM",
        usageType,
      },
      serviceRegions: [region],
      pricingInfo: [
        {
          effectiveTime: "2026-11-20T00:00:00Z",
          pricingExpression: {
            usageUnit: kind === "Core" ? "h" : "GiBy.h",
            displayQuantity: 1,
            tieredRates: [
              { startUsageAmount: 0, unitPrice: { currencyCode: "USD", units: "0", nanos } },
            ],
          },
        },
      ],
      serviceProviderName: "Google",
    });

    it("combines the E2 core and RAM SKUs per region, shared-core types at their billed vCPU fraction", async () => {
      const dir = tableDir("gcp");
      const srv = await serve({
        "/v1/services/6F81-5844-456A/skus": (req) => {
          const token = new URL(req.url ?? "", "http://x").searchParams.get("pageToken");
          if (token === "p2")
            return {
              body: JSON.stringify({
                skus: [sku("Ram", "us-central1", 2923000)],
                nextPageToken: "",
              }),
            };
          return {
            body: JSON.stringify({
              skus: [
                sku("Core", "us-central1", 21811300),
                sku("Core", "us-central1", 6543390, "Preemptible"),
              ],
              nextPageToken: "p2",
            }),
          };
        },
      });
      try {
        const u = await update("gcp", dir, {
          GOOGLE_API_KEY: "AIzaSecret",
          [baseUrlVariable("gcp")]: srv.url,
        });
        expect(u.updated).to.deep.equal({
          "e2-micro": { "us-central1": 0.008376 },
          "e2-small": { "us-central1": 0.016752 },
          "e2-medium": { "us-central1": 0.033503 },
          "e2-standard-4": { "us-central1": 0.134013 },
        });
        expect(srv.seen.every((r) => r.headers["x-goog-api-key"] === "AIzaSecret")).to.equal(true);
        expect(srv.seen.some((r) => r.url.includes("AIzaSecret"))).to.equal(false);
      } finally {
        await srv.close();
      }
    });

    it("refuses a unit price that is not USD units and nanos", async () => {
      const dir = tableDir("gcp");
      const before = read(dir, "gcp");
      const bad = sku("Core", "us-central1", 1);
      bad.pricingInfo[0].pricingExpression.tieredRates[0].unitPrice = {
        currencyCode: "USD",
        units: "x",
        nanos: 1,
      };
      const srv = await serve({
        "/v1/services/6F81-5844-456A/skus": () => ({ body: JSON.stringify({ skus: [bad] }) }),
      });
      try {
        const e = await refusal(
          update("gcp", dir, { GOOGLE_API_KEY: "AIzaSecret", [baseUrlVariable("gcp")]: srv.url }),
        );
        expect(e.message).to.contain("expected whole units and nanos");
        expect(e.message).to.not.contain("AIzaSecret");
        expect(read(dir, "gcp")).to.equal(before);
      } finally {
        await srv.close();
      }
    });

    it("knows the E2 shapes (shared-core: the fraction of a vCPU Google bills)", () => {
      expect(e2Shape("e2-micro")).to.deep.equal({ vcpus: 0.25, gb: 1 });
      expect(e2Shape("e2-standard-4")).to.deep.equal({ vcpus: 4, gb: 16 });
      expect(e2Shape("n2-standard-4")).to.equal(undefined);
    });
  });

  it("refuses a cloud without a price API (local)", async () => {
    try {
      await updatePrices("local", { env: {} });
      expect.fail("expected an error");
    } catch (e) {
      expect((e as Error).message).to.contain("no price API");
    }
  });
});
