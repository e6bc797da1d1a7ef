/**
 * The in-process `FleetStack` double, for CloudContext's own logic only (queue, coalescing,
 * recovery decisions, retry) and the in-process benchmarks: it runs fleet's REAL program under
 * Pulumi mocks and keeps state between runs in files, so several OS processes can share one
 * "stack". It stands in for no engine behaviour a test claims: every test of what the engine
 * does runs Pulumi's own engine with the simulated plugins (tests/harness/project.ts, tests/sim/).
 *
 * It behaves like the engine where CloudContext can tell: resources keep their ids and outputs
 * across updates (and inputs named by `ignoreChanges` keep their old values), resources no
 * longer declared are deleted after the creates, dependents before their dependencies, a
 * second concurrent update fails with StackBusyError, failed resources are not saved while the
 * rest are, cancellation keeps what was done, and engine events (pre/outputs/failed/diagnostic)
 * are emitted.
 *
 * After a failed step it starts no new step (steps in flight finish) and so never reaches the
 * deletes, unless run as with `--continue-on-error`; see `Engine` below for the source.
 *
 * Faults can be injected: failing creates/deletes by worker name, a busy stack (N times or for
 * good), simulated provisioning latency, and workers vanishing from the "cloud" (for refresh).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { fleetProgram } from "../../program";
import {
  CancelledError,
  type ConfigValue,
  type EngineEvent,
  type FleetStack,
  type OperationOptions,
  type PendingCreate,
  StackBusyError,
  type StateResource,
  UpdateFailedError,
} from "../../context/stack";
import { providerOutputs, waitForRPCs } from "./mocks";

/** Faults to inject, persisted in the double's directory so every process sees them. */
export interface Faults {
  /** Worker names whose resources fail to create, with the provider's message. */
  failCreate?: Record<string, string>;
  /** Worker names whose resources fail to delete. */
  failDelete?: Record<string, string>;
  /** The next N operations find the stack locked; "always" for good. */
  busy?: number | "always";
  /** Worker names gone from the cloud: the next refresh drops them from state. */
  vanished?: string[];
  /** Simulated provisioning latency per created or deleted custom resource, in ms. */
  latencyMs?: number;
  /**
   * The engine's `--parallel`: how many steps run at once (its step executor starts that many
   * workers, `NewStepExecutor` in pkg/resource/deploy/step_executor.go). @default unlimited
   */
  parallel?: number;
  /** Run updates as `pulumi up --continue-on-error` would. @default false */
  continueOnError?: boolean;
}

interface SavedResource {
  urn: string;
  type: string;
  name: string;
  id?: string;
  custom: boolean;
  state: Record<string, unknown>;
  /** Keys (`type::name`) of the resources it depends on: its parent and its dependencies. */
  dependsOn?: string[];
}

interface SavedState {
  resources: SavedResource[];
  outputs: Record<string, unknown>;
  updates: number;
}

export interface EngineDoubleOptions {
  /** Directory holding config.json, state.json, faults.json (shared across processes). */
  dir: string;
  /** @default "dev" */
  stackName?: string;
  /** Where the program resolves relative paths. @default dir */
  projectDir?: string;
}

const key = (type: string, name: string) => `${type}::${name}`;

function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw e;
  }
}

function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value));
  fs.renameSync(tmp, file);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads `a`, `a.b` and `a["b"]` property paths (the forms fleet uses in ignoreChanges). */
function parsePath(p: string): string[] {
  const parts: string[] = [];
  const re = /([^.[\]]+)|\["([^"]*)"\]/g;
  for (const m of p.matchAll(re)) parts.push(m[1] ?? m[2]);
  return parts;
}

function getPath(obj: unknown, parts: string[]): unknown {
  let cur = obj;
  for (const p of parts)
    cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function setPath(obj: Record<string, unknown>, parts: string[], value: unknown): void {
  let cur: Record<string, unknown> = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    cur[p] = next && typeof next === "object" ? { ...(next as Record<string, unknown>) } : {};
    cur = cur[p] as Record<string, unknown>;
  }
  if (value === undefined) delete cur[parts[parts.length - 1]];
  else cur[parts[parts.length - 1]] = value;
}

const TIME_KEYS = ["createdAt", "timeCreated", "creationTimestamp", "created"];
const IP_KEYS = ["ipv4Address", "publicIp", "ipAddress", "natIp"];

export class EngineDouble implements FleetStack {
  public readonly name: string;
  /** The double is one machine's file backend: the desired state is its stack config. */
  public readonly sharedState = false;
  private readonly dir: string;
  private readonly projectDir: string;

