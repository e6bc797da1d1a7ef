/**
 * The double's deployment engine: serves the ResourceMonitor and Engine services to a running
 * program, turns each registration into a step against the previous checkpoint, runs steps
 * through providers, persists the snapshot as it goes, and schedules deletes at the end.
 *
 * Each rule names the part of pulumi/pulumi it follows:
 * - URNs: `sdk/go/common/resource/urn.go` (`NewURN`: the parent's qualified type is prefixed
 *   with `$`, except for the root stack).
 * - Step generation (same/create/update/replace, create-before-delete unless
 *   `deleteBeforeReplace`, ignoreChanges applied by the engine before the provider's diff,
 *   duplicate URNs, protect): `pkg/resource/deploy/step_generator.go`, `diag/errors.go`.
 * - Errors: after a failed step no new steps start and deletes are not scheduled; in-flight steps
 *   finish (`step_executor.go`, `cancelDueToError`; `deployment_executor.go`, `performPostSteps`
 *   only when nothing failed). With `--continue-on-error` independent steps go on.
 * - Deletes last, dependents before their dependencies (`step_generator.go`,
 *   `GenerateDeletes`/`ScheduleDeletes`: antichains of the reverse dependency graph).
 * - Pending operations are written before a step calls its provider and cleared when it returns
 *   (`pkg/backend/snapshot.go`, `BeginMutation`/`End`), so a kill mid-step leaves them behind.
 * - Default providers `pulumi:providers:<pkg>::default[_<version>]` are registered on first use
 *   (`pkg/resource/deploy/providers/registry.go`, `default_providers.go`).
 */
import * as crypto from "node:crypto";
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type {
  PendingOperation as CheckpointPendingOperation,
  ResourceState as CheckpointResource,
} from "../backend";
import type { EventSink, StepMetadata, StepStateMetadata } from "./events";
import { DYNAMIC_PACKAGE, type ResourceProvider, packageOf } from "./providers";
import {
  type Props,
  UNKNOWN,
  call,
  containsSecret,
  empty as emptyRpc,
  engproto,
  engrpc,
  fromStruct,
  grpc,
  newMessage,
  resproto,
  resrpc,
  secret,
  serve,
  toStruct,
  unwrapSecrets,
  isSecret,
  provproto,
} from "./rpc";

/**
 * A resource in a checkpoint (`apitype.ResourceV3`, as `../backend.ts` types it), with its
 * properties in wire form: secrets as `{SIG_KEY: SECRET_SIG, value}` until the writer encrypts them.
 */
export type ResourceState = Omit<CheckpointResource, "inputs" | "outputs"> & {
  inputs?: Props;
  outputs?: Props;
};

/** A pending operation (`apitype.PendingOperationV2`) over such a resource. */
export interface PendingOperation {
  resource: ResourceState;
  type: CheckpointPendingOperation["type"] | "importing";
}

/** What a step may be told by fault injection. */
export interface FaultAction {
  error?: string;
  delayMs?: number;
  hang?: boolean;
}

/** The fault injection the engine consults before each provider operation. */
export interface FaultPlan {
  match(
    op: "create" | "update" | "delete" | "read",
    target: { name: string; type: string; inputs: Props },
  ): Promise<FaultAction | undefined>;
  killAfterSteps(): number | undefined;
}

export interface LedgerEntry {
  op: string;
  type: string;
  name: string;
  id?: string;
  outcome: "ok" | "failed" | "fault";
  error?: string;
}

export type OperationKind = "update" | "preview" | "destroy" | "refresh";

export interface DeploymentOptions {
  /** `update` runs the program; `destroy` and `refresh` do not. */
  kind: Exclude<OperationKind, "preview">;
  /** Plan only: no provider creates, updates or deletes, nothing persisted. */
  preview?: boolean;
  project: string;
  stack: string;
  organization: string;
  /** The previous checkpoint's resources (secrets in wire form) and pending operations. */
  resources: ResourceState[];
  pending: PendingOperation[];
  parallel: number;
  continueOnError: boolean;
  /** `--target` URNs (with `*` wildcards), if any. */
  targets: string[];
  /** `--clear-pending-creates` (refresh). */
  clearPendingCreates?: boolean;
  /** Provider configuration from stack config: `<pkg>` → `{ key: value }`. */
  providerConfig: (pkg: string) => Props;
  /** Makes the provider for a package (and its provider-resource inputs). */
  provider: (pkg: string, inputs: Props) => Promise<ResourceProvider>;
  /** Persists the snapshot (coalesced by the caller). */
  persist: (resources: ResourceState[], pending: PendingOperation[]) => Promise<void>;
  events: EventSink;
  faults: FaultPlan;
  ledger: (entry: LedgerEntry) => void;
  /** Progress lines for stdout. */
  print: (line: string) => void;
}

