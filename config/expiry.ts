/**
 * Worker expiry: `ttl` (a duration such as `30m`, `2h`, `1d`) becomes an absolute `expiresAt`
 * (ISO-8601 UTC) in the worker's `fleet:workers` entry when the worker is created, so the
 * decision is visible in stack config and never depends on when a later command runs.
 *
 * Pure: the clock is always passed in. The program itself never removes a worker because it
 * expired (that would make `pulumi up` depend on the time of day); `fleet reap` does, in one
 * engine update (see the README, "Expiry").
 */
import { FleetConfigError } from "./errors";

/** Milliseconds per ttl unit. */
export const TTL_UNITS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The shortest ttl: shorter than one engine run is never what someone meant. */
export const MIN_TTL_MS = 5 * TTL_UNITS.m;

/** The longest ttl: a worker meant to live longer should not carry an expiry. */
export const MAX_TTL_MS = 30 * TTL_UNITS.d;

/** The ttl rule in words, for error messages and help. */
export const TTL_RULE =
  "a duration of whole minutes, hours or days such as 30m, 2h or 1d, from 5m to 30d";

const TTL = /^([1-9][0-9]{0,5})([mhd])$/;

/**
 * Parses a ttl (`30m`, `2h`, `1d`) into milliseconds. Throws a `FleetConfigError` naming `key`,
 * the value and the rule for anything else, including values outside 5m–30d.
 */
export function parseTtl(key: string, value: unknown): number {
  const m = typeof value === "string" ? TTL.exec(value) : null;
  if (!m) throw new FleetConfigError(key, value, TTL_RULE, "invalid ttl:");
  const ms = Number(m[1]) * TTL_UNITS[m[2] as keyof typeof TTL_UNITS];
  if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
    throw new FleetConfigError(key, value, TTL_RULE, "ttl out of bounds:");
  }
  return ms;
}

/** The ttl as written, validated (for storing it next to `expiresAt`). */
export function validateTtl(key: string, value: unknown): string {
  parseTtl(key, value);
  return value as string;
}

/** ISO-8601 UTC as `Date.prototype.toISOString` writes it, with or without milliseconds. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/**
 * Validates an `expiresAt` value: an ISO-8601 UTC timestamp (`2026-11-26T03:00:00.000Z`) that
 * names a real instant. Returns it unchanged.
 */
export function validateExpiresAt(key: string, value: unknown): string {
  if (typeof value !== "string" || !ISO_UTC.test(value) || Number.isNaN(Date.parse(value))) {
    throw new FleetConfigError(
      key,
      value,
      "an ISO-8601 UTC timestamp such as 2026-11-26T03:00:00.000Z (fleet writes it from ttl)",
      "invalid expiresAt:",
    );
  }
  // Date.parse rolls 2026-02-30 over to March: refuse dates that do not exist.
  if (new Date(value).toISOString().slice(0, 19) !== value.slice(0, 19)) {
    throw new FleetConfigError(key, value, "a date and time that exist", "invalid expiresAt:");
  }
  return value;
}

/** `now + ttl` as ISO-8601 UTC. */
export function expiresAtFrom(ttl: string, now: Date, key = "ttl"): string {
  return new Date(now.getTime() + parseTtl(key, ttl)).toISOString();
}

/** What expiry needs from a worker entry. */
export interface Expiring {
  /** The worker name. */
  name: string;
  /** The ttl asked for at create time, as written. */
  ttl?: string;
  /** When the worker expires (ISO-8601 UTC). */
  expiresAt?: string;
}

/**
 * Entries with a `ttl` but no `expiresAt` get `expiresAt = now + ttl`; others are returned as
 * they are (the same objects). Used at create time, and for a `ttl` written into stack config by
 * hand, which the next fleet update records.
 */
export function stampExpiry<T extends string | Expiring>(entries: readonly T[], now: Date): T[] {
  return entries.map((e) =>
    typeof e === "string" || e.ttl === undefined || e.expiresAt !== undefined
      ? e
      : ({ ...(e as Expiring), expiresAt: expiresAtFrom(e.ttl, now, `${e.name}.ttl`) } as T),
  );
}

/** Whether an entry has expired at `now` (an entry expires at its `expiresAt`, inclusive). */
export function isExpired(entry: string | Expiring, now: Date): boolean {
  return (
    typeof entry !== "string" &&
    entry.expiresAt !== undefined &&
    Date.parse(entry.expiresAt) <= now.getTime()
  );
}

/** The entries past their expiry at `now`, in declaration order, as `{ name, expiresAt }`. */
export function expiredWorkers(
  entries: readonly (string | Expiring)[],
  now: Date,
): { name: string; expiresAt: string }[] {
  const out: { name: string; expiresAt: string }[] = [];
  for (const e of entries)
    if (typeof e !== "string" && isExpired(e, now))
      out.push({ name: e.name, expiresAt: e.expiresAt as string });
  return out;
}

/**
 * The one stderr line every fleet command prints when workers are past their expiry (call it
 * only when `expired` is not empty).
 */
export function expiryWarning(expired: readonly { name: string; expiresAt: string }[]): string {
  const n = expired.length;
  const list = expired.map((e) => `${e.name} (expired ${e.expiresAt})`).join(", ");
  return (
    `fleet: ${n} worker${n === 1 ? " is" : "s are"} past ${n === 1 ? "its" : "their"} expiry: ${list}; ` +
    `\`fleet reap\` removes ${n === 1 ? "it" : "them"}`
  );
}
