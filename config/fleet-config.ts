/**
 * Stack config → one validated, typed `FleetConfig`. Pure: the program, CloudContext and the
 * `fleet` command all call this same function before anything reaches the engine.
 *
 * Layering, lowest first: `config/<cloud>.yaml` ← stack keys (`fleet:region`, `fleet:size`,
 * `fleet:image`, applied to workers on the stack's default cloud) ← a worker item's own fields.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import type { WorkerSpec } from "../strategies/contract";
import { REGISTRY, descriptor } from "../strategies/registry";
import { assertSshKeys, assertWorkerNames } from "./cloud-rules";
import { type CloudDefaults, loadCloudDefaults } from "./defaults";
import { validateExpiresAt, validateTtl } from "./expiry";
import { FleetConfigError, FleetConfigErrors, looksLikeCredential } from "./errors";
import { type Placement, candidatesOf, parsePlacements } from "./placements";
import { type PriceBook, currencyOf, loadPriceBook, orderByPrice, priceOf } from "./prices";
import { STATE_REVISION_KEY } from "./shared-state";
import {
  type CloudName,
  CLOUDS,
  DEFAULT_CLOUD,
  isAbstractSize,
  parseCloud,
  validateCidr,
  validateIdentifier,
  validateSshPublicKey,
  validateTag,
  validateWorkerName,
} from "./rules";

/** The project name; config keys are `fleet:<key>`. */
export const PROJECT = "fleet";

/** The most user data any supported cloud accepts (AWS: 16 KiB). */
export const MAX_USER_DATA_BYTES = 16 * 1024;

/** Keys every stack may set, besides each cloud's `extraKeys`. */
export const BASE_STACK_KEYS = [
  "cloud",
  "workers",
  "region",
  "size",
  "image",
  "sshPublicKeys",
  "sshAllowFrom",
  "userDataFile",
  "tags",
  "placements",
  "placementOrder",
  // Written by fleet on a shared backend (config/shared-state.ts), never by hand.
  "stateRevision",
] as const;

/** Every `fleet:` key a stack may set. */
export function knownStackKeys(): string[] {
  const extras = Object.values(REGISTRY).flatMap((d) => ("extraKeys" in d ? d.extraKeys : []));
  return [...BASE_STACK_KEYS, ...new Set(extras)];
}

/** An item of `fleet:workers` as a person writes it: a name, or an object with overrides. */
export type WorkerEntry = string | WorkerOverrides;

/** Per-worker overrides; anything omitted comes from the stack or the cloud's defaults. */
export interface WorkerOverrides {
  /** The worker name. */
  name: string;
  /** Its own cloud; omitted → the stack's default cloud (and it moves when that changes). */
  cloud?: CloudName;
  /** Its own region. */
  region?: string;
  /** Its own size: a provider size or `small`/`medium`/`large`. */
  size?: string;
  /** Its own image. */
  image?: string;
  /**
   * Its own placement candidates, tried in order while it has no `cloud` of its own
   * (config/placements.ts). @default `fleet:placements`
   */
  placements?: Placement[];
  /** How long it lives (`30m`, `2h`, `1d`; 5m–30d); fleet records `expiresAt` from it at create time. */
  ttl?: string;
  /** When it expires (ISO-8601 UTC), written by fleet at create time; `fleet reap` removes it after. */
  expiresAt?: string;
}

/** fleet's whole configuration for one stack, validated. */
export interface FleetConfig {
  /** The Pulumi project (`fleet`). */
  project: string;
  /** The stack name. */
  stack: string;
  /** The stack's default cloud (`fleet:cloud`). */
  cloud: CloudName;
  /** `fleet:workers` as written, normalised (names trimmed of nothing: they are validated). */
  entries: WorkerEntry[];
  /** Every worker with all settings resolved, in declaration order. */
  workers: WorkerSpec[];
  /** The clouds that have at least one worker, sorted. */
  clouds: CloudName[];
  /** `fleet:sshPublicKeys`. @default [] */
  sshPublicKeys: string[];
  /** `fleet:sshAllowFrom`. @default [] (no inbound traffic) */
  sshAllowFrom: string[];
  /** Contents of `fleet:userDataFile`, when set. */
  userData?: string;
  /** Ownership tags plus `fleet:tags`. */
  tags: Record<string, string>;
  /** Per-cloud extras (`config/<cloud>.yaml` ← `fleet:<extraKey>`), for the clouds in use. */
  extras: Partial<Record<CloudName, Record<string, string>>>;
  /** `fleet:placements`: placement candidates of workers without their own. @default [] */
  placements: Placement[];
  /**
   * `fleet:placementOrder`: `listed` tries candidates in the order written; `cheapest` tries them
   * by hourly price (`config/prices/<cloud>.yaml`), cheapest first, unknown prices last.
   * @default "listed"
   */
  placementOrder: PlacementOrder;
  /** The project directory, where relative paths and the local cloud's files are resolved. */
  projectDir: string;
}

