import { expect } from "chai";
import * as path from "node:path";
import { CloudContext } from "../../context/cloud-context";
import { FleetConfigError } from "../../config/errors";
import { EngineDouble } from "../harness/engine-double";
import { TEST_ENV, configuredNames, rejection, testFleet } from "../harness/context";

const HOUR = 3_600_000;

/** The `fleet:workers` entries as stored. */
async function entries(stack: EngineDouble): Promise<(string | Record<string, string>)[]> {
  return JSON.parse((await stack.getAllConfig())["fleet:workers"]?.value ?? "[]") as (
    | string
    | Record<string, string>
  )[];
}

describe("CloudContext expiry and reap", () => {
  it("records expiresAt = now + ttl in the config entry at create time, from the option or the entry", async () => {
    const { ctx, stack } = testFleet();
    const before = Date.now();
    await ctx.createWorkers(["a"], { ttl: "2h" });
    await ctx.createWorkers([{ name: "b", ttl: "1d" }, "c"]);
    const [a, b, c] = await entries(stack);
    expect(a).to.have.property("ttl", "2h");
    expect(Date.parse((a as Record<string, string>).expiresAt)).to.be.within(
      before + 2 * HOUR,
      Date.now() + 2 * HOUR,
    );
    expect(b).to.have.property("ttl", "1d");
    expect(Date.parse((b as Record<string, string>).expiresAt)).to.be.within(
      before + 24 * HOUR,
      Date.now() + 24 * HOUR,
    );
    expect(c).to.equal("c");
    // Later updates never move it.
    const recorded = (a as Record<string, string>).expiresAt;
    await ctx.sync();
    expect((await entries(stack))[0]).to.have.property("expiresAt", recorded);
  });

  it("refuses a bad ttl before any engine call", async () => {
    const { ctx } = testFleet();
    const e = await rejection(ctx.createWorkers(["a"], { ttl: "2 hours" }));
    expect(e).to.be.instanceOf(FleetConfigError);
    expect(e.message).to.contain('ttl: invalid ttl: got "2 hours"');
    const f = await rejection(ctx.createWorkers([{ name: "a", ttl: "45d" }]));
    expect(f.message).to.contain("names[0].ttl: ttl out of bounds");
    expect(ctx.stats.ups).to.equal(0);
  });

  it("reapExpired deletes exactly the expired workers in one update, and does nothing when none has expired", async () => {
    const { ctx, stack } = testFleet();
    await ctx.createWorkers(["short"], { ttl: "2h" });
    await ctx.createWorkers([{ name: "long", ttl: "1d" }, "plain"]);
    const ups = ctx.stats.ups;

    expect(await ctx.reapExpired(new Date())).to.deep.equal([]);
    expect(ctx.stats.ups).to.equal(ups);

    const later = new Date(Date.now() + 3 * HOUR);
    expect(await ctx.reapExpired(later)).to.deep.equal(["short"]);
    expect(ctx.stats.ups).to.equal(ups + 1);
    expect(await configuredNames(stack)).to.deep.equal(["long", "plain"]);
    expect((await ctx.getAllWorkers()).map((w) => w.name)).to.deep.equal(["long", "plain"]);

    expect(await ctx.reapExpired(later)).to.deep.equal([]);
    expect(ctx.stats.ups).to.equal(ups + 1);

    expect(await ctx.reapExpired(new Date(Date.now() + 48 * HOUR))).to.deep.equal(["long"]);
    expect(await configuredNames(stack)).to.deep.equal(["plain"]);
  });

  it("two reaps at once (two processes) delete each expired worker once and neither fails", async () => {
    const { ctx, stack, dir } = testFleet();
    await ctx.createWorkers(["x1", "x2"], { ttl: "5m" });
    await ctx.createWorkers(["keep"]);
    const other = new CloudContext({
      stack: new EngineDouble({ dir: path.join(dir, "engine"), projectDir: dir }),
      projectDir: dir,
      env: TEST_ENV,
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
      lock: { timeoutMs: 60_000, staleMs: 5_000 },
    });
    const later = new Date(Date.now() + HOUR);
    const [r1, r2] = await Promise.all([ctx.reapExpired(later), other.reapExpired(later)]);
    expect([...r1, ...r2].sort()).to.deep.equal(["x1", "x2"]);
    expect(ctx.stats.ups + other.stats.ups).to.equal(3); // two creates, one reap
    expect(await configuredNames(stack)).to.deep.equal(["keep"]);
  });

  it("decides again under the stack lock: a reap that read the config before another reap finished deletes nothing", async () => {
    const { ctx, stack, dir } = testFleet();
    await ctx.createWorkers(["x1", "x2"], { ttl: "5m" });
    await ctx.createWorkers(["keep"]);
    const late = new EngineDouble({ dir: path.join(dir, "engine"), projectDir: dir });
    const stale = await late.getAllConfig(); // what the late reap read, before the first one ran
    const later = new Date(Date.now() + HOUR);
    expect(await ctx.reapExpired(later)).to.deep.equal(["x1", "x2"]);
    // Meanwhile x1 was created again, without a ttl: the late reap must leave it alone.
    await ctx.createWorkers(["x1"]);
    const read = late.getAllConfig.bind(late);
    let first = true;
    late.getAllConfig = async () => {
      if (!first) return read();
      first = false;
      return stale;
    };
    const other = new CloudContext({ stack: late, projectDir: dir, env: TEST_ENV });
    expect(await other.reapExpired(later)).to.deep.equal([]);
    expect(other.stats.ups).to.equal(0);
    expect(await configuredNames(stack)).to.deep.equal(["keep", "x1"]);
  });

  it("getDesired exposes the entries with their expiry, without an engine call", async () => {
    const { ctx } = testFleet();
    await ctx.createWorkers(["a"], { ttl: "30m" });
    const ups = ctx.stats.ups;
    const d = await ctx.getDesired();
    expect(d.entries[0]).to.include({ name: "a", ttl: "30m" }).and.have.property("expiresAt");
    expect(ctx.stats.ups).to.equal(ups);
  });
});
