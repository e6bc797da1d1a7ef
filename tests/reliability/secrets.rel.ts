/**
 * Issue 7, part 4: secrets. Realistic fake credentials (a DigitalOcean token, an AWS key id and
 * secret, a PEM private key) are handed to fleet where they belong (secret config, environment)
 * and where they do not (plain config, config/*.yaml, names, arguments). They must never appear
 * in progress output, error messages, `--json` output, the `workers` output, engine events or
 * any file fleet writes (outside the double's secret config entries and the passphrase file);
 * misplaced credentials are refused without being echoed.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../../cli/fleet";
import { loadCloudDefaults, parseCloudDefaults } from "../../config/defaults";
import { FleetConfigError } from "../../config/errors";
import { parseFleetConfig } from "../../config/fleet-config";
import type { EngineEvent } from "../../context/stack";
import {
  FAKE,
  capture,
  contextFor,
  countSecrets,
  newDouble,
  scanFiles,
  tempDir,
  writeConfig,
} from "./support/fixtures";
import { fault, record } from "./support/stats";

const SECRET_CONFIG = {
  "fleet:cloud": "digitalocean",
  "digitalocean:token": { value: FAKE.doToken, secret: true },
  "aws:accessKey": { value: FAKE.awsKeyId, secret: true },
  "aws:secretKey": { value: FAKE.awsSecret, secret: true },
  "aws:region": "us-east-1",
  "fleet:sshPublicKeys": JSON.stringify([
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFake me@laptop",
  ]),
  "fleet:sshAllowFrom": "203.0.113.7/32",
};

/** Everything a person or a script could see, with what it came from. */
const seen: { what: string; text: string }[] = [];
/** Files the tests wrote with a credential on purpose (the mistakes under test), not fleet. */
const FIXTURES = new Set(["cloud-init.yaml"]);
function see(what: string, text: string): void {
  seen.push({ what, text });
}

function lastSeen(): string {
  return seen
    .slice(-2)
    .map((s) => s.text)
    .join("");
}