  constructor(options: EngineDoubleOptions) {
    this.dir = options.dir;
    this.name = options.stackName ?? "dev";
    this.projectDir = options.projectDir ?? options.dir;
    fs.mkdirSync(this.dir, { recursive: true });
  }

  async desiredRecord(): Promise<undefined> {
    return undefined;
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  // ---- test controls -----------------------------------------------------------------------

  /** Replaces the injected faults (seen by every process sharing the directory). */
  setFaults(faults: Faults): void {
    writeJson(this.file("faults.json"), faults);
  }

  faults(): Faults {
    return readJson<Faults>(this.file("faults.json"), {});
  }

  /** The saved state, for assertions. */
  state(): SavedState {
    return readJson<SavedState>(this.file("state.json"), {
      resources: [],
      outputs: {},
      updates: 0,
    });
  }

  /** Marks a worker as gone from its cloud (deleted behind fleet's back). */
  vanish(worker: string): void {
    const f = this.faults();
    this.setFaults({ ...f, vanished: [...(f.vanished ?? []), worker] });
  }

  // ---- FleetStack ---------------------------------------------------------------------------

  async getAllConfig(): Promise<Record<string, ConfigValue>> {
    return readJson<Record<string, ConfigValue>>(this.file("config.json"), {});
  }

  async setConfig(values: Record<string, ConfigValue | undefined>): Promise<void> {
    const config = await this.getAllConfig();
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete config[k];
      else config[k] = v;
    }
    writeJson(this.file("config.json"), config);
  }

  async outputs(): Promise<Record<string, unknown>> {
    return this.state().outputs;
  }

  async resources(): Promise<StateResource[]> {
    return this.state().resources.map((r) => ({ urn: r.urn, type: r.type, id: r.id }));
  }

  /** The in-process double is never killed mid-create: it leaves nothing pending. */
  async pendingCreates(): Promise<PendingCreate[]> {
    return [];
  }

  async resolvePendingCreates(): Promise<void> {
    throw new Error("the in-process double leaves no pending creates to resolve");
  }

  async up(options: OperationOptions = {}): Promise<Record<string, unknown>> {
    return this.exclusive(() => this.runUp(options));
  }

  async destroy(options: OperationOptions = {}): Promise<void> {
    await this.exclusive(async () => {
      const prev = this.state();
      const faults = this.faults();
      const emit = emitter(options.onEvent);
      const exec = new StepExecutor(faults, options.signal);
      const { kept, failures } = await deleteResources(prev.resources, faults, exec, emit);
      this.save({
        resources: kept,
        outputs: kept.length ? prev.outputs : {},
        updates: prev.updates + 1,
      });
      if (options.signal?.aborted) throw new CancelledError();
      if (failures.length)
        throw new UpdateFailedError(`destroy failed for ${failures.length} resources`, failures);
    });
  }

  async refresh(options: OperationOptions = {}): Promise<void> {
    await this.exclusive(async () => {
      const prev = this.state();
      const gone = new Set(this.faults().vanished ?? []);
      const emit = emitter(options.onEvent);
      const resources = prev.resources.filter((r) => {
        const worker = workerOfResource(r);
        const drop = r.custom && worker !== undefined && gone.has(worker);
        if (drop) emit.step("resOutputsEvent", "delete", r);
        return !drop;
      });
      this.save({ ...prev, resources });
      this.setFaults({ ...this.faults(), vanished: [] });
    });
  }

  // ---- engine -------------------------------------------------------------------------------