/** How placement candidates are ordered. */
export type PlacementOrder = "listed" | "cheapest";
const PLACEMENT_ORDERS: readonly PlacementOrder[] = ["listed", "cheapest"];

/**
 * A worker's placement candidates in the order they are tried: as written (`listed`), or
 * (`cheapest`) by hourly price, each candidate priced at the region and size it would really
 * get (the cloud's defaults and abstract sizes resolved), unknown prices last, ties as written.
 * Prices in different currencies are not compared: each currency is ordered in itself, the
 * currencies in the order they first appear (see `orderByPrice`).
 */
export function orderPlacements(
  order: PlacementOrder,
  candidates: readonly Placement[] | undefined,
  sources: {
    defaultsOf?: (cloud: CloudName) => CloudDefaults | undefined;
    prices?: () => PriceBook;
  } = {},
): readonly Placement[] | undefined {
  if (!candidates || order === "listed") return candidates;
  const defaultsOf = sources.defaultsOf ?? ((c: CloudName) => loadCloudDefaults(c));
  const prices = (sources.prices ?? loadPriceBook)();
  return orderByPrice(candidates, (c) => {
    const d = defaultsOf(c.cloud);
    if (!d) return undefined;
    const amount = priceOf(prices, {
      cloud: c.cloud,
      region: c.region ?? d.region,
      size: resolveSize(c.size ?? d.size, d),
    });
    return amount === undefined ? undefined : { amount, currency: currencyOf(prices, c.cloud) };
  });
}

/** What `parseFleetConfig` needs besides the config values. */
export interface ParseOptions {
  /** Stack name, for ownership tags. */
  stack: string;
  /** Keys whose values are secrets. */
  secretKeys?: ReadonlySet<string>;
  /** Where relative paths (`fleet:userDataFile`) are resolved. @default process.cwd() */
  projectDir?: string;
  /** Loads a cloud's defaults. @default loadCloudDefaults (fleet's `config/<cloud>.yaml`) */
  loadDefaults?: (cloud: CloudName) => CloudDefaults;
  /**
   * Reads the user-data file. @default a bounded read of a regular file (a FIFO, a device or
   * a file over the limit is refused without being read)
   */
  readFile?: (file: string) => Buffer;
  /** Loads the price tables, for `fleet:placementOrder: cheapest`. @default loadPriceBook */
  loadPrices?: () => PriceBook;
}

const WorkerObject = z
  .object({
    name: z.unknown(),
    cloud: z.unknown().optional(),
    region: z.unknown().optional(),
    size: z.unknown().optional(),
    image: z.unknown().optional(),
    placements: z.unknown().optional(),
    ttl: z.unknown().optional(),
    expiresAt: z.unknown().optional(),
  })
  .strict();

/** Parses a JSON-encoded config value (how Pulumi hands structured values to programs). */
function parseStructured(key: string, raw: string, allowed: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new FleetConfigError(key, raw, allowed, "not valid JSON/YAML structure:");
  }
}

function parseStringList(
  key: string,
  raw: string | undefined,
  item: (k: string, v: unknown) => string,
  allowed: string,
): string[] {
  if (raw === undefined || raw === "") return [];
  let value: unknown = raw;
  if (raw.trimStart().startsWith("[")) value = parseStructured(key, raw, allowed);
  else value = [raw]; // a single value written as a plain string
  if (!Array.isArray(value)) throw new FleetConfigError(key, value, allowed);
  return value.map((v, i) => item(`${key}[${i}]`, v));
}

