/**
 * Prices: one dated table per cloud (`config/prices/<cloud>.yaml`) of on-demand hourly prices
 * per size, per region where they differ, in the cloud's own currency (USD, or EUR for Hetzner),
 * each figure tied to a cited source. Loaded with js-yaml, validated with zod; a malformed file
 * is an error naming the file, the key and the value.
 *
 * An unknown price is `undefined` (in JSON: `null`), never 0: 0 is a real price (the local
 * cloud's). Arithmetic is done in whole millionths of the currency so totals do not drift, and
 * totals are per currency: fleet never adds euros to dollars (nor converts one into the other).
 *
 * `orderByPrice` sorts placement candidates cheapest first (unknown prices last, stable); the
 * capacity failover (`fleet:placements: cheapest`) calls it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { z } from "zod";
import { CLOUDS, type CloudName } from "../strategies/registry";
import { FleetConfigError } from "./errors";
import { defaultsDir } from "./paths";
import { IDENTIFIER } from "./rules";

/** Hours in the "30 days" fleet reports costs for. */
export const HOURS_PER_30_DAYS = 30 * 24;

/** The region key that gives one price for every region of a size. */
export const ANY_REGION = "*";

/** A source of figures in a price file. */
export interface PriceSource {
  /** Short id the sizes refer to. */
  id: string;
  /** Where the figures were read (absent only where nobody publishes a price: the local cloud). */
  url?: string;
  /** The day they were read (YYYY-MM-DD). */
  read: string;
  /** What the source is and how far to trust it. */
  note?: string;
}

/** The prices of one size. */
export interface SizePrices {
  /** The `PriceSource.id` the figures come from. */
  source: string;
  /** Region → price per hour in the table's currency; `*` is every region not listed. */
  regions: Readonly<Record<string, number>>;
}

/** An ISO 4217 currency code: `USD`, `EUR`, … */
export type Currency = string;

/** The currency of a table that does not say (and of an empty fleet's totals). */
export const DEFAULT_CURRENCY: Currency = "USD";

/** One cloud's price table, as `config/prices/<cloud>.yaml` declares it. */
export interface PriceTable {
  /** The cloud. */
  cloud: CloudName;
  /** The currency of every figure in the table (ISO 4217: `USD`, `EUR`). */
  currency: Currency;
  /** Where the figures come from, dated. */
  sources: readonly PriceSource[];
  /** Size → prices. */
  sizes: Readonly<Record<string, SizePrices>>;
  /** Sizes looked for and not verified: size → why (their price is unknown). */
  unknown: Readonly<Record<string, string>>;
}

/** Every cloud's price table (a cloud without a file has no prices: all unknown). */
export type PriceBook = Partial<Record<CloudName, PriceTable>>;

/** A place a worker can run: the shape of a placement candidate. */
export interface Candidate {
  /** The cloud. */
  cloud: CloudName;
  /** Provider region (a GCP zone is priced as its region). */
  region?: string;
  /** Provider size (abstract sizes must be resolved first: see `resolveSize`). */
  size?: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_PRICE = 1000;
const CURRENCY = /^[A-Z]{3}$/;

const price = z.number().finite().min(0).max(MAX_PRICE);
const regionKey = z.string().refine((k) => k === ANY_REGION || IDENTIFIER.test(k));

const schema = z
  .object({
    currency: z.string().regex(CURRENCY),
    unit: z.literal("hour"),
    sources: z
      .array(
        z
          .object({
            id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/),
            url: z.string().url().optional(),
            read: z.string().regex(DATE),
            note: z.string().optional(),
          })
          .strict(),
      )
      .min(1),
    sizes: z.record(
      z.string().regex(IDENTIFIER),
      z.object({ source: z.string(), regions: z.record(regionKey, price) }).strict(),
    ),
    unknown: z.record(z.string().regex(IDENTIFIER), z.string()).optional(),
  })
  .strict();

const ALLOWED: Record<string, string> = {
  "": "the keys currency (USD, EUR, …), unit (hour), sources, sizes and unknown",
  currency: "an ISO 4217 currency code in capitals, such as USD or EUR",
  unit: "hour (prices are per instance-hour)",
  sources: "a list of { id, url, read: YYYY-MM-DD, note? }",
  sizes: "a mapping of size → { source, regions: { <region or *>: <price per hour> } }",
  unknown: "a mapping of size → why its price is unknown",
};