  /** Emulates the stack lock: a second concurrent operation fails with StackBusyError. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const faults = this.faults();
    if (faults.busy === "always") throw new StackBusyError();
    if (typeof faults.busy === "number" && faults.busy > 0) {
      this.setFaults({ ...faults, busy: faults.busy - 1 });
      throw new StackBusyError();
    }
    const lock = this.file("engine.lock");
    let fd: number;
    try {
      fd = fs.openSync(lock, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new StackBusyError();
      throw e;
    }
    try {
      return await runExclusiveInProcess(fn);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
  }

  private save(state: SavedState): void {
    writeJson(this.file("state.json"), state);
  }

  private async runUp(options: OperationOptions): Promise<Record<string, unknown>> {
    const prev = this.state();
    const saved = this.faults();
    const faults = options.continueOnError ? { ...saved, continueOnError: true } : saved;
    const config = await this.getAllConfig();
    const emit = emitter(options.onEvent);
    const prevByKey = new Map(prev.resources.map((r) => [key(r.type, r.name), r]));
    const exec = new StepExecutor(faults, options.signal);
    const mocks = new DoubleMocks(prevByKey, faults, exec, options.signal, emit);

    await pulumi.runtime.setMocks(mocks, "fleet", this.name, false);
    recordDependencies(mocks.dependsOn);
    const values: Record<string, string> = {};
    const secrets: string[] = [];
    for (const [k, v] of Object.entries(config)) {
      values[k] = v.value;
      if (v.secret) secrets.push(k);
    }
    pulumi.runtime.setAllConfig(values, secrets);

    let outputs: Record<string, unknown>;
    try {
      outputs =
        ((await pulumi.runtime.runInPulumiStack(async () => {
          pulumi.runtime.registerStackTransformation((args) => {
            if (args.opts.ignoreChanges?.length)
              mocks.ignore.set(key(args.type, args.name), args.opts.ignoreChanges);
            return undefined;
          });
          return fleetProgram({ projectDir: this.projectDir });
        })) as Record<string, unknown> | undefined) ?? {};
      await waitForRPCs();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      emit.diagnostic(message);
      throw new UpdateFailedError(`the program failed: ${message.split("\n")[0]}`);
    }

    // URNs as the mock monitor computed them (with the parent's type).
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      resources?: Map<string, { urn: string }>;
    };
    const urns = new Map<string, string>();
    for (const urn of monitor.resources?.keys() ?? []) {
      const parts = urn.split("::");
      urns.set(key(parts[2].split("$").pop() ?? "", parts[3]), urn);
    }

    const next: SavedResource[] = [];
    const failures = [...mocks.failures];
    for (const [k, r] of mocks.registered) {
      const urn = urns.get(k) ?? `urn:pulumi:${this.name}::fleet::${r.type}::${r.name}`;
      r.urn = urn;
      if (mocks.failed.has(k) || mocks.cancelled.has(k)) continue;
      next.push(r);
    }
    for (const f of failures) f.urn = urns.get(f.urn) ?? f.urn;
    for (const f of failures) emit.failedUrn(f.urn, f.message);

    // Delete what is no longer declared, after the creates (the engine's order): the deletes
    // are "post steps", run only once the program's steps are done, and a failed step cancels
    // the deployment before that point (deploymentExecutor.Execute → performPostSteps,
    // pkg/resource/deploy/deployment_executor.go; stepExecutor.cancelDueToError → se.cancel(),
    // step_executor.go). With --continue-on-error the failure is recorded and the deletes run.
    const deletions = prev.resources.filter((r) => !mocks.registered.has(key(r.type, r.name)));
    if (exec.stopped) {
      next.push(...deletions);
    } else {
      const deleted = await deleteResources(deletions, faults, exec, emit);
      next.push(...deleted.kept);
      failures.push(...deleted.failures);
    }

    const ok = !failures.length && !options.signal?.aborted;
    this.save({ resources: next, outputs: ok ? outputs : prev.outputs, updates: prev.updates + 1 });
    if (options.signal?.aborted) throw new CancelledError();
    if (failures.length)
      throw new UpdateFailedError(`update failed for ${failures.length} resources`, failures);
    return outputs;
  }
}

/**
 * One deployment's step executor, as far as fleet can tell (pkg/resource/deploy/step_executor.go):
 * - at most `parallel` steps run at once (`NewStepExecutor` starts that many workers);
 * - a failed step calls `cancelDueToError`, which without ContinueOnError cancels the
 *   deployment's context (`se.cancel()`); `executeChain` checks that context before each step,
 *   so no new step starts, while steps already running finish;
 * - with ContinueOnError the failed step is only recorded (`erroredSteps`) and others go on.
 * A cancel (Ctrl-C) also stops new steps.
 */
class StepExecutor {
  /** Whether a step failed. */
  failed = false;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly parallel: number;
  private readonly continueOnError: boolean;

  constructor(
    faults: Faults,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.parallel = Math.max(1, faults.parallel ?? Number.POSITIVE_INFINITY);
    this.continueOnError = faults.continueOnError === true;
  }

  /** No new step starts: a step failed (without continue-on-error) or the run was cancelled. */
  get stopped(): boolean {
    return (this.failed && !this.continueOnError) || this.signal?.aborted === true;
  }

