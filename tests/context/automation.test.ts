import { expect } from "chai";
import * as yaml from "js-yaml";
import * as childProcess from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  PULUMI_CLI_VERSION,
  PulumiCliMissingError,
  cliInstallRoot,
  installPulumiCli,
  seedStackConfig,
  stackConfigDir,
  engineEnvironment,
  ensurePassphraseFile,
  openStack,
} from "../../context/automation";
import { UpdateFailedError } from "../../context/stack";

describe("Automation API adapter", () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "fleet-auto-"));

  it("defaults to a project-local file backend and a generated 0600 passphrase file", () => {
    const dir = tmp();
    const env = engineEnvironment(dir, {});
    expect(env.PULUMI_BACKEND_URL).to.equal(`file://${path.join(dir, ".fleet", "state")}`);
    expect(fs.statSync(path.join(dir, ".fleet", "state")).isDirectory()).to.equal(true);
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).to.equal(path.join(dir, ".fleet", "passphrase"));
    expect(env).to.not.have.property("PULUMI_CONFIG_PASSPHRASE");
    const st = fs.statSync(env.PULUMI_CONFIG_PASSPHRASE_FILE);
    expect(st.mode & 0o777).to.equal(0o600);
    const secret = fs.readFileSync(env.PULUMI_CONFIG_PASSPHRASE_FILE, "utf8").trim();
    expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(env)).to.not.contain(secret);
  });

  it("generates the passphrase once and keeps it", () => {
    const dir = tmp();
    const file = ensurePassphraseFile(dir);
    const first = fs.readFileSync(file, "utf8");
    ensurePassphraseFile(dir);
    expect(fs.readFileSync(file, "utf8")).to.equal(first);
  });

  it("respects a backend and passphrase the user set", () => {
    const dir = tmp();
    const env = engineEnvironment(dir, {
      PULUMI_BACKEND_URL: "s3://bucket",
      PULUMI_CONFIG_PASSPHRASE: "x",
    });
    expect(Object.keys(env).sort()).to.deep.equal([
      "FLEET_SHARED_STATE",
      "PATH",
      "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER",
      "PULUMI_SKIP_UPDATE_CHECK",
    ]);
    // An S3 backend is shared: the desired state lives there, and a clone with no salt yet
    // takes the stack's (config/shared-state.ts; pkg/cmd/pulumi/stack/secrets.go).
    expect(env.FLEET_SHARED_STATE).to.equal("1");
    expect(env.PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER).to.equal("true");
    // The engine's plugins run on the Node running fleet (Node 24 under npm run).
    expect(env.PATH.split(path.delimiter)[0]).to.equal(path.dirname(process.execPath));
    expect(fs.existsSync(path.join(dir, ".fleet", "passphrase"))).to.equal(false);
  });

  it("makes no passphrase of its own on a shared backend (every clone needs the team's), but does on a file backend", () => {
    const shared = tmp();
    const env = engineEnvironment(shared, { PULUMI_BACKEND_URL: "gs://team-bucket" });
    expect(env).to.not.have.property("PULUMI_CONFIG_PASSPHRASE_FILE");
    expect(fs.existsSync(path.join(shared, ".fleet", "passphrase"))).to.equal(false);
    expect(env.FLEET_SHARED_STATE).to.equal("1");
    const local = tmp();
    const own = engineEnvironment(local, { PULUMI_BACKEND_URL: `file://${local}/state` });
    expect(own.PULUMI_CONFIG_PASSPHRASE_FILE).to.equal(path.join(local, ".fleet", "passphrase"));
    expect(own.FLEET_SHARED_STATE).to.equal("0");
  });

  it("translates a missing Pulumi CLI into what to install (real LocalWorkspace)", async function () {
    this.timeout(30_000);
    const dir = tmp();
    fs.copyFileSync(
      path.join(__dirname, "..", "..", "..", "Pulumi.yaml"),
      path.join(dir, "Pulumi.yaml"),
    );
    const savedPath = process.env.PATH;
    const savedHome = process.env.HOME;
    process.env.PATH = path.dirname(process.execPath);
    // No CLI in fleet's install root either (~/.fleet/pulumi/<version>, where npm run engine
    // builds one on this machine).
    process.env.HOME = dir;
    try {
      const e = await openStack({
        workDir: dir,
        stackName: "dev",
        env: {},
        installPulumi: false,
      }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).to.be.instanceOf(PulumiCliMissingError);
      expect((e as Error).message).to.match(
        /^fleet needs the Pulumi CLI \(v\d+\.\d+\.\d+ or newer\) and found none on PATH or in \S+\/\.fleet\/pulumi\/\d+\.\d+\.\d+;/,
      );
      expect((e as Error).message)
        .to.contain("FLEET_INSTALL_PULUMI=1")
        .and.not.contain("ENOENT");
    } finally {
      process.env.PATH = savedPath;
      process.env.HOME = savedHome;
    }
  });
});