function allowedFor(at: (string | number)[]): string {
  if (at[0] === "sizes" && at.length >= 4 && at[2] === "regions")
    return `a price per hour in the table's currency: a number from 0 to ${MAX_PRICE}, under a region name or ${ANY_REGION}`;
  if (at[0] === "sizes" && at.length >= 3)
    return "a size is { source, regions: { <region or *>: <price per hour> } }";
  if (at[0] === "sources" && at.length >= 3 && at[2] === "read") return "a date as YYYY-MM-DD";
  if (at[0] === "sources" && at.length >= 3 && at[2] === "url") return "a URL";
  if (at[0] === "sources" && at.length >= 3 && at[2] === "id")
    return "an id of lowercase letters, digits and -";
  return ALLOWED[String(at[0] ?? "")] ?? ALLOWED[""];
}

/**
 * Parses and validates the text of a price file. `where` names the file in errors. Pure:
 * tested with inline YAML.
 */
export function parsePriceTable(cloud: CloudName, text: string, where: string): PriceTable {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: where, schema: yaml.CORE_SCHEMA });
  } catch (e) {
    const reason =
      e instanceof yaml.YAMLException
        ? `${e.reason}${e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : ""}`
        : String(e).split("\n")[0];
    throw new FleetConfigError(
      where,
      "(unparsable YAML)",
      "valid YAML",
      `malformed YAML (${reason}):`,
    );
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new FleetConfigError(where, doc, ALLOWED[""], "not a price table:");
  const result = schema.safeParse(doc);
  if (!result.success) {
    // A typo shows up twice (the misspelt key is unknown, the intended one missing): name the typo.
    const issues = result.error.issues;
    const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
    const at = issue.path;
    if (issue.code === "unrecognized_keys") {
      const parent = at.length ? `${at.join(".")}.` : "";
      throw new FleetConfigError(
        `${where}: ${parent}${issue.keys[0]}`,
        issue.keys[0],
        allowedFor(at),
        "unknown key (a typo?):",
      );
    }
    const got = at.reduce<unknown>(
      (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
      doc,
    );
    // A bad key in a record (a region or size name) is reported at the key itself.
    const isKey = issue.code === "invalid_string" || issue.code === "custom";
    const shown = isKey && got === undefined ? at[at.length - 1] : got;
    throw new FleetConfigError(
      `${where}: ${at.join(".") || "(top level)"}`,
      shown,
      allowedFor(at),
      issue.code === "invalid_type" && got === undefined ? "missing:" : "invalid value:",
    );
  }
  const v = result.data;
  const ids = new Set(v.sources.map((s) => s.id));
  for (const [size, p] of Object.entries(v.sizes)) {
    if (!ids.has(p.source)) {
      throw new FleetConfigError(
        `${where}: sizes.${size}.source`,
        p.source,
        `one of the source ids: ${[...ids].join(", ")}`,
        "unknown source:",
      );
    }
    if (!Object.keys(p.regions).length) {
      throw new FleetConfigError(
        `${where}: sizes.${size}.regions`,
        p.regions,
        `at least one region (or ${ANY_REGION}) with its price; leave an unverified size out, or list it under unknown`,
        "no prices:",
      );
    }
    if (v.unknown && size in v.unknown) {
      throw new FleetConfigError(
        `${where}: unknown.${size}`,
        size,
        "a size is either priced under sizes or listed under unknown, not both",
        "contradiction:",
      );
    }
  }
  return {
    cloud,
    currency: v.currency,
    sources: v.sources,
    sizes: v.sizes,
    unknown: v.unknown ?? {},
  };
}

/** The directory of the price files (`config/prices/`). */
export function pricesDir(): string {
  return path.join(defaultsDir(), "prices");
}

const cache = new Map<string, PriceTable | undefined>();

/**
 * Loads `config/prices/<cloud>.yaml` from `dir` (fleet's own by default), cached per file.
 * A missing file means "no prices known" (undefined); an unreadable or malformed one is an error.
 */
export function loadPriceTable(
  cloud: CloudName,
  dir: string = pricesDir(),
): PriceTable | undefined {
  const file = path.join(dir, `${cloud}.yaml`);
  if (cache.has(file)) return cache.get(file);
  const where = `config/prices/${cloud}.yaml`;
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") {
      throw new FleetConfigError(
        where,
        file,
        "a readable price file (or none: every price of the cloud is then unknown)",
        `cannot read (${code ?? String(e)}):`,
      );
    }
  }
  const table = text === undefined ? undefined : parsePriceTable(cloud, text, where);
  cache.set(file, table);
  return table;
}

/** Every cloud's price table from `dir` (fleet's own by default). */
export function loadPriceBook(dir: string = pricesDir()): PriceBook {
  const book: PriceBook = {};
  for (const c of CLOUDS) {
    const t = loadPriceTable(c, dir);
    if (t) book[c] = t;
  }
  return book;
}

