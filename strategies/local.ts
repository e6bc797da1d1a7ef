import * as pulumi from "@pulumi/pulumi";
import { type StrategyArgs, type Worker, WorkerFleet } from "./contract";

// Placeholder until the local strategy lands (issue 4); refuses loudly instead of pretending.
export class LocalStrategy extends WorkerFleet {
  public readonly workers: pulumi.Output<Worker[]>;
  constructor(name: string, args: StrategyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("fleet:local:WorkerFleet", name, {}, opts);
    void args;
    throw new Error("the local cloud is not available yet");
  }
}
