/**
 * Turns engine events into what fleet tells people: which worker is being created or deleted,
 * which failed and why. Works for any cloud because worker resources follow one naming rule:
 * a worker's resource in the `<cloud>` component is named `<cloud>-<worker>`.
 */
import type { EngineEvent, ResourceFailure } from "./stack";

/**
 * The engine's colour markup: `<{%reset%}>`, `<{%bold%}>`, `<{%underline%}>`, `<{%fg N%}>`,
 * `<{%bg N%}>` (sdk/go/common/diag/colors/colors.go, `command()` and the directives it knows).
 */
const COLOR_COMMAND = /<\{%(?:reset|bold|underline|fg \d+|bg \d+)%\}>/g;
/** A command cut off at the end of a message (colors.go `TrimPartialCommand`). */
const PARTIAL_COMMAND = /<(?:\{(?:%(?:(?!%\}>).)*)?)?$/;
/** ANSI SGR escapes, which the CLI writes when it colourises (colors.go `writeCodes`). */
const ANSI_SGR = /\x1b\[[0-9;]*m/g;

/** Engine text without colour markup or escapes, as fleet shows it to people. */
export function stripColors(text: string): string {
  return text.replace(COLOR_COMMAND, "").replace(ANSI_SGR, "").replace(PARTIAL_COMMAND, "");
}

/** The last `::`-separated part of a URN: the resource's logical name. */
export function urnName(urn: string): string {
  const i = urn.lastIndexOf("::");
  return i < 0 ? urn : urn.slice(i + 2);
}

/** The resource type of a URN (`...::fleet:aws:WorkerFleet$aws:ec2/instance:Instance::name`). */
export function urnType(urn: string): string {
  const parts = urn.split("::");
  const typePath = parts.length >= 2 ? parts[parts.length - 2] : "";
  return typePath.split("$").pop() ?? "";
}

/** The worker a resource belongs to, given the workers that may be involved; else undefined. */
export function workerOfUrn(
  urn: string,
  workers: ReadonlySet<string>,
  clouds: Iterable<string>,
): string | undefined {
  const name = urnName(urn);
  const known = workers;
  for (const cloud of clouds) {
    const prefix = `${cloud}-`;
    if (name.startsWith(prefix) && known.has(name.slice(prefix.length)))
      return name.slice(prefix.length);
  }
  return undefined;
}

/** A per-worker progress line, or undefined when the event is not about a worker step. */
export interface Progress {
  worker: string;
  /** `creating`, `created`, `deleting`, `deleted`, `updating`, `updated`, `failed`. */
  state: string;
  detail?: string;
}

/** Collects failures from an operation's events (resource failures and error diagnostics). */
export class FailureCollector {
  private readonly byUrn = new Map<string, string>();
  private readonly general: string[] = [];

  readonly onEvent = (event: EngineEvent): void => {
    if (event.resOpFailedEvent) {
      const urn = event.resOpFailedEvent.metadata.urn;
      if (!this.byUrn.has(urn)) this.byUrn.set(urn, "failed");
    }
    const d = event.diagnosticEvent;
    if (d && d.severity === "error") {
      const message = stripColors(d.message).replace(/\s+/g, " ").trim();
      if (d.urn && urnType(d.urn) !== "pulumi:pulumi:Stack") {
        const prev = this.byUrn.get(d.urn);
        this.byUrn.set(d.urn, prev && prev !== "failed" ? `${prev}; ${message}` : message);
      } else if (message) {
        this.general.push(message);
      }
    }
  };

  get failures(): ResourceFailure[] {
    return [...this.byUrn].map(([urn, message]) => ({ urn, message }));
  }

  get messages(): string[] {
    return [...this.general];
  }
}

/** Maps an engine event to a progress line for a worker, if it is one. */
export function progressOf(
  event: EngineEvent,
  workerOf: (urn: string) => string | undefined,
): Progress | undefined {
  const pre = event.resourcePreEvent?.metadata;
  if (pre) {
    const worker = workerOf(pre.urn);
    if (!worker || pre.op === "same" || pre.op === "read") return undefined;
    return { worker, state: verb(pre.op)[0] };
  }
  const out = event.resOutputsEvent?.metadata;
  if (out) {
    const worker = workerOf(out.urn);
    if (!worker || out.op === "same" || out.op === "read") return undefined;
    return { worker, state: verb(out.op)[1] };
  }
  const failed = event.resOpFailedEvent?.metadata;
  if (failed) {
    const worker = workerOf(failed.urn);
    return worker ? { worker, state: "failed" } : undefined;
  }
  return undefined;
}

/** The progress words for a step: [while running, when done]. */
function verb(op: string): [string, string] {
  if (op === "create" || op === "create-replacement") return ["creating", "created"];
  if (op === "delete" || op === "delete-replaced" || op === "discard")
    return ["deleting", "deleted"];
  if (op === "replace") return ["replacing", "replaced"];
  return ["updating", "updated"];
}
