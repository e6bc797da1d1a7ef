/**
 * Issue 7, part 4: secrets. Realistic fake credentials (a DigitalOcean token, an AWS key id and
 * secret, a PEM private key) are handed to fleet where they belong (secret config, environment)
 * and where they do not (plain config, config/*.yaml, names, arguments). They must never appear
 * in progress output, error messages, `--json` output, the `workers` output, engine events or
 * any file fleet, Pulumi's engine (checkpoint, logs) or the simulated plugins (ledger, cloud) write
 * (outside the passphrase file); misplaced credentials are refused without being echoed. Every
 * `fleet` here is a real OS process on Pulumi's engine, and secret config is set
 * with `pulumi config set --secret`, so the stack file holds it encrypted, as the CLI does.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { openCloud } from "../sim/cloud";
import { loadCloudDefaults, parseCloudDefaults } from "../../config/defaults";
import { FleetConfigError } from "../../config/errors";
import { parseFleetConfig } from "../../config/fleet-config";
import type { EngineEvent } from "../../context/stack";
import {
  type RelProject,
  adoptAsAdvised,
  faults,
  pendingCreate,
  relProject,
  settle,
  startGroup,
  until,
} from "./support/project";
import { FAKE, countSecrets, scanFiles, tempDir } from "./support/fixtures";
import { fault, record } from "./support/stats";

const SECRETS = {
  "digitalocean:token": FAKE.doToken,
  "aws:accessKey": FAKE.awsKeyId,
  "aws:secretKey": FAKE.awsSecret,
};

const PLAIN_CONFIG = {
  "fleet:cloud": "digitalocean",
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

/** Credentials where they belong: the environment. */
const CREDENTIAL_ENV = {
  DIGITALOCEAN_TOKEN: FAKE.doToken,
  AWS_ACCESS_KEY_ID: FAKE.awsKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE.awsSecret,
};