/** Validates one `fleet:workers` item; returns it normalised. */
export function parseWorkerEntry(key: string, item: unknown): WorkerEntry {
  if (typeof item === "string") return validateWorkerName(key, item);
  if (!item || typeof item !== "object" || Array.isArray(item)) {
    throw new FleetConfigError(
      key,
      item,
      "each worker is a name, or an object { name, cloud?, region?, size?, image?, ttl?, expiresAt? }",
      "invalid worker:",
    );
  }
  const parsed = WorkerObject.safeParse(item);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const bad = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join(".");
    throw new FleetConfigError(
      `${key}.${bad}`,
      bad,
      "a worker object may have name, cloud, region, size, image, placements, ttl and expiresAt",
      "unknown worker field:",
    );
  }
  const o = parsed.data;
  const entry: WorkerOverrides = { name: validateWorkerName(`${key}.name`, o.name) };
  if (o.cloud !== undefined) entry.cloud = parseCloud(`${key}.cloud`, o.cloud);
  if (o.region !== undefined)
    entry.region = validateIdentifier(`${key}.region`, o.region, "region");
  if (o.size !== undefined) entry.size = validateIdentifier(`${key}.size`, o.size, "size");
  if (o.image !== undefined) entry.image = validateIdentifier(`${key}.image`, o.image, "image");
  if (o.placements !== undefined) {
    entry.placements = parsePlacements(`${key}.placements`, o.placements);
    if (entry.cloud === undefined && (entry.region !== undefined || entry.size !== undefined))
      throw new FleetConfigError(
        `${key}.placements`,
        o.placements,
        "region and size come from the placement; set them per candidate, or set cloud too (a worker with a cloud stays where it is)",
        "placements with a region or size but no cloud:",
      );
  }
  if (o.ttl !== undefined) entry.ttl = validateTtl(`${key}.ttl`, o.ttl);
  if (o.expiresAt !== undefined)
    entry.expiresAt = validateExpiresAt(`${key}.expiresAt`, o.expiresAt);
  return entry;
}

/**
 * Validates a whole list of worker entries (the value of `fleet:workers`): every item, and
 * that names are unique. Throws every problem found at once.
 */
export function parseWorkerEntries(key: string, value: unknown): WorkerEntry[] {
  const allowed =
    "a list of worker names or { name, cloud?, region?, size?, image?, ttl?, expiresAt? } objects";
  if (!Array.isArray(value)) throw new FleetConfigError(key, value, allowed, "not a list:");
  const errors: FleetConfigError[] = [];
  const seen = new Map<string, number>();
  const entries: WorkerEntry[] = [];
  value.forEach((item, i) => {
    try {
      const entry = parseWorkerEntry(`${key}[${i}]`, item);
      const name = entryName(entry);
      const first = seen.get(name.toLowerCase());
      if (first !== undefined) {
        throw new FleetConfigError(
          `${key}[${i}]`,
          name,
          `worker names are unique in the stack, ignoring case (first at ${key}[${first}])`,
          "duplicate worker name:",
        );
      }
      seen.set(name.toLowerCase(), i);
      entries.push(entry);
    } catch (e) {
      if (!(e instanceof FleetConfigError)) throw e;
      errors.push(e);
    }
  });
  if (errors.length) throw new FleetConfigErrors(errors);
  return entries;
}

export function entryName(entry: WorkerEntry): string {
  return typeof entry === "string" ? entry : entry.name;
}

/** Resolves a size: abstract sizes through the cloud's table, anything else as given. */
export function resolveSize(size: string, defaults: CloudDefaults): string {
  return isAbstractSize(size) ? defaults.sizes[size] : size;
}

/**
 * Validates every `fleet:` key and the credentials of the clouds in use, and resolves each
 * worker's settings. Throws `FleetConfigError` (all problems at once) before anything else runs.
 */
