/**
 * fast-check arbitraries for fleet's inputs: valid values, near-valid ones (one rule broken)
 * and hostile ones (unicode, very long strings, injection-looking text, wrong types, deep
 * nesting).
 */
import fc from "fast-check";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const chars = (alphabet: string) => fc.constantFrom(...alphabet.split(""));
const word = (alphabet: string, min: number, max: number) =>
  fc.array(chars(alphabet), { minLength: min, maxLength: max }).map((a) => a.join(""));

/** Text that looks like an attack or a paste accident. */
export const INJECTIONS = [
  "'; DROP TABLE workers; --",
  "$(rm -rf /)",
  "`id`",
  "../../../etc/passwd",
  "..\\..\\windows\\system32",
  "<script>alert(1)</script>",
  "${jndi:ldap://evil/x}",
  "{{7*7}}",
  "%s%s%s%n",
  "\u0000",
  "a\u0000b",
  "\u202eevil",
  "name\nfleet:cloud: aws",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "NaN",
  "null",
  "undefined",
  "true",
  "[]",
  "{}",
  '{"name":"x"}',
  "\ufeffbom",
  "w\u00e9",
  "\u0430dmin", // Cyrillic a
  "\ud83d\ude80rocket",
  "\ud800",
  " leading",
  "trailing ",
  "tab\tinside",
  "-flag",
  "--help",
  "-",
  ".",
  "..",
];

/** Hostile strings of every kind. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 64, max: 50_000 }))
    .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n)),
  fc.tuple(fc.constantFrom(...INJECTIONS), fc.string({ maxLength: 10 })).map(([a, b]) => a + b),
);

/** Nested arrays/objects `depth` deep, built without recursion. */
export function nest(depth: number, object: boolean): unknown {
  let v: unknown = "x";
  for (let i = 0; i < depth; i++) v = object ? { name: v } : [v];
  return v;
}

/** Values of the wrong type, including deep nesting and odd objects. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 4 }),
  fc.constantFrom<unknown>(
    null,
    undefined,
    true,
    0,
    -1,
    NaN,
    Infinity,
    1e308,
    10n,
    Symbol("s"),
    [],
    {},
    Object.create(null),
    new Date(0),
    () => "fn",
  ),
  fc
    .tuple(
      fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 30_000 }) },
      ),
      fc.boolean(),
    )
    .map(([d, o]) => nest(d, o)),
);

/** Wrong types without deep nesting (for generators that must serialize them cheaply). */
export const shallowWrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom<unknown>(null, true, 0, -1, 1e308, [], {}, new Date(0)),
);

/** A name the contract allows: letters, digits, - and .; starts alphanumeric; ≤ 63. */
export const validName: fc.Arbitrary<string> = fc
  .tuple(chars(ALNUM), word(`${ALNUM}.-`, 0, 62))
  .map(([a, b]) => a + b);

/** One rule broken: a bad character, a bad start, too long, empty or a trailing newline. */
export const nearName: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(validName, fc.constantFrom(" ", "_", "/", "\n", "é", "\u0000", "@", ":", "*"), fc.nat())
    .map(([n, c, i]) => {
      const at = i % (n.length + 1);
      return n.slice(0, at) + c + n.slice(at);
    }),
  validName.map((n) => `-${n}`),
  validName.map((n) => `.${n}`),
  fc.tuple(validName, word(ALNUM, 64, 80)).map(([a, b]) => (a + b).slice(0, 64 + (a.length % 10))),
  fc.constant(""),
  validName.map((n) => `${n}\n`),
);

/** Worker names: valid, near-valid, hostile and wrongly typed. */
export const anyName: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: validName },
  { weight: 3, arbitrary: nearName },
  { weight: 3, arbitrary: hostileString },
  { weight: 1, arbitrary: wrongType },
);