export interface DeploymentResult {
  result: "succeeded" | "failed" | "canceled";
  resources: ResourceState[];
  pending: PendingOperation[];
  changes: Record<string, number>;
  errors: string[];
  stackOutputs: Props;
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** `NewURN` (sdk/go/common/resource/urn.go). */
export function makeUrn(
  stack: string,
  project: string,
  parentUrn: string,
  type: string,
  name: string,
): string {
  // The root stack's children carry their own type only; below a component, the chain.
  const parentType = parentUrn ? urnQualifiedType(parentUrn) : "";
  const qualified = parentType && parentType !== STACK_TYPE ? `${parentType}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

export function urnQualifiedType(urn: string): string {
  const parts = urn.split("::");
  return parts.length >= 4 ? parts[2] : "";
}

export function urnName(urn: string): string {
  const parts = urn.split("::");
  return parts.slice(3).join("::");
}

/** A `--target` pattern (`*` matches any run of characters). */
function targetMatcher(targets: string[]): ((urn: string) => boolean) | undefined {
  if (!targets.length) return undefined;
  const res = targets.map(
    (t) =>
      new RegExp(
        `^${t
          .split("*")
          .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
          .join(".*")}$`,
      ),
  );
  return (urn) => res.some((r) => r.test(urn));
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Applies ignoreChanges paths: the old input value is kept for each (`step_generator.go`, `processIgnoreChanges`). */
export function applyIgnoreChanges(olds: Props, news: Props, paths: string[]): Props {
  if (!paths.length) return news;
  const out = structuredClone(news);
  for (const p of paths) {
    const keys = parsePath(p);
    const oldValue = getPath(olds, keys);
    if (oldValue.found) setPath(out, keys, oldValue.value);
    else deletePath(out, keys);
  }
  return out;
}

/** `a.b[0]["c.d"]` → ["a","b",0,"c.d"] (`sdk/go/common/resource/property_path.go`). */
export function parsePath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[3].replace(/\\(.)/g, "$1"));
  }
  return out;
}

function getPath(v: unknown, keys: (string | number)[]): { found: boolean; value?: unknown } {
  let cur = v;
  for (const k of keys) {
    if (isSecret(cur)) cur = cur.value;
    if (cur === null || typeof cur !== "object" || !(k in (cur as object))) return { found: false };
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return { found: true, value: cur };
}

function setPath(v: Props, keys: (string | number)[], value: unknown): void {
  let cur: Record<string | number, unknown> = v;
  for (let i = 0; i < keys.length - 1; i++) {
    let next = cur[keys[i]];
    if (isSecret(next)) next = next.value;
    if (next === null || typeof next !== "object") {
      next = typeof keys[i + 1] === "number" ? [] : {};
      cur[keys[i]] = next;
    }
    cur = next as Record<string | number, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function deletePath(v: Props, keys: (string | number)[]): void {
  const parent = getPath(v, keys.slice(0, -1));
  if (parent.found && parent.value && typeof parent.value === "object")
    delete (parent.value as Record<string | number, unknown>)[keys[keys.length - 1]];
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Props)[k]);
    return out;
  }
  return v;
}

/** Marks output properties secret where the inputs were secret or `additionalSecretOutputs` says so. */
function secretOutputs(inputs: Props, outputs: Props, additional: string[]): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(outputs)) {
    const wantSecret = additional.includes(k) || isSecret(inputs[k]);
    out[k] = wantSecret && !isSecret(v) ? secret(v) : v;
  }
  return out;
}

/** A step failed; the message is the provider's. */
class StepError extends Error {}

/** A step that was not started because the deployment stopped taking steps. */
class NotStarted extends Error {}

/** Raised into the program's pending calls once the deployment stops taking steps. */
const NEVER = new Promise<never>(() => undefined);

export class Deployment {
  private readonly olds = new Map<string, ResourceState>();
  /** Old resources that have a counterpart in this run (same/update/replace/delete handled). */
  private readonly handled = new Set<string>();
  private readonly news: ResourceState[] = [];
  private readonly newsByUrn = new Map<string, ResourceState>();
  /** Old resources replaced with create-before-delete, deleted at the end. */
  private readonly replaced: ResourceState[] = [];
  private readonly pending = new Map<string, PendingOperation>();
  private readonly providers = new Map<string, { ref: string; impl: ResourceProvider }>();
  private readonly providerStarts = new Map<
    string,
    Promise<{ ref: string; impl: ResourceProvider }>
  >();
  private readonly sem: Semaphore;
  private readonly targeted: ((urn: string) => boolean) | undefined;
  readonly changes: Record<string, number> = {};
  readonly errors: string[] = [];
  private failed = false;
  private canceled = false;
  private stepsDone = 0;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private stackOutputs: Props = {};
  private rootUrn = "";
  private readonly preview: boolean;

  constructor(private readonly o: DeploymentOptions) {
    for (const r of o.resources) this.olds.set(r.urn, r);
    for (const p of o.pending) this.pending.set(`old:${p.resource.urn}`, p);
    this.sem = new Semaphore(Math.max(1, o.parallel));
    this.targeted = targetMatcher(o.targets);
    this.preview = o.preview === true;
  }

  /** Whether the deployment stopped taking new steps (a step failed, or a cancel). */
  get stopped(): boolean {
    return (this.failed && !this.o.continueOnError) || this.canceled;
  }

  /** Graceful cancel (first SIGINT): no new steps; in-flight ones finish. */
  cancel(): void {
    this.canceled = true;
  }

  // ---- snapshot ----------------------------------------------------------------------------

  /** The snapshot now: new resources in registration order, then old ones not yet handled. */
  snapshot(): ResourceState[] {
    const out = [...this.news];
    for (const r of this.o.resources)
      if (!this.handled.has(r.urn) && !this.newsByUrn.has(r.urn)) out.push(r);
    for (const r of this.replaced) if (!out.includes(r)) out.push({ ...r, delete: true });
    return out;
  }

  private persist(): Promise<void> {
    if (this.preview) return Promise.resolve();
    return this.o.persist(this.snapshot(), [...this.pending.values()]);
  }

  // ---- steps -------------------------------------------------------------------------------

  private async step<T>(
    op: "create" | "update" | "delete" | "read",
    res: ResourceState,
    pendingType: PendingOperation["type"] | undefined,
    run: () => Promise<T>,
    onStart?: () => void,
    onDone?: (value: T) => Promise<void>,
  ): Promise<T> {
    if (this.stopped) throw new NotStarted();
    return this.sem.run(async () => {
      if (this.stopped) throw new NotStarted();
      // The step's pre-event is raised when it starts executing (`step_executor.go`, executeStep).
      onStart?.();
      this.inFlight++;
      const key = `${op}:${res.urn}:${crypto.randomUUID()}`;
      try {
        if (pendingType && !this.preview) {
          this.pending.set(key, { resource: res, type: pendingType });
          await this.persist();
        }
        const name = urnName(res.urn);
        const fault = this.preview
          ? undefined
          : await this.o.faults.match(op, {
              name,
              type: res.type,
              inputs: unwrapSecrets(res.inputs ?? {}) as Props,
            });
        if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
        if (fault?.hang) await NEVER;
        if (fault?.error) {
          this.o.ledger({
            op,
            type: res.type,
            name,
            id: res.id,
            outcome: "fault",
            error: fault.error,
          });
          // Marked before the step's slot is released, so no queued step starts after it.
          this.failed = true;
          throw new StepError(fault.error);
        }
        let value: T;
        try {
          value = await run();
        } catch (e) {
          const message = providerMessage(e);
          this.o.ledger({
            op,
            type: res.type,
            name,
            id: res.id,
            outcome: "failed",
            error: message,
          });
          this.failed = true;
          throw new StepError(message);
        }
        if (res.custom && !this.preview)
          this.o.ledger({ op, type: res.type, name, id: res.id, outcome: "ok" });
        this.stepsDone++;
        const kill = this.o.faults.killAfterSteps();
        if (kill !== undefined && res.custom && this.stepsDone >= kill && !this.preview) {
          // Killed mid-step: the provider finished, the checkpoint never hears of it.
          process.kill(process.pid, "SIGKILL");
          await NEVER;
        }
        // Recording the result and its outputs event happen before the step's slot is freed.
        this.pending.delete(key);
        await onDone?.(value);
        return value;
      } finally {
        this.pending.delete(key);
        this.inFlight--;
        if (this.inFlight === 0) for (const f of this.idle.splice(0)) f();
      }
    });
  }

  private fail(urn: string | undefined, message: string): void {
    this.failed = true;
    this.errors.push(message);
    this.o.events.diagnostic("error", message, urn);
  }

  private count(op: string): void {
    this.changes[op] = (this.changes[op] ?? 0) + 1;
  }

  private stateMeta(r: ResourceState | undefined): StepStateMetadata | null {
    if (!r) return null;
    return {
      type: r.type,
      urn: r.urn,
      ...(r.custom ? { custom: true } : {}),
      ...(r.delete ? { delete: true } : {}),
      id: r.id ?? "",
      parent: r.parent ?? "",
      ...(r.protect ? { protect: true } : {}),
      inputs: (unwrapSecretsForDisplay(r.inputs ?? {}) as Props) ?? {},
      outputs: (unwrapSecretsForDisplay(r.outputs ?? {}) as Props) ?? {},
      provider: r.provider ?? "",
    };
  }

  private meta(
    op: string,
    urn: string,
    type: string,
    old: ResourceState | undefined,
    neu: ResourceState | undefined,
    diffs?: string[],
  ): StepMetadata {
    return {
      op,
      urn,
      type,
      old: this.stateMeta(old),
      new: this.stateMeta(neu),
      ...(diffs?.length ? { diffs } : {}),
      detailedDiff: null,
      logical: true,
      provider: (neu ?? old)?.provider ?? "",
    };
  }

  private pre(m: StepMetadata): void {
    this.o.events.emit({
      resourcePreEvent: { metadata: m, ...(this.preview ? { planning: true } : {}) },
    });
    if (m.op !== "same")
      this.o.print(
        `${symbol(m.op)} ${m.type} ${urnName(m.urn)} ${progressWord(m.op, this.preview)}`,
      );
  }

  private outputsEvent(m: StepMetadata): void {
    this.o.events.emit({
      resOutputsEvent: { metadata: m, ...(this.preview ? { planning: true } : {}) },
    });
    if (m.op !== "same")
      this.o.print(`${symbol(m.op)} ${m.type} ${urnName(m.urn)} ${doneWord(m.op, this.preview)}`);
  }

  private failedEvent(m: StepMetadata): void {
    this.o.events.emit({ resOpFailedEvent: { metadata: m, status: 1, steps: 0 } });
    this.o.print(`${symbol(m.op)} ${m.type} ${urnName(m.urn)} **${m.op} failed**`);
  }

  // ---- providers ---------------------------------------------------------------------------

  private async defaultProvider(
    pkg: string,
    version: string,
  ): Promise<{ ref: string; impl: ResourceProvider }> {
    const name = version ? `default_${version.replace(/[.-]/g, "_")}` : "default";
    const urn = makeUrn(this.o.stack, this.o.project, "", `pulumi:providers:${pkg}`, name);
    let started = this.providerStarts.get(urn);
    if (!started) {
      started = this.registerProvider(
        urn,
        pkg,
        { ...this.o.providerConfig(pkg), ...(version ? { version } : {}) },
        "",
      );
      this.providerStarts.set(urn, started);
    }
    return started;
  }

  private async registerProvider(
    urn: string,
    pkg: string,
    inputs: Props,
    parent: string,
  ): Promise<{ ref: string; impl: ResourceProvider }> {
    const old = this.olds.get(urn);
    const impl = await this.o.provider(pkg, inputs);
    const same = old && deepEqual(unwrapSecrets(old.inputs ?? {}), unwrapSecrets(inputs));
    const id = old?.id ?? (this.preview ? UNKNOWN : crypto.randomUUID());
    const state: ResourceState = {
      urn,
      custom: true,
      id,
      type: `pulumi:providers:${pkg}`,
      inputs,
      outputs: inputs,
      ...(parent ? { parent } : {}),
      created: (old?.created as string | undefined) ?? new Date().toISOString(),
      modified: same && old?.modified ? (old.modified as string) : new Date().toISOString(),
    };
    const op = !old ? "create" : same ? "same" : "update";
    const m = this.meta(op, urn, state.type, old, state);
    this.pre(m);
    this.record(state, old);
    this.count(op);
    this.outputsEvent(m);
    const entry = { ref: `${urn}::${id}`, impl };
    this.providers.set(entry.ref, entry);
    return entry;
  }

  /** The provider for an existing resource's reference (for deletes and refreshes). */
  private async providerForRef(ref: string | undefined, type: string): Promise<ResourceProvider> {
    if (ref) {
      const known = this.providers.get(ref);
      if (known) return known.impl;
      const provUrn = ref.slice(0, ref.lastIndexOf("::"));
      const provState = this.olds.get(provUrn) ?? this.newsByUrn.get(provUrn);
      const pkg = packageOf(provState?.type ?? `pulumi:providers:${packageOf(type)}`);
      let started = this.providerStarts.get(`ref:${ref}`);
      if (!started) {
        started = this.o
          .provider(pkg, (provState?.inputs as Props) ?? {})
          .then((impl) => ({ ref, impl }));
        this.providerStarts.set(`ref:${ref}`, started);
      }
      const entry = await started;
      this.providers.set(ref, entry);
      return entry.impl;
    }
    return this.o.provider(packageOf(type), {});
  }

  /** Adds a resource to the new snapshot (once), marking its old counterpart handled. */
  private record(state: ResourceState, old: ResourceState | undefined): void {
    if (old) this.handled.add(old.urn);
    const existing = this.newsByUrn.get(state.urn);
    if (existing) {
      const merged = { ...existing, ...state };
      this.news[this.news.indexOf(existing)] = merged;
      this.newsByUrn.set(state.urn, merged);
    } else {
      this.news.push(state);
      this.newsByUrn.set(state.urn, state);
    }
  }

  // ---- registrations -----------------------------------------------------------------------

  /** The ResourceMonitor service implementation. */
  monitor(): Record<
    string,
    (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void
  > {
    const wrap =
      (fn: (req: unknown) => Promise<unknown>) =>
      (c: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        fn(c.request).then(
          (res) => cb(null, res),
          (err: Error) =>
            cb({ code: grpc.status.UNKNOWN, message: err.message, name: "Error" }, null),
        );
      };
    return {
      supportsFeature: wrap(async (req) => {
        const res = newMessage(resproto, "SupportsFeatureResponse");
        // Secrets are supported; resource references, output values and alias specs are not
        // offered, so the SDK sends plain values and alias URNs (`resmon.go`, SupportsFeature).
        call(res, "setHassupport", call<string>(req, "getId") === "secrets");
        return res;
      }),
      registerResource: wrap((req) => this.registerResource(req)),
      registerResourceOutputs: wrap(async (req) => {
        const urn = call<string>(req, "getUrn");
        const outputs = fromStruct(call(req, "getOutputs"));
        const r = this.newsByUrn.get(urn);
        if (r) {
          // States are replaced, never mutated: the snapshot writer caches their serialized form.
          this.record({ ...r, outputs }, undefined);
          if (r.type === STACK_TYPE) this.stackOutputs = outputs;
        }
        return emptyRpc();
      }),
      invoke: wrap((req) => this.invoke(req)),
      readResource: wrap(async (req) => {
        throw new Error(
          `the pulumi double does not implement ReadResource (${call<string>(req, "getType")})`,
        );
      }),
      registerStackTransform: wrap(async () => {
        throw new Error("the pulumi double does not implement stack transforms");
      }),
      signalAndWaitForShutdown: wrap(async () => emptyRpc()),
    };
  }

  private async invoke(req: unknown): Promise<unknown> {
    const tok = call<string>(req, "getTok");
    const args = fromStruct(call(req, "getArgs"));
    const providerRef = call<string>(req, "getProvider");
    const provider = providerRef
      ? await this.providerForRef(providerRef, tok)
      : (await this.defaultProvider(packageOf(tok), call<string>(req, "getVersion"))).impl;
    // ResourceMonitor.Invoke answers a ResourceInvokeResponse (proto/pulumi/resource.proto), not
    // the provider protocol's InvokeResponse: grpc refuses to serialize any other message.
    const res = newMessage(resproto, "ResourceInvokeResponse");
    try {
      const out = await provider.invoke(tok, args);
      call(res, "setReturn", toStruct(out.ret));
      const failures = out.failures.map((f) => {
        const m = newMessage(provproto, "CheckFailure");
        call(m, "setProperty", f.property);
        call(m, "setReason", f.reason);
        return m;
      });
      call(res, "setFailuresList", failures);
    } catch (e) {
      throw new Error(`invocation of ${tok} returned an error: ${providerMessage(e)}`);
    }
    return res;
  }

  private async registerResource(req: unknown): Promise<unknown> {
    const type = call<string>(req, "getType");
    const name = call<string>(req, "getName");
    const parent = call<string>(req, "getParent");
    const custom = call<boolean>(req, "getCustom");
    const object = fromStruct(call(req, "getObject"));
    const protect = call<boolean>(req, "getProtect");
    const dependencies = call<string[]>(req, "getDependenciesList");
    const providerRef = call<string>(req, "getProvider");
    const version = call<string>(req, "getVersion");
    const ignoreChanges = call<string[]>(req, "getIgnorechangesList");
    const additionalSecretOutputs = call<string[]>(req, "getAdditionalsecretoutputsList");
    const deleteBeforeReplace = call<boolean>(req, "getDeletebeforereplace");
    const aliasUrns = call<string[]>(req, "getAliasurnsList");
    const propDepsMap = call<{ entries(): Iterable<[string, unknown]> }>(
      req,
      "getPropertydependenciesMap",
    );
    const propertyDependencies: Record<string, string[]> = {};
    for (const [k, v] of propDepsMap.entries())
      propertyDependencies[k] = call<string[]>(v, "getUrnsList");

    const urn = makeUrn(this.o.stack, this.o.project, parent, type, name);
    if (this.newsByUrn.has(urn)) {
      // `diag/errors.go`: GetDuplicateResourceURNError.
      const message = `Duplicate resource URN '${urn}'; try giving it a unique name`;
      this.fail(urn, message);
      throw new Error(message);
    }
    let old = this.olds.get(urn);
    if (!old)
      for (const a of aliasUrns)
        if (this.olds.has(a) && !this.handled.has(a)) old = this.olds.get(a);
    if (type === STACK_TYPE && !parent) this.rootUrn = urn;

    const base: ResourceState = {
      urn,
      custom,
      type,
      ...(parent ? { parent } : {}),
      ...(protect ? { protect } : {}),
      dependencies,
      ...(Object.keys(propertyDependencies).length ? { propertyDependencies } : {}),
      ...(additionalSecretOutputs.length ? { additionalSecretOutputs } : {}),
      ...(deleteBeforeReplace ? { deleteBeforeReplace } : {}),
      ...(ignoreChanges.length ? { ignoreChanges } : {}),
    };

    if (!custom) return this.component(base, object, old);

    if (type.startsWith("pulumi:providers:")) {
      if (this.stopped) return NEVER;
      const entry = await this.registerProvider(urn, packageOf(type), object, parent);
      return this.response(
        urn,
        entry.ref.slice(entry.ref.lastIndexOf("::") + 2),
        this.newsByUrn.get(urn)?.outputs ?? {},
      );
    }

    const provider = providerRef
      ? { ref: providerRef, impl: await this.providerForRef(providerRef, type) }
      : await this.defaultProvider(
          type === "pulumi-nodejs:dynamic:Resource" ? DYNAMIC_PACKAGE : packageOf(type),
          version,
        );
    base.provider = provider.ref;
    if (this.stopped) return NEVER;

    // Untargeted resources keep their old state (`step_generator.go`, targets).
    if (this.targeted && !this.targeted(urn)) {
      if (old) {
        const kept = { ...old, ...base, inputs: old.inputs, outputs: old.outputs, id: old.id };
        this.record(kept, old);
        this.count("same");
        return this.response(urn, old.id ?? "", old.outputs ?? {});
      }
      // An untargeted create is skipped: the program sees its inputs as outputs and no id,
      // and nothing is written to state (`step_generator.go`, `skippedCreate`).
      return this.response(urn, "", object);
    }

    // A fresh random seed per registration (`step_generator.go`: cryptorand.Read(randomSeed)).
    const seed = crypto.randomBytes(32);
    let inputs: Props;
    try {
      const checked = await provider.impl.check(urn, type, old?.inputs, object, seed);
      if (checked.failures.length) {
        const message = checked.failures
          .map((f) => `${f.property ? `${f.property}: ` : ""}${f.reason}`)
          .join("; ");
        throw new StepError(`${type} resource '${name}' has a problem: ${message}`);
      }
      inputs = restoreSecrets(object, checked.inputs);
    } catch (e) {
      const m = this.meta("create", urn, type, old, { ...base, inputs: object });
      this.failedEvent(m);
      this.fail(urn, providerMessage(e));
      return this.afterFailure(urn);
    }
    const neu: ResourceState = { ...base, inputs };

    if (!old) return this.create(neu, undefined, additionalSecretOutputs);

    const effective = applyIgnoreChanges(old.inputs ?? {}, inputs, ignoreChanges);
    neu.inputs = effective;
    let diff;
    try {
      diff = await provider.impl.diff(
        urn,
        type,
        old.id ?? "",
        old.inputs ?? {},
        old.outputs ?? {},
        effective,
        ignoreChanges,
      );
    } catch (e) {
      this.fail(urn, providerMessage(e));
      return this.afterFailure(urn);
    }
    if (
      old.provider &&
      old.provider.split("::").slice(0, -1).join("::") !==
        provider.ref.split("::").slice(0, -1).join("::")
    ) {
      diff = {
        ...diff,
        changes: true,
        replaces: diff.replaces.length ? diff.replaces : ["provider"],
      };
    }
    if (!diff.changes) {
      const same = {
        ...old,
        ...neu,
        id: old.id,
        outputs: old.outputs,
        inputs: old.inputs,
        created: old.created,
        modified: old.modified,
      };
      const m = this.meta("same", urn, type, old, same);
      this.pre(m);
      this.record(same, old);
      this.count("same");
      this.outputsEvent(m);
      return this.response(urn, old.id ?? "", old.outputs ?? {});
    }
    if (diff.replaces.length) {
      if (old.protect && protect) {
        this.fail(
          urn,
          `unable to replace resource "${urn}"\nas it is currently marked for protection. To unprotect the resource, remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\``,
        );
        return this.afterFailure(urn);
      }
      // A replacement recomputes defaults (auto-names): Check again without the old inputs
      // (`step_generator.go`, "If we are going to perform a replacement…").
      try {
        const fresh = await provider.impl.check(urn, type, undefined, object, seed);
        if (fresh.failures.length)
          throw new StepError(fresh.failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
        neu.inputs = restoreSecrets(object, fresh.inputs);
      } catch (e) {
        this.fail(urn, providerMessage(e));
        return this.afterFailure(urn);
      }
      return this.replace(
        neu,
        old,
        additionalSecretOutputs,
        deleteBeforeReplace || diff.deleteBeforeReplace,
        diff.diffs,
      );
    }
    return this.update(neu, old, provider.impl, additionalSecretOutputs, diff.diffs);
  }

  private async component(
    base: ResourceState,
    object: Props,
    old: ResourceState | undefined,
  ): Promise<unknown> {
    if (this.stopped) return NEVER;
    const state: ResourceState = {
      ...base,
      inputs: object,
      outputs: old?.outputs ?? {},
      created: (old?.created as string | undefined) ?? new Date().toISOString(),
      modified: (old?.modified as string | undefined) ?? new Date().toISOString(),
    };
    delete state.dependencies;
    if (base.dependencies?.length) state.dependencies = base.dependencies;
    const op = old ? "same" : "create";
    const m = this.meta(op, base.urn, base.type, old, state);
    this.pre(m);
    this.record(state, old);
    this.count(op);
    this.outputsEvent(m);
    return this.response(base.urn, "", {});
  }

  private async create(
    neu: ResourceState,
    old: ResourceState | undefined,
    additional: string[],
    op = "create",
  ): Promise<unknown> {
    const provider = await this.providerForRef(neu.provider, neu.type);
    const m = this.meta(op, neu.urn, neu.type, old, neu);
    if (this.stopped) return NEVER;
    try {
      let state: ResourceState = neu;
      await this.step(
        "create",
        neu,
        "creating",
        () => provider.create(neu.urn, neu.type, neu.inputs ?? {}, this.preview),
        () => this.pre(m),
        async ({ id, outputs }) => {
          const now = new Date().toISOString();
          state = {
            ...neu,
            id: this.preview ? "" : id,
            outputs: secretOutputs(
              neu.inputs ?? {},
              this.preview ? { ...neu.inputs, ...outputs } : outputs,
              additional,
            ),
            created: now,
            modified: now,
          };
          this.record(state, old && op === "create-replacement" ? undefined : old);
          this.count(op);
          await this.persist();
          this.outputsEvent(this.meta(op, neu.urn, neu.type, old, state));
        },
      );
      return this.response(neu.urn, state.id ?? "", state.outputs ?? {});
    } catch (e) {
      return this.registrationFailed(e, m);
    }
  }

  private async update(
    neu: ResourceState,
    old: ResourceState,
    provider: ResourceProvider,
    additional: string[],
    diffs: string[],
  ): Promise<unknown> {
    const m = this.meta("update", neu.urn, neu.type, old, neu, diffs);
    if (this.stopped) return NEVER;
    const withId = { ...neu, id: old.id };
    try {
      let state: ResourceState = withId;
      await this.step(
        "update",
        withId,
        "updating",
        () =>
          provider.update(
            neu.urn,
            neu.type,
            old.id ?? "",
            old.inputs ?? {},
            old.outputs ?? {},
            neu.inputs ?? {},
            this.preview,
          ),
        () => this.pre(m),
        async (outputs) => {
          state = {
            ...withId,
            outputs: secretOutputs(
              neu.inputs ?? {},
              this.preview ? { ...old.outputs, ...neu.inputs, ...outputs } : outputs,
              additional,
            ),
            created: old.created,
            modified: new Date().toISOString(),
          };
          this.record(state, old);
          this.count("update");
          await this.persist();
          this.outputsEvent(this.meta("update", neu.urn, neu.type, old, state, diffs));
        },
      );
      return this.response(neu.urn, state.id ?? "", state.outputs ?? {});
    } catch (e) {
      return this.registrationFailed(e, m);
    }
  }

  private async replace(
    neu: ResourceState,
    old: ResourceState,
    additional: string[],
    deleteFirst: boolean,
    diffs: string[],
  ): Promise<unknown> {
    if (this.stopped) return NEVER;
    this.pre(this.meta("replace", neu.urn, neu.type, old, neu, diffs));
    if (deleteFirst) {
      const ok = await this.deleteOne(old, "delete-replaced");
      if (!ok) return this.afterFailure(neu.urn);
      this.handled.add(old.urn);
      const r = await this.create(neu, undefined, additional, "create-replacement");
      this.count("replace");
      return r;
    }
    this.handled.add(old.urn);
    this.replaced.push(old);
    const r = await this.create(neu, undefined, additional, "create-replacement");
    if (!this.stopped) this.count("replace");
    return r;
  }

  /** A create or update step failed (or never started): record it and answer the program. */
  private async registrationFailed(e: unknown, m: StepMetadata): Promise<unknown> {
    if (e instanceof NotStarted) return NEVER;
    this.failedEvent(m);
    this.fail(m.urn, providerMessage(e));
    await this.persist();
    return this.afterFailure(m.urn);
  }

  /** After a failed step: with continue-on-error, tell the program; otherwise hold its call. */
  private afterFailure(urn: string): Promise<unknown> {
    if (this.o.continueOnError) return Promise.resolve(this.response(urn, "", {}, true));
    return NEVER;
  }

  private response(urn: string, id: string, outputs: Props, failed = false): unknown {
    const res = newMessage(resproto, "RegisterResourceResponse");
    call(res, "setUrn", urn);
    call(res, "setId", id);
    call(res, "setObject", toStruct(outputs));
    call(res, "setResult", failed ? 1 : 0);
    return res;
  }

  // ---- deletes -----------------------------------------------------------------------------

  private async deleteOne(
    r: ResourceState,
    op: "delete" | "delete-replaced" = "delete",
  ): Promise<boolean> {
    if (this.stopped) return false;
    const m = this.meta(op, r.urn, r.type, r, undefined);
    if (r.protect) {
      // `step_generator.go`: deleting a protected resource is an error (the engine goes on past it).
      this.fail(
        r.urn,
        `unable to delete resource "${r.urn}"\nas it is currently marked for protection. To unprotect the resource, remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\``,
      );
      return false;
    }
    try {
      if (r.custom && !r.type.startsWith("pulumi:providers:")) {
        const provider = await this.providerForRef(r.provider, r.type);
        await this.step(
          "delete",
          r,
          "deleting",
          () =>
            this.preview
              ? Promise.resolve()
              : provider.delete(r.urn, r.type, r.id ?? "", r.inputs ?? {}, r.outputs ?? {}),
          () => this.pre(m),
          () => this.deleted(r, op, m),
        );
      } else {
        this.pre(m);
        await this.deleted(r, op, m);
      }
      return true;
    } catch (e) {
      if (e instanceof NotStarted) return false;
      this.failedEvent(m);
      this.fail(r.urn, providerMessage(e));
      await this.persist();
      return false;
    }
  }

  private async deleted(
    r: ResourceState,
    op: "delete" | "delete-replaced",
    m: StepMetadata,
  ): Promise<void> {
    this.handled.add(r.urn);
    const i = this.replaced.indexOf(r);
    if (i >= 0) this.replaced.splice(i, 1);
    this.count(op);
    await this.persist();
    this.outputsEvent(m);
  }

  /**
   * Deletes `doomed` (old resources), dependents first: a resource goes once nothing left in
   * `doomed` depends on it (parent, dependencies, property dependencies, provider).
   */
  private async deleteAll(doomed: ResourceState[]): Promise<void> {
    const urns = new Set(doomed.map((r) => r.urn));
    const blockers = new Map<string, number>();
    const dependents = new Map<string, string[]>();
    for (const r of doomed) blockers.set(r.urn, 0);
    for (const r of doomed) {
      const deps = new Set<string>([
        ...(r.parent ? [r.parent] : []),
        ...(r.dependencies ?? []),
        ...Object.values(r.propertyDependencies ?? {}).flat(),
        ...(r.provider ? [r.provider.slice(0, r.provider.lastIndexOf("::"))] : []),
      ]);
      for (const d of deps) {
        if (!urns.has(d) || d === r.urn) continue;
        blockers.set(d, (blockers.get(d) ?? 0) + 1);
        dependents.set(r.urn, [...(dependents.get(r.urn) ?? []), d]);
      }
    }
    const byUrn = new Map(doomed.map((r) => [r.urn, r]));
    const running = new Set<Promise<void>>();
    const ready = doomed.filter((r) => blockers.get(r.urn) === 0).map((r) => r.urn);
    const launch = (urn: string) => {
      const r = byUrn.get(urn) as ResourceState;
      const op = this.replaced.includes(r) ? "delete-replaced" : "delete";
      const p: Promise<void> = this.deleteOne(r, op).then((ok) => {
        running.delete(p);
        if (!ok) return;
        for (const d of dependents.get(urn) ?? []) {
          const n = (blockers.get(d) ?? 1) - 1;
          blockers.set(d, n);
          if (n === 0) ready.push(d);
        }
      });
      running.add(p);
    };
    while (ready.length || running.size) {
      while (ready.length && !this.stopped) launch(ready.shift() as string);
      if (!running.size) break;
      await Promise.race(running);
    }
  }

  // ---- whole operations ----------------------------------------------------------------------

  /**
   * Runs the program (through `runProgram`, given the monitor and engine addresses), then the
   * deletes. Resolves when the deployment is over.
   */
  async run(
    runProgram: (monitor: string, engine: string, stop: AbortSignal) => Promise<string | undefined>,
  ): Promise<DeploymentResult> {
    this.warnPending();
    if (this.o.kind === "destroy") {
      await this.deleteAll(this.o.resources.filter((r) => !this.targeted || this.targeted(r.urn)));
      return this.finish();
    }
    if (this.o.kind === "refresh") {
      await this.refreshAll();
      return this.finish();
    }
    const monitor = await serve(resrpc.ResourceMonitorService, this.monitor());
    const engine = await serve(engrpc.EngineService, this.engineService());
    let programError: string | undefined;
    const stop = new AbortController();
    const programDone = runProgram(
      `127.0.0.1:${monitor.port}`,
      `127.0.0.1:${engine.port}`,
      stop.signal,
    ).then(
      (err) => {
        programError = err;
      },
      (e: Error) => {
        programError = e.message;
      },
    );
    // Stop as soon as the program is done, or once a failure/cancel drained the in-flight steps.
    await Promise.race([programDone, this.untilStoppedAndIdle()]);
    if (this.stopped) {
      monitor.server.forceShutdown();
      // The program's pending registrations now fail as "resource monitor is terminating"; the
      // engine does not wait for it to finish: it cancels the language host's Run
      // (`pulumi-language-nodejs` main.go: the program gets SIGINT when the context is cancelled).
      await Promise.race([programDone, new Promise((r) => setTimeout(r, 500))]);
      stop.abort();
      await Promise.race([programDone, new Promise((r) => setTimeout(r, 6_000))]);
    } else {
      await programDone;
      monitor.server.forceShutdown();
    }
    engine.server.forceShutdown();
    if (programError && !this.stopped) this.fail(this.rootUrn || undefined, programError);
    if (!this.stopped && !(this.failed && !this.o.continueOnError)) {
      const registered = new Set(this.newsByUrn.keys());
      const doomed = this.o.resources.filter(
        (r) =>
          !registered.has(r.urn) &&
          !this.handled.has(r.urn) &&
          (!this.targeted || this.targeted(r.urn)),
      );
      await this.deleteAll([...doomed, ...this.replaced]);
    }
    return this.finish();
  }

  private untilStoppedAndIdle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.stopped && this.inFlight === 0) resolve();
        else setTimeout(check, 50);
      };
      check();
    });
  }

  private engineService(): Record<
    string,
    (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void
  > {
    return {
      log: (c, cb) => {
        const sev = call<number>(c.request, "getSeverity");
        const severity = (["debug", "info", "warning", "error"] as const)[sev] ?? "info";
        const message = call<string>(c.request, "getMessage");
        const urn = call<string>(c.request, "getUrn");
        if (severity === "debug") return cb(null, emptyRpc());
        this.o.events.diagnostic(severity, message, urn || undefined);
        if (severity === "error") {
          this.failed = true;
          this.errors.push(message);
        }
        cb(null, emptyRpc());
      },
      getRootResource: (_c, cb) => {
        const res = newMessage(engproto, "GetRootResourceResponse");
        call(res, "setUrn", this.rootUrn);
        cb(null, res);
      },
      setRootResource: (c, cb) => {
        this.rootUrn = call<string>(c.request, "getUrn");
        cb(null, newMessage(engproto, "SetRootResourceResponse"));
      },
      requirePulumiVersion: (_c, cb) =>
        cb(null, newMessage(engproto, "RequirePulumiVersionResponse")),
    };
  }

  private warnPending(): void {
    const olds = [...this.pending.values()];
    if (!olds.length || this.o.kind === "refresh") return;
    // `pkg/engine/update.go` (the warning recorded in
    // lifecycletest/testdata/output/TestUpdateShowsWarningWithPendingOperations).
    const lines = olds.map((p) => `  * ${p.resource.urn}, interrupted while ${p.type}`).join("\n");
    this.o.events.diagnostic(
      "warning",
      `Attempting to deploy or update resources with ${olds.length} pending operations from previous deployment.\n${lines}\n` +
        "These resources are in an unknown state because the Pulumi CLI was interrupted while waiting for changes to these resources to complete. " +
        "You should confirm whether or not the operations listed completed successfully by checking the state of the appropriate provider. " +
        "For example, if you are using AWS, you can confirm using the AWS Console.\n\n" +
        "Once you have confirmed the status of the interrupted operations, you can repair your stack using `pulumi refresh` which will refresh the state from the provider you are using and clear the pending operations if there are any.\n\n" +
        "Note that `pulumi refresh` will need to be run interactively to clear pending CREATE operations.",
    );
  }

  /** Refresh: read every custom resource; gone ones leave the state (`step_executor.go`, RefreshStep). */
  private async refreshAll(): Promise<void> {
    // Pending operations other than creates are cleared by a refresh; creates only with
    // --clear-pending-creates (`pkg/engine/refresh.go`).
    for (const [k, p] of [...this.pending]) {
      if (p.type !== "creating" || this.o.clearPendingCreates) this.pending.delete(k);
    }
    await Promise.all(
      this.o.resources.map(async (r) => {
        if (this.targeted && !this.targeted(r.urn)) return this.record(r, r);
        if (!r.custom || r.type.startsWith("pulumi:providers:")) return this.record(r, r);
        const provider = await this.providerForRef(r.provider, r.type);
        const m = this.meta("refresh", r.urn, r.type, r, r);
        try {
          const read = await this.step(
            "read",
            r,
            undefined,
            () => provider.read(r.urn, r.type, r.id ?? "", r.inputs ?? {}, r.outputs ?? {}),
            () => this.pre(m),
          );
          if (!read) {
            this.handled.add(r.urn);
            this.count("delete");
            this.outputsEvent(this.meta("refresh", r.urn, r.type, r, undefined));
            return;
          }
          const state = {
            ...r,
            id: read.id,
            outputs: secretOutputs(r.inputs ?? {}, read.outputs, r.additionalSecretOutputs ?? []),
          };
          const changed = !deepEqual(unwrapSecrets(r.outputs ?? {}), unwrapSecrets(read.outputs));
          this.record(state, r);
          this.count(changed ? "update" : "same");
          this.outputsEvent(this.meta("refresh", r.urn, r.type, r, state));
        } catch (e) {
          this.record(r, r);
          if (e instanceof NotStarted) return;
          this.failedEvent(m);
          this.fail(r.urn, providerMessage(e));
        }
      }),
    );
    // Keep the checkpoint's order (dependencies before dependents), whatever order reads finished in.
    const order = new Map(this.o.resources.map((r, i) => [r.urn, i]));
    this.news.sort((a, b) => (order.get(a.urn) ?? 0) - (order.get(b.urn) ?? 0));
    await this.persist();
  }

  private async finish(): Promise<DeploymentResult> {
    await Promise.all(
      [...this.providers.values()].map((p) => p.impl.close().catch(() => undefined)),
    );
    for (const s of this.providerStarts.values())
      await s.then((p) => p.impl.close()).catch(() => undefined);
    const result = this.failed ? "failed" : this.canceled ? "canceled" : "succeeded";
    let resources = this.snapshot();
    if (this.o.kind === "destroy" && !this.failed && !this.canceled && !this.targeted)
      resources = [];
    if (this.o.kind === "destroy" && !this.canceled && !this.failed) {
      // Unused default providers go with the last resource that used them.
      const used = new Set(
        resources.map((r) => r.provider?.slice(0, r.provider.lastIndexOf("::"))),
      );
      resources = resources.filter(
        (r) => !r.type.startsWith("pulumi:providers:") || used.has(r.urn),
      );
    }
    // Outputs of the stack: from the root stack resource.
    const root = resources.find((r) => r.type === STACK_TYPE && !r.parent);
    const stackOutputs = this.o.kind === "update" ? this.stackOutputs : (root?.outputs ?? {});
    const pending = [...this.pending.values()];
    // The final snapshot (`pkg/backend/snapshot.go`: the manager's Close writes it).
    if (!this.preview) await this.o.persist(resources, pending);
    return {
      result,
      resources,
      pending,
      changes: this.changes,
      errors: this.errors,
      stackOutputs,
    };
  }
}

