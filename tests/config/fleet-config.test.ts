import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { CloudDefaults } from "../../config/defaults";
import { FleetConfigErrors } from "../../config/errors";
import {
  BASE_STACK_KEYS,
  type FleetConfig,
  knownStackKeys,
  MAX_USER_DATA_BYTES,
  parseFleetConfig,
  type ParseOptions,
  parseWorkerEntries,
  parseWorkerEntry,
  resolveSize,
} from "../../config/fleet-config";
import type { CloudName } from "../../config/rules";
import { FAKE } from "../harness/credentials";
import { refusal } from "../harness/assertions";

/** Made-up defaults, so layering tests do not depend on the shipped YAML. */
const FAKE_DEFAULTS: Record<string, CloudDefaults> = {
  digitalocean: {
    region: "do-r",
    size: "do-s",
    image: "do-i",
    sizes: { small: "do-small", medium: "do-medium", large: "do-large" },
    extras: {},
  },
  aws: {
    region: "aws-r",
    size: "aws-s",
    image: "aws-i",
    sizes: { small: "aws-small", medium: "aws-medium", large: "aws-large" },
    extras: { imageOwner: "111" },
  },
};

function parse(values: Record<string, string>, options: Partial<ParseOptions> = {}): FleetConfig {
  return parseFleetConfig(values, {
    stack: "dev",
    loadDefaults: (c: CloudName) => {
      const d = FAKE_DEFAULTS[c];
      if (!d) throw new Error(`test uses no defaults for ${c}`);
      return d;
    },
    ...options,
  });
}

const workers = (list: unknown[]) => JSON.stringify(list);
/** A default cloud that honours SSH keys, CIDRs, user data and tags (the local cloud does not). */
const AWS = { "fleet:cloud": "aws" };

