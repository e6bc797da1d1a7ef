/**
 * `fleet prices --update`: refreshes `config/prices/<cloud>.yaml` from each cloud's own price
 * API, for the sizes fleet lists (each cloud's default size and its abstract sizes), and writes
 * the day it read them.
 *
 * One reader per cloud, each mapping its API's objects to `Figures` (size → region → price per
 * hour) in one function, and checking every field it uses: a response of another shape is
 * refused with an error naming the cloud, the URL and what was wrong, and nothing is written.
 * A needed credential that is missing is named (never printed) before any request is made.
 *
 * | cloud        | endpoint (documented shape)                                   | credential          |
 * |--------------|---------------------------------------------------------------|---------------------|
 * | digitalocean | GET https://api.digitalocean.com/v2/sizes (`price_hourly`)    | DIGITALOCEAN_TOKEN  |
 * | hetzner      | GET https://api.hetzner.cloud/v1/server_types (`prices`, EUR) | HCLOUD_TOKEN        |
 * | azure        | GET https://prices.azure.com/api/retail/prices?$filter=…      | none                |
 * | aws          | GET https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/<region>/index.csv | none |
 * | gcp          | GET https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus | GOOGLE_API_KEY |
 *
 * AWS: the Price List Bulk API's regional offer file needs no account (the Query API,
 * `pricing:GetProducts`, needs signed requests). It is large (hundreds of MB per region), so it
 * is read as CSV, line by line, never held whole; only the regions the table already prices,
 * and the cloud's default region, are read.
 *
 * Every base URL can be replaced with `FLEET_PRICES_<CLOUD>_URL` (for example
 * `FLEET_PRICES_DIGITALOCEAN_URL=http://127.0.0.1:8080`): a proxy, a mirror, or a test server.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type CloudName, CLOUDS } from "../strategies/registry";
import { type CloudDefaults, loadCloudDefaults } from "./defaults";
import { FleetConfigError } from "./errors";
import {
  ANY_REGION,
  type Currency,
  type PriceSource,
  type PriceTable,
  type SizePrices,
  parsePriceTable,
  pricesDir,
} from "./prices";

/** Size → region (or `*`) → price per hour. */
export type Figures = Record<string, Record<string, number>>;

/** A response that is not what the API documents, a failed request, or a missing credential. */
export class PriceUpdateError extends Error {
  constructor(
    /** The cloud being updated. */
    readonly cloud: CloudName,
    /** The request (method and URL, never a credential), or the variable that is missing. */
    readonly where: string,
    /** What was wrong. */
    readonly what: string,
  ) {
    super(`${cloud}: ${where}: ${what}; nothing written`);
    this.name = "PriceUpdateError";
  }
}

/** What a reader is given. */
export interface ReadContext {
  /** The API's base URL (its default, or `FLEET_PRICES_<CLOUD>_URL`), without a trailing `/`. */
  base: string;
  /** The credential, when the API needs one. */
  credential?: string;
  /** fleet's sizes of the cloud. */
  sizes: readonly string[];
  /** The regions to read, where the API is read per region (AWS). */
  regions: readonly string[];
  /** `fetch` (the global one unless a test gives another). */
  fetch: typeof fetch;
}

/** One cloud's price API. */
interface PriceApi {
  /** The currency the API's prices are in. */
  currency: Currency;
  /** The default base URL. */
  base: string;
  /** The endpoint named in the table's source (no credential in it). */
  endpoint: string;
  /** What the source is, for the table's `note`. */
  note: string;
  /** The environment variable holding the credential, when one is needed, and what it is. */
  credential?: { env: string; what: string };
  /** Reads the figures of `ctx.sizes`. */
  read(ctx: ReadContext, fail: (where: string, what: string) => never): Promise<Figures>;
}

/** Rounds to millionths (the precision fleet adds prices in). */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/** A price from a JSON number or a decimal string ("0.0048000000"); undefined when it is not one. */
function priceValue(v: unknown): number | undefined {
  const n =
    typeof v === "number" ? v : typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 && n < 1000 ? n : undefined;
}