/** A provider identifier (region, size, image) the rules accept. */
export const validIdentifier: fc.Arbitrary<string> = fc
  .tuple(chars(ALNUM), word(`${ALNUM}._:/*+@-`, 0, 40))
  .map(([a, b]) => a + b);

export const anyIdentifier: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: validIdentifier },
  { weight: 1, arbitrary: fc.constantFrom("nyc3", "us-east-1", "t3.micro", "small", "medium") },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: wrongType },
);

/** A `fleet:workers` item: a name or an object, with wrong fields now and then. */
export const workerItem: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyName },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        name: anyName,
        cloud: fc.oneof(
          fc.constantFrom("aws", "digitalocean", "local", "azure", "AWS", ""),
          hostileString,
          wrongType,
        ),
        region: anyIdentifier,
        size: anyIdentifier,
        image: anyIdentifier,
      },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(validName, fc.constantFrom("nmae", "Name", "__proto__", "constructor", "ip", "tags"))
      .map(
        ([name, extra]) => JSON.parse(`{"name":${JSON.stringify(name)},"${extra}":1}`) as unknown,
      ),
  },
  { weight: 1, arbitrary: wrongType },
);

/** A list of items, mostly valid names (so that whole lists are accepted often). */
export const workerList: fc.Arbitrary<unknown[]> = fc.oneof(
  fc.uniqueArray(validName, { maxLength: 20, selector: (n) => n.toLowerCase() }),
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: validName },
      {
        weight: 2,
        arbitrary: fc.record(
          {
            name: validName,
            cloud: fc.constantFrom("aws", "digitalocean", "local"),
            region: validIdentifier,
            size: fc.oneof(validIdentifier, fc.constantFrom("small", "medium", "large")),
            image: validIdentifier,
          },
          { requiredKeys: ["name"] },
        ),
      },
      { weight: 1, arbitrary: workerItem },
    ),
    { maxLength: 20 },
  ),
  fc.array(workerItem, { maxLength: 6 }),
);

/** CIDR blocks: valid v4/v6, near-valid and hostile. */
export const cidr: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.ipV4(), fc.integer({ min: 33, max: 999 })).map(([a, p]) => `${a}/${p}`),
  fc.ipV4(),
  fc.ipV4Extended().map((a) => `${a}/24`),
  fc.tuple(fc.ipV6(), fc.string({ maxLength: 6 })).map(([a, z]) => `${a}%${z}/64`),
  fc.tuple(fc.ipV4(), fc.constantFrom(" ", "\n", "\t")).map(([a, s]) => `${s}${a}/32${s}`),
  hostileString,
  wrongType,
);

/** OpenSSH public key lines, near misses and hostile text. */
export const sshKey: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ssh-dss", "ssh-ed448"),
      fc.base64String({ minLength: 4, maxLength: 200 }),
      fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
    )
    .map(([t, b, c]) => (c === undefined ? `${t} ${b}` : `${t} ${b} ${c}`)),
  hostileString,
  wrongType,
);

/** Tag mappings as JSON text (valid and not). */
export const tagsJson: fc.Arbitrary<string> = fc.oneof(
  fc
    .dictionary(
      fc.oneof(validName, fc.constantFrom("fleet:x", "__proto__", "a b", "")),
      fc.oneof(validName, hostileString, wrongType),
      { maxKeys: 6 },
    )
    .map((d) => safeJson(d)),
  hostileString,
  fc.json(),
);