describe("config/fleet-config", () => {
  describe("keys", () => {
    it("knows the base keys and every cloud's extra keys", () => {
      expect([...BASE_STACK_KEYS]).to.deep.equal([
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
        "stateRevision",
      ]);
      expect(knownStackKeys()).to.include.members([...BASE_STACK_KEYS, "imageOwner"]);
      expect(new Set(knownStackKeys()).size).to.equal(knownStackKeys().length);
    });
  });

  describe("parseWorkerEntry", () => {
    it("keeps a name as a name and an object as its overrides", () => {
      expect(parseWorkerEntry("k", "web-1")).to.equal("web-1");
      expect(
        parseWorkerEntry("k", { name: "w", cloud: "aws", region: "r", size: "small", image: "i" }),
      ).to.deep.equal({ name: "w", cloud: "aws", region: "r", size: "small", image: "i" });
      expect(parseWorkerEntry("k", { name: "w" })).to.deep.equal({ name: "w" });
    });

    it("refuses an unknown field (a typo), naming it", () => {
      expect(
        refusal(() => parseWorkerEntry("fleet:workers[0]", { name: "w", szie: "x" })).message,
      ).to.equal(
        'fleet:workers[0].szie: unknown worker field: got "szie"; a worker object may have name, cloud, region, size, image, placements, ttl and expiresAt',
      );
    });

    it("refuses items that are neither a name nor an object", () => {
      for (const bad of [5, null, ["a"], true]) {
        expect(refusal(() => parseWorkerEntry("fleet:workers[1]", bad)).message).to.equal(
          `fleet:workers[1]: invalid worker: got ${JSON.stringify(bad)}; each worker is a name, or an object { name, cloud?, region?, size?, image?, ttl?, expiresAt? }`,
        );
      }
    });

    it("validates each field under its own key", () => {
      expect(refusal(() => parseWorkerEntry("w[0]", { region: "r" })).key).to.equal("w[0].name");
      expect(
        refusal(() => parseWorkerEntry("w[0]", { name: "a", cloud: "mars" })).message,
      ).to.match(/^w\[0\]\.cloud: unknown cloud: got "mars"; known clouds: /);
      expect(refusal(() => parseWorkerEntry("w[0]", { name: "a", size: "x y" })).key).to.equal(
        "w[0].size",
      );
      expect(refusal(() => parseWorkerEntry("w[0]", { name: "a", region: 3 })).key).to.equal(
        "w[0].region",
      );
      expect(refusal(() => parseWorkerEntry("w[0]", { name: "a", image: "" })).key).to.equal(
        "w[0].image",
      );
    });
  });

  describe("parseWorkerEntries", () => {
    it("refuses duplicates, ignoring case, pointing at the first", () => {
      const e = refusal(() => parseWorkerEntries("fleet:workers", ["a", "b", { name: "A" }]));
      expect(e.message).to.equal(
        'fleet:workers[2]: duplicate worker name: got "A"; worker names are unique in the stack, ignoring case (first at fleet:workers[0])',
      );
    });

    it("reports every bad item at once", () => {
      const e = refusal(() => parseWorkerEntries("fleet:workers", ["-a", "ok", "ok", 3]));
      expect(e).to.be.instanceOf(FleetConfigErrors);
      expect((e as FleetConfigErrors).errors.map((x) => x.key)).to.deep.equal([
        "fleet:workers[0]",
        "fleet:workers[2]",
        "fleet:workers[3]",
      ]);
      expect(e.message.split("\n")[0]).to.equal("3 problems in fleet's configuration:");
    });

    it("refuses a value that is not a list", () => {
      expect(refusal(() => parseWorkerEntries("fleet:workers", { name: "a" })).message).to.equal(
        'fleet:workers: not a list: got {"name":"a"}; a list of worker names or { name, cloud?, region?, size?, image?, ttl?, expiresAt? } objects',
      );
    });
  });

  describe("resolveSize", () => {
    it("maps small/medium/large through the cloud's table and keeps provider sizes", () => {
      const d = FAKE_DEFAULTS.aws;
      expect(resolveSize("small", d)).to.equal("aws-small");
      expect(resolveSize("medium", d)).to.equal("aws-medium");
      expect(resolveSize("large", d)).to.equal("aws-large");
      expect(resolveSize("m5.large", d)).to.equal("m5.large");
    });
  });

  describe("parseFleetConfig", () => {
    it("with nothing set: the local cloud, no workers, no inbound, ownership tags", () => {
      expect(parse({}, { stack: "prod" })).to.deep.equal({
        project: "fleet",
        stack: "prod",
        cloud: "local",
        entries: [],
        workers: [],
        clouds: [],
        sshPublicKeys: [],
        sshAllowFrom: [],
        userData: undefined,
        tags: { "fleet:project": "fleet", "fleet:stack": "prod" },
        extras: {},
        placements: [],
        placementOrder: "listed",
        projectDir: process.cwd(),
      });
    });

    it("layers defaults ← stack keys ← the worker's own fields", () => {
      const c = parse({
        "fleet:cloud": "digitalocean",
        "fleet:region": "stack-r",
        "fleet:size": "medium",
        "fleet:image": "stack-i",
        "fleet:workers": workers([
          "plain",
          { name: "own-region", region: "w-r" },
          { name: "own-size", size: "w-s" },
          { name: "own-abstract", size: "large" },
          { name: "own-image", image: "w-i" },
        ]),
      });
      expect(c.workers).to.deep.equal([
        {
          name: "plain",
          cloud: "digitalocean",
          region: "stack-r",
          size: "do-medium",
          image: "stack-i",
        },
        {
          name: "own-region",
          cloud: "digitalocean",
          region: "w-r",
          size: "do-medium",
          image: "stack-i",
        },
        {
          name: "own-size",
          cloud: "digitalocean",
          region: "stack-r",
          size: "w-s",
          image: "stack-i",
        },
        {
          name: "own-abstract",
          cloud: "digitalocean",
          region: "stack-r",
          size: "do-large",
          image: "stack-i",
        },
        {
          name: "own-image",
          cloud: "digitalocean",
          region: "stack-r",
          size: "do-medium",
          image: "w-i",
        },
      ]);
      expect(c.clouds).to.deep.equal(["digitalocean"]);
    });

    it("applies stack keys only to workers on the stack's cloud", () => {
      const c = parse({
        "fleet:cloud": "digitalocean",
        "fleet:region": "stack-r",
        "fleet:size": "small",
        "fleet:image": "stack-i",
        "fleet:workers": workers([
          "d",
          { name: "a", cloud: "aws" },
          { name: "b", cloud: "aws", size: "small" },
        ]),
      });
      expect(c.workers).to.deep.equal([
        { name: "d", cloud: "digitalocean", region: "stack-r", size: "do-small", image: "stack-i" },
        { name: "a", cloud: "aws", region: "aws-r", size: "aws-s", image: "aws-i" },
        { name: "b", cloud: "aws", region: "aws-r", size: "aws-small", image: "aws-i" },
      ]);
      expect(c.clouds).to.deep.equal(["aws", "digitalocean"]);
    });

    it("uses aws:region when neither the worker nor fleet:region sets one", () => {
      const base = { "fleet:cloud": "aws", "aws:region": "eu-central-1" };
      const list = workers(["a", { name: "b", region: "ap-south-1" }]);
      expect(parse({ ...base, "fleet:workers": list }).workers.map((w) => w.region)).to.deep.equal([
        "eu-central-1",
        "ap-south-1",
      ]);
      expect(
        parse({ ...base, "fleet:region": "us-west-2", "fleet:workers": list }).workers.map(
          (w) => w.region,
        ),
      ).to.deep.equal(["us-west-2", "ap-south-1"]);
      // aws:region is AWS's own setting: it never moves a DigitalOcean worker.
      expect(
        parse({
          "aws:region": "eu-central-1",
          "fleet:cloud": "digitalocean",
          "fleet:workers": list,
        }).workers.map((w) => w.region),
      ).to.deep.equal(["do-r", "ap-south-1"]);
    });

    it("resolves with the shipped YAML defaults when none are injected", () => {
      const c = parseFleetConfig(
        {
          "fleet:cloud": "aws",
          "fleet:workers": workers(["a", { name: "b", cloud: "digitalocean", size: "small" }]),
        },
        { stack: "dev" },
      );
      expect(c.workers).to.deep.equal([
        {
          name: "a",
          cloud: "aws",
          region: "us-east-1",
          size: "t3.micro",
          image: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        },
        {
          name: "b",
          cloud: "digitalocean",
          region: "nyc3",
          size: "s-1vcpu-2gb",
          image: "ubuntu-24-04-x64",
        },
      ]);
      expect(c.extras).to.deep.equal({ aws: { imageOwner: "099720109477" }, digitalocean: {} });
    });

    it("layers per-cloud extras: YAML ← fleet:<extraKey>, only for clouds in use", () => {
      const list = workers(["a"]);
      expect(parse({ "fleet:cloud": "aws", "fleet:workers": list }).extras).to.deep.equal({
        aws: { imageOwner: "111" },
      });
      expect(
        parse({ "fleet:cloud": "aws", "fleet:imageOwner": "222", "fleet:workers": list }).extras,
      ).to.deep.equal({ aws: { imageOwner: "222" } });
      expect(
        parse({ "fleet:cloud": "digitalocean", "fleet:imageOwner": "222", "fleet:workers": list })
          .extras,
      ).to.deep.equal({ digitalocean: {} });
    });

    it("reads SSH keys and CIDRs as lists or single strings", () => {
      const key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb me";
      expect(parse({ ...AWS, "fleet:sshPublicKeys": key }).sshPublicKeys).to.deep.equal([key]);
      expect(
        parse({ ...AWS, "fleet:sshPublicKeys": JSON.stringify([key]) }).sshPublicKeys,
      ).to.deep.equal([key]);
      expect(parse({ ...AWS, "fleet:sshPublicKeys": "[]" }).sshPublicKeys).to.deep.equal([]);
      expect(parse({ ...AWS, "fleet:sshAllowFrom": "10.0.0.0/8" }).sshAllowFrom).to.deep.equal([
        "10.0.0.0/8",
      ]);
      expect(
        parse({
          ...AWS,
          "fleet:sshAllowFrom": JSON.stringify(["203.0.113.7/32", " 2001:db8::/48"]),
        }).sshAllowFrom,
      ).to.deep.equal(["203.0.113.7/32", "2001:db8::/48"]);
      expect(parse({ ...AWS, "fleet:sshAllowFrom": "" }).sshAllowFrom).to.deep.equal([]);
    });

    it("adds fleet:tags to the ownership tags", () => {
      expect(
        parse({ ...AWS, "fleet:tags": JSON.stringify({ team: "batch", "cost:center": "42" }) })
          .tags,
      ).to.deep.equal({
        team: "batch",
        "cost:center": "42",
        "fleet:project": "fleet",
        "fleet:stack": "dev",
      });
    });

    it("reads the user-data file relative to the project directory", () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-userdata-"));
      try {
        fs.writeFileSync(path.join(dir, "init.yaml"), "#cloud-config\npackages: [htop]\n");
        expect(
          parse({ ...AWS, "fleet:userDataFile": "init.yaml" }, { projectDir: dir }).userData,
        ).to.equal("#cloud-config\npackages: [htop]\n");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    describe("reads only a regular file, and never more than the limit", () => {
      // A FIFO used to block fleet for ever (fs.readFileSync waits for a writer), and a device
      // such as /dev/zero was read until memory ran out, all before the size check.
      let dir: string;
      beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-userdata-"))));
      afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
      const refusedWith = (file: string) => {
        const t = Date.now();
        const message = refusal(() =>
          parse({ ...AWS, "fleet:userDataFile": file }, { projectDir: dir }),
        ).message;
        expect(Date.now() - t, "refused at once").to.be.below(2_000);
        return message;
      };

      it("refuses a FIFO without waiting for a writer", function () {
        if (process.platform === "win32") this.skip();
        const made = spawnSync("mkfifo", [path.join(dir, "init.yaml")]);
        if (made.status !== 0) this.skip();
        expect(refusedWith("init.yaml")).to.contain(
          "user-data file not found or unreadable (ENOTREG)",
        );
      });

      it("refuses a device without reading it", function () {
        if (!fs.existsSync("/dev/zero")) this.skip();
        expect(refusedWith("/dev/zero")).to.contain(
          "user-data file not found or unreadable (ENOTREG)",
        );
      });

      it("refuses a directory", () => {
        expect(refusedWith(".")).to.contain("user-data file not found or unreadable (EISDIR)");
      });

      it("refuses a file over the limit by its size, without reading it", () => {
        const big = path.join(dir, "big.yaml");
        fs.writeFileSync(big, "");
        fs.truncateSync(big, 2 * 1024 ** 3); // sparse: 2 GiB that were never written
        expect(refusedWith("big.yaml")).to.contain(
          `user data of at most ${MAX_USER_DATA_BYTES} bytes (it is ${2 * 1024 ** 3})`,
        );
      });

      it("reads a file of exactly the limit", () => {
        fs.writeFileSync(path.join(dir, "init.yaml"), "é".repeat(MAX_USER_DATA_BYTES / 2));
        expect(
          parse({ ...AWS, "fleet:userDataFile": "init.yaml" }, { projectDir: dir }).userData,
        ).to.equal("é".repeat(MAX_USER_DATA_BYTES / 2));
      });
    });

    describe("the local cloud refuses what it cannot honour (shipped config/local.yaml)", () => {
      // The real defaults: the refusal must not trip over them (the quickstart's stack).
      const local = (values: Record<string, string>) =>
        parseFleetConfig(values, { stack: "dev", readFile: () => Buffer.from("#cloud-config\n") });
      const rule = "local workers are processes on this machine";

      it("accepts the quickstart: no settings, region/size/image equal to its own, abstract sizes", () => {
        expect(local({ "fleet:workers": workers(["a"]) }).workers[0]).to.include({
          cloud: "local",
          region: "localhost",
          size: "process",
          image: "builtin",
        });
        expect(() =>
          local({
            "fleet:size": "large",
            "fleet:workers": workers([
              { name: "a", region: "localhost", size: "small", image: "builtin" },
            ]),
          }),
        ).not.to.throw();
        // The same keys are fine on a cloud that honours them, with local workers in the mix.
        expect(() =>
          local({
            "fleet:cloud": "aws",
            "fleet:region": "eu-west-1",
            "fleet:sshAllowFrom": "203.0.113.7/32",
            "fleet:workers": workers(["a", { name: "b", cloud: "local" }]),
          }),
        ).not.to.throw();
      });

      it("refuses a local worker's own region, size or image", () => {
        const e = refusal(() =>
          local({
            "fleet:workers": workers([
              { name: "a", region: "eu-west-1" },
              { name: "b", size: "t3.micro", image: "ubuntu" },
            ]),
          }),
        ) as FleetConfigErrors;
        expect(e.errors.map((x) => x.message)).to.deep.equal([
          `fleet:workers[0].region: not supported by the local cloud: got "eu-west-1"; ${rule}: its region is always localhost; remove the setting or give the worker another cloud`,
          `fleet:workers[1].size: not supported by the local cloud: got "t3.micro"; ${rule}: its size is always process; remove the setting or give the worker another cloud`,
          `fleet:workers[1].image: not supported by the local cloud: got "ubuntu"; ${rule}: its image is always builtin; remove the setting or give the worker another cloud`,
        ]);
      });

      it("refuses fleet:region/size/image for workers on a local default cloud, once per key", () => {
        const e = refusal(() =>
          local({ "fleet:region": "nyc3", "fleet:workers": workers(["a", "b"]) }),
        );
        expect(e.message).to.equal(
          `fleet:region: not supported by the local cloud: got "nyc3"; ${rule}: its region is always localhost; remove the setting or give the worker another cloud`,
        );
      });

      it("refuses SSH keys, SSH CIDRs, user data and tags when every worker is local", () => {
        const key =
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQx4M0vJ0b3lDq2kRrT0hEJ0Dk1y2mQmZ5u6n3v9Qb me";
        const e = refusal(() =>
          local({
            "fleet:sshPublicKeys": key,
            "fleet:sshAllowFrom": "203.0.113.7/32",
            "fleet:userDataFile": "init.yaml",
            "fleet:tags": JSON.stringify({ team: "batch" }),
          }),
        ) as FleetConfigErrors;
        expect(e.errors.map((x) => x.key)).to.deep.equal([
          "fleet:sshPublicKeys",
          "fleet:sshAllowFrom",
          "fleet:userDataFile",
          "fleet:tags",
        ]);
        expect(e.errors[1].message).to.equal(
          `fleet:sshAllowFrom: not supported by the local cloud: got ["203.0.113.7/32"]; ${rule}: they have no firewall to open; remove the setting or give the worker another cloud`,
        );
      });
    });

    describe("refusals", () => {
      const cases: [string, Record<string, string>, string, Partial<ParseOptions>?][] = [
        [
          "an unknown fleet: key (a typo)",
          { "fleet:regoin": "nyc3" },
          `fleet:regoin: unknown config key (a typo?): got "regoin"; known keys: ${knownStackKeys()
            .map((k) => `fleet:${k}`)
            .join(", ")}`,
        ],
        [
          "workers that are not JSON",
          { "fleet:workers": "a, b" },
          'fleet:workers: not valid JSON/YAML structure: got "a, b"; a list of worker names or { name, … } objects',
        ],
        [
          "a missing user-data file",
          { "fleet:userDataFile": "missing.yaml" },
          `fleet:userDataFile: user-data file not found or unreadable (ENOENT): got "missing.yaml"; a readable cloud-init file (resolved to ${path.resolve("/srv/fleet", "missing.yaml")})`,
          { projectDir: "/srv/fleet" },
        ],
        [
          "a user-data file over 16 KiB",
          { "fleet:userDataFile": "big" },
          `fleet:userDataFile: user-data file too large: got "big"; user data of at most ${MAX_USER_DATA_BYTES} bytes (it is ${MAX_USER_DATA_BYTES + 1})`,
          { readFile: () => Buffer.alloc(MAX_USER_DATA_BYTES + 1, "a") },
        ],
        [
          "a credential in the user-data file",
          { "fleet:userDataFile": "init" },
          'fleet:userDataFile: credential found in user-data file: got "init"; user data is readable by anyone on the worker and in state: keep credentials out of it',
          { readFile: () => Buffer.from(`export AWS_ACCESS_KEY_ID=${FAKE.awsKeyId}\n`) },
        ],
        [
          "a reserved tag key",
          { "fleet:tags": '{"fleet:stack":"x"}' },
          "fleet:tags: reserved tag key: got \"fleet:stack\"; tag keys starting with 'fleet:' are fleet's own ownership tags",
        ],
        [
          "tags that are not a mapping",
          { "fleet:tags": '["a"]' },
          'fleet:tags: got ["a"]; a mapping of tag keys to string values, e.g. { team: batch }',
        ],
        [
          "a credential in a fleet: key",
          { ...AWS, "fleet:tags": JSON.stringify({ key: FAKE.awsKeyId }) },
          "fleet:tags: credential in plain stack config: got a credential-like value (hidden); fleet's keys never hold credentials; put cloud credentials where the cloud expects them (see the README)",
        ],
        [
          "digitalocean:token in plain config",
          { "digitalocean:token": "plain" },
          'digitalocean:token: credential stored in plain text: got "(hidden)"; store it as a secret: pulumi config set --secret digitalocean:token <value>',
        ],
        [
          "aws:secretKey in plain config",
          { "aws:secretKey": "plain" },
          'aws:secretKey: credential stored in plain text: got "(hidden)"; store it as a secret: pulumi config set --secret aws:secretKey <value>',
        ],
        [
          "an invalid CIDR",
          { "fleet:sshAllowFrom": '["10.0.0.0/8","10.0.0.1"]' },
          'fleet:sshAllowFrom[1]: invalid CIDR: got "10.0.0.1"; a CIDR block such as 203.0.113.7/32 or 2001:db8::/48',
        ],
        [
          "an empty fleet:region",
          { "fleet:region": "" },
          'fleet:region: invalid region: got ""; a region is a provider identifier: letters, digits and . _ : / * + @ -, at most 128 characters',
        ],
      ];
      for (const [what, values, message, options] of cases) {
        it(`refuses ${what}`, () => {
          expect(refusal(() => parse(values, options)).message).to.equal(message);
        });
      }

      it("accepts credentials the engine holds as secrets", () => {
        const c = parse(
          { ...AWS, "digitalocean:token": "x", "fleet:tags": JSON.stringify({ k: FAKE.awsKeyId }) },
          { secretKeys: new Set(["digitalocean:token", "fleet:tags"]) },
        );
        expect(c.tags.k).to.equal(FAKE.awsKeyId);
      });

      it("reports every problem at once, in a stable order", () => {
        const e = refusal(() =>
          parse({
            "fleet:regoin": "x",
            "fleet:cloud": "gcp-typo",
            "fleet:workers": workers(["a", "a"]),
            "fleet:sshAllowFrom": "1.2.3.4",
            "digitalocean:token": "plain",
          }),
        );
        expect(e).to.be.instanceOf(FleetConfigErrors);
        expect((e as FleetConfigErrors).errors.map((x) => x.key)).to.deep.equal([
          "fleet:regoin",
          "fleet:cloud",
          "fleet:workers[1]",
          "fleet:sshAllowFrom[0]",
          "digitalocean:token",
        ]);
      });

      it("lets unexpected errors through instead of dressing them up", () => {
        expect(() =>
          parse(
            { "fleet:cloud": "aws", "fleet:workers": workers(["a"]) },
            {
              loadDefaults: () => {
                throw new TypeError("boom");
              },
            },
          ),
        ).to.throw(TypeError, "boom");
      });
    });
  });
});