/** `fleet` as an OS process; what it printed goes to `seen`. */
function cli(p: RelProject, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const r = p.fleet(argv, { ...CREDENTIAL_ENV, ...env });
  see(`fleet ${argv.join(" ")} (stdout)`, r.stdout);
  see(`fleet ${argv.join(" ")} (stderr)`, r.stderr);
  return Promise.resolve(r.status ?? -1);
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
  // Each `fleet` run is an engine run: several seconds on 2 shared cores.
  this.timeout(600_000);
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
    const p = relProject("sec-cli", PLAIN_CONFIG, SECRETS);
    dirs.push(p.dir);
    expect(await cli(p, ["create", "a1", "a2"]), lastSeen()).to.equal(0);
    expect(await cli(p, ["--json", "create", "a3"]), lastSeen()).to.equal(0);
    expect(await cli(p, ["list"]), lastSeen()).to.equal(0);
    expect(await cli(p, ["--json", "list"]), lastSeen()).to.equal(0);
    const unauthorized = faults([
      {
        op: "create",
        match: { name: "bad" },
        error:
          'POST https://api.digitalocean.com/v2/droplets: 401 (request "r") Unable to authenticate you',
      },
    ]);
    expect(await cli(p, ["create", "bad"], unauthorized), lastSeen()).to.equal(1);
    expect(await cli(p, ["create", "bad"], { ...unauthorized, FLEET_DEBUG: "1" })).to.equal(1);
    // An engine killed mid-update leaves the stack locked: the next command is refused.
    const run = startGroup(p, ["create", "lk"], {
      ...CREDENTIAL_ENV,
      ...faults([{ op: "create", match: { name: "lk" }, delayMs: 60_000 }]),
    });
    try {
      await until(() => pendingCreate(p, "lk"), "lk's create in flight");
      for (const pid of run.engines()) process.kill(pid, "SIGKILL");
      const killed = await run.done;
      see("fleet create lk (killed engine)", killed.stdout + killed.stderr);
    } finally {
      run.cleanup();
    }
    fault("engine killed, stack left locked (secrets)");
    expect(await cli(p, ["delete", "a1"]), lastSeen()).to.equal(1);
    const cancel = p.pulumi(["cancel", "--yes"]);
    see("pulumi cancel", cancel.stdout + cancel.stderr);
    expect(cancel.status, cancel.stderr).to.equal(0);
    const advised = p.fleet(["sync"], CREDENTIAL_ENV);
    see("fleet sync (pending create)", advised.stdout + advised.stderr);
    await adoptAsAdvised(p, advised.stderr);
    const cloud = openCloud(p.simDir);
    const [a2] = (await cloud.list({ type: "digitalocean:index/droplet:Droplet" })).filter(
      (o) => o.outputs.name === "a2",
    );
    await cloud.deleteOutOfBand("digitalocean", a2.type, a2.id);
    fault("worker deleted out of band (secrets)");
    expect(await cli(p, ["list", "--refresh"]), lastSeen()).to.equal(0);
    expect(await cli(p, ["sync"]), lastSeen()).to.equal(0);
    // Switching to AWS: its output is scanned like every other.
    await cli(p, ["use", "aws"]);
    expect(await cli(p, ["--json", "delete", "a1"]), lastSeen()).to.equal(0);
    expect(await cli(p, ["env"]), lastSeen()).to.equal(0);
    expect(await cli(p, ["delete-all", "--yes"]), lastSeen()).to.equal(0);
    const out = p.pulumi(["stack", "output", "--json", "--show-secrets"]);
    see("stack outputs", out.stdout + out.stderr);
    const exported = p.pulumi(["stack", "export"]);
    see("stack export", exported.stdout + exported.stderr);
    const r = await settle(p, { intended: [] });
    expect(r.details).to.deep.equal([]);
  });

  it("engine events, progress and errors from CloudContext show none of them", async () => {
    const p = relProject("sec-ctx", PLAIN_CONFIG, SECRETS);
    dirs.push(p.dir);
    const events: EngineEvent[] = [];
    const progress: string[] = [];
    const open = (env: NodeJS.ProcessEnv = {}) =>
      p.open(
        {
          onEvent: (e) => events.push(e),
          onProgress: (pr) => progress.push(JSON.stringify(pr)),
        },
        { ...CREDENTIAL_ENV, AWS_REGION: "us-east-1", ...env },
      );
    await (await open()).createWorkers(["c1", "c2"]);
    const faulty = await open(
      faults([
        {
          op: "create",
          match: { name: "c3" },
          error: '403 (request "r") You are not authorized to perform this operation',
        },
        {
          op: "delete",
          match: { name: "c1" },
          error: '422 (request "r") Droplet is locked',
        },
      ]),
    );
    const e1 = await faulty.createWorkers(["c3"]).catch((e: Error) => e);
    const e2 = await faulty.deleteWorkers(["c1"]).catch((e: Error) => e);
    expect(e1).to.be.instanceOf(Error);
    expect(e2).to.be.instanceOf(Error);
    see("create error", String(e1));
    see("delete error", String(e2));
    see("workers", JSON.stringify(await (await open()).getAllWorkers()));
    const r = await settle(p);
    expect(r.details).to.deep.equal([]);
    expect(r.faults, "both faults fired").to.equal(2);
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
    // (This stack file holds the plain token as the mistake under test: not scanned.)
    const p = relProject("sec-plain", {
      "fleet:cloud": "digitalocean",
      "digitalocean:token": FAKE.doToken,
    });
    return cli(p, ["sync"]).then((code) => {
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
    const withFile = relProject("sec-userdata", {
      "fleet:cloud": "digitalocean",
      "fleet:userDataFile": "cloud-init.yaml",
    });
    dirs.push(withFile.dir);
    fs.writeFileSync(
      path.join(withFile.dir, "cloud-init.yaml"),
      `#cloud-config\nwrite_files:\n  - content: |\n      ${FAKE.pem.split("\n").join("\n      ")}\n`,
    );
    expect(await cli(withFile, ["sync"]), lastSeen()).to.equal(1);
    expect(seen[seen.length - 1].text).to.contain(
      "fleet:userDataFile: credential found in user-data file",
    );
    const p = relProject("sec-args");
    dirs.push(p.dir);
    expect(await cli(p, ["create", FAKE.doToken]), lastSeen()).to.equal(1);
    expect(seen[seen.length - 1].text).to.contain(
      "names[0]: invalid worker name: got a credential-like value (hidden)",
    );
    expect(await cli(p, ["delete", FAKE.awsKeyId]), lastSeen()).to.equal(1);
    expect(await cli(p, ["create", "--cloud", FAKE.doToken, "w1"]), lastSeen()).to.equal(1);
    expect(await cli(p, ["-s", FAKE.doToken, "list"]), lastSeen()).to.equal(1);
    expect(seen[seen.length - 1].text).to.contain(
      "--stack: invalid stack name: got a credential-like value (hidden)",
    );
    expect(await cli(p, ["use", FAKE.pem]), lastSeen()).to.equal(2); // read as an unknown option
    expect(await cli(p, [FAKE.doToken]), lastSeen()).to.equal(2);
    expect(await cli(p, ["create", "-n", FAKE.awsKeyId]), lastSeen()).to.equal(2);
  });
});