/** JSON.stringify that never throws (deep nesting, BigInt, symbols → a fallback text). */
export function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? "undefined";
  } catch {
    return "[[[[[[[[";
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs added after the first fuzzers: ttl, expiresAt, placements, placementOrder, user data.
// Valid values are built from the rules as the README states them (not from fleet's regexes),
// near-valid ones break exactly one rule, hostile ones are anything else.

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";

/** Milliseconds per ttl unit, as the README states them. */
const TTL_UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The ttl rule, written independently: whole minutes, hours or days (`30m`, `2h`, `1d`), no
 * sign, no leading zero, from 5m to 30d. Returns the milliseconds, or undefined when invalid.
 */
export function ttlOracle(v: unknown): number | undefined {
  if (typeof v !== "string" || v.length < 2) return undefined;
  const unit = TTL_UNIT_MS[v[v.length - 1]];
  const digits = v.slice(0, -1);
  if (unit === undefined || digits[0] === "0") return undefined;
  if (![...digits].every((c) => c >= "0" && c <= "9")) return undefined;
  const ms = Number(digits) * unit;
  return ms >= 5 * 60_000 && ms <= 30 * 86_400_000 ? ms : undefined;
}

/** Every ttl the rule allows, edges included. */
export const validTtl: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 5, max: 43_200 }).map((n) => `${n}m`),
  fc.integer({ min: 1, max: 720 }).map((n) => `${n}h`),
  fc.integer({ min: 1, max: 30 }).map((n) => `${n}d`),
  fc.constantFrom("5m", "90m", "2h", "1d", "30d", "720h", "43200m", "24h", "7d"),
);

/** A ttl with one rule broken: bounds, unit, sign, spacing, digits, format. */
export const nearTtl: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 4 }).map((n) => `${n}m`),
  fc.integer({ min: 43_201, max: 999_999 }).map((n) => `${n}m`),
  fc.integer({ min: 721, max: 999_999 }).map((n) => `${n}h`),
  fc.integer({ min: 31, max: 999_999 }).map((n) => `${n}d`),
  fc.constantFrom("0h", "0d", "1000000m", "99999999d", "4m"),
  validTtl.map((t) => `0${t}`), // leading zero
  fc.tuple(validTtl, fc.constantFrom("+", "-", " ", "\t", "\n")).map(([t, c]) => c + t),
  fc.tuple(validTtl, fc.constantFrom(" ", "\n", "\r\n", ".", "s")).map(([t, c]) => t + c),
  validTtl.map((t) => `${t.slice(0, -1)} ${t.slice(-1)}`), // space before the unit
  validTtl.map((t) => t.toUpperCase()), // 5M, 2H, 1D
  fc
    .tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("s", "w", "y", "ms", "min", "hr"))
    .map(([n, u]) => `${n}${u}`),
  fc.tuple(validTtl, fc.constantFrom("in", "our", "ay", "ours", "ays")).map(([t, s]) => t + s), // 5min, 2hours
  fc.integer({ min: 1, max: 999_999 }).map((n) => String(n)), // no unit
  fc.constantFrom("m", "h", "d", "", "1.5h", "0.5d", "1h30m", "1e2m", "0x10m", "1_0m", "١٢h"),
  fc.constantFrom("５m", "２h", "٥m", "5ｍ", "5m\u0000", "\u200b5m", "5\u00a0m"),
);

/** The expiresAt rule, written independently: YYYY-MM-DDTHH:MM:SS, optional .f{1,3}, then Z; a real date and time. */
export function expiresAtOracle(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const num = (s: string) => (/^[0-9]+$/.test(s) ? Number(s) : NaN);
  const at = (i: number, c: string) => v[i] === c;
  if (v.length < 20 || !at(4, "-") || !at(7, "-") || !at(10, "T") || !at(13, ":") || !at(16, ":"))
    return false;
  const [y, mo, d, h, mi, s] = [
    v.slice(0, 4),
    v.slice(5, 7),
    v.slice(8, 10),
    v.slice(11, 13),
    v.slice(14, 16),
    v.slice(17, 19),
  ].map(num);
  const rest = v.slice(19);
  if (!(rest === "Z" || /^\.[0-9]{1,3}Z$/.test(rest))) return false;
  if ([y, mo, d, h, mi, s].some(Number.isNaN)) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h <= 23 && mi <= 59 && s <= 59;
}

