import { expect } from "chai";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import {
  FailureCollector,
  progressOf,
  stripColors,
  urnName,
  urnType,
  workerOfUrn,
} from "../../context/events";

const URN = "urn:pulumi:dev::fleet::fleet:aws:WorkerFleet$aws:ec2/instance:Instance::aws-w1";

function ev(e: Partial<EngineEvent>): EngineEvent {
  return { sequence: 0, timestamp: 0, ...e } as EngineEvent;
}
const meta = (op: string) =>
  ({ op, urn: URN, type: "aws:ec2/instance:Instance", provider: "" }) as never;

describe("engine events", () => {
  it("parses URNs", () => {
    expect(urnName(URN)).to.equal("aws-w1");
    expect(urnType(URN)).to.equal("aws:ec2/instance:Instance");
    expect(workerOfUrn(URN, new Set(["w1"]), ["aws"])).to.equal("w1");
    expect(workerOfUrn(URN, new Set(["w2"]), ["aws"])).to.equal(undefined);
  });

  it("maps steps to per-worker progress", () => {
    const of = (u: string) => workerOfUrn(u, new Set(["w1"]), ["aws"]);
    expect(progressOf(ev({ resourcePreEvent: { metadata: meta("create") } }), of)).to.deep.equal({
      worker: "w1",
      state: "creating",
    });
    expect(progressOf(ev({ resOutputsEvent: { metadata: meta("create") } }), of)).to.deep.equal({
      worker: "w1",
      state: "created",
    });
    expect(progressOf(ev({ resourcePreEvent: { metadata: meta("delete") } }), of)).to.deep.equal({
      worker: "w1",
      state: "deleting",
    });
    expect(progressOf(ev({ resOutputsEvent: { metadata: meta("same") } }), of)).to.equal(undefined);
    expect(
      progressOf(ev({ resOpFailedEvent: { metadata: meta("create"), status: 1, steps: 1 } }), of),
    ).to.deep.equal({
      worker: "w1",
      state: "failed",
    });
  });

  it("collects failures with their reasons", () => {
    const c = new FailureCollector();
    c.onEvent(ev({ resOpFailedEvent: { metadata: meta("create"), status: 1, steps: 1 } }));
    c.onEvent(
      ev({
        diagnosticEvent: {
          urn: URN,
          message: "error: InsufficientInstanceCapacity\n",
          color: "never",
          severity: "error",
        },
      }),
    );
    c.onEvent(
      ev({ diagnosticEvent: { message: "update failed", color: "never", severity: "error" } }),
    );
    c.onEvent(ev({ diagnosticEvent: { message: "just info", color: "never", severity: "info" } }));
    expect(c.failures).to.deep.equal([
      { urn: URN, message: "error: InsufficientInstanceCapacity" },
    ]);
    expect(c.messages).to.deep.equal(["update failed"]);
  });

  it("strips the engine's colour markup from diagnostic messages (events as the CLI sends them)", () => {
    // Shaped like the engine's diagnostic events under the Automation API: color "raw" keeps
    // the markup of sdk/go/common/diag/colors/colors.go in prefix and message.
    const c = new FailureCollector();
    c.onEvent(
      ev({
        diagnosticEvent: {
          urn: URN,
          prefix: "<{%fg 1%}>error: <{%reset%}>",
          message:
            "<{%reset%}>creating EC2 Instance: operation error EC2: RunInstances, <{%bold%}>InvalidAMIID.NotFound<{%reset%}>: The image id '[ami-1]' does not exist<{%reset%}>\n",
          color: "raw",
          severity: "error",
        },
      }),
    );
    c.onEvent(
      ev({
        diagnosticEvent: {
          prefix: "<{%fg 1%}>error: <{%reset%}>",
          message:
            "<{%reset%}><{%fg 9%}><{%bg 4%}><{%underline%}>update failed<{%reset%}>\n<{%fg 1",
          color: "raw",
          severity: "error",
        },
      }),
    );
    expect(c.failures).to.deep.equal([
      {
        urn: URN,
        message:
          "creating EC2 Instance: operation error EC2: RunInstances, InvalidAMIID.NotFound: The image id '[ami-1]' does not exist",
      },
    ]);
    expect(c.messages).to.deep.equal(["update failed"]);
  });

  it("stripColors leaves text without markup alone, and removes ANSI escapes", () => {
    expect(stripColors("a <b> {%c%} 50% <{ done")).to.equal("a <b> {%c%} 50% <{ done");
    expect(stripColors("\x1b[38;5;1merror:\x1b[0m x")).to.equal("error: x");
  });
});