/**
 * The hourly price of `size` in `region` of `cloud`, in the currency of the cloud's table
 * (`currencyOf`), or undefined when unknown. The region is looked up as given, then as the
 * longest listed region it belongs to (a zone such as GCP's `us-central1-a` is priced as
 * `us-central1`), then under `*`.
 */
export function priceOf(book: PriceBook, c: Candidate): number | undefined {
  if (c.size === undefined) return undefined;
  const regions = book[c.cloud]?.sizes[c.size]?.regions;
  if (!regions) return undefined;
  if (c.region !== undefined) {
    if (Object.hasOwn(regions, c.region)) return regions[c.region];
    let best: string | undefined;
    for (const r of Object.keys(regions))
      if (r !== ANY_REGION && c.region.startsWith(`${r}-`) && r.length > (best?.length ?? 0))
        best = r;
    if (best !== undefined) return regions[best];
  }
  return Object.hasOwn(regions, ANY_REGION) ? regions[ANY_REGION] : undefined;
}

/** The currency of `cloud`'s prices (its table's; USD for a cloud without a table). */
export function currencyOf(book: PriceBook, cloud: CloudName): Currency {
  return book[cloud]?.currency ?? DEFAULT_CURRENCY;
}

/** A price with its currency. */
export interface Price {
  /** Per hour, in `currency`. */
  amount: number;
  /** ISO 4217 code. */
  currency: Currency;
}

/**
 * A price lookup: a price book, or a function (for tests and callers with their own table). A
 * function returns a bare number (taken as USD) or a `Price`.
 */
export type PriceLookup = PriceBook | ((c: Candidate) => number | Price | undefined);

function lookup(prices: PriceLookup): (c: Candidate) => Price | undefined {
  if (typeof prices === "function") {
    return (c) => {
      const p = prices(c);
      return typeof p === "number" ? { amount: p, currency: DEFAULT_CURRENCY } : p;
    };
  }
  return (c) => {
    const amount = priceOf(prices, c);
    return amount === undefined ? undefined : { amount, currency: currencyOf(prices, c.cloud) };
  };
}

/**
 * `candidates` ordered by hourly price, cheapest first; candidates whose price is unknown come
 * last; equal prices (and unknowns among themselves) keep their order. Prices in different
 * currencies are never compared (fleet converts nothing): the currencies keep the order in which
 * they first appear among the candidates, and each is ordered cheapest first. Returns a new
 * array of the same objects. Candidates need a concrete `size` (and `region`) to be priced:
 * resolve defaults and abstract sizes first.
 */
export function orderByPrice<T extends Candidate>(
  candidates: readonly T[],
  prices: PriceLookup,
): T[] {
  const of = lookup(prices);
  const rank = new Map<Currency, number>();
  const priced = candidates.map((c, i) => {
    const p = of(c);
    if (p && !rank.has(p.currency)) rank.set(p.currency, rank.size);
    return { c, i, p };
  });
  return priced
    .sort((a, b) => {
      if (a.p === undefined || b.p === undefined)
        return a.p === b.p ? a.i - b.i : a.p === undefined ? 1 : -1;
      const byCurrency = (rank.get(a.p.currency) ?? 0) - (rank.get(b.p.currency) ?? 0);
      return byCurrency || a.p.amount - b.p.amount || a.i - b.i;
    })
    .map((x) => x.c);
}

/** Millionths (integer) from an amount. */
const micros = (amount: number) => Math.round(amount * 1e6);
/** An amount from millionths. */
const fromMicros = (m: number) => m / 1e6;

/** A worker as cost needs it. */
export interface PricedWorkerInput extends Candidate {
  /** The worker name. */
  name: string;
}

/** The sum of the known prices in one currency. */
export interface CurrencyTotal {
  /** ISO 4217 code. */
  currency: Currency;
  /** Per hour. */
  perHour: number;
  /** Per 30 days (720 h). */
  per30Days: number;
  /** The workers priced in this currency. */
  workers: string[];
}

