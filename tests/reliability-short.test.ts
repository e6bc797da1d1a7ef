/**
 * The short form of the reliability suite's engine scenarios (tests/reliability/faults.rel.ts),
 * inside `npm test`: on Pulumi's own engine with the simulated DigitalOcean plugin, the engine
 * SIGKILLed mid-update, a hung create ended by one Ctrl-C, and a slow create terminated by two.
 * After each, the user does what fleet says (`pulumi cancel`, `fleet adopt`), and the simulated
 * cloud, the checkpoint and the stack config agree: nothing lost, orphaned or phantom.
 */
import { expect } from "chai";
import {
  faults,
  pendingCreate,
  reckon,
  relProject,
  runAsAdvised,
  startGroup,
  until,
} from "./reliability/support/project";

const DROPLET = "digitalocean:index/droplet:Droplet";

describe("reliability, short: kill, hang and Ctrl-C on Pulumi's engine", function () {
  this.timeout(90_000);

  it("the engine SIGKILLed mid-create: the pending create it left is resolved as fleet advises; 0 orphans", async () => {
    const p = relProject("short-kill");
    const run = startGroup(
      p,
      ["create", "k1", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "k1" }, delayMs: 60_000 }]),
    );
    try {
      await until(() => pendingCreate(p, "k1"), "k1's create in flight", 30_000);
      const engines = run.engines();
      expect(engines).to.have.length(1);
      process.kill(engines[0], "SIGKILL");
      expect((await run.done).code).to.equal(1);
    } finally {
      run.cleanup();
    }
    const advised = await runAsAdvised(p, ["sync", "-q"]);
    expect(advised.dropped, "k1 was never made").to.deep.equal(["k1"]);
    const r = await reckon(p);
    expect(r.details).to.deep.equal([]);
    expect(r.orphaned).to.equal(0);
  });

  it("one Ctrl-C during a hung create: exit 130, nothing pending, nothing orphaned", async () => {
    const p = relProject("short-hang");
    const run = startGroup(
      p,
      ["create", "h1", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "h1" }, hang: true }]),
    );
    try {
      await until(() => pendingCreate(p, "h1"), "h1's create in flight", 30_000);
      run.signalGroup("SIGINT");
      const r = await run.done;
      expect(r.code, r.stderr).to.equal(130);
    } finally {
      run.cleanup();
    }
    expect(p.checkpoint().pending).to.deep.equal([]);
    const r = await reckon(p);
    expect(r.details).to.deep.equal([]);
  });

  it("two Ctrl-Cs during a slow create: exit 130, the pending create is dropped as fleet advises; 0 orphans", async () => {
    const p = relProject("short-ctrlc2");
    const run = startGroup(
      p,
      ["create", "s1", "-q"],
      faults([{ op: "create", type: DROPLET, match: { name: "s1" }, delayMs: 60_000 }]),
    );
    try {
      await until(() => pendingCreate(p, "s1"), "s1's create in flight", 30_000);
      run.signalGroup("SIGINT");
      await new Promise((r) => setTimeout(r, 1_000));
      run.signalGroup("SIGINT");
      const r = await run.done;
      expect(r.code, r.stderr).to.equal(130);
    } finally {
      run.cleanup();
    }
    expect(pendingCreate(p, "s1")).to.equal(true);
    const advised = await runAsAdvised(p, ["sync", "-q"]);
    expect(advised.dropped).to.deep.equal(["s1"]);
    const r = await reckon(p);
    expect(r.details).to.deep.equal([]);
    expect(r.orphaned).to.equal(0);
  });
});
