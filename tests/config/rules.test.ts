import { expect } from "chai";
import {
  ABSTRACT_SIZES,
  CLOUDS,
  isAbstractSize,
  isCloudName,
  parseCloud,
  randomWorkerName,
  validateCidr,
  validateIdentifier,
  validateSshPublicKey,
  validateTag,
  validateWorkerName,
  WORKER_NAME_RULE,
} from "../../config/rules";
import { refusal } from "../harness/assertions";

/** Runs `fn`, expects a FleetConfigError, returns it. */

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb";

describe("config/rules", () => {
  describe("clouds", () => {
    // The default cloud is behaviour of the config loader: fleet-config.test.ts, "with nothing
    // set: the local cloud"; comparing DEFAULT_CLOUD with its own literal proved nothing.
    it("knows aws, digitalocean and local, sorted", () => {
      expect(CLOUDS).to.include.members(["aws", "digitalocean", "local"]);
      expect([...CLOUDS]).to.deep.equal([...CLOUDS].sort());
    });

    it("accepts every known cloud and nothing else", () => {
      for (const c of CLOUDS) expect(parseCloud("fleet:cloud", c)).to.equal(c);
      expect(isCloudName("AWS")).to.equal(false);
      expect(isCloudName(undefined)).to.equal(false);
      expect(isCloudName("constructor")).to.equal(false);
    });

    it("names the bad cloud and lists the known ones", () => {
      const e = refusal(() => parseCloud("fleet:cloud", "gcp-typo"));
      expect(e.message).to.equal(
        `fleet:cloud: unknown cloud: got "gcp-typo"; known clouds: ${CLOUDS.join(", ")}`,
      );
      expect(e.key).to.equal("fleet:cloud");
      expect(e.value).to.equal('"gcp-typo"');
    });
  });

  describe("worker names", () => {
    const valid = ["a", "7", "web-1", "Web.prod-2", "a".repeat(63), "0abc"];
    const invalid: unknown[] = [
      "",
      "-a",
      ".a",
      "a_b",
      "a b",
      "a/b",
      "é",
      "a".repeat(64),
      " a",
      "a\n",
      5,
      null,
      undefined,
    ];

    for (const name of valid) {
      it(`accepts ${JSON.stringify(name.length > 20 ? `${name.length} chars` : name)}`, () => {
        expect(validateWorkerName("k", name)).to.equal(name);
      });
    }
    for (const name of invalid) {
      it(`refuses ${JSON.stringify(name) ?? "undefined"}`, () => {
        const e = refusal(() => validateWorkerName("fleet:workers[0]", name));
        expect(e.key).to.equal("fleet:workers[0]");
        expect(e.allowed).to.equal(WORKER_NAME_RULE);
        expect(e.message).to.match(/^fleet:workers\[0\]: invalid worker name: got /);
      });
    }

    it("states the rule in the message", () => {
      expect(refusal(() => validateWorkerName("fleet:workers[3]", "bad_name")).message).to.equal(
        "fleet:workers[3]: invalid worker name: got \"bad_name\"; a worker name uses letters, digits, '-' and '.', starts with a letter or digit, and has at most 63 characters",
      );
    });
  });

  describe("sizes and identifiers", () => {
    it("has exactly small, medium and large as abstract sizes", () => {
      expect([...ABSTRACT_SIZES]).to.deep.equal(["small", "medium", "large"]);
      expect(isAbstractSize("small")).to.equal(true);
      expect(isAbstractSize("Small")).to.equal(false);
      expect(isAbstractSize("s-1vcpu-1gb")).to.equal(false);
    });

    it("accepts provider identifiers, including AMI name patterns", () => {
      for (const v of [
        "nyc3",
        "us-east-1",
        "t3.micro",
        "ami-0123456789abcdef0",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
      ]) {
        expect(validateIdentifier("k", v, "image")).to.equal(v);
      }
    });

    it("refuses identifiers with spaces, a leading symbol, or over 128 characters", () => {
      for (const v of ["nyc 3", "-x", "", "a".repeat(129), 3]) {
        refusal(() => validateIdentifier("fleet:region", v, "region"));
      }
      expect(refusal(() => validateIdentifier("fleet:region", "nyc 3", "region")).message).to.equal(
        'fleet:region: invalid region: got "nyc 3"; a region is a provider identifier: letters, digits and . _ : / * + @ -, at most 128 characters',
      );
    });
  });

  describe("CIDR blocks", () => {
    it("accepts IPv4 and IPv6 blocks and trims them", () => {
      expect(validateCidr("k", "203.0.113.7/32")).to.equal("203.0.113.7/32");
      expect(validateCidr("k", "0.0.0.0/0")).to.equal("0.0.0.0/0");
      expect(validateCidr("k", " 10.0.0.0/8 ")).to.equal("10.0.0.0/8");
      expect(validateCidr("k", "2001:db8::/48")).to.equal("2001:db8::/48");
      expect(validateCidr("k", "::/0")).to.equal("::/0");
    });

    const bad: unknown[] = [
      "203.0.113.7", // a bare address is refused: nobody opens more than they meant to
      "10.0.0.0/33",
      "2001:db8::/129",
      "300.1.1.1/8",
      "010.0.0.0/8",
      "10.0.0/8",
      "example.com/32",
      "10.0.0.0/ 8",
      "10.0.0.0/8/8",
      "",
      32,
    ];
    for (const v of bad) {
      it(`refuses ${JSON.stringify(v)}`, () => {
        const e = refusal(() => validateCidr("fleet:sshAllowFrom[0]", v));
        expect(e.message).to.equal(
          `fleet:sshAllowFrom[0]: invalid CIDR: got ${JSON.stringify(v)}; a CIDR block such as 203.0.113.7/32 or 2001:db8::/48`,
        );
      });
    }
  });

  describe("SSH public keys", () => {
    it("accepts an OpenSSH public key line, with or without comment, trimmed", () => {
      expect(validateSshPublicKey("k", ED25519)).to.equal(ED25519);
      expect(validateSshPublicKey("k", `${ED25519} me@laptop\n`)).to.equal(`${ED25519} me@laptop`);
    });

    it("refuses a private key and garbage, pointing to the .pub file", () => {
      const e = refusal(() =>
        validateSshPublicKey("fleet:sshPublicKeys[0]", "-----BEGIN OPENSSH PRIVATE KEY-----"),
      );
      expect(e.message).to.equal(
        "fleet:sshPublicKeys[0]: invalid SSH public key: got a credential-like value (hidden); an OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nz… me@laptop' (the .pub file, never the private key)",
      );
      refusal(() => validateSshPublicKey("k", "ssh-dss AAAAB3Nza"));
      refusal(() => validateSshPublicKey("k", "ssh-ed25519"));
      refusal(() => validateSshPublicKey("k", 1));
    });
  });

  describe("tags", () => {
    it("accepts safe keys and values", () => {
      expect(validateTag("fleet:tags", "team", "batch-1")).to.deep.equal(["team", "batch-1"]);
      expect(validateTag("fleet:tags", "cost:center", "a_b.c")).to.deep.equal([
        "cost:center",
        "a_b.c",
      ]);
    });

    it("refuses a bad key or a bad value, naming which", () => {
      expect(refusal(() => validateTag("fleet:tags", "bad key", "v")).message).to.equal(
        'fleet:tags: invalid tag key: got "bad key"; tag keys and values use letters, digits and _ . : -, start with a letter or digit, at most 63 characters',
      );
      const e = refusal(() => validateTag("fleet:tags", "team", 7));
      expect(e.key).to.equal("fleet:tags.team");
      expect(e.message).to.match(/^fleet:tags\.team: invalid tag value: got 7;/);
      refusal(() => validateTag("fleet:tags", "team", "a b"));
    });
  });

  describe("randomWorkerName", () => {
    it("draws 10 characters from A-Z0-9 using the given source", () => {
      const draws: number[] = [];
      const name = randomWorkerName((max) => {
        draws.push(max);
        return draws.length - 1;
      });
      expect(name).to.equal("ABCDEFGHIJ");
      expect(draws).to.deep.equal(Array(10).fill(36));
      expect(randomWorkerName(() => 35)).to.equal("9999999999");
    });

    it("makes valid worker names by default", () => {
      for (let i = 0; i < 50; i++) {
        const n = randomWorkerName();
        expect(n).to.match(/^[A-Z0-9]{10}$/);
        expect(validateWorkerName("k", n)).to.equal(n);
      }
    });
  });
});
