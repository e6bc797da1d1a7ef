/**
 * The narrow stack interface CloudContext drives. The Automation API adapter
 * (`automation.ts`) implements it over a real Pulumi stack; tests implement it with an
 * in-process engine double that runs the real program under mocks.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { DesiredRecord } from "../config/shared-state";

export type { EngineEvent };

/** A stack config value. */
export interface ConfigValue {
  /** The value as the engine stores it (structured values are JSON). */
  value: string;
  /** Whether it is stored encrypted. */
  secret?: boolean;
}

/** Options of an engine operation. */
export interface OperationOptions {
  /** Receives every engine event as it happens (progress, failures, diagnostics). */
  onEvent?: (event: EngineEvent) => void;
  /** Aborting it cancels the operation gracefully. */
  signal?: AbortSignal;
  /**
   * `pulumi up --continue-on-error`: steps independent of a failed one still run, so every
   * create gets an answer. Only for updates that replace and delete nothing that matters
   * (see CloudContext's capacity failover). @default false
   */
  continueOnError?: boolean;
}

/** One resource in the stack's state, cloud-neutral. */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  parent?: string;
}

/** A create the engine started and never finished (it was killed): in the checkpoint without an id. */
export interface PendingCreate {
  urn: string;
  type: string;
  /** The inputs the create was given. */
  inputs: Record<string, unknown>;
}

/** What CloudContext needs from a stack, and nothing more. */
export interface FleetStack {
  /** The stack name. */
  readonly name: string;
  /**
   * Whether the desired state lives in the backend's checkpoint rather than this clone's stack
   * config (config/shared-state.ts).
   */
  readonly sharedState: boolean;
  /** The shared desired state as the backend has it now; undefined when there is none yet. */
  desiredRecord(): Promise<DesiredRecord | undefined>;
  /** Every config value of the stack, secrets decrypted, keyed `namespace:key`. */
  getAllConfig(): Promise<Record<string, ConfigValue>>;
  /** Sets (or, with `undefined`, removes) config values; one write for all of them. */
  setConfig(values: Record<string, ConfigValue | undefined>): Promise<void>;
  /** Runs an update; resolves with the stack outputs. */
  up(options?: OperationOptions): Promise<Record<string, unknown>>;
  /** Destroys every resource the stack manages. */
  destroy(options?: OperationOptions): Promise<void>;
  /** Reconciles the state with the clouds (resources gone from the cloud leave the state). */
  refresh(options?: OperationOptions): Promise<void>;
  /** The outputs of the last update, without running one. */
  outputs(): Promise<Record<string, unknown>>;
  /** The resources now in the stack's state. */
  resources(): Promise<StateResource[]>;
  /** The creates a killed engine left pending in the checkpoint. */
  pendingCreates(): Promise<PendingCreate[]>;
  /**
   * Resolves pending creates: each of `imports` ([URN, id]) becomes a resource with that id
   * (what the create made, kept), each URN of `drop` leaves (the create made nothing); others
   * stay pending.
   */
  resolvePendingCreates(
    imports: readonly [string, string][],
    drop: readonly string[],
  ): Promise<void>;
}

/** The stack is locked by another update (Pulumi's ConcurrentUpdateError). */
export class StackBusyError extends Error {
  constructor(message = "the stack is locked by another update") {
    super(message);
    this.name = "StackBusyError";
  }
}

/**
 * On a shared backend: the update was refused before it changed anything, because the fleet's
 * desired state in the backend changed since this clone read it (config/shared-state.ts).
 */
export class StaleStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StaleStateError";
  }
}

/** The operation was cancelled through its AbortSignal. */
export class CancelledError extends Error {
  constructor(message = "the operation was cancelled") {
    super(message);
    this.name = "CancelledError";
  }
}

/** One resource operation that failed, from engine events. */
export interface ResourceFailure {
  urn: string;
  message: string;
}

/** An engine operation failed; `failures` lists the resources that failed and why. */
export class UpdateFailedError extends Error {
  public readonly failures: readonly ResourceFailure[];
  constructor(message: string, failures: readonly ResourceFailure[] = []) {
    super(message);
    this.name = "UpdateFailedError";
    this.failures = failures;
  }
}
