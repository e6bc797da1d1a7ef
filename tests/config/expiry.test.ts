import { expect } from "chai";
import { FleetConfigError } from "../../config/errors";
import {
  MAX_TTL_MS,
  MIN_TTL_MS,
  expiredWorkers,
  expiresAtFrom,
  expiryWarning,
  isExpired,
  parseTtl,
  stampExpiry,
  validateExpiresAt,
} from "../../config/expiry";
import { parseFleetConfig, parseWorkerEntry } from "../../config/fleet-config";

function refusal(fn: () => unknown): FleetConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(FleetConfigError);
    return e as FleetConfigError;
  }
  expect.fail("expected a FleetConfigError");
}

const NOW = new Date("2026-11-26T01:00:00.000Z");

describe("expiry", () => {
  describe("parseTtl", () => {
    it("accepts whole minutes, hours and days", () => {
      expect(parseTtl("ttl", "30m")).to.equal(30 * 60_000);
      expect(parseTtl("ttl", "2h")).to.equal(2 * 3_600_000);
      expect(parseTtl("ttl", "1d")).to.equal(86_400_000);
    });

    it("is bounded: 5m to 30d, both included", () => {
      expect(parseTtl("ttl", "5m")).to.equal(MIN_TTL_MS);
      expect(parseTtl("ttl", "30d")).to.equal(MAX_TTL_MS);
      expect(parseTtl("ttl", "720h")).to.equal(MAX_TTL_MS);
      for (const v of ["4m", "31d", "721h", "43201m"]) {
        const e = refusal(() => parseTtl("--ttl", v));
        expect(e.message, v).to.contain("ttl out of bounds");
        expect(e.allowed).to.contain("from 5m to 30d");
      }
    });

    it("refuses anything else, naming the key, the value and what is allowed", () => {
      for (const v of [
        "2x",
        "",
        "1.5h",
        "-1h",
        "0h",
        " 2h",
        "2h ",
        "2 h",
        "h",
        "2H",
        "1w",
        "02h",
        "9999999d",
      ]) {
        const e = refusal(() => parseTtl("--ttl", v));
        expect(e.key, v).to.equal("--ttl");
        expect(e.value, v).to.equal(JSON.stringify(v));
        expect(e.message, v).to.contain("such as 30m, 2h or 1d");
      }
      for (const v of [2, null, undefined, { h: 2 }])
        expect(refusal(() => parseTtl("ttl", v)).key).to.equal("ttl");
    });
  });

  describe("expiresAt", () => {
    it("is now + ttl, ISO-8601 UTC", () => {
      expect(expiresAtFrom("2h", NOW)).to.equal("2026-11-26T03:00:00.000Z");
      expect(expiresAtFrom("30m", NOW)).to.equal("2026-11-26T01:30:00.000Z");
    });

    it("validates stored values", () => {
      expect(validateExpiresAt("k", "2026-11-26T03:00:00.000Z")).to.equal(
        "2026-11-26T03:00:00.000Z",
      );
      expect(validateExpiresAt("k", "2026-11-26T03:00:00Z")).to.equal("2026-11-26T03:00:00Z");
      for (const v of [
        "2026-11-26",
        "2026-11-26T03:00:00+01:00",
        "tomorrow",
        "2026-02-30T00:00:00Z",
        5,
      ]) {
        const e = refusal(() => validateExpiresAt("fleet:workers[0].expiresAt", v));
        expect(e.key, String(v)).to.equal("fleet:workers[0].expiresAt");
      }
    });

    it("stampExpiry records expiresAt for entries with a ttl and leaves the others alone", () => {
      const recorded = { name: "c", ttl: "1d", expiresAt: "2026-12-01T00:00:00.000Z" };
      const out = stampExpiry(["a", { name: "b", ttl: "2h" }, recorded, { name: "d" }], NOW);
      expect(out).to.deep.equal([
        "a",
        { name: "b", ttl: "2h", expiresAt: "2026-11-26T03:00:00.000Z" },
        recorded,
        { name: "d" },
      ]);
      expect(out[2]).to.equal(recorded); // already recorded: never moved by a later update
    });

    it("isExpired / expiredWorkers: expired at expiresAt itself and after, in declaration order", () => {
      const entries = [
        "plain",
        { name: "later", expiresAt: "2026-11-26T01:00:00.001Z" },
        { name: "now", expiresAt: "2026-11-26T01:00:00.000Z" },
        { name: "past", expiresAt: "2020-01-01T00:00:00.000Z" },
      ];
      expect(entries.map((e) => isExpired(e, NOW))).to.deep.equal([false, false, true, true]);
      expect(expiredWorkers(entries, NOW)).to.deep.equal([
        { name: "now", expiresAt: "2026-11-26T01:00:00.000Z" },
        { name: "past", expiresAt: "2020-01-01T00:00:00.000Z" },
      ]);
      expect(expiredWorkers(["a"], NOW)).to.deep.equal([]);
    });

    it("the warning is one line naming each expired worker and the remedy", () => {
      const one = expiryWarning([{ name: "w1", expiresAt: "2020-01-01T00:00:00.000Z" }]);
      expect(one).to.equal(
        "fleet: 1 worker is past its expiry: w1 (expired 2020-01-01T00:00:00.000Z); `fleet reap` removes it",
      );
      const two = expiryWarning([
        { name: "a", expiresAt: "x" },
        { name: "b", expiresAt: "y" },
      ]);
      expect(two).to.match(
        /^fleet: 2 workers are past their expiry: a \(expired x\), b \(expired y\); `fleet reap` removes them$/,
      );
      expect(two).to.not.contain("\n");
    });
  });

  describe("ttl and expiresAt in fleet:workers", () => {
    it("a worker object may carry them; they are validated with the key that holds them", () => {
      expect(
        parseWorkerEntry("fleet:workers[0]", {
          name: "w",
          ttl: "2h",
          expiresAt: "2026-11-26T03:00:00.000Z",
        }),
      ).to.deep.equal({
        name: "w",
        ttl: "2h",
        expiresAt: "2026-11-26T03:00:00.000Z",
      });
      const e = refusal(() => parseWorkerEntry("fleet:workers[3]", { name: "w", ttl: "forever" }));
      expect(e.key).to.equal("fleet:workers[3].ttl");
      expect(e.message).to.contain('got "forever"');
    });

    it("the program accepts them and gives the strategies nothing new (expiry never changes what `up` declares)", () => {
      const workers = JSON.stringify([
        { name: "w", ttl: "2h", expiresAt: "2020-01-01T00:00:00.000Z" },
        "v",
      ]);
      const cfg = parseFleetConfig(
        { "fleet:cloud": "local", "fleet:workers": workers },
        { stack: "dev" },
      );
      expect(cfg.workers.map((w) => w.name)).to.deep.equal(["w", "v"]);
      expect(Object.keys(cfg.workers[0]).sort()).to.deep.equal([
        "cloud",
        "image",
        "name",
        "region",
        "size",
      ]);
    });
  });
});