export function parseFleetConfig(
  values: Readonly<Record<string, string>>,
  options: ParseOptions,
): FleetConfig {
  const secretKeys = options.secretKeys ?? new Set<string>();
  const loadDefaults = options.loadDefaults ?? ((c: CloudName) => loadCloudDefaults(c));
  const errors: FleetConfigError[] = [];
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FleetConfigErrors) errors.push(...e.errors);
      else if (e instanceof FleetConfigError) errors.push(e);
      else throw e;
      return fallback;
    }
  };
  const k = (name: string) => `${PROJECT}:${name}`;
  const known = knownStackKeys();

  // Typos and credentials in fleet's own keys.
  for (const [key, value] of Object.entries(values)) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const short = key.slice(PROJECT.length + 1);
    attempt(() => {
      if (!known.includes(short)) {
        throw new FleetConfigError(
          key,
          short,
          `known keys: ${known.map(k).join(", ")}`,
          "unknown config key (a typo?):",
        );
      }
      if (!secretKeys.has(key) && looksLikeCredential(value)) {
        throw new FleetConfigError(
          key,
          value,
          "fleet's keys never hold credentials; put cloud credentials where the cloud expects them (see the README)",
          "credential in plain stack config:",
        );
      }
    }, undefined);
  }

  const revision = values[k(STATE_REVISION_KEY)];
  if (revision !== undefined && !/^(none|[0-9a-f]{16})$/.test(revision)) {
    errors.push(
      new FleetConfigError(
        k(STATE_REVISION_KEY),
        revision,
        "a revision fleet wrote (16 hex digits, or none); `fleet sync` sets it",
      ),
    );
  }

  const cloud = attempt(
    () => parseCloud(k("cloud"), values[k("cloud")] ?? DEFAULT_CLOUD),
    DEFAULT_CLOUD,
  );

  const entries = attempt(() => {
    const raw = values[k("workers")];
    if (raw === undefined || raw === "") return [];
    return parseWorkerEntries(
      k("workers"),
      parseStructured(k("workers"), raw, "a list of worker names or { name, … } objects"),
    );
  }, [] as WorkerEntry[]);

  const stackRegion = attempt(() => optionalIdentifier(values, k("region"), "region"), undefined);
  const stackSize = attempt(() => optionalIdentifier(values, k("size"), "size"), undefined);
  const stackImage = attempt(() => optionalIdentifier(values, k("image"), "image"), undefined);
  const placements = attempt(() => {
    const raw = values[k("placements")];
    if (raw === undefined || raw === "") return [];
    return parsePlacements(
      k("placements"),
      parseStructured(k("placements"), raw, "a list of { cloud, region?, size? } objects"),
    );
  }, [] as Placement[]);
  const placementOrder = attempt((): PlacementOrder => {
    const raw = values[k("placementOrder")];
    if (raw === undefined || raw === "") return "listed";
    if (!(PLACEMENT_ORDERS as readonly string[]).includes(raw))
      throw new FleetConfigError(
        k("placementOrder"),
        raw,
        `one of ${PLACEMENT_ORDERS.join(", ")} (cheapest: by hourly price in config/prices/<cloud>.yaml)`,
        "unknown placement order:",
      );
    return raw as PlacementOrder;
  }, "listed");

  const sshPublicKeys = attempt(
    () =>
      parseStringList(
        k("sshPublicKeys"),
        values[k("sshPublicKeys")],
        validateSshPublicKey,
        "a list of OpenSSH public key lines",
      ),
    [],
  );
  const sshAllowFrom = attempt(
    () =>
      parseStringList(
        k("sshAllowFrom"),
        values[k("sshAllowFrom")],
        validateCidr,
        "a list of CIDR blocks",
      ),
    [],
  );

  const userData = attempt(() => readUserData(values[k("userDataFile")], options), undefined);

  const userTags = attempt(() => parseTags(k("tags"), values[k("tags")]), {});
  const tags: Record<string, string> = {
    ...userTags,
    "fleet:project": PROJECT,
    "fleet:stack": options.stack,
  };

  // Resolve every worker against its cloud's defaults.
  const defaultsByCloud = new Map<CloudName, CloudDefaults | undefined>();
  const defaultsOf = (c: CloudName) => {
    if (!defaultsByCloud.has(c))
      defaultsByCloud.set(
        c,
        attempt(() => loadDefaults(c), undefined),
      );
    return defaultsByCloud.get(c);
  };
  let book: PriceBook | undefined;
  const orderCandidates = (candidates: readonly Placement[] | undefined) =>
    orderPlacements(placementOrder, candidates, {
      defaultsOf,
      prices: () => (book ??= attempt(() => (options.loadPrices ?? loadPriceBook)(), {})),
    });
  const workers: WorkerSpec[] = [];
  const localRefused = new Set<string>();
  const refuseOnLocal = (key: string, value: unknown, what: string) => {
    if (localRefused.has(key)) return;
    localRefused.add(key);
    errors.push(
      new FleetConfigError(
        key,
        value,
        `local workers are processes on this machine: ${what}; remove the setting or give the worker another cloud`,
        "not supported by the local cloud:",
      ),
    );
  };
  // Clouds a worker may be moved to, with the workers that may land there.
  const candidateClouds = new Map<CloudName, { name: string }[]>();
  for (const p of placements) candidateClouds.set(p.cloud, candidateClouds.get(p.cloud) ?? []);
  for (const [i, entry] of entries.entries()) {
    const own: WorkerOverrides = typeof entry === "string" ? { name: entry } : entry;
    const candidates = orderCandidates(candidatesOf(own, placements));
    for (const p of candidates ?? []) {
      const list = candidateClouds.get(p.cloud) ?? [];
      list.push({ name: own.name });
      candidateClouds.set(p.cloud, list);
      const d = defaultsOf(p.cloud);
      // A candidate on the local cloud can only be the local cloud's own region and size.
      if (d && p.cloud === "local" && p.size !== undefined && resolveSize(p.size, d) !== d.size)
        refuseOnLocal(`${k("workers")}[${i}].placements`, p.size, `its size is always ${d.size}`);
    }
    // Without a cloud of its own, a worker is on its first candidate.
    const first = candidates?.[0];
    const o: WorkerOverrides = first
      ? { ...own, cloud: first.cloud, region: first.region, size: first.size }
      : own;
    const wc = o.cloud ?? cloud;
    const d = defaultsOf(wc);
    if (!d) continue;
    const onDefault = wc === cloud;
    const size = o.size ?? (onDefault ? stackSize : undefined) ?? d.size;
    workers.push({
      name: o.name,
      cloud: wc,
      region:
        o.region ?? (onDefault ? stackRegion : undefined) ?? providerRegion(values, wc) ?? d.region,
      size: resolveSize(size, d),
      image: o.image ?? (onDefault ? stackImage : undefined) ?? d.image,
    });
    if (wc === "local") {
      // Only the local cloud's own defaults (config/local.yaml) mean anything for a process.
      const stack = { region: stackRegion, size: stackSize, image: stackImage };
      for (const field of ["region", "size", "image"] as const) {
        const own = o[field];
        const [key, value] =
          own !== undefined
            ? [`${k("workers")}[${i}].${field}`, own]
            : onDefault && stack[field] !== undefined
              ? [k(field), stack[field]]
              : [undefined, undefined];
        if (key === undefined || value === undefined) continue;
        const resolved = field === "size" ? resolveSize(value, d) : value;
        if (resolved !== d[field]) refuseOnLocal(key, value, `its ${field} is always ${d[field]}`);
      }
    }
  }
  const clouds = [...new Set(workers.map((w) => w.cloud))].sort();
  // Settings for every worker that a fleet with nothing but local workers cannot honour.
  if ([cloud, ...clouds, ...candidateClouds.keys()].every((c) => c === "local")) {
    if (sshPublicKeys.length)
      refuseOnLocal(k("sshPublicKeys"), sshPublicKeys, "nobody logs in to them with SSH");
    if (sshAllowFrom.length)
      refuseOnLocal(k("sshAllowFrom"), sshAllowFrom, "they have no firewall to open");
    if (userData !== undefined)
      refuseOnLocal(k("userDataFile"), values[k("userDataFile")], "they run no cloud-init");
    if (Object.keys(userTags).length) refuseOnLocal(k("tags"), userTags, "they carry no tags");
  }
  // Each cloud's own rules: names (e.g. GCP's lowercase names) and required SSH keys, also
  // for every cloud a worker may be moved to.
  for (const c of new Set([...clouds, ...candidateClouds.keys()])) {
    const may = candidateClouds.get(c) ?? [];
    const names = new Set(may.map((w) => w.name));
    const there = workers.filter((w) => w.cloud === c && !names.has(w.name));
    attempt(() => assertWorkerNames(c, [...there, ...may]), undefined);
    attempt(() => assertSshKeys(c, sshPublicKeys), undefined);
  }

  // Per-cloud extras: YAML defaults ← `fleet:<extraKey>`.
  const extras: Partial<Record<CloudName, Record<string, string>>> = {};
  for (const c of clouds) {
    const d = defaultsOf(c);
    const e: Record<string, string> = { ...(d?.extras ?? {}) };
    for (const key of descriptor(c).extraKeys ?? []) {
      const v = values[k(key)];
      if (v !== undefined) e[key] = v;
    }
    extras[c] = e;
  }

  // Credentials that must be secrets, for every cloud whose settings are present.
  for (const c of CLOUDS) {
    for (const key of descriptor(c).credentials?.secretConfig ?? []) {
      if (values[key] !== undefined && !secretKeys.has(key)) {
        errors.push(
          new FleetConfigError(
            key,
            "(hidden)",
            `store it as a secret: pulumi config set --secret ${key} <value>`,
            "credential stored in plain text:",
          ),
        );
      }
    }
  }

  if (errors.length) throw new FleetConfigErrors(errors);
  return {
    project: PROJECT,
    stack: options.stack,
    cloud,
    entries,
    workers,
    clouds,
    sshPublicKeys,
    sshAllowFrom,
    userData,
    tags,
    extras,
    placements,
    placementOrder,
    projectDir: path.resolve(options.projectDir ?? process.cwd()),
  };
}

