/**
 * Placement candidates: `fleet:placements` (stack-wide) and `placements` in a worker object, an
 * ordered list of `{ cloud, region?, size? }`. A new worker goes to the first candidate; when
 * its create fails with a capacity, quota or availability error, CloudContext moves it to the
 * next one (README, "Capacity failover"). Pure: validation and candidate order only.
 */
import { CLOUD_RULES, type CloudRules } from "./cloud-rules";
import { FleetConfigError } from "./errors";
import { type CloudName, isAbstractSize, parseCloud, validateIdentifier } from "./rules";

/** One place a worker may run. Omitted fields come from the usual layering (stack, then `config/<cloud>.yaml`). */
export interface Placement {
  /** The cloud. */
  cloud: CloudName;
  /** The region (a zone on GCP). @default the cloud's region as for any worker on it */
  region?: string;
  /** A provider size or `small`/`medium`/`large`. @default the cloud's size as for any worker on it */
  size?: string;
}

/** The most candidates one list may hold (a longer list is almost surely a mistake). */
export const MAX_PLACEMENTS = 20;

const ALLOWED =
  "a non-empty list of { cloud, region?, size? } objects, tried in order, e.g. " +
  '[{"cloud":"aws","region":"us-east-1"},{"cloud":"gcp","region":"us-central1-a"}]';

/**
 * Validates a placement list (the value of `fleet:placements` or a worker's `placements`):
 * a non-empty list of at most `MAX_PLACEMENTS` objects with a known `cloud` and a `region` and
 * `size` that the cloud's own rules accept (`regionRule`/`sizeRule` in `cloud-rules.ts`).
 * Throws a `FleetConfigError` naming the key (with the index), the value and what is allowed.
 */
export function parsePlacements(key: string, value: unknown): Placement[] {
  if (!Array.isArray(value)) throw new FleetConfigError(key, value, ALLOWED, "not a list:");
  if (value.length === 0) throw new FleetConfigError(key, value, ALLOWED, "empty placement list:");
  if (value.length > MAX_PLACEMENTS)
    throw new FleetConfigError(
      key,
      `${value.length} candidates`,
      `at most ${MAX_PLACEMENTS} candidates`,
      "too many placements:",
    );
  return value.map((item, i) => parsePlacement(`${key}[${i}]`, item));
}

/** Validates one candidate. */
export function parsePlacement(key: string, item: unknown): Placement {
  if (!item || typeof item !== "object" || Array.isArray(item)) {
    throw new FleetConfigError(
      key,
      item,
      "a { cloud, region?, size? } object",
      "invalid placement:",
    );
  }
  const o = item as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !["cloud", "region", "size"].includes(k));
  if (extra !== undefined) {
    throw new FleetConfigError(
      `${key}.${extra}`,
      extra,
      "a placement has cloud, region and size",
      "unknown placement field:",
    );
  }
  if (o.cloud === undefined)
    throw new FleetConfigError(
      `${key}.cloud`,
      undefined,
      "every placement names its cloud",
      "missing cloud:",
    );
  const cloud = parseCloud(`${key}.cloud`, o.cloud);
  const rules: CloudRules = CLOUD_RULES[cloud];
  const p: Placement = { cloud };
  if (o.region !== undefined) {
    const region = validateIdentifier(`${key}.region`, o.region, "region");
    if (rules.regionRule && !rules.regionRule.pattern.test(region))
      throw new FleetConfigError(
        `${key}.region`,
        region,
        `${rules.regionRule.rule} (${rules.title})`,
        `invalid region for ${cloud}:`,
      );
    p.region = region;
  }
  if (o.size !== undefined) {
    const size = validateIdentifier(`${key}.size`, o.size, "size");
    if (!isAbstractSize(size) && rules.sizeRule && !rules.sizeRule.pattern.test(size))
      throw new FleetConfigError(
        `${key}.size`,
        size,
        `${rules.sizeRule.rule} (${rules.title})`,
        `invalid size for ${cloud}:`,
      );
    p.size = size;
  }
  return p;
}

/** The part of a worker entry that decides its candidates. */
export interface PlacedEntry {
  cloud?: CloudName;
  region?: string;
  size?: string;
  placements?: readonly Placement[];
}

/**
 * A worker's placement candidates, in the order they are tried, or undefined when it has a
 * fixed placement. A worker that names its `cloud` is placed (where it landed, or where it was
 * put by hand) and never moves; otherwise its own `placements`, else the stack's — the stack's
 * only when it names no `region`/`size` of its own either (those belong to the default cloud).
 */
export function candidatesOf(
  entry: string | PlacedEntry,
  stackPlacements: readonly Placement[],
): readonly Placement[] | undefined {
  if (typeof entry === "string") return stackPlacements.length ? stackPlacements : undefined;
  if (entry.cloud !== undefined) return undefined;
  if (entry.placements?.length) return entry.placements;
  if (entry.region !== undefined || entry.size !== undefined) return undefined;
  return stackPlacements.length ? stackPlacements : undefined;
}

/** A candidate in words, for messages: `aws us-east-1 t3.micro`, `gcp (default region)`. */
export function describePlacement(p: Placement): string {
  return [p.cloud, p.region ?? "(default region)", p.size ?? "(default size)"].join(" ");
}
