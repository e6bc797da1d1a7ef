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
