/**
 * The errors CloudContext's operations reject with, besides those of config validation
 * (`FleetConfigError`) and of the engine (`stack.ts`).
 */
import { FleetConfigError } from "../config/errors";

/** A worker that should exist does not. */
export class WorkerNotFoundError extends FleetConfigError {
  constructor(name: string, existing: readonly string[]) {
    super("worker", name, existingList(existing), "no such worker:");
    this.name = "WorkerNotFoundError";
  }
}

/** A worker that should not exist yet does. */
export class WorkerExistsError extends FleetConfigError {
  constructor(name: string) {
    super(
      "worker",
      name,
      "worker names are unique in the stack; pick another name",
      "worker already exists:",
    );
    this.name = "WorkerExistsError";
  }
}

/**
 * A stack that neither the backend nor a stack config file knows, opened by an operation that
 * must not start one (`openStack` with `createStack: false`): a mistyped `--stack` changes
 * nothing. `stacks` are the project's stacks.
 */
export class NoSuchStackError extends FleetConfigError {
  /** The project's stacks: in the backend, or declared by a stack config file. */
  public readonly stacks: readonly string[];
  constructor(name: string, stacks: readonly string[]) {
    const shown = stacks.slice(0, 20).join(", ");
    super(
      "stack",
      name,
      stacks.length
        ? `this project's stacks: ${shown}${stacks.length > 20 ? `, … (${stacks.length} in all)` : ""}`
        : "this project has no stacks yet; creating a worker starts one",
      "no such stack:",
    );
    this.name = "NoSuchStackError";
    this.stacks = stacks;
  }
}

function existingList(names: readonly string[]): string {
  if (!names.length) return "the stack has no workers";
  const shown = names.slice(0, 10).join(", ");
  return `existing workers: ${shown}${names.length > 10 ? `, … (${names.length} in all)` : ""}`;
}

/** Workers that failed in an engine update, each with the engine's reason. */
export class WorkersFailedError extends Error {
  /** Worker name → why it failed. */
  public readonly failed: ReadonlyMap<string, string>;
  constructor(failed: ReadonlyMap<string, string>, general: readonly string[], extra = "") {
    const parts = [...failed].map(([w, why]) => `${w} (${why})`);
    const lead = parts.length
      ? `${parts.length} worker${parts.length === 1 ? "" : "s"} failed: ${parts.join("; ")}`
      : `the update failed: ${general.join("; ") || "see the engine output"}`;
    super(`${lead}${extra}`);
    this.name = "WorkersFailedError";
    this.failed = failed;
  }
}

/**
 * A killed engine left creates pending that fleet cannot resolve by itself (it calls no cloud
 * API): the objects may exist in their cloud, unknown to the state, and keep costing money.
 * The message says, per create, how to keep it or drop it with the engine's own refresh.
 */
export class PendingCreatesError extends Error {
  /** @param pending each create: its URN, its name (the worker's, else the resource's), its type */
  constructor(stack: string, pending: readonly { urn: string; name: string; type: string }[]) {
    const list = pending.map((p) => `${p.name} (${p.type})`).join(", ");
    const workers = pending.map((p) => p.name);
    super(
      `the last update was stopped while creating ${list}: each may exist in its cloud without being in the state (and cost money). ` +
        `Look for it by its name; if it exists, keep it with \`fleet --stack ${stack} adopt ${workers[0]} <its id>\`, ` +
        `if not, drop the pending create with \`fleet --stack ${stack} adopt ${workers[0]} --none\`` +
        (workers.length > 1 ? ` (and the same for ${workers.slice(1).join(", ")})` : "") +
        "; then run the command again",
    );
    this.name = "PendingCreatesError";
  }
}