async function request(
  ctx: ReadContext,
  url: string,
  headers: Record<string, string>,
  fail: (where: string, what: string) => never,
): Promise<Response> {
  const where = `GET ${url}`;
  let res: Response;
  try {
    res = await ctx.fetch(url, { headers: { accept: "application/json", ...headers } });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    fail(where, `request failed (${cause?.code ?? cause?.message ?? (e as Error).message})`);
  }
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? " (is the credential valid?)" : "";
    fail(where, `HTTP ${res.status} ${res.statusText}${hint}`);
  }
  return res;
}

async function getJson(
  ctx: ReadContext,
  url: string,
  headers: Record<string, string>,
  fail: (where: string, what: string) => never,
): Promise<Record<string, unknown>> {
  const res = await request(ctx, url, headers, fail);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    fail(`GET ${url}`, "malformed response: not JSON");
  }
  if (!isObject(body))
    fail(`GET ${url}`, `malformed response: expected a JSON object, got ${describe(body)}`);
  return body;
}

/** Follows a "next page" URL only on the API's own origin (never sends a credential elsewhere). */
function sameOrigin(base: string, next: string, fail: (what: string) => never): string {
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    fail(`malformed response: next page link ${describe(next)} is not a URL`);
  }
  if (url.origin !== new URL(base).origin)
    fail(`malformed response: next page link ${describe(next)} leaves ${new URL(base).origin}`);
  return url.toString();
}

const MAX_PAGES = 200;

/** DigitalOcean: https://docs.digitalocean.com/reference/api/reference/sizes/ (`GET /v2/sizes`). */
const digitalocean: PriceApi = {
  currency: "USD",
  base: "https://api.digitalocean.com",
  endpoint: "https://api.digitalocean.com/v2/sizes",
  note: "DigitalOcean's API, GET /v2/sizes: price_hourly of each size slug, USD per Droplet-hour, the same in every region.",
  credential: {
    env: "DIGITALOCEAN_TOKEN",
    what: "a DigitalOcean API token (scope sizes:read is enough)",
  },
  async read(ctx, fail) {
    const figures: Figures = {};
    let url: string | undefined = `${ctx.base}/v2/sizes?per_page=200`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const at: string = url;
      const body = await getJson(ctx, at, { authorization: `Bearer ${ctx.credential}` }, fail);
      const bad: (what: string) => never = (what) =>
        fail(`GET ${at}`, `malformed response: ${what}`);
      if (!Array.isArray(body.sizes))
        bad(`sizes is ${describe(body.sizes)}, expected an array of sizes`);
      (body.sizes as unknown[]).forEach((s, i) => {
        if (!isObject(s) || typeof s.slug !== "string")
          bad(`sizes[${i}].slug is ${describe(isObject(s) ? s.slug : s)}, expected a size slug`);
        const slug = s.slug as string;
        if (!ctx.sizes.includes(slug)) return;
        const p = priceValue(s.price_hourly);
        if (p === undefined)
          bad(
            `sizes[${i}] (${slug}).price_hourly is ${describe(s.price_hourly)}, expected a price (a number of USD from 0)`,
          );
        figures[slug] = { [ANY_REGION]: round6(p) };
      });
      const links = body.links;
      const next = isObject(links) && isObject(links.pages) ? links.pages.next : undefined;
      url =
        typeof next === "string" && next
          ? sameOrigin(ctx.base, next, (w) => fail(`GET ${at}`, w))
          : undefined;
    }
    return figures;
  },
};