async function cli(dir: string, argv: string[], env: Record<string, string> = {}): Promise<number> {
  const saved = { ...process.env };
  Object.assign(process.env, {
    FLEET_TEST_ENGINE_DOUBLE: dir,
    DIGITALOCEAN_TOKEN: FAKE.doToken,
    AWS_ACCESS_KEY_ID: FAKE.awsKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE.awsSecret,
    ...env,
  });
  try {
    const { result, stdout, stderr } = await capture(() => main(["-C", dir, ...argv]));
    see(`fleet ${argv.join(" ")} (stdout)`, stdout);
    see(`fleet ${argv.join(" ")} (stderr)`, stderr);
    return result;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

function refusedWithout(e: unknown, secret: string, key: RegExp): FleetConfigError {
  expect(e).to.be.instanceOf(FleetConfigError);
  const err = e as FleetConfigError;
  see(`error ${err.key}`, err.message);
  expect(err.message).to.match(key);
  expect(err.message).not.to.contain(secret);
  return err;
}

describe("secrets never leak", function () {
  this.timeout(120_000);
  const dirs: string[] = [];

  after(() => {
    // Every text seen, and every file fleet wrote, scanned for every fake credential.
    let leaked = 0;
    const where: string[] = [];
    for (const s of seen) {
      const n = countSecrets(s.text);
      if (n) where.push(`${s.what}: ${n}`);
      leaked += n;
    }
    let scanned = seen.length;
    for (const dir of dirs) {
      const files = scanFiles(dir, FIXTURES);
      scanned += files.scanned;
      leaked += files.leaks.length;
      where.push(...files.leaks.map((l) => `${dir}/${l}`));
    }
    record({ leaked, scanned });
    expect(where, "fake credentials found").to.deep.equal([]);
  });

  it("credentials in their proper places: the whole CLI life cycle shows none of them", async () => {
    const { dir, stack } = newDouble("sec-cli", SECRET_CONFIG);
    dirs.push(dir);
    expect(await cli(dir, ["create", "a1", "a2"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["--json", "create", "a3"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["list"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["--json", "list"]), lastSeen()).to.equal(0);
    stack.setFaults({ failCreate: { bad: "401 Unauthorized: token rejected" } });
    fault("provider error (secrets)");
    expect(await cli(dir, ["create", "bad"]), lastSeen()).to.equal(1);
    expect(await cli(dir, ["create", "bad"], { FLEET_DEBUG: "1" })).to.equal(1);
    stack.setFaults({ busy: "always" });
    fault("stack busy (secrets)");
    expect(await cli(dir, ["delete", "a1"]), lastSeen()).to.equal(1);
    stack.setFaults({});
    stack.vanish("a2");
    expect(await cli(dir, ["list", "--refresh"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["sync"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["use", "aws"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["--json", "delete", "a1"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["env"]), lastSeen()).to.equal(0);
    expect(await cli(dir, ["delete-all", "--yes"]), lastSeen()).to.equal(0);
    see("workers output", JSON.stringify(await stack.outputs()));
    see("state", JSON.stringify(stack.state()));
  });

  it("engine events, progress and errors from CloudContext show none of them", async () => {
    const { dir, stack } = newDouble("sec-ctx", SECRET_CONFIG);
    dirs.push(dir);
    const events: EngineEvent[] = [];
    const progress: string[] = [];
    const ctx = contextFor(stack, dir, {
      env: {
        DIGITALOCEAN_TOKEN: FAKE.doToken,
        AWS_ACCESS_KEY_ID: FAKE.awsKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE.awsSecret,
        AWS_REGION: "us-east-1",
      },
      onEvent: (e) => events.push(e),
      onProgress: (p) => progress.push(JSON.stringify(p)),
    });
    await ctx.createWorkers(["c1", "c2"]);
    stack.setFaults({ failCreate: { c3: "forbidden" }, failDelete: { c1: "locked" } });
    fault("provider error (secrets)", 2);
    const e1 = await ctx.createWorkers(["c3"]).catch((e: Error) => e);
    const e2 = await ctx.deleteWorkers(["c1"]).catch((e: Error) => e);
    see("create error", String(e1));
    see("delete error", String(e2));
    stack.setFaults({});
    see("workers", JSON.stringify(await ctx.getAllWorkers()));
    see(
      "engine events",
      JSON.stringify(events, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
    );
    see("progress", progress.join("\n"));
    expect(events.length).to.be.above(0);
  });

  it("a credential in plain stack config is refused, and not echoed", () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [
        { "digitalocean:token": FAKE.doToken },
        FAKE.doToken,
        /^digitalocean:token: credential stored in plain text/,
      ],
      [
        { "aws:secretKey": FAKE.awsSecret },
        FAKE.awsSecret,
        /^aws:secretKey: credential stored in plain text/,
      ],
      [
        { "aws:accessKey": FAKE.awsKeyId },
        FAKE.awsKeyId,
        /aws:accessKey: credential stored in plain text/,
      ],
      [
        { "fleet:region": FAKE.awsKeyId },
        FAKE.awsKeyId,
        /fleet:region: credential in plain stack config/,
      ],
      [
        { "fleet:tags": JSON.stringify({ token: FAKE.doToken }) },
        FAKE.doToken,
        /fleet:tags: credential in plain stack config/,
      ],
      [
        { "fleet:sshPublicKeys": JSON.stringify([FAKE.pem]) },
        FAKE.pem.split("\n")[1],
        /fleet:sshPublicKeys: credential in plain stack config/,
      ],
      [
        { "fleet:workers": JSON.stringify([FAKE.doToken]) },
        FAKE.doToken,
        /fleet:workers: credential in plain stack config/,
      ],
      [
        { "fleet:image": FAKE.doToken },
        FAKE.doToken,
        /fleet:image: credential in plain stack config/,
      ],
      [{ [`fleet:${FAKE.doToken}`]: "x" }, FAKE.doToken, /\(a key that looks like a credential\)/],
    ];
    for (const [values, secret, key] of cases) {
      let caught: unknown;
      try {
        parseFleetConfig({ "fleet:cloud": "digitalocean", ...values }, { stack: "dev" });
      } catch (e) {
        caught = e;
      }
      refusedWithout(caught, secret, key);
    }
    // And the CLI says so in one line, without the value, changing nothing.
    // (This stack's config.json holds the plain token as the mistake under test: not scanned.)
    const { dir } = newDouble("sec-plain", {
      "fleet:cloud": "digitalocean",
      "digitalocean:token": FAKE.doToken,
    });
    return cli(dir, ["sync"]).then((code) => {
      expect(code).to.equal(1);
      const last = seen[seen.length - 1].text;
      expect(last).to.contain(
        'fleet: error: digitalocean:token: credential stored in plain text: got "(hidden)"; store it as a secret: pulumi config set --secret digitalocean:token <value>',
      );
    });
  });

  it("a credential in config/*.yaml is refused, and not echoed", () => {
    const base =
      "region: nyc3\nsize: s-1vcpu-1gb\nimage: ubuntu-24-04-x64\nsizes: {small: a, medium: b, large: c}\n";
    const cases: [string, string, RegExp][] = [
      [
        `${base}token: ${FAKE.doToken}\n`,
        FAKE.doToken,
        /^config\/digitalocean\.yaml: token: credential key found: got "\(hidden\)"/,
      ],
      [
        `${base.replace("nyc3", FAKE.doToken)}`,
        FAKE.doToken,
        /^config\/digitalocean\.yaml: region: credential found: got a credential-like value \(hidden\)/,
      ],
      [
        `${base}extra:\n  nested: ${FAKE.awsKeyId}\n`,
        FAKE.awsKeyId,
        /^config\/digitalocean\.yaml: extra\.nested: credential found/,
      ],
      [
        `${base}key: |\n  ${FAKE.pem.split("\n").join("\n  ")}\n`,
        FAKE.pem.split("\n")[1],
        /^config\/digitalocean\.yaml: key: credential found/,
      ],
      [
        `${base}password: hunter2\n`,
        "hunter2",
        /^config\/digitalocean\.yaml: password: credential key found/,
      ],
    ];
    for (const [text, secret, key] of cases) {
      let caught: unknown;
      try {
        parseCloudDefaults("digitalocean", text, "config/digitalocean.yaml");
      } catch (e) {
        caught = e;
      }
      refusedWithout(caught, secret, key);
    }
    // Through the file loader too.
    const dir = tempDir("sec-yaml");
    fs.writeFileSync(path.join(dir, "digitalocean.yaml"), `${base}apiToken: ${FAKE.doToken}\n`);
    let caught: unknown;
    try {
      loadCloudDefaults("digitalocean", dir);
    } catch (e) {
      caught = e;
    }
    refusedWithout(
      caught,
      FAKE.doToken,
      /^config\/digitalocean\.yaml: apiToken: credential key found/,
    );
  });

  it("credentials given as names, arguments or user data are refused, and not echoed", async () => {
    const { dir } = newDouble("sec-args");
    dirs.push(dir);
    fs.writeFileSync(
      path.join(dir, "cloud-init.yaml"),
      `#cloud-config\nwrite_files:\n  - content: |\n      ${FAKE.pem.split("\n").join("\n      ")}\n`,
    );
    writeConfig(dir, { "fleet:cloud": "digitalocean", "fleet:userDataFile": "cloud-init.yaml" });
    expect(await cli(dir, ["sync"]), lastSeen()).to.equal(1);
    expect(seen[seen.length - 1].text).to.contain(
      "fleet:userDataFile: credential found in user-data file",
    );
    writeConfig(dir, { "fleet:cloud": "digitalocean" });
    expect(await cli(dir, ["create", FAKE.doToken]), lastSeen()).to.equal(1);
    expect(seen[seen.length - 1].text).to.contain(
      "names[0]: invalid worker name: got a credential-like value (hidden)",
    );
    expect(await cli(dir, ["delete", FAKE.awsKeyId]), lastSeen()).to.equal(1);
    expect(await cli(dir, ["create", "--cloud", FAKE.doToken, "w1"]), lastSeen()).to.equal(1);
    expect(await cli(dir, ["-s", FAKE.doToken, "list"]), lastSeen()).to.equal(1);
    expect(seen[seen.length - 1].text).to.contain(
      "--stack: invalid stack name: got a credential-like value (hidden)",
    );
    expect(await cli(dir, ["use", FAKE.pem]), lastSeen()).to.equal(2); // read as an unknown option
    expect(await cli(dir, [FAKE.doToken]), lastSeen()).to.equal(2);
    expect(await cli(dir, ["create", "-n", FAKE.awsKeyId]), lastSeen()).to.equal(2);
  });
});
