/**
 * The three later clouds together: a mixed fleet whose output carries each worker's cloud,
 * the registry entries, and that a stack on one cloud loads no other cloud's provider SDK.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadCloudDefaults } from "../../config/defaults";
import { packageRoot } from "../../config/paths";
import { parseFleetConfig } from "../../config/fleet-config";
import { fleetProgram } from "../../program";
import { CLOUDS, REGISTRY } from "../../strategies/registry";
import { runUnderMocks } from "../harness/mocks";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDzQ9Yk8wR0aTestKeyOnlyForUnitTests me@laptop";

describe("clouds: azure, gcp, hetzner", () => {
  it("are registered, with credentials sources and lazily loaded strategies", async () => {
    expect(CLOUDS).to.include.members(["azure", "gcp", "hetzner"]);
    expect(REGISTRY.azure.credentials.secretConfig).to.include("azure-native:clientSecret");
    expect(REGISTRY.gcp.credentials.homeFiles).to.include(
      ".config/gcloud/application_default_credentials.json",
    );
    expect(REGISTRY.hetzner.credentials.secretConfig).to.deep.equal(["hcloud:token"]);
    expect((await REGISTRY.azure.load()).name).to.equal("AzureStrategy");
    expect((await REGISTRY.gcp.load()).name).to.equal("GcpStrategy");
    expect((await REGISTRY.hetzner.load()).name).to.equal("HetznerStrategy");
  });

  it("README's Clouds table lists every cloud with the defaults of its config/<cloud>.yaml", () => {
    const readme = fs.readFileSync(path.join(packageRoot(), "README.md"), "utf8");
    for (const cloud of CLOUDS) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${cloud}\``));
      expect(row, `README row for ${cloud}`).to.be.a("string");
      const cells = (row as string).split(" | ");
      const d = loadCloudDefaults(cloud);
      expect(cells[2], cloud).to.contain(`\`${d.region}\` / \`${d.size}\``).and.contain(d.image);
      const sizes = [...cells[3].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
      expect(sizes, cloud).to.deep.equal([d.sizes.small, d.sizes.medium, d.sizes.large]);
    }
  });

  it("refuse credentials stored in plain stack config", () => {
    for (const key of ["azure-native:clientSecret", "gcp:credentials", "hcloud:token"]) {
      expect(() =>
        parseFleetConfig({ "fleet:cloud": "hetzner", [key]: "x" }, { stack: "dev" }),
      ).to.throw(new RegExp(`${key}.*plain text`));
    }
  });

  it("run side by side: a mixed fleet exports each worker with its own cloud, in order", async () => {
    const { outputs, mocks } = await runUnderMocks(() => fleetProgram(), {
      "fleet:cloud": "digitalocean",
      "fleet:workers": JSON.stringify([
        "d1",
        { name: "x", cloud: "gcp" },
        { name: "h", cloud: "hetzner", size: "large" },
        { name: "z", cloud: "azure", region: "westeurope" },
        "d2",
      ]),
      "fleet:sshPublicKeys": JSON.stringify([KEY]),
    });
    const workers = outputs.workers as {
      name: string;
      cloud: string;
      region: string;
      size: string;
    }[];
    expect(workers.map((w) => [w.name, w.cloud, w.region, w.size])).to.deep.equal([
      ["d1", "digitalocean", "nyc3", "s-1vcpu-1gb"],
      ["x", "gcp", loadCloudDefaults("gcp").region, loadCloudDefaults("gcp").size],
      ["h", "hetzner", loadCloudDefaults("hetzner").region, "cx33"],
      ["z", "azure", "westeurope", loadCloudDefaults("azure").size],
      ["d2", "digitalocean", "nyc3", "s-1vcpu-1gb"],
    ]);
    const components = mocks.resources.filter((r) => r.type.endsWith(":WorkerFleet"));
    expect(components.map((r) => r.type)).to.have.members([
      "fleet:azure:WorkerFleet",
      "fleet:digitalocean:WorkerFleet",
      "fleet:gcp:WorkerFleet",
      "fleet:hetzner:WorkerFleet",
    ]);
  });

  it("a hetzner stack loads no other cloud's provider SDK", function () {
    this.timeout(60_000);
    const dist = path.resolve(__dirname, "../..");
    const script = `
      const { runUnderMocks } = require(${JSON.stringify(path.join(dist, "tests/harness/mocks.js"))});
      const { fleetProgram } = require(${JSON.stringify(path.join(dist, "program.js"))});
      runUnderMocks(() => fleetProgram(), {
        "fleet:cloud": "hetzner",
        "fleet:workers": JSON.stringify(["w1"]),
      }).then(({ outputs }) => {
        const sdks = new Set();
        for (const f of Object.keys(require.cache)) {
          const m = /node_modules[\\\\/]@pulumi[\\\\/](aws|azure-native|digitalocean|gcp|hcloud)[\\\\/]/.exec(f);
          if (m) sdks.add(m[1]);
        }
        process.stdout.write(JSON.stringify({ sdks: [...sdks], workers: outputs.workers.length }));
        process.exit(0);
      }, (e) => { console.error(e); process.exit(1); });
    `;
    const out = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(JSON.parse(out)).to.deep.equal({ sdks: ["hcloud"], workers: 1 });
  });
});