const isoDate = fc
  .date({
    min: new Date("1000-01-01T00:00:00.000Z"),
    max: new Date("9999-12-31T23:59:59.999Z"),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());

/** ISO-8601 UTC timestamps as fleet writes them, with 0–3 fraction digits, and calendar edges. */
export const validExpiresAt: fc.Arbitrary<string> = fc.oneof(
  isoDate,
  fc
    .tuple(isoDate, fc.integer({ min: 0, max: 3 }))
    .map(([t, n]) => (n === 0 ? `${t.slice(0, 19)}Z` : `${t.slice(0, 20 + n)}Z`)),
  fc.constantFrom(
    "2024-02-29T12:00:00Z",
    "2000-02-29T00:00:00.000Z",
    "2026-11-26T03:00:00.000Z",
    "1999-12-31T23:59:59.999Z",
    "2026-04-30T00:00:00Z",
    "9999-12-31T23:59:59Z",
  ),
);

/** A timestamp with one rule broken: a date or time that does not exist, or not ISO UTC. */
export const nearExpiresAt: fc.Arbitrary<string> = fc.oneof(
  // Dates that do not exist (Date.parse would roll them over).
  fc
    .tuple(
      isoDate,
      fc.constantFrom(
        ["2023", "02", "29"],
        ["1900", "02", "29"],
        ["2100", "02", "29"],
        ["2024", "02", "30"],
        ["2026", "02", "31"],
        ["2026", "04", "31"],
        ["2026", "06", "31"],
        ["2026", "09", "31"],
        ["2026", "11", "31"],
        ["2026", "01", "32"],
        ["2026", "01", "00"],
        ["2026", "00", "10"],
        ["2026", "13", "01"],
      ),
    )
    .map(([t, [y, m, d]]) => `${y}-${m}-${d}${t.slice(10)}`),
  // Times that do not exist.
  fc
    .tuple(isoDate, fc.constantFrom([11, "24"], [14, "60"], [17, "60"], [11, "99"]))
    .map(([t, [i, v]]) => t.slice(0, i as number) + (v as string) + t.slice((i as number) + 2)),
  // Not the format: offsets, separators, case, precision, missing parts, padding.
  isoDate.map((t) => t.slice(0, -1)), // no Z
  isoDate.map((t) => `${t.slice(0, -1)}+00:00`),
  isoDate.map((t) => `${t.slice(0, 19)}-05:00`),
  isoDate.map((t) => t.replace("T", " ")),
  isoDate.map((t) => t.replace("T", "t")),
  isoDate.map((t) => t.replace("Z", "z")),
  isoDate.map((t) => `${t.slice(0, -1)}0Z`), // 4 fraction digits
  isoDate.map((t) => `${t.slice(0, 19)}.Z`),
  isoDate.map((t) => `${t.slice(0, 19)},5Z`),
  isoDate.map((t) => t.slice(0, 10)), // date only
  isoDate.map((t) => `${t.slice(0, 16)}Z`), // no seconds
  isoDate.map((t) => `+01${t}`), // extended year
  isoDate.map((t) => t.slice(2)), // 2-digit year
  isoDate.map((t) => `${t.slice(0, -1)} UTC`),
  fc.tuple(isoDate, fc.constantFrom(" ", "\n", "\t", "\u0000")).map(([t, c]) => t + c),
  fc.tuple(isoDate, fc.constantFrom(" ", "\n", "\ufeff")).map(([t, c]) => c + t),
  isoDate.map((t) => t.replace(/[0-9]/, "٢")), // a non-ASCII digit
);

/** A cloud's region and size, built from the rule each cloud states (README, "Placement"). */
const lowerWord = (min: number, max: number) => word(LOWER, min, max);
const digitWord = (min: number, max: number) => word(DIGITS, min, max);

export const REGION_BY_CLOUD: Readonly<Record<string, fc.Arbitrary<string>>> = {
  // us-east-1, ap-southeast-2, us-gov-west-1
  aws: fc
    .tuple(lowerWord(2, 2), fc.array(lowerWord(1, 10), { minLength: 1, maxLength: 3 }))
    .chain(([a, parts]) =>
      fc.integer({ min: 1, max: 99 }).map((n) => `${a}-${parts.join("-")}-${n}`),
    ),
  // eastus, westeurope, uksouth2
  azure: fc.tuple(lowerWord(1, 1), word(`${LOWER}${DIGITS}`, 0, 20)).map(([a, b]) => a + b),
  // nyc3, ams3, fra1
  digitalocean: fc.tuple(lowerWord(3, 3), digitWord(1, 1)).map(([a, b]) => a + b),
  // us-central1-a, europe-west4-b
  gcp: fc
    .tuple(lowerWord(1, 12), lowerWord(1, 12), digitWord(1, 2), lowerWord(1, 1))
    .map(([a, b, n, z]) => `${a}-${b}${n}-${z}`),
  // fsn1, nbg1, ash
  hetzner: fc.tuple(lowerWord(3, 3), digitWord(0, 2)).map(([a, b]) => a + b),
  local: fc.constant("localhost"),
};

export const SIZE_BY_CLOUD: Readonly<Record<string, fc.Arbitrary<string>>> = {
  // t3.micro, c6g.2xlarge, u-6tb1.metal
  aws: fc
    .tuple(lowerWord(1, 1), word(`${LOWER}${DIGITS}-`, 0, 10), word(`${LOWER}${DIGITS}`, 1, 10))
    .map(([a, b, c]) => `${a}${b}.${c}`),
  // Standard_B1s, Standard_D2s_v5, Basic_A0
  azure: fc
    .tuple(fc.constantFrom("Standard", "Basic"), word(`${ALNUM}_`, 1, 20))
    .map(([a, b]) => `${a}_${b}`),
  // s-1vcpu-1gb, c-2, g-8vcpu-32gb
  digitalocean: fc
    .array(word(`${LOWER}${DIGITS}`, 1, 8), { minLength: 1, maxLength: 4 })
    .map((p) => p.join("-")),
  // e2-micro, n2-standard-4
  gcp: fc
    .tuple(
      lowerWord(1, 1),
      word(`${LOWER}${DIGITS}`, 0, 8),
      fc.array(word(`${LOWER}${DIGITS}`, 1, 8), { minLength: 1, maxLength: 3 }),
    )
    .map(([a, b, rest]) => `${a}${b}-${rest.join("-")}`),
  // cx23, cpx31, cax11
  hetzner: fc
    .tuple(lowerWord(1, 4), digitWord(1, 3), lowerWord(0, 2))
    .map(([a, b, c]) => a + b + c),
  local: fc.constant("process"),
};

/** A placement candidate every cloud's rules accept. */
export const validPlacement: fc.Arbitrary<{ cloud: string; region?: string; size?: string }> = fc
  .constantFrom(...Object.keys(REGION_BY_CLOUD))
  .chain((cloud) =>
    fc
      .record(
        {
          region: REGION_BY_CLOUD[cloud],
          size: fc.oneof(SIZE_BY_CLOUD[cloud], fc.constantFrom("small", "medium", "large")),
        },
        { requiredKeys: [] },
      )
      .map((rs) => ({ cloud, ...rs })),
  );

/** 1–20 valid candidates. */
export const validPlacements = fc.array(validPlacement, { minLength: 1, maxLength: 20 });

/** Text no cloud's region or size rule allows: a character outside letters, digits, `_ . -`, or nothing. */
export const notRegionOrSize: fc.Arbitrary<string> = hostileString.filter(
  (s) => s === "" || /[^A-Za-z0-9_.-]/.test(s),
);

/** A candidate list with exactly one rule broken. */
export const nearPlacements: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant([]),
  fc.array(validPlacement, { minLength: 21, maxLength: 30 }),
  fc
    .tuple(
      validPlacements,
      fc.nat(),
      fc.oneof(
        // An unknown cloud, or one written another way.
        fc
          .constantFrom("AWS", "Aws", "amazon", "do", "google", "gce", "ec2", "hcloud", "", " aws")
          .map((cloud) => (p: Record<string, unknown>) => ({ ...p, cloud })),
        fc.constant((p: Record<string, unknown>) => {
          const rest = { ...p };
          delete rest.cloud;
          return rest;
        }),
        // A field a placement does not have (JSON.parse makes __proto__ an own key).
        fc
          .constantFrom("zone", "image", "name", "Cloud", "regions", "__proto__", "constructor")
          .map(
            (k) => (p: Record<string, unknown>) =>
              JSON.parse(`{${JSON.stringify(k)}:"x",${JSON.stringify(p).slice(1)}`) as unknown,
          ),
        // A region or size the cloud's rule refuses: every rule starts lowercase except Azure sizes.
        fc.constant((p: Record<string, unknown>) => ({
          ...p,
          region: String(p.region ?? "localhost").toUpperCase(),
        })),
        fc.constant((p: Record<string, unknown>) => {
          const size = String(
            p.size && !["small", "medium", "large"].includes(p.size as string)
              ? p.size
              : p.cloud === "azure"
                ? "Standard_B1s"
                : "small",
          );
          // Lower-case Azure's Standard_/Basic_, upper-case the others' (X when that changes nothing: DigitalOcean's 2-4).
          const upper = size.toUpperCase() === size ? `X${size}` : size.toUpperCase();
          const bad = p.cloud === "azure" ? size[0].toLowerCase() + size.slice(1) : upper;
          return { ...p, size: bad };
        }),
        notRegionOrSize.map((region) => (p: Record<string, unknown>) => ({ ...p, region })),
        notRegionOrSize.map((size) => (p: Record<string, unknown>) => ({ ...p, size })),
        // Not an object.
        fc
          .constantFrom<unknown>("aws", null, ["aws"], 1, true)
          .map((v) => (_p: Record<string, unknown>) => v),
      ),
    )
    .map(([list, i, breakIt]) => {
      const out: unknown[] = [...list];
      out[i % list.length] = breakIt(list[i % list.length]);
      return out;
    }),
);

