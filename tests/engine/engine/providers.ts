/**
 * Resource providers as the engine sees them (`sdk/go/common/resource/plugin/provider.go`):
 * check, diff, create, read, update, delete, invoke. The `pulumi-nodejs` provider (dynamic
 * resources, fleet's `local` cloud) is the SDK's own provider host, started as a separate
 * process over the provider gRPC protocol exactly as the engine starts plugins
 * (`sdk/go/common/resource/plugin/plugin.go`: the plugin prints its port on stdout, runs in the
 * program's directory, is stopped with SIGINT then SIGKILL). Clouds whose plugins cannot be
 * installed here are simulated (`tests/sim/providers.ts`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { JsonObject } from "../../sim/cloud";
import type { SimulatedProvider } from "../../sim/providers";
import {
  type Client,
  type Props,
  call,
  client,
  fromStruct,
  newMessage,
  provproto,
  provrpc,
  toStruct,
  unary,
  unwrapSecrets,
} from "./rpc";

export interface CheckFailure {
  property: string;
  reason: string;
}

export interface DiffResult {
  /** DIFF_NONE → false. */
  changes: boolean;
  /** Properties whose change forces a replacement. */
  replaces: string[];
  deleteBeforeReplace: boolean;
  diffs: string[];
}

/** One provider instance (a default provider or an explicit one). */
export interface ResourceProvider {
  readonly pkg: string;
  check(
    urn: string,
    type: string,
    olds: Props | undefined,
    news: Props,
    randomSeed: Buffer,
  ): Promise<{ inputs: Props; failures: CheckFailure[] }>;
  diff(
    urn: string,
    type: string,
    id: string,
    oldInputs: Props,
    oldOutputs: Props,
    news: Props,
    ignoreChanges: string[],
  ): Promise<DiffResult>;
  create(
    urn: string,
    type: string,
    inputs: Props,
    preview: boolean,
  ): Promise<{ id: string; outputs: Props }>;
  read(
    urn: string,
    type: string,
    id: string,
    inputs: Props,
    outputs: Props,
  ): Promise<{ id: string; outputs: Props; inputs: Props } | undefined>;
  update(
    urn: string,
    type: string,
    id: string,
    oldInputs: Props,
    oldOutputs: Props,
    news: Props,
    preview: boolean,
  ): Promise<Props>;
  delete(urn: string, type: string, id: string, inputs: Props, outputs: Props): Promise<void>;
  invoke(token: string, args: Props): Promise<{ ret: Props; failures: CheckFailure[] }>;
  close(): Promise<void>;
}

const DIFF_NONE = 1;

function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

function failuresOf(list: unknown[]): CheckFailure[] {
  return list.map((f) => ({
    property: call<string>(f, "getProperty"),
    reason: call<string>(f, "getReason"),
  }));
}

/** A provider plugin process spoken to over `pulumirpc.ResourceProvider`. */
export class PluginProvider implements ResourceProvider {
  private acceptsSecrets = false;
  private constructor(
    readonly pkg: string,
    private readonly proc: ChildProcess,
    private readonly rpc: Client,
  ) {}

  /**
   * Starts the SDK's dynamic provider host (`@pulumi/pulumi/pulumi-resource-pulumi-nodejs`,
   * i.e. `node cmd/dynamic-provider`) in `pwd` and configures it.
   */
  static async startDynamic(
    pwd: string,
    engineAddress: string,
    env: NodeJS.ProcessEnv,
  ): Promise<PluginProvider> {
    const script = require.resolve("@pulumi/pulumi/cmd/dynamic-provider", {
      paths: [pwd, __dirname],
    });
    // The engine passes the engine address as the plugin's only argument
    // (`sdk/go/common/resource/plugin/plugin.go`, `newPlugin`).
    const proc = spawn(process.execPath, [script, engineAddress], {
      cwd: pwd,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<string>((resolve, reject) => {
      let buf = "";
      proc.stdout?.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = /^(\d+)\s*\n/.exec(buf);
        if (m) resolve(m[1]);
      });
      proc.once("exit", (code) =>
        reject(
          new Error(
            `plugin pulumi-resource-pulumi-nodejs exited with ${code} before it printed its port`,
          ),
        ),
      );
      proc.once("error", reject);
    });
    const rpc = client(provrpc, "ResourceProviderClient", `127.0.0.1:${port}`);
    const p = new PluginProvider("pulumi-nodejs", proc, rpc);
    const req = newMessage(provproto, "ConfigureRequest");
    call(req, "setArgs", toStruct({}));
    call(req, "setAcceptsecrets", true);
    call(req, "setAcceptresources", false);
    const res = await unary(rpc, "configure", req);
    p.acceptsSecrets = call<boolean>(res, "getAcceptsecrets");
    return p;
  }

  /**
   * Calls `method` with a `<Kind>Request` naming the resource (urn, name, type) and setting the
   * other fields given: property maps as Structs in wire form, the rest as they are.
   */
  private async rpcCall(
    method: string,
    kind: string,
    urn: string,
    type: string,
    fields: Record<string, Props | string | boolean | string[] | Buffer>,
  ): Promise<unknown> {
    const req = newMessage(provproto, kind);
    call(req, "setUrn", urn);
    call(req, "setName", nameOf(urn));
    call(req, "setType", type);
    for (const [setter, v] of Object.entries(fields)) {
      const plainObject =
        v !== null && typeof v === "object" && !Array.isArray(v) && !Buffer.isBuffer(v);
      call(req, setter, plainObject ? toStruct(this.wire(v)) : v);
    }
    return unary(this.rpc, method, req);
  }

  /** What the provider may be sent: secrets unwrapped unless it accepted them at Configure. */
  private wire(props: Props): Props {
    return this.acceptsSecrets ? props : (unwrapSecrets(props) as Props);
  }

