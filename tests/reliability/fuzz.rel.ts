/**
 * Issue 7, part 1 (library paths): every input path fed ≥ 10,000 generated values (valid,
 * near-valid, hostile). Each value is either accepted and round-trips, or refused with
 * FleetConfigError (or a subclass) whose message names the key; never another exception, and
 * never a slow call (a catastrophic regex or walk would show up as one).
 */
import { expect } from "chai";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import * as net from "node:net";
import * as os from "node:os";
import * as yaml from "js-yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parseCloudDefaults } from "../../config/defaults";
import {
  FleetConfigError,
  FleetConfigErrors,
  describeValue,
  looksLikeCredential,
} from "../../config/errors";
import { expiresAtFrom, parseTtl } from "../../config/expiry";
import {
  type FleetConfig,
  MAX_USER_DATA_BYTES,
  type ParseOptions,
  type WorkerEntry,
  parseFleetConfig,
  parseWorkerEntries,
  parseWorkerEntry,
} from "../../config/fleet-config";
import { defaultsDir } from "../../config/paths";
import { loadPriceBook } from "../../config/prices";
import { CLOUDS, type CloudName, validateWorkerName } from "../../config/rules";
import { type CloudDescriptor, descriptor } from "../../strategies/registry";
import {
  anyIdentifier,
  anyName,
  cidr,
  credentialLine,
  expiresAtOracle,
  hostileString,
  nearExpiresAt,
  nearPlacementOrder,
  nearPlacements,
  nearTtl,
  nest,
  safeJson,
  shallowWrongType,
  sshKey,
  tagsJson,
  ttlOracle,
  validExpiresAt,
  validIdentifier,
  validName,
  validPlacements,
  validTtl,
  workerItem,
  workerList,
  wrongType,
} from "./support/generators";
import { type Outcome, Tally, prototypeKeys } from "./support/classes";
import { record } from "./support/stats";

const RUNS = Number(process.env.FLEET_REL_FUZZ_RUNS ?? 10_000);
/** A single call slower than this is treated as a hang. */
const SLOW_MS = 2_000;

/** Runs `fn`; returns the thrown error or undefined; fails on a slow call. */
function attempt(fn: () => unknown): unknown {
  const t = Date.now();
  try {
    fn();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    const ms = Date.now() - t;
    if (ms > SLOW_MS) throw new Error(`a single call took ${ms} ms (a hang?)`);
  }
}

