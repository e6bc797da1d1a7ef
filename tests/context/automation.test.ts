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
