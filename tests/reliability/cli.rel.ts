/**
 * Issue 7, part 1 (CLI arguments): `fleet` run in-process (`main(argv)`) with Pulumi's
 * engine first on PATH (fleet opens the stack through the Automation API exactly as it does for
 * a person; no test switch), with generated argument lists, and real create/delete/list/sync
 * runs checked against a model and against `reckon` (simulated cloud, checkpoint, config).
 * Every run ends with an exit code (0, 1 or 2) and readable one-line errors naming what was
 * wrong; a refused run changes nothing in the stack or the cloud.
 *
 * Sizes: FLEET_REL_CLI_RUNS argument lists (default 1,000: about 0.15 s each, the lists that
 * reach the engine run it) and FLEET_REL_CLI_REAL_RUNS real runs (default 25, each an
 * engine update of several seconds).
 */
import { expect } from "chai";
import fc from "fast-check";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { main } from "../../cli/fleet";
import { openCloud } from "../sim/cloud";
import { type RelProject, ledgerCounts, reckon, relProject, settle } from "./support/project";
import { capture } from "./support/fixtures";
import { Tally } from "./support/classes";
import {
  hostileString,
  nearName,
  nearTtl,
  ttlOracle,
  validName,
  validTtl,
} from "./support/generators";
import { record } from "./support/stats";

const RUNS = Number(process.env.FLEET_REL_CLI_RUNS ?? 1_000);
const REAL_RUNS = Number(process.env.FLEET_REL_CLI_REAL_RUNS ?? 25);
const SLOW_MS = 30_000;

const CREDENTIAL_ENV = /^(DIGITALOCEAN_|AWS_|FLEET_STACK$|PULUMI_)/;

/** This process's environment for in-process runs: the project's (the engine first on PATH), no credentials unless asked. */
function isolate(p: RelProject, credentials: boolean): () => void {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (CREDENTIAL_ENV.test(k)) delete process.env[k];
  for (const [k, v] of Object.entries(p.env)) if (v !== undefined) process.env[k] = v;
  if (!credentials) delete process.env.DIGITALOCEAN_TOKEN;
  return () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  };
}

/** What a run could change: stack config, the checkpoint's resources, the simulated cloud. */
async function snapshot(p: RelProject): Promise<string> {
  const h = crypto.createHash("sha256");
  h.update(fs.existsSync(p.stackFile) ? fs.readFileSync(p.stackFile) : "(none)");
  for (const r of p.checkpoint().resources) h.update(JSON.stringify([r.urn, r.id, r.outputs]));
  h.update(JSON.stringify(p.checkpoint().pending));
  const objects = await openCloud(p.simDir).list();
  for (const o of objects) h.update(JSON.stringify(o));
  return h.digest("hex");
}

/** A name commander reads as an option: starts with "-" and is not a negative number (commander 14's `negativeNumberArg`). */
const readAsOption = (n: string) => n.startsWith("-") && !/^-(\d+|\d*\.\d+)(e[+-]?\d+)?$/.test(n);

/** A line fleet prints for a refusal: it starts by naming the key or the thing refused. */
const NAMED =
  /^fleet: error: (names(\[\d+\])?|cloud|count|worker|stack|--stack|--ttl|credentials for [a-z]+|fleet:[A-Za-z]+(\[\d+\])?(\.[a-z]+)?|config\/[a-z]+\.yaml): /;

function expectCleanOutput(code: number, stdout: string, stderr: string, argv: string[]): void {
  const ctx = `fleet ${JSON.stringify(argv)} → ${code}\n${stderr}`;
  expect([0, 1, 2], ctx).to.include(code);
  expect(stderr, ctx).not.to.match(/^\s+at /m); // no stack traces
  if (!argv.some((a) => a.includes("[object")))
    expect(stdout + stderr, ctx).not.to.contain("[object Object]");
  if (code === 1) {
    const errors = stderr.split("\n").filter((l) => l.startsWith("fleet: error: "));
    expect(errors.length, ctx).to.be.at.least(1);
    for (const line of errors) expect(line, ctx).to.match(NAMED);
  }
  if (code === 2) expect(stderr, ctx).to.match(/(^|\n)(error: |fleet: |Usage: fleet)/);
}