/** What a fleet costs. */
export interface FleetCost {
  /**
   * The one currency of every known price (USD for an empty fleet), or null when the fleet mixes
   * currencies: then the single-currency fields below are null and `totals` has one entry per
   * currency.
   */
  currency: Currency | null;
  /** Hours in "30 days" (720). */
  hoursPer30Days: number;
  /** Each worker's hourly price and its currency, both null when the price is unknown. */
  workers: {
    name: string;
    cloud: CloudName;
    region?: string;
    size?: string;
    pricePerHour: number | null;
    currency: Currency | null;
  }[];
  /** The fleet per hour; null when any worker's price is unknown or currencies are mixed. */
  perHour: number | null;
  /** The fleet per 30 days (720 h); null when any price is unknown or currencies are mixed. */
  per30Days: number | null;
  /** The sum of the prices that are known, per hour; null when currencies are mixed. */
  knownPerHour: number | null;
  /** The sum of the prices that are known, per 30 days; null when currencies are mixed. */
  knownPer30Days: number | null;
  /** The sums of the known prices, one per currency, in order of first appearance. */
  totals: CurrencyTotal[];
  /** Workers whose price is unknown. */
  unknown: string[];
}

/** Prices each worker and totals them per currency (per hour and per 30 days of 24 h). */
export function fleetCost(workers: readonly PricedWorkerInput[], prices: PriceLookup): FleetCost {
  const of = lookup(prices);
  const sums = new Map<Currency, { micros: number; workers: string[] }>();
  const unknown: string[] = [];
  const priced = workers.map((w) => {
    const p = of(w);
    if (p === undefined) unknown.push(w.name);
    else {
      const sum = sums.get(p.currency) ?? { micros: 0, workers: [] };
      sum.micros += micros(p.amount);
      sum.workers.push(w.name);
      sums.set(p.currency, sum);
    }
    return {
      name: w.name,
      cloud: w.cloud,
      region: w.region,
      size: w.size,
      pricePerHour: p?.amount ?? null,
      currency: p?.currency ?? null,
    };
  });
  const totals: CurrencyTotal[] = [...sums].map(([currency, s]) => ({
    currency,
    perHour: fromMicros(s.micros),
    per30Days: fromMicros(s.micros * HOURS_PER_30_DAYS),
    workers: s.workers,
  }));
  const single: CurrencyTotal | undefined =
    totals.length > 1
      ? undefined
      : (totals[0] ?? { currency: DEFAULT_CURRENCY, perHour: 0, per30Days: 0, workers: [] });
  return {
    currency: single?.currency ?? null,
    hoursPer30Days: HOURS_PER_30_DAYS,
    workers: priced,
    perHour: single && !unknown.length ? single.perHour : null,
    per30Days: single && !unknown.length ? single.per30Days : null,
    knownPerHour: single ? single.perHour : null,
    knownPer30Days: single ? single.per30Days : null,
    totals,
    unknown,
  };
}

const SYMBOLS: Readonly<Record<string, string>> = { USD: "$", EUR: "€", GBP: "£" };

/**
 * `$0.0104` (USD), `€0.0060` (EUR), `0.0104 CHF` (a currency without a symbol here) for a
 * price; `unknown` for none (never `$0`).
 */
export function formatPrice(
  amount: number | null | undefined,
  digits = 4,
  currency: Currency | null = DEFAULT_CURRENCY,
): string {
  if (amount === null || amount === undefined) return "unknown";
  const figure = amount.toFixed(Math.max(digits, amount !== 0 && amount < 0.0001 ? 6 : digits));
  const code = currency ?? DEFAULT_CURRENCY;
  const symbol = SYMBOLS[code];
  return symbol ? `${symbol}${figure}` : `${figure} ${code}`;
}

const PER_30 = `per 30 days (${HOURS_PER_30_DAYS} h)`;

function sumText(t: CurrencyTotal): string {
  return `${formatPrice(t.perHour, 4, t.currency)} per hour, ${formatPrice(t.per30Days, 2, t.currency)} ${PER_30}`;
}

/**
 * The total lines under `fleet list`'s and `fleet cost`'s tables: one total, or one per currency
 * when the fleet mixes currencies (they are never added together).
 */
export function costLines(cost: FleetCost): string[] {
  if (!cost.workers.length) return [];
  const { totals, unknown } = cost;
  if (!unknown.length) {
    if (totals.length === 1) return [`total: ${sumText(totals[0])}, on-demand list prices`];
    return [
      ...totals.map((t) => `total in ${t.currency}: ${sumText(t)}`),
      `(on-demand list prices; totals are per currency: fleet does not convert ${totals.map((t) => t.currency).join(" and ")})`,
    ];
  }
  const known = totals.length
    ? `the workers with a known price cost ${totals.map((t) => `${sumText(t)}${totals.length > 1 ? ` in ${t.currency}` : ""}`).join(", and ")}`
    : "no worker has a known price";
  return [`total: unknown (no price for ${unknown.join(", ")}); ${known}`];
}