/** Keeps secretness the program asked for on properties a provider's check returned. */
function restoreSecrets(original: Props, checked: Props): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(checked)) {
    out[k] = isSecret(original[k]) && !containsSecret(v) ? secret(v) : v;
  }
  return out;
}

/** Display values in events: secrets shown as `[secret]` as the engine's display does. */
function unwrapSecretsForDisplay(v: unknown): unknown {
  if (isSecret(v)) return "[secret]";
  if (Array.isArray(v)) return v.map(unwrapSecretsForDisplay);
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const [k, x] of Object.entries(v)) out[k] = unwrapSecretsForDisplay(x);
    return out;
  }
  return v;
}

/** A provider error's message, as the engine reports it (gRPC status details stripped). */
export function providerMessage(e: unknown): string {
  if (
    e &&
    typeof e === "object" &&
    "details" in e &&
    typeof (e as { details: unknown }).details === "string"
  ) {
    const d = (e as { details: string }).details;
    if (d) return d;
  }
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^\d+ [A-Z_]+: /, "");
}

function symbol(op: string): string {
  switch (op) {
    case "create":
      return " + ";
    case "delete":
      return " - ";
    case "update":
      return " ~ ";
    case "replace":
    case "create-replacement":
    case "delete-replaced":
      return "+-";
    case "refresh":
      return " ~ ";
    default:
      return "   ";
  }
}

function progressWord(op: string, preview: boolean): string {
  if (preview) return `${op}`;
  return `${op === "create" ? "creating" : op === "delete" ? "deleting" : op === "update" ? "updating" : op === "refresh" ? "refreshing" : `${op}`}`;
}

function doneWord(op: string, preview: boolean): string {
  if (preview) return `${op}`;
  return `${op === "create" ? "created" : op === "delete" ? "deleted" : op === "update" ? "updated" : op === "refresh" ? "refreshed" : `${op}d`}`;
}
