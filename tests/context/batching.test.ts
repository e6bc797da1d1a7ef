import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudContext } from "../../context/cloud-context";
import { EngineDouble } from "../harness/engine-double";

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-batch-"));
  fs.writeFileSync(
    path.join(dir, "config.json"),
    JSON.stringify({ "fleet:cloud": { value: "digitalocean" } }),
  );
  const stack = new EngineDouble({ dir });
  const ctx = new CloudContext({ stack, projectDir: dir, checkCredentials: false });
  return { stack, ctx };
}

describe("CloudContext batching of one name", () => {
  it("a create then a delete of one name, called together, both do what they say", async () => {
    const { ctx } = setup();
    const [made] = await Promise.all([ctx.createWorker("a"), ctx.deleteWorker("a")]);
    expect(made.name).to.equal("a");
    expect(await ctx.getAllWorkers()).to.deep.equal([]);
  });

  it("a delete then a create of one name, called together, makes a new worker", async () => {
    const { ctx } = setup();
    const old = await ctx.createWorker("a");
    const [, made] = await Promise.all([ctx.deleteWorker("a"), ctx.createWorker("a")]);
    expect(made.id).not.to.equal(old.id);
    expect((await ctx.getAllWorkers()).map((w) => w.id)).to.deep.equal([made.id]);
  });
});
