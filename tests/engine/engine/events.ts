/**
 * Engine events, as the CLI sends them to `--event-log`: JSON objects of the shape of
 * `sdk/go/common/apitype/events.go` (`EngineEvent` with a `sequence`, a Unix `timestamp` in
 * seconds and exactly one payload). For CLI versions above 3.205 the Automation API serves the
 * `pulumirpc.Events` service and passes `--event-log tcp://127.0.0.1:<port>`; otherwise a file
 * path to append JSON lines to (`sdk/nodejs/automation/stack.ts`, `setupEventLog`).
 */
import * as fs from "node:fs";
import { type Client, call, client, eventsproto, eventsrpc, newMessage } from "./rpc";

/** Colour markup as the engine writes it (`sdk/go/common/diag/colors/colors.go`). */
export const COLORS = {
  reset: "<{%reset%}>",
  red: "<{%fg 1%}>",
  yellow: "<{%fg 3%}>",
} as const;

export interface StepStateMetadata {
  type: string;
  urn: string;
  custom?: boolean;
  delete?: boolean;
  id: string;
  parent: string;
  protect?: boolean;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  provider: string;
}

export interface StepMetadata {
  op: string;
  urn: string;
  type: string;
  old: StepStateMetadata | null;
  new: StepStateMetadata | null;
  keys?: string[];
  diffs?: string[];
  detailedDiff: null | Record<string, { diffKind: string; inputDiff: boolean }>;
  logical?: boolean;
  provider: string;
}

export type EventPayload =
  | { cancelEvent: Record<string, never> }
  | { stdoutEvent: { message: string; color: string } }
  | {
      diagnosticEvent: {
        urn?: string;
        prefix?: string;
        message: string;
        color: string;
        severity: string;
        streamID?: number;
        ephemeral?: boolean;
      };
    }
  | { preludeEvent: { config: Record<string, string> } }
  | {
      summaryEvent: {
        maybeCorrupt: boolean;
        durationSeconds: number;
        resourceChanges: Record<string, number>;
        PolicyPacks: Record<string, string>;
        isPreview: boolean;
        result: "succeeded" | "failed" | "canceled";
      };
    }
  | { resourcePreEvent: { metadata: StepMetadata; planning?: boolean } }
  | { resOutputsEvent: { metadata: StepMetadata; planning?: boolean } }
  | { resOpFailedEvent: { metadata: StepMetadata; status: number; steps: number } }
  | { errorEvent: { error: string } };

export type EngineEvent = { sequence: number; timestamp: number } & EventPayload;

/** Where events go: nowhere, a JSON-lines file, or the Automation API's events service. */
export class EventSink {
  private sequence = 0;
  private stream: { write(m: unknown): boolean; end(): void } | undefined;
  private done: Promise<void> = Promise.resolve();
  private file: number | undefined;
  private rpc: Client | undefined;
  /** Every event sent, for the engine's own summary and tests. */
  readonly sent: EngineEvent[] = [];

  constructor(target: string | undefined) {
    if (!target) return;
    if (target.startsWith("tcp://")) {
      this.rpc = client(eventsrpc, "EventsClient", target.slice("tcp://".length));
      this.done = new Promise<void>((resolve) => {
        const fn = this.rpc?.streamEvents as (cb: (err: unknown) => void) => {
          write(m: unknown): boolean;
          end(): void;
        };
        this.stream = fn.call(this.rpc, () => resolve());
      });
    } else {
      this.file = fs.openSync(target, "a");
    }
  }

  emit(payload: EventPayload): void {
    const event = {
      sequence: this.sequence++,
      timestamp: Math.floor(Date.now() / 1000),
      ...payload,
    } as EngineEvent;
    this.sent.push(event);
    const text = JSON.stringify(event);
    if (this.stream) {
      const req = newMessage(eventsproto, "EventRequest");
      call(req, "setEvent", text);
      this.stream.write(req);
    } else if (this.file !== undefined) {
      fs.writeSync(this.file, `${text}\n`);
    }
  }

  /** A diagnostic as the engine formats it: colour prefix, reset-wrapped message, `raw` colour. */
  diagnostic(
    severity: "error" | "warning" | "info" | "debug",
    message: string,
    urn?: string,
  ): void {
    const prefix =
      severity === "error"
        ? `${COLORS.red}error: ${COLORS.reset}`
        : severity === "warning"
          ? `${COLORS.yellow}warning: ${COLORS.reset}`
          : "";
    this.emit({
      diagnosticEvent: {
        ...(urn ? { urn } : {}),
        ...(prefix ? { prefix } : {}),
        message: `${COLORS.reset}${message}${COLORS.reset}\n`,
        color: "raw",
        severity,
      },
    });
  }

  /** Flushes and closes the channel. */
  async close(): Promise<void> {
    if (this.stream) {
      this.stream.end();
      await Promise.race([this.done, new Promise((r) => setTimeout(r, 5_000))]);
      this.rpc?.close();
    }
    if (this.file !== undefined) fs.closeSync(this.file);
  }
}