/** The region a cloud's own provider config names (e.g. `aws:region`), if any. */
function providerRegion(
  values: Readonly<Record<string, string>>,
  cloud: CloudName,
): string | undefined {
  const key = descriptor(cloud).regionConfigKey;
  return key ? values[key] || undefined : undefined;
}

function optionalIdentifier(
  values: Readonly<Record<string, string>>,
  key: string,
  what: string,
): string | undefined {
  const v = values[key];
  return v === undefined ? undefined : validateIdentifier(key, v, what);
}

function parseTags(key: string, raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw === "") return {};
  const allowed = "a mapping of tag keys to string values, e.g. { team: batch }";
  const value = parseStructured(key, raw, allowed);
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new FleetConfigError(key, value, allowed);
  const out: Record<string, string> = {};
  for (const [tk, tv] of Object.entries(value)) {
    if (tk.startsWith("fleet:")) {
      throw new FleetConfigError(
        key,
        tk,
        "tag keys starting with 'fleet:' are fleet's own ownership tags",
        "reserved tag key:",
      );
    }
    const [vk, vv] = validateTag(key, tk, tv);
    out[vk] = vv;
  }
  return out;
}

function readUserData(file: string | undefined, options: ParseOptions): string | undefined {
  if (file === undefined || file === "") return undefined;
  const key = `${PROJECT}:userDataFile`;
  const full = path.resolve(options.projectDir ?? process.cwd(), file);
  const tooLarge = (size: number) =>
    new FleetConfigError(
      key,
      file,
      `user data of at most ${MAX_USER_DATA_BYTES} bytes (it is ${size})`,
      "user-data file too large:",
    );
  let data: Buffer;
  try {
    data = (options.readFile ?? ((f: string) => readRegularFile(f, MAX_USER_DATA_BYTES)))(full);
  } catch (e) {
    const { code, size } = e as NodeJS.ErrnoException & { size?: number };
    if (code === "EFBIG" && typeof size === "number") throw tooLarge(size);
    throw new FleetConfigError(
      key,
      file,
      `a readable cloud-init file (resolved to ${full})`,
      `user-data file not found or unreadable (${code ?? "unreadable"}):`,
    );
  }
  if (data.length > MAX_USER_DATA_BYTES) throw tooLarge(data.length);
  const text = data.toString("utf8");
  if (looksLikeCredential(text)) {
    throw new FleetConfigError(
      key,
      file,
      "user data is readable by anyone on the worker and in state: keep credentials out of it",
      "credential found in user-data file:",
    );
  }
  return text;
}

/**
 * Reads a regular file of at most `max` bytes. Anything else fails without blocking or reading
 * without end: a FIFO (whose open would wait for a writer), a device such as /dev/zero, a
 * directory (`EISDIR`, others `ENOTREG`), a larger file (`EFBIG` with its `size`, unread).
 */
function readRegularFile(file: string, max: number): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      const code = stat.isDirectory() ? "EISDIR" : "ENOTREG";
      throw Object.assign(new Error(`${code}: not a regular file: ${file}`), { code });
    }
    if (stat.size > max)
      throw Object.assign(new Error(`EFBIG: ${file}`), { code: "EFBIG", size: stat.size });
    // One byte more than allowed: a file that grew since fstat is still caught as too large.
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    while (n < buf.length) {
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}
