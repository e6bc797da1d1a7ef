/**
 * The in-process engine double follows the engine where CloudContext's recovery depends on it
 * (pkg/resource/deploy/step_executor.go, deployment_executor.go, step_generator.go).
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EngineEvent } from "../../context/stack";
import { EngineDouble, type Faults } from "../harness/engine-double";
import { rejection } from "../harness/context";

const DROPLET = "digitalocean:index/droplet:Droplet";

function double(): EngineDouble {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-double-"));
  return new EngineDouble({ dir });
}

async function up(stack: EngineDouble, workers: string[], faults: Faults = {}) {
  await stack.setConfig({
    "fleet:cloud": { value: "digitalocean" },
    "fleet:workers": { value: JSON.stringify(workers) },
  });
  stack.setFaults(faults);
  const events: EngineEvent[] = [];
  let error: Error | undefined;
  try {
    await stack.up({ onEvent: (e) => events.push(e) });
  } catch (e) {
    error = e as Error;
  }
  stack.setFaults({});
  return { events, error };
}

const droplets = (stack: EngineDouble) =>
  stack
    .state()
    .resources.filter((r) => r.type === DROPLET)
    .map((r) => r.name.replace("digitalocean-", ""))
    .sort();

/** `op name` for each step that started (resource pre-events), in order. */
const started = (events: EngineEvent[]) =>
  events
    .filter((e) => e.resourcePreEvent)
    .map(
      (e) =>
        `${e.resourcePreEvent?.metadata.op} ${e.resourcePreEvent?.metadata.urn.split("::").pop()}`,
    );

describe("engine double: what the engine does after a failed step", () => {
  it("starts no new step after a failed create, and never reaches the deletes", async () => {
    const stack = double();
    await up(stack, ["old"]);
    const { events, error } = await up(stack, ["bad", "later"], {
      failCreate: { bad: "quota exceeded" },
      parallel: 1,
    });
    expect(error?.message).to.match(/update failed/);
    expect(started(events)).to.deep.equal(["create digitalocean-bad"]);
    expect(droplets(stack)).to.deep.equal(["old"], "old was not deleted, later never created");
  });

  it("lets steps already running finish", async () => {
    const stack = double();
    const { events } = await up(stack, ["bad", "b"], {
      failCreate: { bad: "quota exceeded" },
      latencyMs: 20,
    });
    expect(started(events)).to.include.members([
      "create digitalocean-bad",
      "create digitalocean-b",
    ]);
    expect(droplets(stack)).to.deep.equal(["b"]);
  });

  it("with continue-on-error, goes on with other creates and runs the deletes", async () => {
    const stack = double();
    await up(stack, ["old"]);
    await up(stack, ["bad", "later"], {
      failCreate: { bad: "quota exceeded" },
      parallel: 1,
      continueOnError: true,
    });
    expect(droplets(stack)).to.deep.equal(["later"]);
  });

  it("a failed delete stops the deletes that come after it", async () => {
    const stack = double();
    await up(stack, ["a", "b"]);
    stack.setFaults({ failDelete: { a: "locked" } });
    const events: EngineEvent[] = [];
    await rejection(stack.destroy({ onEvent: (e) => events.push(e) }));
    // Both droplets were in one antichain; the tag and components they depend on stay.
    expect(droplets(stack)).to.deep.equal(["a"]);
    expect(stack.state().resources.map((r) => r.type)).to.include.members([
      "digitalocean:index/tag:Tag",
      "fleet:digitalocean:WorkerFleet",
    ]);
    expect(started(events)).not.to.include("delete digitalocean-fleet");
  });

  it("deletes dependents before the resources they depend on", async () => {
    const stack = double();
    await up(stack, ["a", "b"]);
    const events: EngineEvent[] = [];
    await stack.destroy({ onEvent: (e) => events.push(e) });
    const order = started(events);
    const tag = order.indexOf("delete digitalocean-fleet");
    expect(tag).to.be.greaterThan(-1);
    for (const dependent of ["digitalocean-a", "digitalocean-b", "digitalocean-firewall"])
      expect(order.indexOf(`delete ${dependent}`), dependent).to.be.within(0, tag - 1);
    expect(stack.state().resources).to.deep.equal([]);
  });
});