/** One argv token: commands, options, values good and bad. */
const token: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "create",
      "delete",
      "delete-all",
      "list",
      "ls",
      "use",
      "sync",
      "env",
      "help",
      "bogus",
      "Create",
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "--json",
      "-q",
      "--quiet",
      "-n",
      "--count",
      "--cloud",
      "-y",
      "--yes",
      "-r",
      "--refresh",
      "-s",
      "--stack",
      "--version",
      "--",
      "-h",
      "--help",
      "--no-such",
      "-x",
      "--count=3",
      "--cloud=aws",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "aws",
      "digitalocean",
      "local",
      "azure",
      "0",
      "-1",
      "1e3",
      "10001",
      "99999999999",
      "abc",
      "2",
      "1",
    ),
  },
  { weight: 3, arbitrary: validName },
  { weight: 2, arbitrary: nearName },
  { weight: 2, arbitrary: hostileString.map((s) => s.slice(0, 300)) },
);

/** Options that would point fleet at another directory are left out: runs stay in the temp dir. */
const outsideCwd = (t: string) => /^--c/.test(t) || /^-[^-]*C/.test(t);

describe("fuzz: the fleet command", function () {
  this.timeout(0);

  it(`${RUNS} generated argument lists: exit 0/1/2, clear errors, nothing changed`, async () => {
    const p = relProject("cli");
    const dir = p.dir;
    // Two workers exist; then the credentials go, so nothing generated can change the stack.
    const made = p.fleet(["create", "keep-1", "keep-2", "-q"]);
    expect(made.status, made.stderr).to.equal(0);
    const restore = isolate(p, false);
    const before = await snapshot(p);
    const codes = new Map<number, number>();
    let ran = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(token, { maxLength: 7 }), async (tokens) => {
          const argv = ["-C", dir, ...tokens.filter((t) => !outsideCwd(t))];
          const t = Date.now();
          const { result: code, stdout, stderr } = await capture(() => main(argv));
          ran++;
          expect(Date.now() - t, `fleet ${JSON.stringify(argv)} hung`).to.be.below(SLOW_MS);
          codes.set(code, (codes.get(code) ?? 0) + 1);
          expectCleanOutput(code, stdout, stderr, argv);
          expect(await snapshot(p), `fleet ${JSON.stringify(argv)} changed the stack`).to.equal(
            before,
          );
        }),
        { numRuns: RUNS },
      );
    } finally {
      restore();
    }
    record({ inputs: { "CLI arguments": ran } });
    // The generator reaches every outcome.
    if (RUNS >= 1_000) expect([...codes.keys()].sort()).to.deep.equal([0, 1, 2]);
    const r = await settle(p, { intended: ["keep-1", "keep-2"] });
    expect(r.details).to.deep.equal([]);
    expect(r.config).to.deep.equal(["keep-1", "keep-2"]);
  });

  it(`${REAL_RUNS} real create/delete/list/sync runs agree with a model`, async () => {
    const p = relProject("cli-real");
    const dir = p.dir;
    const restore = isolate(p, true);
    const pool = ["a1", "a2", "b.1", "c-3", "D4", "e5"];
    const model = new Set<string>();
    const nameArb = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...pool) },
      { weight: 1, arbitrary: nearName.filter((n) => !outsideCwd(n)) },
    );
    const cmdArb = fc.oneof(
      fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }).map((n) => ["create", ...n]),
      fc.uniqueArray(nameArb, { minLength: 1, maxLength: 2 }).map((n) => ["delete", ...n]),
      fc.constant(["list"]),
      fc.constant(["sync"]),
    );
    let runs = 0;
    try {
      // The first command on the seeded `dev` stack starts it in the backend (`stack init`
      // writes its salt into the stack file), whatever the command: start it before comparing
      // refused runs' snapshots.
      const first = await capture(() => main(["-C", dir, "-q", "list"]));
      expect(first.result, first.stderr).to.equal(0);
      await fc.assert(
        fc.asyncProperty(cmdArb, fc.boolean(), async (cmd, json) => {
          runs++;
          const argv = ["-C", dir, ...(json ? ["--json"] : ["-q"]), ...cmd];
          const snap = await snapshot(p);
          const { result: code, stdout, stderr } = await capture(() => main(argv));
          expectCleanOutput(code, stdout, stderr, argv);
          const names = cmd.slice(1);
          const lower = new Set([...model].map((n) => n.toLowerCase()));
          const valid = names.every((n) => /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(n));
          let ok = true;
          if (cmd[0] === "create") ok = valid && names.every((n) => !lower.has(n.toLowerCase()));
          if (cmd[0] === "delete") ok = valid && names.every((n) => model.has(n));
          // A name commander reads as an option is an unknown option: a usage error (2).
          const expected = ok ? 0 : names.some(readAsOption) ? 2 : 1;
          expect(code, `${JSON.stringify(argv)}\n${stderr}`).to.equal(expected);
          if (!ok) {
            expect(await snapshot(p), "a refused run changed the stack").to.equal(snap);
            return;
          }
          if (cmd[0] === "create") names.forEach((n) => model.add(n));
          if (cmd[0] === "delete") names.forEach((n) => model.delete(n));
          if (json && cmd[0] === "create") {
            const made = JSON.parse(stdout) as { name: string }[];
            expect(made.map((w) => w.name)).to.deep.equal(names);
          }
          const r = await reckon(p, { intended: [...model] });
          expect(r.details).to.deep.equal([]);
          expect(new Set(r.config)).to.deep.equal(model);
          expect(r.state.length).to.equal(model.size);
        }),
        { numRuns: REAL_RUNS },
      );
    } finally {
      restore();
    }
    record({ inputs: { "CLI real runs": runs } });
    const r = await settle(p, { intended: [...model] });
    expect(r.details).to.deep.equal([]);
    expect(ledgerCounts(p.ledger()).faults).to.equal(0);
  });
});

