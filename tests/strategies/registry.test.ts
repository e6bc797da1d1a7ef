import { expect } from "chai";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { packageRoot } from "../../config/paths";
import { AwsStrategy } from "../../strategies/aws";
import { DigitalOceanStrategy } from "../../strategies/digitalocean";
import { CLOUDS, descriptor, loadStrategy, REGISTRY } from "../../strategies/registry";

const run = promisify(execFile);

/**
 * Runs the compiled program under mocks in a fresh Node process and reports which provider
 * SDKs ended up in `require.cache`, before and after the program ran.
 */
const CHILD = `
const path = require("node:path");
const root = process.env.FLEET_ROOT;
const loaded = (pkg) =>
  Object.keys(require.cache).some((f) => f.includes(path.join("node_modules", "@pulumi", pkg) + path.sep));
const { runUnderMocks } = require(path.join(root, "dist/tests/harness/mocks.js"));
const { fleetProgram } = require(path.join(root, "dist/program.js"));
const before = { aws: loaded("aws"), digitalocean: loaded("digitalocean") };
runUnderMocks(() => fleetProgram(), JSON.parse(process.env.FLEET_CONFIG)).then(
  ({ outputs }) => {
    const after = { aws: loaded("aws"), digitalocean: loaded("digitalocean") };
    process.stdout.write(JSON.stringify({ before, after, workers: outputs.workers.map((w) => w.name + "@" + w.cloud) }));
  },
  (e) => { console.error(e); process.exit(1); },
);
`;

async function sdksLoadedBy(config: Record<string, string>): Promise<{
  before: { aws: boolean; digitalocean: boolean };
  after: { aws: boolean; digitalocean: boolean };
  workers: string[];
}> {
  const { stdout } = await run(process.execPath, ["-e", CHILD], {
    cwd: packageRoot(),
    env: { ...process.env, FLEET_ROOT: packageRoot(), FLEET_CONFIG: JSON.stringify(config) },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

describe("strategies/registry", () => {
  it("lists every registered cloud, sorted", () => {
    expect([...CLOUDS]).to.deep.equal(Object.keys(REGISTRY).sort());
    expect(CLOUDS).to.include.members(["aws", "digitalocean", "local"]);
  });

  it("loads each strategy class by cloud name", async () => {
    expect(await loadStrategy("aws")).to.equal(AwsStrategy);
    expect(await loadStrategy("digitalocean")).to.equal(DigitalOceanStrategy);
  });

  it("declares where each cloud's credentials belong", () => {
    expect(descriptor("digitalocean").credentials?.secretConfig).to.deep.equal([
      "digitalocean:token",
    ]);
    expect(descriptor("digitalocean").credentials?.env).to.include("DIGITALOCEAN_TOKEN");
    expect(descriptor("aws").credentials?.secretConfig).to.deep.equal([
      "aws:accessKey",
      "aws:secretKey",
      "aws:token",
    ]);
    expect(descriptor("aws").regionConfigKey).to.equal("aws:region");
    expect(descriptor("aws").extraKeys).to.deep.equal(["imageOwner"]);
  });

  describe("lazy loading (the compiled program in a child process)", () => {
    it("a DigitalOcean stack never loads @pulumi/aws", async () => {
      const r = await sdksLoadedBy({
        "fleet:cloud": "digitalocean",
        "fleet:workers": JSON.stringify(["a"]),
      });
      expect(r).to.deep.equal({
        before: { aws: false, digitalocean: false },
        after: { aws: false, digitalocean: true },
        workers: ["a@digitalocean"],
      });
    });

    it("an AWS stack never loads @pulumi/digitalocean", async () => {
      const r = await sdksLoadedBy({
        "fleet:cloud": "aws",
        "fleet:workers": JSON.stringify(["a"]),
      });
      expect(r).to.deep.equal({
        before: { aws: false, digitalocean: false },
        after: { aws: true, digitalocean: false },
        workers: ["a@aws"],
      });
    });

    it("a stack using both loads both", async () => {
      const r = await sdksLoadedBy({
        "fleet:cloud": "aws",
        "fleet:workers": JSON.stringify(["a", { name: "b", cloud: "digitalocean" }]),
      });
      expect(r.after).to.deep.equal({ aws: true, digitalocean: true });
      expect(r.workers).to.deep.equal(["a@aws", "b@digitalocean"]);
    });

    it("the child looks at the real node_modules", () => {
      expect(require.resolve("@pulumi/aws")).to.include(
        path.join("node_modules", "@pulumi", "aws") + path.sep,
      );
    });
  });
});
