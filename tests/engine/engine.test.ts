/**
 * The engine rules the `pulumi` double applies, each against the Pulumi source it follows
 * (named in `engine/deployment.ts` and `cli/update.ts`), run through the double's executable
 * with the fixture program and a simulated cloud.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { type EngineEvent } from "./engine/events";
import { droplet, engineProject, readEvents, steps } from "./harness";

const TAG = "digitalocean:index/tag:Tag";
const DROPLET = "digitalocean:index/droplet:Droplet";

function ok(r: { status: number | null; stdout: string; stderr: string }): void {
  expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
}

describe("pulumi double: engine rules", function () {
  this.timeout(120_000);

  it("refuses every operation while a key declared in Pulumi.yaml has neither default nor value (pkg/workspace/config.go)", () => {
    const p = engineProject({ needed: { type: "string" }, count: { type: "integer", default: 1 } });
    p.setResources([]);
    for (const cmd of [["up", "--yes"], ["preview"], ["destroy", "--yes"], ["refresh", "--yes"]]) {
      const r = p.pulumi([...cmd, "--stack", "dev"]);
      expect(r.status, cmd[0]).to.equal(255);
      expect(r.stderr, cmd[0]).to.contain("Stack 'dev' is missing configuration value 'needed'");
    }
    expect(p.checkpoint().resources).to.deep.equal([]);
  });

  it("type-checks stack values against declared types", () => {
    const p = engineProject({ count: { type: "integer", default: 1 } });
    p.setResources([]);
    const set = p.pulumi(["config", "set", "count", "many", "--stack", "dev"]);
    ok(set);
    const r = p.pulumi(["up", "--yes", "--stack", "dev"]);
    expect(r.status).to.equal(255);
    expect(r.stderr).to.contain(
      "Stack 'dev' with configuration key 'count' must be of type 'integer'",
    );
  });

  it("creates, keeps the same, updates in place and replaces create-before-delete (step_generator.go)", () => {
    const p = engineProject();
    // Auto-named (no `name` input), so the provider does not ask for delete-before-replace.
    const auto = (extra: Record<string, unknown> = {}) => {
      const d = droplet("w1", extra);
      delete d.props?.name;
      return d;
    };
    p.setResources([auto()]);
    const first = p.up();
    ok(first.run);
    expect(steps(first.events).filter(([, n]) => n === "w1")).to.deep.equal([["create", "w1"]]);

    const same = p.up();
    ok(same.run);
    expect(steps(same.events).filter(([, n]) => n === "w1")).to.deep.equal([["same", "w1"]]);

    p.setResources([auto({ size: "s-2vcpu-2gb" })]);
    const upd = p.up();
    ok(upd.run);
    expect(steps(upd.events).filter(([, n]) => n === "w1")).to.deep.equal([["update", "w1"]]);

    const idBefore = p.checkpoint().resources.find((r) => r.type === DROPLET)?.id;
    p.setResources([auto({ size: "s-2vcpu-2gb", image: "debian-12-x64" })]);
    const rep = p.up();
    ok(rep.run);
    expect(steps(rep.events).filter(([, n]) => n === "w1")).to.deep.equal([
      ["replace", "w1"],
      ["create-replacement", "w1"],
      ["delete-replaced", "w1"],
    ]);
    const after = p.checkpoint().resources.filter((r) => r.type === DROPLET);
    expect(after).to.have.length(1);
    expect(after[0].id).to.not.equal(idBefore);
  });

  it("replaces delete-before-create when the provider or the resource asks for it", () => {
    const p = engineProject();
    p.setResources([{ ...droplet("w1"), deleteBeforeReplace: true }]);
    ok(p.up().run);
    p.setResources([{ ...droplet("w1", { image: "debian-12-x64" }), deleteBeforeReplace: true }]);
    const rep = p.up();
    ok(rep.run);
    expect(steps(rep.events).filter(([, n]) => n === "w1")).to.deep.equal([
      ["replace", "w1"],
      ["delete-replaced", "w1"],
      ["create-replacement", "w1"],
    ]);
  });

  it("applies ignoreChanges before the provider's diff", () => {
    const p = engineProject();
    p.setResources([{ ...droplet("w1"), ignoreChanges: ["image"] }]);
    ok(p.up().run);
    p.setResources([{ ...droplet("w1", { image: "debian-12-x64" }), ignoreChanges: ["image"] }]);
    const r = p.up();
    ok(r.run);
    expect(steps(r.events).filter(([, n]) => n === "w1")).to.deep.equal([["same", "w1"]]);
  });

  it("deletes what the program dropped, dependents before their dependencies", () => {
    const p = engineProject();
    p.setResources([
      { name: "t", type: TAG, props: { name: "fleet-t" } },
      { ...droplet("d"), dependsOn: ["t"] },
      { name: "group", type: undefined },
      { ...droplet("child"), parent: "group" },
    ]);
    ok(p.up().run);
    p.setResources([]);
    const r = p.up();
    ok(r.run);
    const deletes = steps(r.events)
      .filter(([op]) => op === "delete")
      .map(([, n]) => n);
    expect(deletes.indexOf("d")).to.be.lessThan(deletes.indexOf("t"));
    expect(deletes.indexOf("child")).to.be.lessThan(deletes.indexOf("group"));
    expect(p.stateNames()).to.deep.equal([]);
  });

  it("refuses to delete a protected resource, and keeps it", async () => {
    const p = engineProject();
    p.setResources([{ ...droplet("keep"), protect: true }]);
    ok(p.up().run);
    p.setResources([]);
    const r = p.up();
    expect(r.run.status).to.equal(255);
    expect(r.run.stdout + r.run.stderr).to.contain("as it is currently marked for protection");
    expect(p.stateNames()).to.deep.equal(["keep"]);
    expect((await p.cloud()).filter((o) => o.type === DROPLET)).to.have.length(1);
  });

  it("after a failed step starts no new steps and schedules no deletes (step_executor.go)", async () => {
    const p = engineProject();
    p.setResources([droplet("old")]);
    ok(p.up().run);
    p.setResources([droplet("a"), droplet("b"), droplet("c")]);
    const faults = JSON.stringify([
      {
        op: "create",
        match: { name: "b" },
        error: "Error creating droplet: 422 Size is not available in this region.",
      },
    ]);
    const r = p.up(["--parallel", "1"], { PULUMI_DOUBLE_FAULTS: faults });
    expect(r.run.status).to.equal(255);
    expect(r.run.stderr).to.contain("update failed");
    const failed = r.events.filter((e) => "resOpFailedEvent" in e);
    expect(failed).to.have.length(1);
    const names = p.stateNames().sort();
    expect(names).to.deep.equal(["a", "old"]);
    const inCloud = (await p.cloud())
      .filter((o) => o.type === DROPLET)
      .map((o) => String(o.outputs.name))
      .sort();
    expect(inCloud).to.deep.equal(["a", "old"]);
    const diag = r.events.find(
      (e) => "diagnosticEvent" in e && e.diagnosticEvent.severity === "error",
    );
    expect(diag && "diagnosticEvent" in diag ? diag.diagnosticEvent.message : "").to.equal(
      "<{%reset%}>Error creating droplet: 422 Size is not available in this region.<{%reset%}>\n",
    );
  });

  it("with --continue-on-error goes on with independent steps, deletes included", async () => {
    const p = engineProject();
    p.setResources([droplet("old")]);
    ok(p.up().run);
    p.setResources([droplet("a"), droplet("b"), droplet("c")]);
    const faults = JSON.stringify([{ op: "create", match: { name: "b" }, error: "boom" }]);
    const r = p.up(["--parallel", "1", "--continue-on-error"], { PULUMI_DOUBLE_FAULTS: faults });
    expect(r.run.status).to.equal(255);
    expect(p.stateNames().sort()).to.deep.equal(["a", "c"]);
  });

  it("--target touches only the targeted resources; --expect-no-changes fails on changes", () => {
    const p = engineProject();
    p.setResources([droplet("a"), droplet("b")]);
    const urn = "urn:pulumi:dev::fixture::digitalocean:index/droplet:Droplet::a";
    const r = p.up(["--target", urn]);
    ok(r.run);
    expect(p.stateNames()).to.deep.equal(["a"]);
    const none = p.pulumi([
      "up",
      "--yes",
      "--stack",
      "dev",
      "--target",
      urn,
      "--expect-no-changes",
    ]);
    ok(none);
    const some = p.pulumi(["up", "--yes", "--stack", "dev", "--expect-no-changes"]);
    expect(some.status).to.equal(255);
    expect(some.stderr).to.contain("no changes were expected but changes were proposed");
  });

  it("--parallel bounds the steps in flight (step_executor.go workers)", () => {
    const p = engineProject();
    p.setResources(["p1", "p2", "p3", "p4"].map((n) => droplet(n)));
    const faults = JSON.stringify([{ op: "create", match: { region: "nyc3" }, delayMs: 700 }]);
    const r = p.up(["--parallel", "2"], { PULUMI_DOUBLE_FAULTS: faults });
    ok(r.run);
    let now = 0;
    let max = 0;
    for (const e of r.events) {
      if ("resourcePreEvent" in e && e.resourcePreEvent.metadata.type === DROPLET)
        max = Math.max(max, ++now);
      if ("resOutputsEvent" in e && e.resOutputsEvent.metadata.type === DROPLET) now--;
    }
    expect(max).to.equal(2);
  });

  it("--refresh reads the cloud first: a resource deleted out of band is created again", async () => {
    const p = engineProject();
    p.setResources([droplet("r1")]);
    ok(p.up().run);
    const before = (await p.cloud()).find((o) => o.type === DROPLET);
    const { openCloud } = await import("../sim/cloud");
    await openCloud(p.env.PULUMI_DOUBLE_DIR as string).deleteOutOfBand(
      "digitalocean",
      DROPLET,
      String(before?.id),
    );
    const plain = p.up();
    ok(plain.run);
    expect(steps(plain.events).filter(([, n]) => n === "r1")).to.deep.equal([["same", "r1"]]);
    const refreshed = p.up(["--refresh"]);
    ok(refreshed.run);
    expect(steps(refreshed.events).filter(([, n]) => n === "r1")).to.deep.equal([
      ["refresh", "r1"],
      ["create", "r1"],
    ]);
    const after = (await p.cloud()).filter((o) => o.type === DROPLET);
    expect(after).to.have.length(1);
    expect(after[0].id).to.not.equal(before?.id);
  });

  it("preview and --preview-only plan without touching the cloud or the checkpoint", async () => {
    const p = engineProject();
    p.setResources([droplet("kept")]);
    ok(p.up().run);
    const before = JSON.stringify(p.checkpoint().resources);
    p.setResources([droplet("kept"), droplet("planned")]);
    const log = path.join(p.dir, "preview.jsonl");
    ok(p.pulumi(["preview", "--stack", "dev", "--event-log", log]));
    expect(
      steps(readEvents(log))
        .filter(([op]) => op === "create")
        .map(([, n]) => n),
    ).to.deep.equal(["planned"]);
    const destroyLog = path.join(p.dir, "destroy-preview.jsonl");
    ok(p.pulumi(["destroy", "--preview-only", "--stack", "dev", "--event-log", destroyLog]));
    expect(
      steps(readEvents(destroyLog)).some(([op, n]) => op === "delete" && n === "kept"),
    ).to.equal(true);
    ok(p.pulumi(["refresh", "--preview-only", "--stack", "dev"]));
    expect(JSON.stringify(p.checkpoint().resources)).to.equal(before);
    expect(
      (await p.cloud()).filter((o) => o.type === DROPLET).map((o) => o.outputs.name),
    ).to.deep.equal(["kept"]);
  });

  it("the stack lock: a lock left behind makes the next update fail with the real message, `cancel` clears it", () => {
    const p = engineProject();
    p.setResources([]);
    ok(
      p.pulumi(["up", "--yes", "--stack", "dev"], {
        PULUMI_DOUBLE_FAULTS: JSON.stringify([{ leaveLocked: true }]),
      }),
    );
    const r = p.pulumi(["up", "--yes", "--stack", "dev"]);
    expect(r.status).to.equal(255);
    // The Automation API classifies this text as ConcurrentUpdateError (automation/errors.js).
    expect(r.stderr).to.contain("the stack is currently locked by 1 lock(s)");
    ok(p.pulumi(["cancel", "--yes", "--stack", "dev"]));
    ok(p.pulumi(["up", "--yes", "--stack", "dev"]));
  });

  it("SIGINT once cancels gracefully: the step in flight finishes, nothing new starts, no pending operations", async () => {
    const p = engineProject();
    p.setResources([droplet("slow"), droplet("next")]);
    const log = path.join(p.dir, "sigint.jsonl");
    const faults = JSON.stringify([{ op: "create", match: { name: "slow" }, delayMs: 3000 }]);
    const child = p.start(
      ["up", "--yes", "--stack", "dev", "--parallel", "1", "--event-log", log],
      { PULUMI_DOUBLE_FAULTS: faults },
    );
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => /slow creating/.test(out));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    expect(code).to.equal(255);
    expect(out).to.contain("^C received; cancelling");
    expect(out).to.contain("update canceled");
    expect(p.stateNames()).to.deep.equal(["slow"]);
    expect(p.checkpoint().pending).to.deep.equal([]);
    const summary = readEvents(log).find((e) => "summaryEvent" in e);
    expect(summary && "summaryEvent" in summary ? summary.summaryEvent.result : "").to.equal(
      "canceled",
    );
  });

  it("SIGINT twice terminates at once, leaving the pending operation; the next run warns about it", async () => {
    const p = engineProject();
    p.setResources([droplet("stuck")]);
    const faults = JSON.stringify([
      { op: "create", match: { name: "stuck" }, hang: true, times: 1 },
    ]);
    const child = p.start(["up", "--yes", "--stack", "dev"], { PULUMI_DOUBLE_FAULTS: faults });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => /stuck creating/.test(out));
    await waitFor(() => p.checkpoint().pending.length === 1);
    child.kill("SIGINT");
    await waitFor(() => /cancelling/.test(out));
    child.kill("SIGINT");
    await new Promise((r) => child.once("exit", r));
    expect(out).to.contain("terminating");
    const pending = p.checkpoint().pending;
    expect(pending.map((o) => [o.type, o.resource.urn.split("::").pop()])).to.deep.equal([
      ["creating", "stuck"],
    ]);
    const next = p.up();
    ok(next.run);
    const warning = next.events.find(
      (e) => "diagnosticEvent" in e && e.diagnosticEvent.severity === "warning",
    );
    expect(
      warning && "diagnosticEvent" in warning ? warning.diagnosticEvent.message : "",
    ).to.contain(
      "Attempting to deploy or update resources with 1 pending operations from previous deployment.\n  * urn:pulumi:dev::fixture::digitalocean:index/droplet:Droplet::stuck, interrupted while creating",
    );
  });

  it("a kill mid-create orphans the object in the cloud; refresh --clear-pending-creates clears the pending create; out-of-band deletes leave state on refresh", async () => {
    const p = engineProject();
    p.setResources([droplet("a"), droplet("b")]);
    const r = p.up(["--parallel", "1"], {
      PULUMI_DOUBLE_FAULTS: JSON.stringify([{ kill: { afterSteps: 1 } }]),
    });
    expect(r.run.signal).to.equal("SIGKILL");
    const cloud = (await p.cloud()).filter((o) => o.type === DROPLET);
    expect(cloud).to.have.length(1);
    expect(p.stateNames()).to.deep.equal([]);
    expect(p.checkpoint().pending.map((o) => o.type)).to.deep.equal(["creating"]);
    // Held by the dead process: clear the lock, as a person would with `pulumi cancel`.
    ok(p.pulumi(["cancel", "--yes", "--stack", "dev"]));
    ok(p.pulumi(["refresh", "--yes", "--stack", "dev"]));
    expect(p.checkpoint().pending).to.have.length(1);
    ok(p.pulumi(["refresh", "--yes", "--stack", "dev", "--clear-pending-creates"]));
    expect(p.checkpoint().pending).to.deep.equal([]);

    p.setResources([droplet("c")]);
    ok(p.up().run);
    const c = (await p.cloud()).find((o) => o.type === DROPLET && o.outputs.name === "c");
    const { openCloud } = await import("../sim/cloud");
    await openCloud(p.env.PULUMI_DOUBLE_DIR as string).deleteOutOfBand(
      "digitalocean",
      DROPLET,
      String(c?.id),
    );
    ok(p.pulumi(["refresh", "--yes", "--stack", "dev"]));
    expect(p.stateNames()).to.deep.equal([]);
  });

  it("keeps secrets encrypted in the checkpoint and the stack file", () => {
    const p = engineProject();
    p.setResources([
      {
        ...droplet("s"),
        props: { ...droplet("s").props, userData: "token=hunter2" },
        secretProps: ["userData"],
      },
    ]);
    ok(p.up().run);
    const text = fs.readFileSync(
      path.join(p.dir, "state", ".pulumi", "stacks", "fixture", "dev.json"),
      "utf8",
    );
    expect(text).to.not.contain("hunter2");
    // Written compact, as the DIY backend does (`pkg/backend/diy/state.go`).
    expect(text).to.contain(
      '"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270"',
    );
    expect(text).to.match(/"ciphertext":"v1:/);
  });

  it("writes a large `stack export` whole to a pipe before exiting", () => {
    const p = engineProject();
    const big = { $repeat: ["x", 60_000] };
    p.setResources(["b1", "b2", "b3", "b4", "b5", "b6"].map((n) => droplet(n, { userData: big })));
    ok(p.up().run);
    const exported = p.pulumi(["stack", "export", "--stack", "dev"]);
    ok(exported);
    expect(exported.stdout.length).to.be.greaterThan(6 * 60_000);
    const parsed = JSON.parse(exported.stdout) as { deployment: { resources: unknown[] } };
    expect(
      parsed.deployment.resources.filter((r) => (r as { type: string }).type === DROPLET),
    ).to.have.length(6);
  });

  it("emits events with the engine's shapes (apitype/events.go; lifecycletest eventstream.json)", () => {
    const p = engineProject();
    p.setResources([droplet("e")]);
    const { events } = p.up();
    // Keys of each payload as the engine writes them, e.g.
    // pkg/engine/lifecycletest/testdata/output/TestDestroyWithProgramWithComponents/0/eventstream.json.
    const keysOf = (e: EngineEvent) => Object.keys(e).sort();
    expect(keysOf(events[0])).to.deep.equal(["preludeEvent", "sequence", "timestamp"]);
    const pre = events.find(
      (e) => "resourcePreEvent" in e && e.resourcePreEvent.metadata.type === DROPLET,
    );
    expect(
      pre && "resourcePreEvent" in pre ? Object.keys(pre.resourcePreEvent.metadata).sort() : [],
    ).to.deep.equal(["detailedDiff", "logical", "new", "old", "op", "provider", "type", "urn"]);
    const meta = pre && "resourcePreEvent" in pre ? pre.resourcePreEvent.metadata : undefined;
    expect(Object.keys(meta?.new ?? {}).sort()).to.deep.equal([
      "custom",
      "id",
      "inputs",
      "outputs",
      "parent",
      "provider",
      "type",
      "urn",
    ]);
    expect(meta?.provider).to.match(
      /^urn:pulumi:dev::fixture::pulumi:providers:digitalocean::default(_[0-9_]+)?::[0-9a-f-]{36}$/,
    );
    const summary = events[events.length - 2];
    expect("summaryEvent" in summary && Object.keys(summary.summaryEvent).sort()).to.deep.equal([
      "PolicyPacks",
      "durationSeconds",
      "isPreview",
      "maybeCorrupt",
      "resourceChanges",
      "result",
    ]);
    expect(keysOf(events[events.length - 1])).to.deep.equal([
      "cancelEvent",
      "sequence",
      "timestamp",
    ]);
    expect(events.map((e) => e.sequence)).to.deep.equal(events.map((_, i) => i));
  });
});

async function waitFor(check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}