  async check(urn: string, type: string, olds: Props | undefined, news: Props, randomSeed: Buffer) {
    const res = await this.rpcCall("check", "CheckRequest", urn, type, {
      setOlds: olds ?? {},
      setNews: news,
      setRandomseed: randomSeed,
    });
    return {
      inputs: fromStruct(call(res, "getInputs")),
      failures: failuresOf(call<unknown[]>(res, "getFailuresList")),
    };
  }

  async diff(
    urn: string,
    type: string,
    id: string,
    oldInputs: Props,
    oldOutputs: Props,
    news: Props,
    ignoreChanges: string[],
  ) {
    const res = await this.rpcCall("diff", "DiffRequest", urn, type, {
      setId: id,
      setOlds: oldOutputs,
      setOldInputs: oldInputs,
      setNews: news,
      setIgnorechangesList: ignoreChanges,
    });
    const replaces = call<string[]>(res, "getReplacesList");
    const diffs = call<string[]>(res, "getDiffsList");
    const changes = call<number>(res, "getChanges");
    return {
      changes:
        changes === DIFF_NONE ? false : changes !== 0 || diffs.length > 0 || replaces.length > 0,
      replaces,
      deleteBeforeReplace: call<boolean>(res, "getDeletebeforereplace"),
      diffs,
    };
  }

  async create(urn: string, type: string, inputs: Props, preview: boolean) {
    const res = await this.rpcCall("create", "CreateRequest", urn, type, {
      setProperties: inputs,
      setPreview: preview,
    });
    return { id: call<string>(res, "getId"), outputs: fromStruct(call(res, "getProperties")) };
  }

  async read(urn: string, type: string, id: string, inputs: Props, outputs: Props) {
    const res = await this.rpcCall("read", "ReadRequest", urn, type, {
      setId: id,
      setProperties: outputs,
      setInputs: inputs,
    });
    const newId = call<string>(res, "getId");
    // An empty id means the resource no longer exists (`plugin/provider_plugin.go`, Read).
    if (!newId) return undefined;
    return {
      id: newId,
      outputs: fromStruct(call(res, "getProperties")),
      inputs: fromStruct(call(res, "getInputs")),
    };
  }

  async update(
    urn: string,
    type: string,
    id: string,
    oldInputs: Props,
    oldOutputs: Props,
    news: Props,
    preview: boolean,
  ) {
    const res = await this.rpcCall("update", "UpdateRequest", urn, type, {
      setId: id,
      setOlds: oldOutputs,
      setOldInputs: oldInputs,
      setNews: news,
      setPreview: preview,
    });
    return fromStruct(call(res, "getProperties"));
  }

  async delete(urn: string, type: string, id: string, inputs: Props, outputs: Props) {
    await this.rpcCall("delete", "DeleteRequest", urn, type, {
      setId: id,
      setProperties: outputs,
      setOldInputs: inputs,
    });
  }

  async invoke(token: string): Promise<{ ret: Props; failures: CheckFailure[] }> {
    throw new Error(`unknown function ${token}`);
  }

  /** Stops the plugin as the engine does: SIGINT, then SIGKILL after a grace period. */
  async close(): Promise<void> {
    this.rpc.close();
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.proc.kill("SIGINT");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Adapts a simulated cloud provider to the engine's provider interface (plain values in and out). */
export class SimulatedProviderAdapter implements ResourceProvider {
  constructor(
    readonly pkg: string,
    private readonly sim: SimulatedProvider,
    config: Props,
  ) {
    // Provider configuration is the provider resource's inputs (`Configure`).
    sim.configure(unwrapSecrets(config) as JsonObject);
  }
  private plain(p: Props): JsonObject {
    return unwrapSecrets(p) as JsonObject;
  }
  async check(urn: string, type: string, olds: Props | undefined, news: Props, randomSeed: Buffer) {
    return this.sim.check(type, this.plain(news), olds && this.plain(olds), urn, randomSeed);
  }
  async diff(
    _urn: string,
    type: string,
    _id: string,
    oldInputs: Props,
    oldOutputs: Props,
    news: Props,
    ignoreChanges: string[],
  ) {
    return this.sim.diff(
      type,
      this.plain(oldInputs),
      this.plain(news),
      this.plain(oldOutputs),
      ignoreChanges,
    );
  }
  create(urn: string, type: string, inputs: Props, preview: boolean) {
    return this.sim.create(type, urn, this.plain(inputs), preview);
  }
  async read(_urn: string, type: string, id: string, inputs: Props, outputs: Props) {
    const r = await this.sim.read(type, id, this.plain(outputs));
    return r && { ...r, inputs };
  }
  update(
    _urn: string,
    type: string,
    id: string,
    oldInputs: Props,
    oldOutputs: Props,
    news: Props,
    preview: boolean,
  ) {
    return this.sim.update(
      type,
      id,
      this.plain(oldInputs),
      this.plain(news),
      this.plain(oldOutputs),
      preview,
    );
  }
  delete(_urn: string, type: string, id: string, _inputs: Props, outputs: Props) {
    return this.sim.delete(type, id, this.plain(outputs));
  }
  async invoke(token: string, args: Props) {
    return { ret: await this.sim.invoke(token, this.plain(args)), failures: [] };
  }
  async close(): Promise<void> {}
}

/** The package of a resource type or function token: `aws:ec2/instance:Instance` → `aws`. */
export function packageOf(token: string): string {
  if (token.startsWith("pulumi:providers:")) return token.slice("pulumi:providers:".length);
  return token.split(":")[0];
}

export const DYNAMIC_PACKAGE = "pulumi-nodejs";
