import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  PULUMI_CLI_VERSION,
  PulumiCliMissingError,
  cliInstallRoot,
  installPulumiCli,
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
    expect(env).to.deep.equal({ PULUMI_SKIP_UPDATE_CHECK: "true" });
    expect(fs.existsSync(path.join(dir, ".fleet", "passphrase"))).to.equal(false);
  });

  it("translates a missing Pulumi CLI into what to install (real LocalWorkspace)", async function () {
    this.timeout(30_000);
    const dir = tmp();
    fs.copyFileSync(
      path.join(__dirname, "..", "..", "..", "Pulumi.yaml"),
      path.join(dir, "Pulumi.yaml"),
    );
    const savedPath = process.env.PATH;
    process.env.PATH = path.dirname(process.execPath);
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
        /^fleet needs the Pulumi CLI \(v\d+\.\d+\.\d+ or newer\) and found none on PATH/,
      );
      expect((e as Error).message)
        .to.contain("FLEET_INSTALL_PULUMI=1")
        .and.not.contain("ENOENT");
    } finally {
      process.env.PATH = savedPath;
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
