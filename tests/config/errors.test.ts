import { expect } from "chai";
import {
  describeValue,
  FleetConfigError,
  FleetConfigErrors,
  isCredentialKey,
  looksLikeCredential,
} from "../../config/errors";
import { FAKE } from "../harness/credentials";

describe("config/errors", () => {
  describe("FleetConfigError", () => {
    it("names the key, the value and what is allowed", () => {
      const e = new FleetConfigError("fleet:size", "huge", "small, medium or large", "bad size:");
      expect(e.message).to.equal('fleet:size: bad size: got "huge"; small, medium or large');
      expect(e.name).to.equal("FleetConfigError");
      expect(e.key).to.equal("fleet:size");
      expect(e.value).to.equal('"huge"');
      expect(e.allowed).to.equal("small, medium or large");
      expect(e).to.be.instanceOf(Error);
    });

    it("works without a detail", () => {
      expect(new FleetConfigError("k", 3, "a string").message).to.equal("k: got 3; a string");
    });

    it("never prints a credential it was given", () => {
      const e = new FleetConfigError("fleet:tags", FAKE.doToken, "no secrets");
      expect(e.message).to.equal("fleet:tags: got a credential-like value (hidden); no secrets");
      expect(e.message).not.to.include("dop_v1_");
    });
  });

  describe("FleetConfigErrors", () => {
    const a = new FleetConfigError("fleet:cloud", "gcp", "known clouds: aws", "unknown cloud:");
    const b = new FleetConfigError("fleet:size", "huge", "a size", "invalid size:");

    it("is exactly its only error when there is one", () => {
      const e = new FleetConfigErrors([a]);
      expect(e.message).to.equal(a.message);
      expect(e.key).to.equal(a.key);
      expect(e.value).to.equal(a.value);
      expect(e.allowed).to.equal(a.allowed);
      expect(e.errors).to.deep.equal([a]);
      expect(e).to.be.instanceOf(FleetConfigError);
      expect(e.name).to.equal("FleetConfigError");
    });

    it("lists every problem, one per line", () => {
      const e = new FleetConfigErrors([a, b]);
      expect(e.message).to.equal(
        `2 problems in fleet's configuration:\n  - ${a.message}\n  - ${b.message}`,
      );
      expect(e.errors).to.have.length(2);
    });
  });

  describe("describeValue", () => {
    it("renders values as JSON, undefined as 'nothing'", () => {
      expect(describeValue(undefined)).to.equal("nothing");
      expect(describeValue("x")).to.equal('"x"');
      expect(describeValue(null)).to.equal("null");
      expect(describeValue([1, "a"])).to.equal('[1,"a"]');
      expect(describeValue({ a: 1 })).to.equal('{"a":1}');
    });

    it("truncates long values and says how long they were", () => {
      const long = "a".repeat(100);
      expect(describeValue(long)).to.equal(`"${"a".repeat(79)}…(102 chars)`);
    });

    it("masks credential-looking strings, also inside objects", () => {
      expect(describeValue(FAKE.awsKeyId)).to.equal("a credential-like value (hidden)");
      expect(describeValue({ k: FAKE.awsKeyId, n: "ok" })).to.equal('{"k":"(hidden)","n":"ok"}');
    });

    it("falls back to String() for values JSON cannot render", () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      expect(describeValue(circular)).to.equal("[object Object]");
      expect(describeValue(() => 1)).to.equal("() => 1");
      expect(describeValue(10n)).to.equal("10");
    });
  });

  describe("credential detection", () => {
    for (const [kind, value] of Object.entries(FAKE)) {
      it(`recognises a ${kind} credential`, () => {
        expect(looksLikeCredential(value)).to.equal(true);
        expect(looksLikeCredential(`prefix ${value} suffix`)).to.equal(kind !== "hetzner");
      });
    }

    it("does not mistake ordinary settings for credentials", () => {
      for (const v of [
        "ubuntu-24-04-x64",
        "s-1vcpu-1gb",
        "ami-0123456789abcdef0",
        "099720109477",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb me@x",
        "a".repeat(64), // 64 characters, but not mixed like a token
      ]) {
        expect(looksLikeCredential(v), v).to.equal(false);
      }
    });

    it("recognises credential key names, whatever their case", () => {
      for (const k of [
        "token",
        "apiToken",
        "secret_access_key",
        "secretKey",
        "password",
        "passphrase",
        "accessKey",
        "access-key",
        "api_key",
        "credentials",
        "private_key",
      ]) {
        expect(isCredentialKey(k), k).to.equal(true);
      }
      for (const k of ["region", "size", "image", "imageOwner", "sizes", "keyName", "tags"]) {
        expect(isCredentialKey(k), k).to.equal(false);
      }
    });
  });
});
