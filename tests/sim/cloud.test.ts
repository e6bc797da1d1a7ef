import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { type CloudObject, SimulatedCloud, openCloud } from "./cloud";
import { simulatedProvider } from "./providers";

const run = promisify(execFile);

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "fleet-cloud-"));
}

function object(id: string, type = "digitalocean:index/droplet:Droplet"): CloudObject {
  return {
    provider: "digitalocean",
    type,
    id,
    name: `w-${id}`,
    inputs: { name: `w-${id}` },
    outputs: { status: "active" },
    createdAt: new Date().toISOString(),
  };
}

describe("simulated cloud", () => {
  it("stores, lists, counts and removes objects", async () => {
    const cloud = new SimulatedCloud(tmpDir());
    await cloud.put(object("1"));
    await cloud.put(object("2"));
    await cloud.put(object("t", "digitalocean:index/tag:Tag"));
    expect(await cloud.count()).to.equal(3);
    expect(await cloud.count({ type: "digitalocean:index/droplet:Droplet" })).to.equal(2);
    expect((await cloud.list({ name: "w-2" })).map((o) => o.id)).to.deep.equal(["2"]);
    expect(
      await cloud.deleteOutOfBand("digitalocean", "digitalocean:index/droplet:Droplet", "1"),
    ).to.equal(true);
    expect(await cloud.get("digitalocean", "digitalocean:index/droplet:Droplet", "1")).to.equal(
      undefined,
    );
    expect(await cloud.remove("digitalocean", "digitalocean:index/droplet:Droplet", "1")).to.equal(
      false,
    );
    expect(await cloud.count()).to.equal(2);
  });

  it("another process (or a fresh instance) sees the same store, before and after compaction", async () => {
    const dir = tmpDir();
    const a = new SimulatedCloud(dir);
    for (let i = 0; i < 10; i++) await a.put(object(String(i)));
    await a.remove("digitalocean", "digitalocean:index/droplet:Droplet", "3");
    expect(await new SimulatedCloud(dir).count()).to.equal(9);
    await a.compact();
    const snapshot = JSON.parse(fs.readFileSync(path.join(dir, "cloud.json"), "utf8")) as {
      objects: CloudObject[];
    };
    expect(snapshot.objects).to.have.length(9);
    expect(fs.readFileSync(path.join(dir, "cloud.journal.jsonl"), "utf8")).to.equal("");
    const b = new SimulatedCloud(dir);
    await b.put(object("x"));
    // `a` cached the store before b's write and a's own compaction: it must re-read.
    expect(await a.count()).to.equal(10);
  });

  it("concurrent processes never lose each other's objects", async function () {
    this.timeout(60000);
    const dir = tmpDir();
    const cloudJs = path.join(__dirname, "cloud.js");
    const script = (tag: string) =>
      `const { SimulatedCloud } = require(${JSON.stringify(cloudJs)});
       const c = new SimulatedCloud(${JSON.stringify(dir)});
       (async () => { for (let i = 0; i < 150; i++) await c.put({ provider: "hcloud", type: "t",
         id: "${tag}" + i, inputs: {}, outputs: {}, createdAt: "" }); })()
         .catch((e) => { console.error(e); process.exit(1); });`;
    await Promise.all(["a", "b", "c"].map((t) => run(process.execPath, ["-e", script(t)])));
    expect(await new SimulatedCloud(dir).count({ provider: "hcloud" })).to.equal(450);
  });

  it("openCloud shares one instance per directory", () => {
    const dir = tmpDir();
    expect(openCloud(dir)).to.equal(openCloud(path.join(dir, ".")));
  });

  it("5,000 droplet creates through the provider (timing printed, not asserted)", async function () {
    this.timeout(120000);
    const dir = tmpDir();
    const cloud = openCloud(dir);
    const p = simulatedProvider("digitalocean", cloud);
    if (!p) throw new Error("no digitalocean provider");
    const started = Date.now();
    const parallel = 16;
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < 5000) {
          const i = next++;
          const urn = `urn:pulumi:dev::fleet::digitalocean:index/droplet:Droplet::w${i}`;
          const { inputs } = p.check(
            "digitalocean:index/droplet:Droplet",
            { name: `w${i}`, image: "ubuntu-24-04-x64", size: "s-1vcpu-1gb", region: "nyc3" },
            undefined,
            urn,
          );
          await p.create("digitalocean:index/droplet:Droplet", urn, inputs, false);
        }
      }),
    );
    const ms = Date.now() - started;
    console.log(`      5,000 creates (${parallel} in flight): ${ms} ms`);
    const fresh = new SimulatedCloud(dir);
    const droplets = await fresh.list({ type: "digitalocean:index/droplet:Droplet" });
    expect(droplets).to.have.length(5000);
    expect(new Set(droplets.map((d) => d.outputs.ipv4Address)).size).to.equal(5000);
    expect(new Set(droplets.map((d) => d.id)).size).to.equal(5000);
  });
});