/** Hetzner: https://docs.hetzner.cloud/reference/cloud#server-types-list-server-types. */
const hetzner: PriceApi = {
  currency: "EUR",
  base: "https://api.hetzner.cloud",
  endpoint: "https://api.hetzner.cloud/v1/server_types",
  note: "Hetzner Cloud's API, GET /v1/server_types: prices[].price_hourly.net of each server type per location, EUR per hour without VAT.",
  credential: { env: "HCLOUD_TOKEN", what: "a Hetzner Cloud API token (read-only is enough)" },
  async read(ctx, fail) {
    const figures: Figures = {};
    for (let page = 1; page <= MAX_PAGES; page++) {
      const at = `${ctx.base}/v1/server_types?per_page=50&page=${page}`;
      const body = await getJson(ctx, at, { authorization: `Bearer ${ctx.credential}` }, fail);
      const bad: (what: string) => never = (what) =>
        fail(`GET ${at}`, `malformed response: ${what}`);
      if (!Array.isArray(body.server_types))
        bad(`server_types is ${describe(body.server_types)}, expected an array of server types`);
      (body.server_types as unknown[]).forEach((t, i) => {
        if (!isObject(t) || typeof t.name !== "string")
          bad(`server_types[${i}].name is ${describe(isObject(t) ? t.name : t)}, expected a name`);
        const name = t.name as string;
        if (!ctx.sizes.includes(name)) return;
        if (!Array.isArray(t.prices))
          bad(`server_types[${i}] (${name}).prices is ${describe(t.prices)}, expected an array`);
        const regions: Record<string, number> = {};
        (t.prices as unknown[]).forEach((p, j) => {
          const at2 = `server_types[${i}] (${name}).prices[${j}]`;
          if (!isObject(p) || typeof p.location !== "string" || !/^[a-z0-9-]+$/.test(p.location))
            bad(
              `${at2}.location is ${describe(isObject(p) ? p.location : p)}, expected a location name`,
            );
          const hourly = p.price_hourly;
          const net = priceValue(isObject(hourly) ? hourly.net : undefined);
          if (net === undefined)
            bad(
              `${at2}.price_hourly.net is ${describe(isObject(hourly) ? hourly.net : hourly)}, expected a decimal price in EUR`,
            );
          regions[p.location as string] = round6(net);
        });
        if (Object.keys(regions).length) figures[name] = regions;
      });
      const meta = body.meta;
      const pagination = isObject(meta) ? meta.pagination : undefined;
      const next = isObject(pagination) ? pagination.next_page : undefined;
      if (typeof next !== "number") break;
    }
    return figures;
  },
};

/** Azure: https://learn.microsoft.com/en-us/rest/api/cost-management/retail-prices/azure-retail-prices. */
const azure: PriceApi = {
  currency: "USD",
  base: "https://prices.azure.com",
  endpoint: "https://prices.azure.com/api/retail/prices",
  note: "Azure's Retail Prices API (no account): retailPrice of the Consumption, Linux, non-Spot meter of each VM size per armRegionName, USD per hour.",
  async read(ctx, fail) {
    const figures: Figures = {};
    for (const size of ctx.sizes) {
      const filter = `serviceName eq 'Virtual Machines' and armSkuName eq '${size}' and priceType eq 'Consumption'`;
      let url: string | undefined =
        `${ctx.base}/api/retail/prices?api-version=2023-01-01-preview&$filter=${encodeURIComponent(filter)}`;
      const regions: Record<string, number> = {};
      for (let page = 0; url && page < MAX_PAGES; page++) {
        const at: string = url;
        const body = await getJson(ctx, at, {}, fail);
        const bad: (what: string) => never = (what) =>
          fail(`GET ${at}`, `malformed response: ${what}`);
        if (!Array.isArray(body.Items))
          bad(`Items is ${describe(body.Items)}, expected an array of prices`);
        (body.Items as unknown[]).forEach((item, i) => {
          if (!isObject(item)) bad(`Items[${i}] is ${describe(item)}, expected a price object`);
          for (const k of [
            "armSkuName",
            "armRegionName",
            "productName",
            "skuName",
            "unitOfMeasure",
            "currencyCode",
          ])
            if (typeof item[k] !== "string")
              bad(`Items[${i}].${k} is ${describe(item[k])}, expected a string`);
          if (item.currencyCode !== "USD")
            bad(`Items[${i}].currencyCode is ${describe(item.currencyCode)}, expected "USD"`);
          const p = priceValue(item.retailPrice);
          if (p === undefined)
            bad(
              `Items[${i}].retailPrice is ${describe(item.retailPrice)}, expected a price (a number from 0)`,
            );
          const linux = !/windows/i.test(item.productName as string);
          const regular = !/spot|low priority/i.test(item.skuName as string);
          const consumption = item.type === undefined || item.type === "Consumption";
          if (
            item.armSkuName !== size ||
            !linux ||
            !regular ||
            !consumption ||
            item.unitOfMeasure !== "1 Hour"
          )
            return;
          const region = item.armRegionName as string;
          if (!/^[a-z0-9]+$/.test(region)) return; // "" or a global meter: not a location fleet can use
          if (!(region in regions) || item.isPrimaryMeterRegion === true)
            regions[region] = round6(p);
        });
        const next = body.NextPageLink;
        url =
          typeof next === "string" && next
            ? sameOrigin(ctx.base, next, (w) => fail(`GET ${at}`, w))
            : undefined;
      }
      if (Object.keys(regions).length) figures[size] = regions;
    }
    return figures;
  },
};