describe("installing the Pulumi CLI", () => {
  it("reuses a CLI already installed in fleet's install root, without downloading", async function () {
    this.timeout(20_000);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-home-"));
    const savedHome = process.env.HOME;
    process.env.HOME = home;
    try {
      const bin = path.join(cliInstallRoot(), "bin");
      expect(cliInstallRoot().startsWith(home)).to.equal(true);
      fs.mkdirSync(bin, { recursive: true });
      fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho v${PULUMI_CLI_VERSION}\n`, {
        mode: 0o755,
      });
      // With the version given as a string, automation/cmd.js's version check throws a
      // TypeError (`minVersion.compare`), the existing install is not recognised and
      // `install` goes on to download.
      const cli = await installPulumiCli();
      expect(cli.command).to.equal(path.join(bin, "pulumi"));
      expect(String(cli.version)).to.equal(PULUMI_CLI_VERSION);
    } finally {
      process.env.HOME = savedHome;
    }
  });
});

/**
 * A stand-in `pulumi` on PATH that records each call's arguments and environment and fails
 * `up` with the stderr given in FAKE_UP_STDERR, the way the CLI fails an update.
 */
function fakeCli(dir: string): { bin: string; log: string } {
  const bin = path.join(dir, "bin");
  const log = path.join(dir, "calls.log");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    [
      "#!/bin/sh",
      `{ echo "ARGS $*"; env | sed 's/^/ENV /'; } >> '${log}'`,
      'case "$1" in',
      `  version) echo v${PULUMI_CLI_VERSION} ;;`,
      "  config) echo '{}' ;;",
      `  stack) [ "$2" = export ] && echo '{"version":3,"deployment":{}}' ;;`,
      '  up) printf "%s\\n" "$FAKE_UP_STDERR" >&2; exit 1 ;;',
      "esac",
      "exit 0",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return { bin, log };
}

describe("Automation API adapter against a stand-in CLI", () => {
  let savedPath: string | undefined;
  beforeEach(() => (savedPath = process.env.PATH));
  afterEach(() => (process.env.PATH = savedPath));

  async function openWithFake(env: NodeJS.ProcessEnv) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-fake-"));
    fs.copyFileSync(
      path.join(__dirname, "..", "..", "..", "Pulumi.yaml"),
      path.join(dir, "Pulumi.yaml"),
    );
    const { bin, log } = fakeCli(dir);
    process.env.PATH = `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`;
    const stack = await openStack({ workDir: dir, stackName: "dev", env, installPulumi: false });
    return { stack, log };
  }

  it("passes AutomationOptions.env to every CLI call (with fleet's defaults)", async function () {
    this.timeout(30_000);
    const { log } = await openWithFake({ FLEET_TEST_MARK: "from-options" });
    const calls = fs
      .readFileSync(log, "utf8")
      .split(/^ARGS /m)
      .filter(Boolean);
    expect(calls.length).to.be.greaterThan(1);
    for (const call of calls.slice(1)) {
      // `pulumi version` is run by PulumiCommand.get before the workspace's envVars apply.
      expect(call, call.split("\n")[0]).to.contain("ENV FLEET_TEST_MARK=from-options");
      expect(call).to.contain("ENV PULUMI_CONFIG_PASSPHRASE_FILE=");
    }
  });

  it("reports an update failure that mentions ENOENT as that failure, not as a missing CLI", async function () {
    this.timeout(30_000);
    const stderr =
      "<{%fg 1%}>error: <{%reset%}>open /work/p/pulumi/cloud-init.yaml: ENOENT: no such file or directory<{%reset%}>";
    const { stack } = await openWithFake({ FAKE_UP_STDERR: stderr });
    const e = await stack.up().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).to.be.instanceOf(UpdateFailedError);
    expect(e).not.to.be.instanceOf(PulumiCliMissingError);
    expect((e as Error).message).to.equal(
      "error: open /work/p/pulumi/cloud-init.yaml: ENOENT: no such file or directory",
    );
  });
});

describe("each clone's own stack files (the passphrase salt)", () => {
  const ROOT = path.join(__dirname, "..", "..", "..");
  const git = (...args: string[]) =>
    childProcess.spawnSync("git", ["-C", ROOT, ...args], { encoding: "utf8" });

  /** A clone: fleet's Pulumi.yaml and the tracked example Pulumi.dev.yaml. */
  function clone(example = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-clone-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), example);
    return dir;
  }

  it("the CLI writes stack files (and their encryptionsalt) under .fleet/stacks, which git ignores", () => {
    // sdk/go/common/workspace/paths.go ProjectStackPath: <project>/<stackConfigDir>/Pulumi.<stack>.yaml
    expect(stackConfigDir(ROOT)).to.equal(".fleet/stacks");
    const written = path.join(".fleet", "stacks", "Pulumi.dev.yaml");
    expect(git("check-ignore", "-q", written).status, "gitignored").to.equal(0);
    // The example stays tracked, and is not where the CLI writes.
    expect(git("ls-files", "--error-unmatch", "Pulumi.dev.yaml").status, "tracked").to.equal(0);
    expect(git("check-ignore", "-q", "Pulumi.dev.yaml").status).to.equal(1);
  });

  it("seeds a clone's dev stack from the example once, without another clone's salt or secrets", () => {
    const example = [
      "encryptionsalt: v1:c2FsdA==:v1:aXY=:Y2lwaGVy",
      "config:",
      "  fleet:cloud: aws",
      "  fleet:workers: [a, { name: b, size: large }]",
      "  digitalocean:token: { secure: v1:AAAA:BBBB }",
      "",
    ].join("\n");
    const dir = clone(example);
    engineEnvironment(dir, {});
    const own = path.join(dir, ".fleet", "stacks", "Pulumi.dev.yaml");
    const seeded = yaml.load(fs.readFileSync(own, "utf8"));
    expect(seeded).to.deep.equal({
      config: { "fleet:cloud": "aws", "fleet:workers": ["a", { name: "b", size: "large" }] },
    });
    // The example is untouched; the clone's file, once it exists, is its own.
    expect(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8")).to.equal(example);
    fs.writeFileSync(own, "encryptionsalt: mine\nconfig:\n  fleet:cloud: local\n");
    expect(seedStackConfig(dir)).to.deep.equal([]);
    engineEnvironment(dir, {});
    expect(fs.readFileSync(own, "utf8")).to.equal(
      "encryptionsalt: mine\nconfig:\n  fleet:cloud: local\n",
    );
  });

  it("two clones get two passphrases and two stack files; the tracked example holds no salt", () => {
    const [a, b] = [clone(), clone()];
    const [ea, eb] = [engineEnvironment(a, {}), engineEnvironment(b, {})];
    expect(fs.readFileSync(ea.PULUMI_CONFIG_PASSPHRASE_FILE, "utf8")).not.to.equal(
      fs.readFileSync(eb.PULUMI_CONFIG_PASSPHRASE_FILE, "utf8"),
    );
    for (const dir of [a, b]) {
      expect(fs.existsSync(path.join(dir, ".fleet", "stacks", "Pulumi.dev.yaml"))).to.equal(true);
    }
    const tracked = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
    expect(tracked).not.to.have.property("encryptionsalt");
  });
});