  /** Runs `step` when a worker is free; `not-started` when the deployment stopped first. */
  async run(step: () => Promise<"ok" | "failed">): Promise<"ok" | "failed" | "not-started"> {
    if (this.running >= this.parallel) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      if (this.stopped) return "not-started";
      const outcome = await step();
      if (outcome === "failed") this.failed = true;
      return outcome;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Deletes resources as the engine schedules them (`ScheduleDeletes`, step_generator.go): in
 * antichains, dependents before the resources they depend on (a child before its parent), the
 * resources of one antichain in parallel, each antichain after the previous one. A failed delete
 * stops every later one (the step executor's cancel); with continue-on-error only the
 * resources the failed one depends on are kept (`performPostSteps`, deployment_executor.go).
 * A cancel keeps what was not yet deleted.
 */
async function deleteResources(
  resources: readonly SavedResource[],
  faults: Faults,
  exec: StepExecutor,
  emit: ReturnType<typeof emitter>,
): Promise<{ kept: SavedResource[]; failures: { urn: string; message: string }[] }> {
  const kept: SavedResource[] = [];
  const failures: { urn: string; message: string }[] = [];
  const byKey = new Map(resources.map((r) => [key(r.type, r.name), r]));
  const erroredDeps = new Set<string>();
  const markDeps = (r: SavedResource) => {
    for (const d of r.dependsOn ?? []) {
      if (erroredDeps.has(d)) continue;
      erroredDeps.add(d);
      const dep = byKey.get(d);
      if (dep) markDeps(dep);
    }
  };
  let condemned = [...resources];
  while (condemned.length) {
    const pending = new Set(condemned.map((r) => key(r.type, r.name)));
    const dependedOn = new Set(
      condemned.flatMap((r) => r.dependsOn ?? []).filter((k) => pending.has(k)),
    );
    let antichain = condemned.filter((r) => !dependedOn.has(key(r.type, r.name)));
    if (!antichain.length) antichain = condemned; // state has no cycles; never spin
    condemned = condemned.filter((r) => !antichain.includes(r));
    await Promise.all(
      antichain.map(async (r) => {
        if (erroredDeps.has(key(r.type, r.name))) return kept.push(r);
        const outcome = await exec.run(async () => {
          if (!r.custom) return "ok";
          const message = failureFor(r.name, faults.failDelete);
          emit.step("resourcePreEvent", "delete", r);
          await sleep(faults.latencyMs ?? 0);
          if (message) {
            failures.push({ urn: r.urn, message });
            emit.failed(r, message);
            markDeps(r);
            return "failed";
          }
          emit.step("resOutputsEvent", "delete", r);
          return "ok";
        });
        if (outcome !== "ok") kept.push(r);
        return undefined;
      }),
    );
  }
  return { kept, failures };
}

/**
 * Records, per resource key, the parent and dependencies its RegisterResource request names
 * (the SDK sets them from the inputs and options: `setParent`, `setDependenciesList` in
 * `runtime/resource.js`), so deletes can be ordered as the engine orders them.
 */
function recordDependencies(into: Map<string, string[]>): void {
  interface Request {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
  }
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: Request, callback: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: Request, callback: unknown) => {
    const deps = [req.getParent(), ...req.getDependenciesList()].filter((u) => !!u);
    into.set(key(req.getType(), req.getName()), [...new Set(deps.map(urnKey))]);
    return register(req, callback);
  };
}

/** The `type::name` key of a URN (`urn:pulumi:<stack>::<project>::<parent$type>::<name>`). */
function urnKey(urn: string): string {
  const parts = urn.split("::");
  return key(parts[2]?.split("$").pop() ?? "", parts.slice(3).join("::"));
}

/** Mocks that remember state across runs, fail and delay on demand, and emit step events. */
class DoubleMocks implements pulumi.runtime.Mocks {
  readonly registered = new Map<string, SavedResource>();
  readonly failed = new Set<string>();
  readonly cancelled = new Set<string>();
  readonly failures: { urn: string; message: string }[] = [];
  readonly ignore = new Map<string, string[]>();
  /** Resource key → keys it depends on, filled as the program registers resources. */
  readonly dependsOn = new Map<string, string[]>();

  constructor(
    private readonly prev: Map<string, SavedResource>,
    private readonly faults: Faults,
    private readonly exec: StepExecutor,
    private readonly signal: AbortSignal | undefined,
    private readonly emit: ReturnType<typeof emitter>,
  ) {}

  async newResource(
    args: pulumi.runtime.MockResourceArgs,
  ): Promise<{ id: string | undefined; state: Record<string, unknown> }> {
    const k = key(args.type, args.name);
    const custom =
      args.custom !== false &&
      !args.type.includes(":WorkerFleet") &&
      args.type !== "pulumi:pulumi:Stack";
    const inputs = { ...(args.inputs as Record<string, unknown>) };
    delete inputs.__provider; // dynamic providers' serialized code: not worth keeping
    const old = this.prev.get(k);
    let id: string | undefined;
    let state: Record<string, unknown>;
    if (old) {
      id = old.id;
      state = { ...old.state, ...inputs };
      for (const p of this.ignore.get(k) ?? []) {
        const parts = parsePath(p);
        setPath(state, parts, getPath(old.state, parts));
      }
    } else {
      id = custom ? `${args.name}-${crypto.randomBytes(4).toString("hex")}` : undefined;
      state = { ...inputs, ...providerOutputs(args) };
      const now = new Date().toISOString();
      for (const t of TIME_KEYS) if (t in state) state[t] = now;
      for (const ip of IP_KEYS) if (ip in state) state[ip] = uniqueIp();
      if (custom) {
        const record = { urn: k, type: args.type, name: args.name, id, custom, state };
        const outcome = await this.exec.run(async () => {
          this.emit.step("resourcePreEvent", "create", record);
          await sleep(this.faults.latencyMs ?? 0);
          const message = failureFor(args.name, this.faults.failCreate);
          if (message) {
            this.failed.add(k);
            this.failures.push({ urn: k, message });
            return "failed";
          }
          if (this.signal?.aborted) this.cancelled.add(k);
          else this.emit.step("resOutputsEvent", "create", record);
          return "ok";
        });
        // Not started (the update stopped first): no event, nothing in state.
        if (outcome === "not-started") this.cancelled.add(k);
      }
    }
    const dependsOn = this.dependsOn.get(k) ?? [];
    this.registered.set(k, {
      urn: k,
      type: args.type,
      name: args.name,
      id,
      custom,
      state,
      dependsOn,
    });
    return { id, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    if (args.token === "aws:ec2/getAmi:getAmi") return { id: "ami-0123456789abcdef0" };
    throw new Error(`engine double: unexpected invoke ${args.token}`);
  }
}

/** A fresh address in 10.0.0.0/8 for each created resource. */
function uniqueIp(): string {
  const b = crypto.randomBytes(3);
  return `10.${b[0]}.${b[1]}.${(b[2] % 254) + 1}`;
}

/** The worker a resource belongs to by fleet's naming rule (`<cloud>-<worker>` under a WorkerFleet). */
function workerOfResource(r: SavedResource): string | undefined {
  const chain = r.urn.split("::")[2]?.split("$") ?? [];
  const parent = chain.length >= 2 ? chain[chain.length - 2] : "";
  const m = /^fleet:([^:]+):WorkerFleet$/.exec(parent);
  return m && r.name.startsWith(`${m[1]}-`) ? r.name.slice(m[1].length + 1) : undefined;
}

/** The injected message for a resource named `<cloud>-<worker>`, if its worker is listed. */
function failureFor(
  resourceName: string,
  table: Record<string, string> | undefined,
): string | undefined {
  if (!table) return undefined;
  for (const [worker, message] of Object.entries(table)) {
    if (resourceName.endsWith(`-${worker}`)) return message;
  }
  return undefined;
}

/** Pulumi's runtime is process-global: serialize runs of the double inside one process. */
let inProcess: Promise<unknown> = Promise.resolve();
function runExclusiveInProcess<T>(fn: () => Promise<T>): Promise<T> {
  const run = inProcess.then(fn, fn);
  inProcess = run.catch(() => undefined);
  return run;
}

function emitter(onEvent: ((e: EngineEvent) => void) | undefined) {
  let sequence = 0;
  const send = (e: Omit<EngineEvent, "sequence" | "timestamp">) =>
    onEvent?.({
      ...e,
      sequence: sequence++,
      timestamp: Math.floor(Date.now() / 1000),
    } as EngineEvent);
  const meta = (op: string, r: { urn: string; type: string }) => ({
    op,
    urn: r.urn,
    type: r.type,
    provider: "",
  });
  return {
    step(
      kind: "resourcePreEvent" | "resOutputsEvent",
      op: string,
      r: { urn: string; type: string },
    ) {
      send({ [kind]: { metadata: meta(op, r) } } as Omit<EngineEvent, "sequence" | "timestamp">);
    },
    failed(r: { urn: string; type: string }, message: string) {
      this.failedUrn(r.urn, message, r.type);
    },
    failedUrn(urn: string, message: string, type = "") {
      send({
        resOpFailedEvent: { metadata: meta("create", { urn, type }), status: 1, steps: 1 },
      } as Omit<EngineEvent, "sequence" | "timestamp">);
      send({ diagnosticEvent: { urn, message, color: "never", severity: "error" } });
    },
    diagnostic(message: string) {
      send({ diagnosticEvent: { message, color: "never", severity: "error" } });
    },
  };
}