/** Splits one CSV line (RFC 4180 quoting; AWS's offer files have no line breaks in fields). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error("unterminated quoted field");
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i < line.length && line[i] !== ",")
        throw new Error(`unexpected ${describe(line[i])} after a quoted field`);
      i++;
    } else {
      const c = line.indexOf(",", i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/** The lines of a response body, as they arrive (the body is never held whole). */
async function* lines(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
    }
  }
  rest += decoder.decode();
  if (rest) yield rest.replace(/\r$/, "");
}

/** The columns of AWS's EC2 offer file that fleet reads. */
const AWS_COLUMNS = [
  "TermType",
  "Unit",
  "PricePerUnit",
  "Currency",
  "Instance Type",
  "Operating System",
  "Tenancy",
  "Pre Installed S/W",
  "CapacityStatus",
] as const;

/**
 * AWS: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
 * (CSV: five rows of metadata, then the column names, then one row per SKU and term).
 */
const aws: PriceApi = {
  currency: "USD",
  base: "https://pricing.us-east-1.amazonaws.com",
  endpoint:
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/<region>/index.csv",
  note: "AWS's Price List Bulk API (no account), the regional EC2 offer file: PricePerUnit of the OnDemand, Linux, shared-tenancy, no pre-installed software, Used-capacity row of each instance type, USD per hour.",
  async read(ctx, fail) {
    const figures: Figures = {};
    for (const region of ctx.regions) {
      const at = `${ctx.base}/offers/v1.0/aws/AmazonEC2/current/${region}/index.csv`;
      const res = await request(ctx, at, { accept: "text/csv" }, fail);
      const bad: (what: string) => never = (what) =>
        fail(`GET ${at}`, `malformed response: ${what}`);
      let n = 0;
      let col: Record<string, number> | undefined;
      for await (const line of lines(res)) {
        n++;
        if (n <= 5 || !line) continue; // the metadata rows
        let f: string[];
        try {
          f = csvFields(line);
        } catch (e) {
          bad(`line ${n}: ${(e as Error).message}`);
        }
        if (!col) {
          const names = f;
          const missing = AWS_COLUMNS.filter((c) => !names.includes(c));
          if (missing.length) bad(`line 6 (the column names) lacks ${missing.join(", ")}`);
          col = Object.fromEntries(names.map((c, i) => [c, i]));
          continue;
        }
        const get = (c: string) => (col && c in col ? f[col[c]] : undefined);
        const type = get("Instance Type");
        if (type === undefined || !ctx.sizes.includes(type)) continue;
        if (
          get("TermType") !== "OnDemand" ||
          get("Operating System") !== "Linux" ||
          get("Tenancy") !== "Shared" ||
          get("Pre Installed S/W") !== "NA" ||
          get("CapacityStatus") !== "Used" ||
          (get("License Model") ?? "No License required") !== "No License required" ||
          (get("Operation") ?? "RunInstances") !== "RunInstances"
        )
          continue;
        if (get("Unit") !== "Hrs")
          bad(`line ${n} (${type}): Unit is ${describe(get("Unit"))}, expected "Hrs"`);
        if (get("Currency") !== "USD")
          bad(`line ${n} (${type}): Currency is ${describe(get("Currency"))}, expected "USD"`);
        const p = priceValue(get("PricePerUnit"));
        if (p === undefined)
          bad(
            `line ${n} (${type}): PricePerUnit is ${describe(get("PricePerUnit"))}, expected a price`,
          );
        const had = figures[type]?.[region];
        if (had !== undefined && had !== round6(p))
          bad(`line ${n} (${type}): a second on-demand Linux price (${p}, first ${had})`);
        (figures[type] ??= {})[region] = round6(p);
      }
      if (!col) bad("no column names (expected five rows of metadata, then the column names)");
    }
    return figures;
  },
};