/**
 * Issue 16: the commands added since the first fuzzer (`cost`, `reap`, `create --ttl`), both
 * ways, in classes with floors (support/classes.ts). Valid lists must succeed (`cost`, `reap`:
 * exit 0 with the workers that exist / nothing to reap) or, for `create --ttl`, get past the
 * ttl (the run then stops at the missing credentials, as every create in this test does, so
 * nothing changes); near-valid and hostile ones must be refused: a bad `--ttl` with exit 1 and
 * one line naming `--ttl`, stray arguments and options with a usage error (exit 2).
 */
// Sizes: FLEET_REL_CLI_RUNS lists (default 1,000). A valid list opens the stack on the engine
// (about 1 s on 2 busy cores), so valid lists are a fifth of the mix, each class with a floor.
describe("fuzz: fleet cost, reap and create --ttl", function () {
  this.timeout(0);

  it(`${RUNS} generated argument lists, both ways`, async () => {
    const p = relProject("cli-added");
    const dir = p.dir;
    const made = p.fleet(["create", "keep-1", "keep-2", "-q"]);
    expect(made.status, made.stderr).to.equal(0);
    const restore = isolate(p, false);
    const before = await snapshot(p);

    const globals = fc
      .subarray(["--json", "-q", "--stack=dev"])
      .chain((g) => fc.shuffledSubarray(g, { minLength: g.length, maxLength: g.length }));
    /** Tokens that are no option of fleet's (a stray argument). */
    const stray = fc
      .oneof(
        validName,
        nearName,
        hostileString.map((s) => s.slice(0, 200)),
      )
      .filter((t) => !t.startsWith("-"));
    /** Options `cost` and `reap` do not have. */
    const foreignOption = fc.constantFrom(
      "--cloud=aws",
      "--ttl=1h",
      "--count=2",
      "-n",
      "--yes",
      "-y",
      "--refresh",
      "-r",
      "--update",
      "--dir=x",
      "--no-such",
    );
    const costOrReap = fc.constantFrom("cost", "reap");
    /** `create` with names or --count and `--ttl` (as two tokens, or glued: `--ttl=<value>`). */
    const createWith = (ttl: string, glued: fc.Arbitrary<boolean> = fc.boolean()) =>
      fc
        .tuple(
          fc.oneof(
            fc.uniqueArray(validName, { maxLength: 3 }),
            fc.integer({ min: 1, max: 5 }).map((n) => ["--count", String(n)]),
          ),
          glued.map((g) => (g ? [`--ttl=${ttl}`] : ["--ttl", ttl])),
          fc.boolean(),
        )
        .map(([rest, t, first]) => ["create", ...(first ? [...t, ...rest] : [...rest, ...t])]);
    const tally = new Tally("CLI arguments: cost, reap, create --ttl", {
      "valid cost/reap": {
        expect: "accepted",
        floor: 0.06,
        weight: 1,
        arbitrary: fc.tuple(globals, costOrReap).map(([g, c]) => [...g, c]),
      },
      "valid create --ttl": {
        expect: "accepted",
        floor: 0.06,
        weight: 1,
        arbitrary: fc
          .tuple(globals, validTtl)
          .chain(([g, t]) => createWith(t).map((c) => [...g, ...c])),
      },
      "near-valid cost/reap": {
        expect: "refused",
        floor: 0.2,
        weight: 3,
        arbitrary: fc
          .tuple(globals, costOrReap, fc.oneof(stray, foreignOption))
          .map(([g, c, extra]) => [...g, c, extra]),
      },
      "near-valid --ttl": {
        expect: "refused",
        floor: 0.2,
        weight: 3,
        arbitrary: fc
          .tuple(globals, nearTtl)
          // Glued when the value starts with "-": commander would read it as an option.
          .chain(([g, t]) =>
            createWith(t, t.startsWith("-") ? fc.constant(true) : fc.boolean()).map((c) => [
              ...g,
              ...c,
            ]),
          ),
      },
      "hostile --ttl": {
        expect: "refused",
        floor: 0.12,
        weight: 2,
        arbitrary: fc
          .tuple(
            globals,
            hostileString.map((s) => s.slice(0, 300)).filter((s) => ttlOracle(s) === undefined),
          )
          .map(([g, t]) => [...g, "create", `--ttl=${t}`]),
      },
    });
    let ran = 0;
    try {
      await fc.assert(
        fc.asyncProperty(tally.arbitrary, async ({ cls, value }) => {
          const args = value as string[];
          const argv = ["-C", dir, ...args];
          const t = Date.now();
          const { result: code, stdout, stderr } = await capture(() => main(argv));
          ran++;
          const ctx = `fleet ${JSON.stringify(argv)} → ${code}\n${stderr}`;
          expect(Date.now() - t, `${ctx} hung`).to.be.below(SLOW_MS);
          expectCleanOutput(code, stdout, stderr, argv);
          const errors = stderr.split("\n").filter((l) => l.startsWith("fleet: error: "));
          const json = argv.includes("--json");
          const command = args.find((a) => ["cost", "reap", "create"].includes(a));
          let outcome: "accepted" | "refused";
          if (cls === "valid cost/reap") {
            outcome = code === 0 ? "accepted" : "refused";
            if (code === 0 && command === "cost" && json) {
              const cost = JSON.parse(stdout) as { workers: { name: string }[] };
              expect(cost.workers.map((w) => w.name).sort(), ctx).to.deep.equal([
                "keep-1",
                "keep-2",
              ]);
            }
            if (code === 0 && command === "reap" && json)
              expect(JSON.parse(stdout), ctx).to.deep.equal({ reaped: [] });
          } else if (cls === "valid create --ttl") {
            // Past the ttl: refused only for the credentials this test took away.
            outcome =
              errors.some((l) => l.includes("--ttl")) || code !== 1 ? "refused" : "accepted";
            if (outcome === "accepted")
              expect(errors.join("\n"), ctx).to.match(/^fleet: error: credentials for /);
          } else if (cls === "near-valid cost/reap") {
            outcome = code === 2 ? "refused" : "accepted";
          } else {
            outcome =
              code === 1 && errors.some((l) => l.startsWith("fleet: error: --ttl: "))
                ? "refused"
                : "accepted";
          }
          tally.count(cls, outcome, () => ctx);
          expect(await snapshot(p), `${ctx}\nchanged the stack`).to.equal(before);
        }),
        { numRuns: RUNS },
      );
    } finally {
      restore();
    }
    expect(ran).to.equal(RUNS);
    tally.finish(RUNS);
    const r = await settle(p, { intended: ["keep-1", "keep-2"] });
    expect(r.details).to.deep.equal([]);
  });
});