/** Asserts a refusal: fleet's own error, every problem named by a key under `keys`. */
function expectRefused(e: unknown, keys: (key: string) => boolean): FleetConfigError {
  if (!(e instanceof FleetConfigError)) {
    throw new Error(
      `expected FleetConfigError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
    );
  }
  const all = e instanceof FleetConfigErrors ? e.errors : [e];
  for (const sub of all) {
    expect(keys(sub.key), `key ${sub.key} of: ${sub.message}`).to.equal(true);
    expect(sub.message.startsWith(`${sub.key}: `), sub.message).to.equal(true);
    expect(sub.message.length, "a message a person can read").to.be.below(2_000);
    expect(sub.message, "one line per problem").not.to.contain("\n");
  }
  return e;
}

/** The contract's rule for names, written independently of rules.ts. */
function isValidName(v: unknown): v is string {
  if (typeof v !== "string" || v.length < 1 || v.length > 63) return false;
  const ok = (c: string, first: boolean) =>
    (c >= "a" && c <= "z") ||
    (c >= "A" && c <= "Z") ||
    (c >= "0" && c <= "9") ||
    (!first && (c === "-" || c === "."));
  return [...v].every((c, i) => ok(c, i === 0)) && [...v].length === v.length;
}

function isValidIdentifier(v: unknown): boolean {
  return typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._:/*+@-]{0,127}$/.test(v);
}

const DO_ONLY: ParseOptions = { stack: "dev" };

/** A default cloud that honours SSH keys, CIDRs, user data and tags (the local cloud refuses them). */
const HONOURS_ALL = { "fleet:cloud": "aws" };

/** The local cloud's fixed settings (config/local.yaml), read here as the contract states them. */
const LOCAL = yaml.load(fs.readFileSync(path.join(defaultsDir(), "local.yaml"), "utf8")) as {
  region: string;
  size: string;
  image: string;
  sizes: Record<string, string>;
};

/**
 * Whether a list fleet's own rules accept still breaks a rule of a cloud it uses (the
 * registry's `workerName` patterns, `sshKeyRequired` with no keys, and a local worker given a
 * region, size or image other than the local cloud's own: a process has no other). Such a
 * config must be refused, on fleet:workers or fleet:sshPublicKeys, before anything is declared.
 */
function breaksCloudRules(
  entries: readonly WorkerEntry[],
  defaultCloud: CloudName,
  keys: number,
): boolean {
  return entries.some((entry) => {
    const name = typeof entry === "string" ? entry : entry.name;
    const cloud = (typeof entry === "string" ? undefined : entry.cloud) ?? defaultCloud;
    const d: CloudDescriptor = descriptor(cloud);
    const localMismatch =
      cloud === "local" &&
      typeof entry !== "string" &&
      (["region", "size", "image"] as const).some((field) => {
        const v = entry[field];
        if (v === undefined) return false;
        const resolved = field === "size" && Object.hasOwn(LOCAL.sizes, v) ? LOCAL.sizes[v] : v;
        return resolved !== LOCAL[field];
      });
    return (
      (d.workerName !== undefined && !d.workerName.pattern.test(name)) ||
      (d.sshKeyRequired !== undefined && keys === 0) ||
      localMismatch
    );
  });
}

const onWorkersOrKeys = (k: string) => k.startsWith("fleet:workers") || k === "fleet:sshPublicKeys";

/** Values that reproduce `config` (structured keys re-serialized), for the round trip. */
function reserialize(
  config: FleetConfig,
  original: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = { ...original };
  out["fleet:cloud"] = config.cloud;
  out["fleet:workers"] = JSON.stringify(config.entries);
  out["fleet:sshPublicKeys"] = JSON.stringify(config.sshPublicKeys);
  out["fleet:sshAllowFrom"] = JSON.stringify(config.sshAllowFrom);
  const userTags = Object.fromEntries(
    Object.entries(config.tags).filter(([k]) => !k.startsWith("fleet:")),
  );
  out["fleet:tags"] = JSON.stringify(userTags);
  return out;
}

function expectRoundTrip(
  values: Record<string, string>,
  options: ParseOptions = DO_ONLY,
): FleetConfig {
  const config = parseFleetConfig(values, options);
  const again = parseFleetConfig(reserialize(config, values), options);
  expect(again).to.deep.equal(config);
  return config;
}

describe("fuzz: library input paths", function () {
  this.timeout(0);

  it(`worker names: ${RUNS} values through validateWorkerName and parseWorkerEntry`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyName, (v) => {
        const want = isValidName(v);
        // parseWorkerEntry also takes { name, … } objects: those are the items test's job.
        const isObject = !!v && typeof v === "object" && !Array.isArray(v);
        const fns = isObject ? [validateWorkerName] : [validateWorkerName, parseWorkerEntry];
        for (const fn of fns) {
          let got: unknown;
          const e = attempt(() => (got = fn("fleet:workers[0]", v)));
          if (want) {
            expect(e, String(e)).to.equal(undefined);
            expect(got).to.equal(v);
            expect(JSON.parse(JSON.stringify(got))).to.equal(v);
          } else {
            const err = expectRefused(e, (k) => k.startsWith("fleet:workers[0]"));
            expect(err.message).to.match(/invalid worker( name)?:|unknown worker field:/);
          }
        }
        if (want) accepted++;
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "worker names": RUNS } }); // each through both functions
    if (RUNS >= 1_000)
      expect(accepted, "the generator reaches valid names too").to.be.above(RUNS / 10);
  });

  it(`fleet:workers items: ${RUNS} values through parseWorkerEntry`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(workerItem, (item) => {
        let entry: WorkerEntry | undefined;
        const e = attempt(() => (entry = parseWorkerEntry("fleet:workers[3]", item)));
        if (e === undefined) {
          accepted++;
          // Accepted: exactly the contract's shape, and stable through JSON.
          if (typeof item === "string") expect(isValidName(item)).to.equal(true);
          else {
            const o = item as Record<string, unknown>;
            expect(
              Object.keys(o).every((k) => ["name", "cloud", "region", "size", "image"].includes(k)),
            ).to.equal(true);
            expect(isValidName(o.name)).to.equal(true);
            if (o.cloud !== undefined) expect(CLOUDS).to.include(o.cloud);
            for (const k of ["region", "size", "image"])
              if (o[k] !== undefined) expect(isValidIdentifier(o[k]), k).to.equal(true);
          }
          const again = parseWorkerEntry("fleet:workers[3]", JSON.parse(JSON.stringify(entry)));
          expect(again).to.deep.equal(entry);
        } else expectRefused(e, (k) => k.startsWith("fleet:workers[3]"));
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "fleet:workers items": RUNS } });
    if (RUNS >= 1_000) expect(accepted).to.be.above(RUNS / 20);
  });

  it(`fleet:workers lists: ${RUNS} lists through parseWorkerEntries and parseFleetConfig`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.oneof({ weight: 9, arbitrary: workerList }, { weight: 1, arbitrary: wrongType }),
        (list) => {
          let entries: WorkerEntry[] = [];
          const e = attempt(() => (entries = parseWorkerEntries("fleet:workers", list)));
          if (e !== undefined) {
            const err = expectRefused(e, (k) => k.startsWith("fleet:workers"));
            // Every bad item is reported, not only the first.
            if (Array.isArray(list)) {
              const bad = list.filter(
                (item) => attempt(() => parseWorkerEntry("x", item)) !== undefined,
              );
              const reported = err instanceof FleetConfigErrors ? err.errors.length : 1;
              expect(reported).to.be.at.least(bad.length);
            }
            // The list as stack config text is judged like the list JSON makes of it (JSON drops
            // functions and undefined values).
            const text = safeJson(list);
            let asJson: unknown;
            const jsonOk =
              attempt(() => (asJson = JSON.parse(text))) === undefined &&
              attempt(() => parseWorkerEntries("fleet:workers", asJson)) === undefined;
            const e2 = attempt(() =>
              parseFleetConfig({ "fleet:cloud": "digitalocean", "fleet:workers": text }, DO_ONLY),
            );
            if (jsonOk && !breaksCloudRules(asJson as WorkerEntry[], "digitalocean", 0))
              expect(e2, String(e2)).to.equal(undefined);
            else expectRefused(e2, onWorkersOrKeys);
            return;
          }
          accepted++;
          const json = JSON.stringify(entries);
          expect(parseWorkerEntries("fleet:workers", JSON.parse(json))).to.deep.equal(entries);
          if (breaksCloudRules(entries, "digitalocean", 0)) {
            const refused = attempt(() =>
              parseFleetConfig({ "fleet:cloud": "digitalocean", "fleet:workers": json }, DO_ONLY),
            );
            expectRefused(refused, onWorkersOrKeys);
            return;
          }
          const config = expectRoundTrip({ "fleet:cloud": "digitalocean", "fleet:workers": json });
          expect(config.entries).to.deep.equal(entries);
          expect(config.workers.map((w) => w.name)).to.deep.equal(
            entries.map((x) => (typeof x === "string" ? x : x.name)),
          );
        },
      ),
      { numRuns: RUNS },
    );
    record({ inputs: { "fleet:workers lists": RUNS } });
    if (RUNS >= 1_000) expect(accepted).to.be.above(RUNS / 5);
  });

  it(`fleet:workers text: ${RUNS} raw stack config texts through parseFleetConfig`, () => {
    const text = fc.oneof(
      { weight: 4, arbitrary: workerList.map((l) => safeJson(l)) },
      { weight: 2, arbitrary: workerList.map((l) => safeJson(l).slice(0, -1)) }, // truncated JSON
      { weight: 2, arbitrary: fc.json() },
      { weight: 2, arbitrary: hostileString },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1, max: 15_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
      },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1, max: 15_000 }).map((n) => '{"name":'.repeat(n)),
      },
    );
    fc.assert(
      fc.property(text, (raw) => {
        let config: FleetConfig | undefined;
        const values = { "fleet:cloud": "aws", "aws:region": "eu-west-1", "fleet:workers": raw };
        const e = attempt(() => (config = expectRoundTrip(values)));
        if (e !== undefined) expectRefused(e, onWorkersOrKeys);
        else expect(config?.cloud).to.equal("aws");
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "fleet:workers text": RUNS } });
  });

  it(`stack config: ${RUNS} whole configs with arbitrary fleet:* keys and values`, () => {
    const known = [
      "cloud",
      "workers",
      "region",
      "size",
      "image",
      "sshPublicKeys",
      "sshAllowFrom",
      "tags",
      "imageOwner",
      "localCommand",
    ];
    const keyArb = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...known.map((k) => `fleet:${k}`)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "fleet:Workers",
          "fleet:worker",
          "fleet:clouds",
          "fleet:",
          "fleet:token",
          "fleet:__proto__",
          "fleet:sshallowfrom",
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "aws:region",
          "aws:profile",
          "digitalocean:token",
          "aws:secretKey",
          "other:key",
        ),
      },
      { weight: 1, arbitrary: hostileString.map((s) => `fleet:${s}`) },
    );
    const valueFor = (key: string): fc.Arbitrary<string> => {
      const text = (a: fc.Arbitrary<unknown>) =>
        a.map((v) => (typeof v === "string" ? v : safeJson(v)));
      switch (key) {
        case "fleet:cloud":
          return fc.oneof(
            fc.constantFrom(...CLOUDS),
            fc.constantFrom("azure", "AWS", "", "gcp"),
            hostileString,
          );
        case "fleet:workers":
          return workerList.map((l) => safeJson(l));
        case "fleet:sshAllowFrom":
          return fc.oneof(
            text(cidr),
            fc.array(cidr, { maxLength: 4 }).map((l) => safeJson(l)),
          );
        case "fleet:sshPublicKeys":
          return fc.oneof(
            text(sshKey),
            fc.array(sshKey, { maxLength: 3 }).map((l) => safeJson(l)),
          );
        case "fleet:tags":
          return tagsJson;
        case "aws:region":
          return fc.constantFrom("us-east-1", "eu-west-1", "");
        default:
          return fc.oneof(text(anyIdentifier), validIdentifier);
      }
    };
    const configArb = fc
      .uniqueArray(keyArb, { maxLength: 7 })
      .chain((keys) => fc.tuple(...keys.map((k) => valueFor(k).map((v) => [k, v] as const))))
      .map((pairs) => Object.fromEntries(pairs) as Record<string, string>);
    let accepted = 0;
    fc.assert(
      fc.property(configArb, (values) => {
        // Never the filesystem: fleet:userDataFile is fuzzed with its own reader below.
        delete values["fleet:userDataFile"];
        const e = attempt(() => expectRoundTrip(values));
        if (e === undefined) {
          accepted++;
          return;
        }
        const given = new Set(Object.keys(values));
        const keys = (e instanceof FleetConfigErrors ? e.errors : [e as FleetConfigError]).map(
          (x) => x.key,
        );
        const names = (shown: string, given: string) => {
          if (shown.startsWith("(a key")) return true;
          const clipped = /…\(\d+ chars\)$/.test(shown);
          let base = shown.replace(/…\(\d+ chars\)$/, "");
          if (base.startsWith('"')) base = clipped ? base.slice(1) : (JSON.parse(base) as string);
          const root = base.split("[")[0].split(".")[0];
          return given === base || given === root || (clipped && given.startsWith(base));
        };
        expectRefused(
          e,
          (k) =>
            k === "fleet:sshPublicKeys" || // a cloud that requires a key, with none given
            [...given].some((g) => names(k, g) || names(k, JSON.stringify(g).slice(1))),
        );
        // Known problems are always among those reported.
        for (const k of given) {
          if (k.startsWith("fleet:") && !known.includes(k.slice(6)))
            expect(
              keys.some((r) => names(r, k) || names(r, JSON.stringify(k).slice(1))),
              k,
            ).to.equal(true);
        }
        if (values["digitalocean:token"] !== undefined)
          expect(keys).to.include("digitalocean:token");
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "stack config (all keys)": RUNS } });
    if (RUNS >= 1_000) expect(accepted).to.be.above(RUNS / 50);
  });

  it(`stack config: ${RUNS} fleet:sshAllowFrom values (CIDRs)`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(cidr, fc.array(cidr, { maxLength: 5 })), (v) => {
        const raw = typeof v === "string" ? v : safeJson(v);
        let config: FleetConfig | undefined;
        const e = attempt(
          () => (config = expectRoundTrip({ ...HONOURS_ALL, "fleet:sshAllowFrom": raw })),
        );
        if (e !== undefined) {
          expectRefused(e, (k) => k.startsWith("fleet:sshAllowFrom"));
          return;
        }
        accepted++;
        for (const c of config?.sshAllowFrom ?? []) {
          // Independently: an address (no zone), a prefix within the family's bits.
          const [ip, prefix] = c.split("/");
          const family = net.isIP(ip);
          expect(family, c).to.be.oneOf([4, 6]);
          expect(ip).not.to.contain("%");
          expect(Number(prefix)).to.be.at.most(family === 4 ? 32 : 128);
        }
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "stack config: sshAllowFrom": RUNS } });
    if (RUNS >= 1_000) expect(accepted).to.be.above(RUNS / 10);
  });

  it(`stack config: ${RUNS} fleet:tags and fleet:sshPublicKeys values`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(tagsJson, fc.oneof(sshKey, fc.array(sshKey, { maxLength: 3 })), (tags, keys) => {
        const rawKeys = typeof keys === "string" ? keys : safeJson(keys);
        const values = { ...HONOURS_ALL, "fleet:tags": tags, "fleet:sshPublicKeys": rawKeys };
        const e = attempt(() => expectRoundTrip(values));
        if (e === undefined) accepted++;
        else
          expectRefused(
            e,
            (k) => k.startsWith("fleet:tags") || k.startsWith("fleet:sshPublicKeys"),
          );
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "stack config: tags + sshPublicKeys": RUNS } });
    if (RUNS >= 1_000) expect(accepted).to.be.above(RUNS / 50);
  });

  // fleet:userDataFile: 10,000 files in classes, below ("inputs added since").

  it(`config/*.yaml: ${RUNS} texts through parseCloudDefaults`, () => {
    const real = Object.fromEntries(
      CLOUDS.map((c) => [
        c,
        yaml.load(fs.readFileSync(path.join(defaultsDir(), `${c}.yaml`), "utf8")) as Record<
          string,
          unknown
        >,
      ]),
    ) as Record<CloudName, Record<string, unknown>>;
    const mutatedDoc = fc
      .tuple(
        fc.constantFrom(...CLOUDS),
        fc.constantFrom(
          "region",
          "size",
          "image",
          "sizes",
          "sizes.small",
          "imageOwner",
          "extra",
          "token",
          "apiKey",
          "nested.password",
        ),
        fc.oneof(
          validIdentifier,
          anyIdentifier.filter((v) => typeof v === "string"),
          shallowWrongType,
          fc.constant(undefined),
        ),
      )
      .map(([cloud, at, value]) => {
        const doc = structuredClone(real[cloud]);
        const parts = at.split(".");
        let cur: Record<string, unknown> = doc;
        for (const p of parts.slice(0, -1)) {
          if (!cur[p] || typeof cur[p] !== "object") cur[p] = {};
          cur = cur[p] as Record<string, unknown>;
        }
        if (value === undefined) delete cur[parts[parts.length - 1]];
        else cur[parts[parts.length - 1]] = value;
        let text: string;
        try {
          text = yaml.dump(doc, { skipInvalid: true });
        } catch {
          text = "{";
        }
        return { cloud, text };
      });
    const hostileDoc = fc
      .tuple(
        fc.constantFrom(...CLOUDS),
        fc.oneof(
          hostileString,
          fc.constantFrom(
            "region: !!js/function 'function () {}'",
            "region: a\nregion: b",
            "---\nregion: a\n---\nregion: b",
            "a: &a [x]\nb: *a\nregion: *a",
            "region: *undefined",
            "\t region: x",
            "sizes: !!binary aGVsbG8=",
            "region: [",
            "<<: {region: x}",
          ),
          fc.integer({ min: 1, max: 5_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
          fc.integer({ min: 1, max: 5_000 }).map((n) => "a:\n" + " - ".repeat(n)),
          fc.integer({ min: 2, max: 12 }).map((levels) => {
            // A "billion laughs" alias bomb: 10^levels leaves if walked naively.
            let y = "l0: &l0 [x,x,x,x,x,x,x,x,x,x]\n";
            for (let i = 1; i < levels; i++)
              y += `l${i}: &l${i} [${Array(10)
                .fill(`*l${i - 1}`)
                .join(",")}]\n`;
            return y;
          }),
        ),
      )
      .map(([cloud, text]) => ({ cloud, text }));
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(mutatedDoc, hostileDoc), ({ cloud, text }) => {
        const where = `config/${cloud}.yaml`;
        let parsed: ReturnType<typeof parseCloudDefaults> | undefined;
        const e = attempt(() => (parsed = parseCloudDefaults(cloud, text, where)));
        if (e !== undefined) {
          expectRefused(e, (k) => k.startsWith(where));
          return;
        }
        accepted++;
        // Round trip: the accepted settings written back as YAML parse to the same defaults.
        const d = parsed as ReturnType<typeof parseCloudDefaults>;
        const again = parseCloudDefaults(
          cloud,
          yaml.dump({
            region: d.region,
            size: d.size,
            image: d.image,
            sizes: d.sizes,
            ...d.extras,
          }),
          where,
        );
        expect(again).to.deep.equal(d);
      }),
      { numRuns: RUNS },
    );
    record({ inputs: { "config/*.yaml": RUNS } });
    if (RUNS >= 1_000) expect(accepted).to.be.above(RUNS / 20);
  });
});

/**
 * Issue 16 (inputs added since): each path's cases come in classes that say what fleet must do
 * (`valid` accepted, `near-valid` and `hostile` refused; `either` when an oracle decides), and
 * each class has a floor, so a regression that refuses valid input fails as surely as one that
 * accepts invalid input. Counts come from the cases that ran (`Tally`).
 */
describe("fuzz: inputs added since (classes with floors)", function () {
  this.timeout(0);

  /** The class mix of most paths: 4 : 4 : 2, floors well under the expected share. */
  const VALID = { expect: "accepted", floor: 0.3, weight: 4 } as const;
  const NEAR = { expect: "refused", floor: 0.3, weight: 4 } as const;
  const HOSTILE = { expect: "refused", floor: 0.15, weight: 2 } as const;

  /** A key every cloud accepts (Azure requires one). */
  const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9mZmxpbmUta2V5LWZvci10ZXN0cw== fuzz";
  /** Prices read once: `cheapest` is then as fast as `listed`. */
  const BOOK = loadPriceBook();
  const PLACED: ParseOptions = { stack: "dev", loadPrices: () => BOOK };

  /** Whether `v` reaches the program unchanged as a stack config value (JSON text). */
  const survivesJson = (v: unknown): boolean => {
    try {
      const text = JSON.stringify(v);
      return text !== undefined && isDeepStrictEqual(JSON.parse(text), v);
    } catch {
      return false;
    }
  };

  /**
   * Runs one worker field's cases through parseWorkerEntry and, when the value survives JSON,
   * through parseFleetConfig as `fleet:workers` text: both must agree with the case's class.
   */
  function fuzzWorkerField(
    tally: Tally,
    field: string,
    base: Record<string, unknown>,
    onAccepted: (value: unknown, entry: WorkerEntry, config?: FleetConfig) => void,
    extra: Record<string, string> = {},
  ): void {
    const protoBefore = prototypeKeys();
    fc.assert(
      fc.property(tally.arbitrary, ({ cls, value }) => {
        const item = { ...base, [field]: value };
        let entry: WorkerEntry | undefined;
        const e = attempt(() => (entry = parseWorkerEntry("fleet:workers[0]", item)));
        const outcome = e === undefined ? "accepted" : "refused";
        tally.count(cls, outcome, () => `${describeValue(value)} → ${String(e)}`);
        if (e !== undefined)
          expectRefused(
            e,
            (k) => k.startsWith(`fleet:workers[0].${field}`) || k === "fleet:workers[0].placements",
          );
        let config: FleetConfig | undefined;
        if (survivesJson(item)) {
          const values = {
            "fleet:cloud": "aws",
            "fleet:workers": JSON.stringify([item]),
            ...extra,
          };
          const e2 = attempt(() => (config = expectRoundTrip(values, PLACED)));
          expect(
            e2 === undefined ? "accepted" : "refused",
            `${describeValue(value)}: ${String(e2)}`,
          ).to.equal(outcome);
          if (e2 !== undefined) expectRefused(e2, (k) => k.startsWith("fleet:workers[0]"));
        }
        if (entry !== undefined) onAccepted(value, entry, config);
        expect(prototypeKeys(), "Object.prototype changed").to.equal(protoBefore);
      }),
      { numRuns: RUNS },
    );
    tally.finish(RUNS);
  }

  it(`ttl (create --ttl): ${RUNS} values through parseTtl and expiresAtFrom`, () => {
    const tally = new Tally("ttl: create --ttl (parseTtl)", {
      valid: { ...VALID, arbitrary: validTtl },
      "near-valid": { ...NEAR, arbitrary: nearTtl },
      hostile: {
        ...HOSTILE,
        arbitrary: fc.oneof(hostileString, wrongType).filter((v) => ttlOracle(v) === undefined),
      },
    });
    const now = new Date("2026-11-26T01:00:00.000Z");
    fc.assert(
      fc.property(tally.arbitrary, ({ cls, value }) => {
        // The generators themselves agree with the rule as written.
        expect(ttlOracle(value) !== undefined, `oracle on ${describeValue(value)}`).to.equal(
          cls === "valid",
        );
        let ms: number | undefined;
        const e = attempt(() => (ms = parseTtl("--ttl", value)));
        tally.count(
          cls,
          e === undefined ? "accepted" : "refused",
          () => `${describeValue(value)} → ${String(e)}`,
        );
        if (e !== undefined) {
          const err = expectRefused(e, (k) => k === "--ttl");
          expect(err.message).to.match(/invalid ttl:|ttl out of bounds:/);
          return;
        }
        expect(ms).to.equal(ttlOracle(value));
        expect(Date.parse(expiresAtFrom(value as string, now))).to.equal(
          now.getTime() + (ms as number),
        );
      }),
      { numRuns: RUNS },
    );
    tally.finish(RUNS);
  });

  it(`ttl in fleet:workers items: ${RUNS} values through parseWorkerEntry and parseFleetConfig`, () => {
    const tally = new Tally("fleet:workers[].ttl", {
      valid: { ...VALID, arbitrary: validTtl },
      "near-valid": { ...NEAR, arbitrary: nearTtl },
      hostile: {
        ...HOSTILE,
        arbitrary: fc
          .oneof(hostileString, wrongType)
          .filter((v) => v !== undefined && ttlOracle(v) === undefined),
      },
    });
    fuzzWorkerField(tally, "ttl", { name: "w1" }, (value, entry, config) => {
      expect(entry).to.deep.equal({ name: "w1", ttl: value });
      if (config) expect(config.entries).to.deep.equal([{ name: "w1", ttl: value }]);
    });
  });

  it(`expiresAt in fleet:workers items: ${RUNS} values through parseWorkerEntry and parseFleetConfig`, () => {
    const tally = new Tally("fleet:workers[].expiresAt", {
      valid: { ...VALID, arbitrary: validExpiresAt },
      "near-valid": { ...NEAR, arbitrary: nearExpiresAt },
      hostile: {
        ...HOSTILE,
        arbitrary: fc
          .oneof(
            hostileString,
            wrongType,
            fc.date().map((d) => d.getTime()),
          )
          .filter((v) => v !== undefined && !expiresAtOracle(v)),
      },
    });
    fuzzWorkerField(tally, "expiresAt", { name: "w1", ttl: "2h" }, (value, entry) => {
      expect(expiresAtOracle(value), String(value)).to.equal(true);
      expect(entry).to.deep.equal({ name: "w1", ttl: "2h", expiresAt: value });
      // It names the instant it says: the same as Date makes of it.
      expect(new Date(value as string).toISOString().slice(0, 19)).to.equal(
        (value as string).slice(0, 19),
      );
    });
  });

  /** Hostile candidate lists: wrong types, hostile clouds, prototype keys, deep nesting. */
  const hostilePlacements: fc.Arbitrary<unknown> = fc
    .oneof(
      wrongType,
      hostileString,
      fc
        .tuple(
          validPlacements,
          hostileString.filter((c) => !(CLOUDS as readonly string[]).includes(c)),
        )
        .map(([l, cloud]) => [...l, { cloud }]),
      fc.tuple(validPlacements, wrongType).map(([l, w]) => [w, ...l]),
      fc
        .constantFrom(
          '[{"cloud":"aws","__proto__":{"polluted":true}}]',
          '[{"__proto__":{"cloud":"aws"}}]',
          '[{"cloud":"aws","constructor":{"prototype":{"polluted":true}}}]',
          '[{"cloud":{"__proto__":"aws"}}]',
          '[{"cloud":["aws"]}]',
          '[{"cloud":"aws","region":{"toString":"us-east-1"}}]',
        )
        .map((t) => JSON.parse(t) as unknown),
      fc.integer({ min: 100, max: 5_000 }).map((d) => [nest(d, true)]),
    )
    .filter(
      (v) =>
        v !== undefined &&
        !(
          Array.isArray(v) &&
          v.length > 0 &&
          v.every(
            (p) =>
              !!p &&
              typeof p === "object" &&
              (CLOUDS as readonly unknown[]).includes((p as { cloud?: unknown }).cloud),
          )
        ),
    );

  it(`fleet:placements: ${RUNS} stack config texts through parseFleetConfig`, () => {
    const tally = new Tally("fleet:placements", {
      valid: { ...VALID, arbitrary: validPlacements.map((l) => JSON.stringify(l)) },
      "near-valid": {
        ...NEAR,
        arbitrary: fc.oneof(
          { weight: 9, arbitrary: nearPlacements.map((l) => safeJson(l)) },
          {
            weight: 1,
            // Not JSON, or not a list: YAML-ish text, an object, a bare cloud name.
            arbitrary: fc.constantFrom(
              "[{cloud: aws}]",
              '{"cloud":"aws"}',
              "aws",
              "[",
              '"aws"',
              "null",
            ),
          },
        ),
      },
      hostile: {
        ...HOSTILE,
        arbitrary: fc.oneof(
          hostilePlacements.map((v) => safeJson(v)),
          hostileString.filter((s) => s !== ""),
          fc.integer({ min: 1, max: 15_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
        ),
      },
    });
    const protoBefore = prototypeKeys();
    fc.assert(
      fc.property(tally.arbitrary, ({ cls, value }) => {
        const values = {
          "fleet:cloud": "aws",
          "fleet:workers": '["w1","w2"]',
          "fleet:sshPublicKeys": SSH_KEY,
          "fleet:placements": value as string,
        };
        let config: FleetConfig | undefined;
        const e = attempt(() => (config = expectRoundTrip(values, PLACED)));
        tally.count(
          cls,
          e === undefined ? "accepted" : "refused",
          () => `${String(value).slice(0, 300)} → ${String(e)}`,
        );
        expect(prototypeKeys(), "Object.prototype changed").to.equal(protoBefore);
        if (e !== undefined) {
          expectRefused(e, (k) => k.startsWith("fleet:placements"));
          return;
        }
        const list = JSON.parse(value as string) as { cloud: string }[];
        expect(config?.placements).to.deep.equal(list);
        // Every worker without a cloud of its own starts on the first candidate.
        expect(config?.workers.map((w) => w.cloud)).to.deep.equal([list[0].cloud, list[0].cloud]);
      }),
      { numRuns: RUNS },
    );
    tally.finish(RUNS);
  });

  it(`placements in fleet:workers items: ${RUNS} values through parseWorkerEntry and parseFleetConfig`, () => {
    const tally = new Tally("fleet:workers[].placements", {
      valid: { ...VALID, arbitrary: validPlacements },
      "near-valid": { ...NEAR, arbitrary: nearPlacements },
      hostile: { ...HOSTILE, arbitrary: hostilePlacements },
    });
    fuzzWorkerField(
      tally,
      "placements",
      { name: "w1" },
      (value, entry, config) => {
        expect(entry).to.deep.equal({ name: "w1", placements: value });
        if (config)
          expect(config.workers[0].cloud).to.equal((value as { cloud: string }[])[0].cloud);
      },
      { "fleet:sshPublicKeys": SSH_KEY },
    );
  });

  it(`placements next to a worker's own region or size: ${RUNS} items (refused without a cloud)`, () => {
    // A rule of its own: region/size with placements need the worker's cloud too.
    const tally = new Tally("fleet:workers[].placements with region/size", {
      "with cloud": { expect: "accepted", floor: 0.3, arbitrary: fc.constant(true) },
      "without cloud": { expect: "refused", floor: 0.3, arbitrary: fc.constant(false) },
    });
    fc.assert(
      fc.property(
        tally.arbitrary,
        validPlacements,
        fc.constantFrom("region", "size"),
        ({ cls, value }, list, field) => {
          const item = {
            name: "w1",
            [field]: field === "region" ? "us-east-1" : "t3.micro",
            placements: list,
            ...(value ? { cloud: "aws" } : {}),
          };
          const e = attempt(() => parseWorkerEntry("fleet:workers[0]", item));
          tally.count(cls, e === undefined ? "accepted" : "refused", () => String(e));
          if (e !== undefined) expectRefused(e, (k) => k === "fleet:workers[0].placements");
        },
      ),
      { numRuns: RUNS },
    );
    tally.finish(RUNS);
  });

  it(`fleet:placementOrder: ${RUNS} values through parseFleetConfig (with generated candidates)`, () => {
    const tally = new Tally("fleet:placementOrder", {
      valid: { ...VALID, arbitrary: fc.constantFrom("listed", "cheapest", "") },
      "near-valid": { ...NEAR, arbitrary: nearPlacementOrder },
      hostile: {
        ...HOSTILE,
        arbitrary: fc
          .oneof(
            hostileString,
            wrongType.map((v) => safeJson(v)),
          )
          .filter((s) => !["listed", "cheapest", ""].includes(s)),
      },
    });
    fc.assert(
      fc.property(tally.arbitrary, validPlacements, ({ cls, value }, list) => {
        const values = {
          "fleet:cloud": "aws",
          "fleet:workers": '["w1"]',
          "fleet:sshPublicKeys": SSH_KEY,
          "fleet:placements": JSON.stringify(list),
          "fleet:placementOrder": value as string,
        };
        let config: FleetConfig | undefined;
        const e = attempt(() => (config = expectRoundTrip(values, PLACED)));
        tally.count(
          cls,
          e === undefined ? "accepted" : "refused",
          () => `${describeValue(value)} → ${String(e)}`,
        );
        if (e !== undefined) {
          expectRefused(e, (k) => k === "fleet:placementOrder");
          return;
        }
        expect(config?.placementOrder).to.equal(value || "listed");
        const first = config?.workers[0].cloud;
        if (config?.placementOrder === "listed") expect(first).to.equal(list[0].cloud);
        else expect(list.map((p) => p.cloud)).to.include(first);
      }),
      { numRuns: RUNS },
    );
    tally.finish(RUNS);
  });

  it(`fleet:userDataFile: ${RUNS} files (names and contents) through parseFleetConfig`, () => {
    const MAX = MAX_USER_DATA_BYTES;
    /** A file fleet must read: a name, and its body (a string, or an fs error code). */
    type File = { name: string; body: string | { code: string } };
    const names = fc.oneof(
      validName,
      fc.constantFrom(
        "cloud-init.yaml",
        "init/user-data.sh",
        "./boot.yaml",
        "/etc/fleet/init.yaml",
      ),
    );
    const wellFormed = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.constant("#cloud-config\npackages: [htop]\nruncmd:\n  - [sh, -c, 'echo hi']\n"),
      fc.integer({ min: 0, max: MAX }).map((n) => "x".repeat(n)),
      fc.constant("x".repeat(MAX)),
      fc.constant("é".repeat(MAX / 2)), // exactly the limit in bytes, half of it in characters
    );
    const valid = fc.record({ name: names, body: wellFormed }) as fc.Arbitrary<File>;
    const near = fc.oneof(
      // Too large, in bytes (é is 2 bytes: 8,193 characters are over the limit).
      fc.record({
        name: names,
        body: fc.integer({ min: MAX + 1, max: MAX + 2_000 }).map((n) => "y".repeat(n)),
      }),
      fc.record({
        name: names,
        body: fc.integer({ min: MAX / 2 + 1, max: MAX / 2 + 50 }).map((n) => "é".repeat(n)),
      }),
      // Not readable.
      fc.record({
        name: names,
        body: fc
          .constantFrom("ENOENT", "EACCES", "EISDIR", "ENAMETOOLONG", "ELOOP")
          .map((code) => ({ code })),
      }),
      // A credential anywhere in it.
      fc
        .tuple(
          names,
          wellFormed.map((s) => s.slice(0, 2_000)),
          credentialLine,
          fc.nat(),
        )
        .map(([name, text, secret, i]) => {
          const at = i % (text.length + 1);
          return { name, body: `${text.slice(0, at)}\n${secret}\n${text.slice(at)}` };
        }),
    ) as fc.Arbitrary<File>;
    const hostile = fc.record({
      name: hostileString.filter((s) => s !== ""),
      body: fc.oneof(
        hostileString,
        fc.string({ unit: "binary", maxLength: 500 }),
        fc.constant("\u0000".repeat(MAX)),
        fc.constant("\ud800".repeat(MAX / 3)), // lone surrogates: 3 bytes each as UTF-8
      ),
    }) as fc.Arbitrary<File>;
    // Real files, read by fleet's own reader: what each must do.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-fuzz-userdata-"));
    /** What fleet must do with a name: read it when it resolves to a regular file within the limit. */
    const realOutcome = (name: string): Outcome => {
      try {
        // Resolved as fleet resolves it (path.resolve: "init.yaml/" is init.yaml).
        const st = fs.statSync(path.resolve(dir, name));
        return st.isFile() && st.size <= MAX ? "accepted" : "refused";
      } catch {
        return "refused";
      }
    };
    fs.writeFileSync(path.join(dir, "init.yaml"), "#cloud-config\nruncmd: [echo hi]\n");
    fs.writeFileSync(path.join(dir, "limit.yaml"), "é".repeat(MAX / 2));
    fs.writeFileSync(path.join(dir, "over.yaml"), "é".repeat(MAX / 2 + 1));
    fs.writeFileSync(path.join(dir, "huge.yaml"), "");
    fs.truncateSync(path.join(dir, "huge.yaml"), 1024 ** 3); // sparse
    fs.mkdirSync(path.join(dir, "sub"));
    fs.symlinkSync("loop", path.join(dir, "loop"));
    const fifo = spawnSync("mkfifo", [path.join(dir, "fifo")]).status === 0;
    const realNames = fc.oneof(
      fc.constantFrom(
        ...["init.yaml", "limit.yaml", "over.yaml", "huge.yaml", "sub", "loop", "missing", "."],
        ...["init.yaml/", "init.yaml\u0000", "../", "/dev/zero", "/dev/null", "/dev/stdin"],
        ...(fifo ? ["fifo"] : []),
      ),
      hostileString.filter((s) => s !== ""),
    );
    const tally = new Tally("fleet:userDataFile", {
      valid: { ...VALID, arbitrary: valid },
      "near-valid": { ...NEAR, arbitrary: near },
      // Whatever the name and bytes: accepted exactly when readable and within the limit.
      hostile: { ...HOSTILE, expect: "either", arbitrary: hostile },
      // Real files through fleet's own reader: FIFOs, devices, sparse giants, loops.
      "hostile (real files)": {
        expect: "either",
        floor: 0.05,
        weight: 1,
        arbitrary: realNames.map((name) => ({ name, body: { code: "real" } })),
      },
    });
    try {
      fc.assert(
        fc.property(tally.arbitrary, ({ cls, value }) => {
          const { name, body } = value as File;
          const onDisk = cls === "hostile (real files)";
          const readFile = (f: string): Buffer => {
            if (typeof body !== "string")
              throw Object.assign(new Error(`${body.code}: ${f}`), { code: body.code });
            return Buffer.from(body);
          };
          let config: FleetConfig | undefined;
          const e = attempt(
            () =>
              (config = expectRoundTrip(
                { ...HONOURS_ALL, "fleet:userDataFile": name },
                onDisk
                  ? { stack: "dev", projectDir: dir }
                  : { stack: "dev", readFile, projectDir: "/nonexistent" },
              )),
          );
          if (onDisk) {
            const outcome = e === undefined ? "accepted" : "refused";
            tally.count(cls, outcome, () => `${JSON.stringify(name)} → ${String(e)}`);
            // Devices (/dev/null, /dev/zero), FIFOs and directories are refused: not regular files.
            expect(outcome, `${JSON.stringify(name)}: ${String(e)}`).to.equal(realOutcome(name));
            if (e !== undefined) expectRefused(e, (k) => k === "fleet:userDataFile");
            return;
          }
          const outcome = e === undefined ? "accepted" : "refused";
          tally.count(
            cls,
            outcome,
            () =>
              `${JSON.stringify(name).slice(0, 100)} (${typeof body === "string" ? `${Buffer.byteLength(body)} bytes` : body.code}) → ${String(e)}`,
          );
          if (cls === "hostile") {
            // A name that looks like a credential (config/errors.ts looksLikeCredential) is
            // refused before any file is read: fleet's keys never hold credentials.
            const fits =
              typeof body === "string" &&
              Buffer.byteLength(body) <= MAX &&
              !looksLikeCredential(name);
            expect(outcome, `${describeValue(name)}: ${String(e)}`).to.equal(
              fits ? "accepted" : "refused",
            );
          }
          if (e !== undefined) {
            expectRefused(e, (k) => k === "fleet:userDataFile");
            return;
          }
          expect(config?.userData).to.equal(Buffer.from(body as string).toString("utf8"));
        }),
        { numRuns: RUNS },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    tally.finish(RUNS);
  });
});