/** vCPUs billed and GB of memory of an E2 machine type; undefined for shapes fleet does not know. */
export function e2Shape(type: string): { vcpus: number; gb: number } | undefined {
  const shared: Record<string, { vcpus: number; gb: number }> = {
    "e2-micro": { vcpus: 0.25, gb: 1 },
    "e2-small": { vcpus: 0.5, gb: 2 },
    "e2-medium": { vcpus: 1, gb: 4 },
  };
  if (type in shared) return shared[type];
  const m = /^e2-(standard|highcpu|highmem)-(\d+)$/.exec(type);
  if (!m) return undefined;
  const n = Number(m[2]);
  return { vcpus: n, gb: n * { standard: 4, highcpu: 1, highmem: 8 }[m[1] as "standard"] };
}

/**
 * GCP: https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list. An E2
 * machine costs vCPUs × "E2 Instance Core" + GB × "E2 Instance Ram" (per region); a
 * shared-core type is billed for a fraction of a vCPU (see `e2Shape`).
 */
const gcp: PriceApi = {
  currency: "USD",
  base: "https://cloudbilling.googleapis.com",
  endpoint: "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus",
  note: 'Google\'s Cloud Billing Catalog API, Compute Engine SKUs "E2 Instance Core" and "E2 Instance Ram" (OnDemand) per region, combined per machine type: vCPUs billed × core + GB × RAM, USD per hour.',
  credential: {
    env: "GOOGLE_API_KEY",
    what: "a Google Cloud API key allowed to call the Cloud Billing API",
  },
  async read(ctx, fail) {
    const core: Record<string, number> = {};
    const ram: Record<string, number> = {};
    let token = "";
    for (let page = 0; page < MAX_PAGES; page++) {
      const at = `${ctx.base}/v1/services/6F81-5844-456A/skus?currencyCode=USD&pageSize=5000${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
      // The key goes in a header, so it is never part of a URL that an error could show.
      const body = await getJson(ctx, at, { "x-goog-api-key": ctx.credential ?? "" }, fail);
      const bad: (what: string) => never = (what) =>
        fail(`GET ${at}`, `malformed response: ${what}`);
      if (!Array.isArray(body.skus))
        bad(`skus is ${describe(body.skus)}, expected an array of SKUs`);
      (body.skus as unknown[]).forEach((sku, i) => {
        if (!isObject(sku) || typeof sku.description !== "string")
          bad(
            `skus[${i}].description is ${describe(isObject(sku) ? sku.description : sku)}, expected a string`,
          );
        const kind = /^E2 Instance (Core|Ram) running in /.exec(sku.description as string)?.[1];
        const category = sku.category;
        if (!kind || !isObject(category) || category.usageType !== "OnDemand") return;
        const where = `skus[${i}] (${sku.description as string})`;
        if (
          !Array.isArray(sku.serviceRegions) ||
          !sku.serviceRegions.every((r) => typeof r === "string")
        )
          bad(
            `${where}.serviceRegions is ${describe(sku.serviceRegions)}, expected an array of region names`,
          );
        const info = Array.isArray(sku.pricingInfo)
          ? sku.pricingInfo[sku.pricingInfo.length - 1]
          : undefined;
        const expr = isObject(info) ? info.pricingExpression : undefined;
        const rates = isObject(expr) ? expr.tieredRates : undefined;
        const unit = Array.isArray(rates) && isObject(rates[0]) ? rates[0].unitPrice : undefined;
        if (!isObject(unit))
          bad(
            `${where}.pricingInfo[-1].pricingExpression.tieredRates[0].unitPrice is ${describe(unit)}, expected { currencyCode, units, nanos }`,
          );
        if (unit.currencyCode !== "USD")
          bad(`${where}: unitPrice.currencyCode is ${describe(unit.currencyCode)}, expected "USD"`);
        const units = unit.units === undefined ? 0 : Number(unit.units);
        const nanos = unit.nanos === undefined ? 0 : Number(unit.nanos);
        if (!Number.isInteger(units) || !Number.isInteger(nanos) || units < 0 || nanos < 0)
          bad(`${where}: unitPrice is ${describe(unit)}, expected whole units and nanos`);
        const usageUnit = isObject(expr) ? expr.usageUnit : undefined;
        const perHour = kind === "Core" ? usageUnit === "h" : usageUnit === "GiBy.h";
        if (!perHour)
          bad(
            `${where}: usageUnit is ${describe(usageUnit)}, expected ${kind === "Core" ? '"h"' : '"GiBy.h"'}`,
          );
        for (const r of sku.serviceRegions as string[])
          (kind === "Core" ? core : ram)[r] = units + nanos / 1e9;
      });
      token = typeof body.nextPageToken === "string" ? body.nextPageToken : "";
      if (!token) break;
    }
    const figures: Figures = {};
    for (const size of ctx.sizes) {
      const shape = e2Shape(size);
      if (!shape) continue;
      const regions: Record<string, number> = {};
      for (const r of Object.keys(core).sort())
        if (r in ram) regions[r] = round6(shape.vcpus * core[r] + shape.gb * ram[r]);
      if (Object.keys(regions).length) figures[size] = regions;
    }
    return figures;
  },
};

/** The clouds with a price API, and how each is read. */
export const PRICE_APIS: Readonly<Partial<Record<CloudName, PriceApi>>> = {
  aws,
  azure,
  digitalocean,
  gcp,
  hetzner,
};

/** The clouds `fleet prices --update` can refresh. */
export const UPDATABLE_CLOUDS = CLOUDS.filter((c) => PRICE_APIS[c] !== undefined);

/** The environment variable that replaces a cloud's price API base URL. */
export function baseUrlVariable(cloud: CloudName): string {
  return `FLEET_PRICES_${cloud.toUpperCase()}_URL`;
}

/** fleet's sizes of a cloud (default first, then small, medium, large), each once. */
export function fleetSizes(d: CloudDefaults): string[] {
  return [...new Set([d.size, d.sizes.small, d.sizes.medium, d.sizes.large])];
}

/** What a size is to fleet, for the comment beside it: "the default size", "small", … */
function roleOf(size: string, d: CloudDefaults): string | undefined {
  const names = [
    ...(d.size === size ? ["the default"] : []),
    ...(["small", "medium", "large"] as const).filter((a) => d.sizes[a] === size),
  ];
  if (!names.length) return undefined;
  const joined =
    names.length === 1
      ? names[0]
      : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  return names[0] === "the default" ? `${joined} size` : joined;
}

const PLAIN = /^[A-Za-z0-9][A-Za-z0-9 ._/:()+,;'=&?~%-]*$/;

/** A YAML scalar for `text`: plain when safe, else double-quoted (JSON is valid YAML). */
function scalar(text: string): string {
  return PLAIN.test(text) &&
    !/: | #|:$/.test(text) &&
    !/^(true|false|null|yes|no|on|off|~|[-+.\d].*)$/i.test(text)
    ? text
    : JSON.stringify(text);
}

/** `key: value`, or a folded block (`>-`) wrapped under 96 columns when it is long. */
function entry(indent: string, key: string, text: string): string[] {
  const one = `${indent}${key}: ${scalar(text)}`;
  if (one.length <= 96 || /\n|^\s|\s$|\s\s/.test(text)) return [one];
  const out = [`${indent}${key}: >-`];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && `${indent}  ${line} ${word}`.length > 96) {
      out.push(`${indent}  ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(`${indent}  ${line}`);
  return out;
}

/**
 * The text of a price file: `header` (its leading comment lines, kept as written), then the
 * table; each size of fleet's carries a comment saying what it is to fleet.
 */
export function renderPriceTable(
  header: string,
  table: PriceTable,
  d: CloudDefaults | undefined,
): string {
  const out: string[] = [];
  if (header) out.push(header.replace(/\n+$/, ""));
  out.push(`currency: ${table.currency}`, "unit: hour", "sources:");
  for (const s of table.sources) {
    out.push(`  - id: ${s.id}`);
    if (s.url !== undefined) out.push(...entry("    ", "url", s.url));
    out.push(`    read: "${s.read}"`);
    if (s.note !== undefined) out.push(...entry("    ", "note", s.note));
  }
  const sizes = Object.entries(table.sizes);
  if (!sizes.length) out.push("sizes: {}");
  else out.push("sizes:");
  for (const [size, p] of sizes) {
    const role = d && roleOf(size, d);
    out.push(`  ${size}:${role ? ` # ${role}` : ""}`, `    source: ${p.source}`, "    regions:");
    for (const [r, v] of Object.entries(p.regions))
      out.push(`      ${r === ANY_REGION ? '"*"' : r}: ${v}`);
  }
  const unknown = Object.entries(table.unknown);
  if (unknown.length) {
    out.push("unknown:");
    for (const [size, why] of unknown) out.push(...entry("  ", size, why));
  }
  return `${out.join("\n")}\n`;
}

/** The leading comment block of a price file. */
function headerOf(text: string): string {
  const lines = text.split("\n");
  const end = lines.findIndex((l) => l.trim() !== "" && !l.startsWith("#"));
  return lines.slice(0, end < 0 ? lines.length : end).join("\n");
}

/** The outcome of updating one cloud. */
export interface CloudUpdate {
  /** The cloud. */
  cloud: CloudName;
  /** The file written. */
  file: string;
  /** The day the prices were read (YYYY-MM-DD, UTC). */
  read: string;
  /** Where they were read. */
  url: string;
  /** The currency of the table. */
  currency: Currency;
  /** fleet's sizes whose figures were updated, with the figures. */
  updated: Figures;
  /** fleet's sizes the response had no price for (left as they were). */
  missing: string[];
}

/** Options of `updatePrices`. */
export interface UpdateOptions {
  /** The directory of the price files. @default fleet's own `config/prices/` */
  dir?: string;
  /** The environment (credentials, `FLEET_PRICES_<CLOUD>_URL`). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** `fetch`. @default the global fetch */
  fetch?: typeof fetch;
  /** Today, for the `read` date. @default new Date() */
  now?: Date;
  /** Loads a cloud's defaults (its sizes). @default loadCloudDefaults */
  defaultsOf?: (cloud: CloudName) => CloudDefaults;
}

/** The region a default region is priced under (a GCP zone `us-central1-a` → `us-central1`). */
function regionOfDefault(cloud: CloudName, region: string): string {
  return cloud === "gcp" ? region.replace(/-[a-z]$/, "") : region;
}

/**
 * Reads `cloud`'s price API and rewrites `config/prices/<cloud>.yaml` with the new figures of
 * fleet's sizes and today's `read` date. Sizes the response does not price keep their figures
 * (or stay under `unknown`). On any error nothing is written.
 */
export async function updatePrices(
  cloud: CloudName,
  options: UpdateOptions = {},
): Promise<CloudUpdate> {
  const api = PRICE_APIS[cloud];
  const env = options.env ?? process.env;
  if (!api) {
    throw new FleetConfigError(
      "--cloud",
      cloud,
      `one of ${UPDATABLE_CLOUDS.join(", ")} (the clouds with a price API)`,
      "no price API:",
    );
  }
  const fail: (where: string, what: string) => never = (where, what) => {
    throw new PriceUpdateError(cloud, where, what);
  };
  const credential = api.credential ? env[api.credential.env] : undefined;
  if (api.credential && !credential)
    fail(
      api.credential.env,
      `not set: ${api.endpoint} needs ${api.credential.what}; set ${api.credential.env} and run again`,
    );
  const override = env[baseUrlVariable(cloud)];
  let base = api.base;
  if (override) {
    if (!/^https?:\/\/[^\s]+$/.test(override))
      fail(baseUrlVariable(cloud), `${describe(override)} is not an http(s) URL`);
    base = override.replace(/\/+$/, "");
  }

  const dir = options.dir ?? pricesDir();
  const file = path.join(dir, `${cloud}.yaml`);
  const where = `config/prices/${cloud}.yaml`;
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const table: PriceTable = text
    ? parsePriceTable(cloud, text, where)
    : { cloud, currency: api.currency, sources: [], sizes: {}, unknown: {} };
  const d = (options.defaultsOf ?? ((c: CloudName) => loadCloudDefaults(c)))(cloud);
  const sizes = fleetSizes(d);
  const regions = [
    ...new Set([
      regionOfDefault(cloud, d.region),
      ...sizes
        .flatMap((s) => Object.keys(table.sizes[s]?.regions ?? {}))
        .filter((r) => r !== ANY_REGION),
    ]),
  ];

  const figures = await api.read(
    { base, credential, sizes, regions, fetch: options.fetch ?? fetch },
    fail,
  );
  const updated: Figures = {};
  for (const s of sizes) if (figures[s] && Object.keys(figures[s]).length) updated[s] = figures[s];
  const missing = sizes.filter((s) => !(s in updated));
  const shownUrl = api.endpoint.replace(api.base, base);
  if (!Object.keys(updated).length)
    fail(`GET ${shownUrl}`, `the response prices none of fleet's sizes (${sizes.join(", ")})`);

  const now = options.now ?? new Date();
  const read = now.toISOString().slice(0, 10);
  const id = `${cloud}-api`;
  const source: PriceSource = { id, url: shownUrl, read, note: api.note };
  const newSizes: Record<string, SizePrices> = { ...table.sizes };
  for (const [s, regionsOf] of Object.entries(updated))
    newSizes[s] = { source: id, regions: regionsOf };
  const unknown = Object.fromEntries(
    Object.entries(table.unknown).filter(([s]) => !(s in updated)),
  );
  if (table.currency !== api.currency) {
    const stale = Object.entries(newSizes)
      .filter(([, p]) => p.source !== id)
      .map(([s]) => s);
    if (stale.length)
      fail(
        `GET ${shownUrl}`,
        `the API prices in ${api.currency} but ${where} is in ${table.currency} and also prices ${stale.join(", ")}; move those to ${api.currency} (or remove them) first`,
      );
  }
  const used = new Set(Object.values(newSizes).map((p) => p.source));
  const sources = [...table.sources.filter((s) => s.id !== id && used.has(s.id)), source];
  const next: PriceTable = { cloud, currency: api.currency, sources, sizes: newSizes, unknown };
  const rendered = renderPriceTable(headerOf(text), next, d);
  // The file must read back as exactly what was meant: validate before anything is replaced.
  parsePriceTable(cloud, rendered, where);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, rendered);
  fs.renameSync(tmp, file);
  return { cloud, file, read, url: shownUrl, currency: api.currency, updated, missing };
}