/** The placementOrder values the README lists. */
export const PLACEMENT_ORDERS = ["listed", "cheapest"] as const;

/** Typos, case and spacing variants of a placementOrder value. */
export const nearPlacementOrder: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PLACEMENT_ORDERS).map((o) => o.toUpperCase()),
  fc.constantFrom(...PLACEMENT_ORDERS).map((o) => o[0].toUpperCase() + o.slice(1)),
  fc
    .tuple(fc.constantFrom(...PLACEMENT_ORDERS), fc.constantFrom(" ", "\n", "\t", "\u0000"))
    .chain(([o, c]) => fc.constantFrom(c + o, o + c)),
  fc.constantFrom(...PLACEMENT_ORDERS).map((o) => JSON.stringify(o)),
  fc.constantFrom(...PLACEMENT_ORDERS).map((o) => JSON.stringify([o])),
  fc.constantFrom(
    "cheap",
    "cheapest-first",
    "price",
    "lowest",
    "list",
    "listed,cheapest",
    "ordered",
    "first",
    "random",
    "null",
  ),
);

/** Credential-looking text that user data must never carry (each alone on a line). */
export const credentialLine: fc.Arbitrary<string> = fc.oneof(
  word("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16, 16).map((s) => `AKIA${s}`),
  word("0123456789abcdef", 64, 64).map((s) => `dop_v1_${s}`),
  word(ALNUM, 36, 36).map((s) => `ghp_${s}`),
  word("0123456789abcdef", 40, 40).map((s) => `pul-${s}`),
  fc.constantFrom("-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"),
);
