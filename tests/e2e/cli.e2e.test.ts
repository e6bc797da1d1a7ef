/**
 * End to end: the real `fleet` command, the real Pulumi CLI, the local cloud and a temporary
 * file backend. Runs only where `pulumi` is on PATH; elsewhere the suite is reported as
 * skipped, with the reason, never as passed.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const probe = spawnSync("pulumi", ["version"], { encoding: "utf8" });
const HAVE_PULUMI = probe.status === 0;
const SKIP_REASON = "the Pulumi CLI is not on PATH (install it to run the end-to-end suite)";

describe(`end to end: real Pulumi CLI, local cloud, file backend${HAVE_PULUMI ? "" : ` [skipped: ${SKIP_REASON}]`}`, function () {
  this.timeout(300_000);
  let dir = "";
  const env = () => ({
    ...process.env,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase",
    FLEET_TEST_ENGINE_DOUBLE: "",
  });
  const fleet = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, "-C", dir, "--stack", "e2e", ...args], {
      env: env(),
      encoding: "utf8",
      input: "",
    });

  before(function () {
    if (!HAVE_PULUMI) {
      console.log(`    skipped: ${SKIP_REASON}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-e2e-"));
    fs.mkdirSync(path.join(dir, "state"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.writeFileSync(path.join(dir, "Pulumi.e2e.yaml"), "config:\n  fleet:cloud: local\n");
  });

  after(function () {
    if (!HAVE_PULUMI || !dir) return;
    fleet("delete-all", "--yes");
    spawnSync("pulumi", ["stack", "rm", "e2e", "--yes", "--force", "--cwd", dir], { env: env() });
  });

  it("creates two local workers, lists them, deletes one, then all", () => {
    const created = fleet("create", "e2e-a", "e2e-b", "--json");
    expect(created.status, created.stderr).to.equal(0);
    const workers = JSON.parse(created.stdout) as {
      name: string;
      cloud: string;
      ip: string;
      status: string;
    }[];
    expect(workers.map((w) => [w.name, w.cloud, w.ip])).to.deep.equal([
      ["e2e-a", "local", "127.0.0.1"],
      ["e2e-b", "local", "127.0.0.1"],
    ]);
    const listed = JSON.parse(fleet("list", "--json").stdout) as { name: string }[];
    expect(listed.map((w) => w.name)).to.deep.equal(["e2e-a", "e2e-b"]);
    expect(fleet("delete", "e2e-a").status).to.equal(0);
    expect(
      (JSON.parse(fleet("list", "--json").stdout) as { name: string }[]).map((w) => w.name),
    ).to.deep.equal(["e2e-b"]);
    expect(fleet("delete-all", "--yes").status).to.equal(0);
    expect(JSON.parse(fleet("list", "--json").stdout)).to.deep.equal([]);
  });
});
