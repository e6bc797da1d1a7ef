/**
 * A simulated cloud provider as a real Pulumi resource provider plugin: `node plugin.js <package>
 * <engine address>` serves `pulumirpc.ResourceProvider` over gRPC with the SDK's generated protos
 * (`@pulumi/pulumi/proto`) and `@grpc/grpc-js`, and prints its port on stdout, which is how the
 * engine starts every plugin (`sdk/go/common/resource/plugin/plugin.go`, `newPlugin`: the first
 * line of stdout is the port, the engine address is the plugin's argument, it runs in the
 * program's directory). The shims in `bin/` (`pulumi-resource-<package>`) run it; with that
 * folder on PATH the engine uses them as ambient plugins whatever version the program asks for
 * (`sdk/go/common/workspace/plugins.go`, `getPluginInfoAndPath`: `exec.LookPath` comes before
 * the plugin cache, and the version is not compared).
 *
 * What it does with each call (the cloud itself is `providers.ts` over `cloud.ts`):
 * - `Handshake` answers UNIMPLEMENTED on purpose, as every provider written before that RPC
 *   does: the engine then takes the protocol from `Configure`'s answer (`provider_plugin.go`,
 *   `handshake` treats UNIMPLEMENTED as "old protocol"), which is the path tested here. `Configure`
 *   answers `acceptSecrets: false`, so every later call carries plain values (the engine
 *   marshals with `KeepSecrets: protocol.acceptSecrets`), and `supportsPreview: true`, so the
 *   engine calls `Create`/`Update` with `preview` set. `Configure` itself always receives
 *   secrets (its args are marshalled with `KeepSecrets: true`); they are unwrapped here.
 * - Credentials are refused as the real provider refuses them (`credentials.ts`).
 * - In a preview the inputs may hold the unknown sentinel; outputs the cloud would assign are
 *   returned as unknown.
 * - A create that fails after the object exists (`after` faults) returns
 *   `ErrorResourceInitFailed` details (id, properties): the engine keeps the object in state
 *   with `initErrors` (`provider_plugin.go`, `parseError`; `pkg/resource/deploy/step.go`).
 * - Faults (`FLEET_SIM_FAULTS`), the ledger and latency: `faults.ts`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import { Any } from "google-protobuf/google/protobuf/any_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { type Json, type JsonObject, openCloud } from "./cloud";
import { type CredentialCheck, checkCredentials } from "./credentials";
import { ProviderError } from "./errors";
import {
  FAULTS_VAR,
  type FaultAction,
  Faults,
  type LedgerEntry,
  LATENCY_VAR,
  SIM_DIR_VAR,
  type SimOp,
  appendLedger,
} from "./faults";
import { SIMULATED_PACKAGES, type SimulatedProvider, simulatedProvider } from "./providers";

/** The engine's marker for a value not known until the cloud answers (`sdk/go/common/resource/plugin/rpc.go`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** The signature key and secret marker of a secret on the wire. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Removes secret markers (only `Configure` receives them: see the header). */
export function unwrapSecrets(v: unknown): Json {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  return (v ?? null) as Json;
}

function containsUnknown(v: Json | undefined): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

function plain(s: Struct | undefined): JsonObject {
  return s ? (unwrapSecrets(s.toJavaScript()) as JsonObject) : {};
}

function struct(v: JsonObject): Struct {
  return Struct.fromJavaScript(v as Record<string, never>);
}

function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The name a cloud object carries: its `name` input, or an EC2 instance's `Name` tag. */
function cloudName(inputs: JsonObject): string | undefined {
  if (typeof inputs.name === "string") return inputs.name;
  const tags = inputs.tags;
  if (tags && typeof tags === "object" && !Array.isArray(tags) && typeof tags.Name === "string")
    return tags.Name;
  return undefined;
}

/** A create that made the object and then failed (`ErrorResourceInitFailed`). */
class InitFailed extends Error {
  constructor(
    message: string,
    readonly id: string,
    readonly properties: JsonObject,
    readonly inputs: JsonObject,
  ) {
    super(message);
  }
}

/** The gRPC status the engine reads for an error (the SDK's `grpcResponseFromError` does the same). */
function toStatus(e: unknown): Partial<grpc.StatusObject> {
  const message = e instanceof Error ? e.message : String(e);
  const metadata = new grpc.Metadata();
  if (e instanceof InitFailed) {
    const detail = new provproto.ErrorResourceInitFailed();
    detail.setId(e.id);
    detail.setProperties(struct(e.properties));
    detail.setInputs(struct(e.inputs));
    detail.setReasonsList([message]);
    const any = new Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    const status = new statusproto.Status();
    status.setCode(grpc.status.UNKNOWN);
    status.setMessage(message);
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  // Terraform-bridged providers answer plain errors, which gRPC reports as UNKNOWN.
  return { code: grpc.status.UNKNOWN, details: message, metadata };
}

/** Wraps an async handler as a gRPC unary handler. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (e: unknown) => callback(toStatus(e)),
    );
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The version this plugin reports: the npm SDK's, as a real plugin matches its SDK. */
function versionOf(pkg: string): string {
  try {
    const file = require.resolve(`@pulumi/${pkg}/package.json`);
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** One plugin process: one provider (default or explicit) of one package. */
export class SimPlugin {
  private readonly sim: SimulatedProvider;
  private readonly faults: Faults;
  private readonly providerType: string;
  private credentials: CredentialCheck = {};
  private readonly hangs = new Set<() => void>();
  private readonly latencyMs: number;

  constructor(
    readonly pkg: string,
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const sim = simulatedProvider(pkg, openCloud(dir));
    if (!sim) throw new Error(`no simulated provider for package ${pkg}`);
    this.sim = sim;
    this.faults = new Faults(env[FAULTS_VAR], dir);
    this.providerType = `pulumi:providers:${pkg}`;
    this.latencyMs = Number(env[LATENCY_VAR] ?? 0) || 0;
  }

  /**
   * The service implementation to register; grpc-js answers UNIMPLEMENTED for the methods left
   * out (Handshake, Parameterize, Construct, Call, Attach, mappings).
   */
  service(): Pick<
    provrpc.IResourceProviderServer,
    | "getPluginInfo"
    | "getSchema"
    | "checkConfig"
    | "diffConfig"
    | "configure"
    | "check"
    | "diff"
    | "create"
    | "read"
    | "update"
    | "delete"
    | "invoke"
    | "cancel"
  > {
    return {
      getPluginInfo: unary(async () => new plugproto.PluginInfo().setVersion(versionOf(this.pkg))),
      getSchema: unary(async () =>
        new provproto.GetSchemaResponse().setSchema(
          JSON.stringify({ name: this.pkg, version: versionOf(this.pkg), resources: {} }),
        ),
      ),
      checkConfig: unary((req: provproto.CheckRequest) => this.checkConfig(req)),
      diffConfig: unary((req: provproto.DiffRequest) => this.diff(req)),
      configure: unary((req: provproto.ConfigureRequest) => this.configure(req)),
      check: unary((req: provproto.CheckRequest) => this.check(req)),
      diff: unary((req: provproto.DiffRequest) => this.diff(req)),
      create: unary((req: provproto.CreateRequest) => this.create(req)),
      read: unary((req: provproto.ReadRequest) => this.read(req)),
      update: unary((req: provproto.UpdateRequest) => this.update(req)),
      delete: unary((req: provproto.DeleteRequest) => this.delete(req)),
      invoke: unary((req: provproto.InvokeRequest) => this.invoke(req)),
      cancel: unary(async () => {
        for (const release of this.hangs) release();
        this.hangs.clear();
        return new Empty();
      }),
    };
  }

  private failures(list: { property: string; reason: string }[]): provproto.CheckFailure[] {
    return list.map((f) =>
      new provproto.CheckFailure().setProperty(f.property).setReason(f.reason),
    );
  }

  private async checkConfig(req: provproto.CheckRequest): Promise<provproto.CheckResponse> {
    const news = plain(req.getNews());
    const r = this.sim.check(this.providerType, news);
    return new provproto.CheckResponse()
      .setInputs(struct(news))
      .setFailuresList(this.failures(r.failures));
  }

  private async configure(req: provproto.ConfigureRequest): Promise<provproto.ConfigureResponse> {
    let config: JsonObject = plain(req.getArgs());
    if (!req.hasArgs()) {
      // Older engines send only `variables`, keyed `<pkg>:config:<key>`.
      config = {};
      req.getVariablesMap().forEach((v, k) => (config[k.slice(k.lastIndexOf(":") + 1)] = v));
    }
    delete config.version;
    this.credentials = checkCredentials(this.pkg, config, this.env);
    if (this.credentials.refuse) throw new ProviderError(this.credentials.refuse, "Unauthorized");
    this.sim.configure(config);
    return new provproto.ConfigureResponse()
      .setAcceptsecrets(false)
      .setAcceptresources(false)
      .setSupportspreview(true)
      .setAcceptoutputs(false);
  }

  private async check(req: provproto.CheckRequest): Promise<provproto.CheckResponse> {
    const olds = plain(req.getOlds());
    const news = plain(req.getNews());
    const seed = req.getRandomseed_asU8();
    const r = this.sim.check(
      req.getType(),
      news,
      Object.keys(olds).length ? olds : undefined,
      req.getUrn(),
      seed.length ? Buffer.from(seed) : undefined,
    );
    // A value not known yet (preview) is checked once it is known.
    const failures = r.failures.filter((f) => {
      const top = f.property.split(/[.[]/)[0];
      return !containsUnknown(news[top]);
    });
    return new provproto.CheckResponse()
      .setInputs(struct(r.inputs))
      .setFailuresList(this.failures(failures));
  }

  private async diff(req: provproto.DiffRequest): Promise<provproto.DiffResponse> {
    const type = req.getType() || this.providerType;
    const oldOutputs = plain(req.getOlds());
    const oldInputs = req.hasOldInputs() ? plain(req.getOldInputs()) : oldOutputs;
    const news = plain(req.getNews());
    const d = this.sim.diff(type, oldInputs, news, oldOutputs, req.getIgnorechangesList());
    const res = new provproto.DiffResponse()
      .setChanges(
        d.changes
          ? provproto.DiffResponse.DiffChanges.DIFF_SOME
          : provproto.DiffResponse.DiffChanges.DIFF_NONE,
      )
      .setReplacesList(d.replaces)
      .setDiffsList(d.diffs)
      .setDeletebeforereplace(d.deleteBeforeReplace)
      .setHasdetaileddiff(true);
    const K = provproto.PropertyDiff.Kind;
    const detailed = res.getDetaileddiffMap();
    for (const key of d.diffs) {
      const replace = d.replaces.includes(key);
      const kind = !(key in oldInputs)
        ? replace
          ? K.ADD_REPLACE
          : K.ADD
        : !(key in news)
          ? replace
            ? K.DELETE_REPLACE
            : K.DELETE
          : replace
            ? K.UPDATE_REPLACE
            : K.UPDATE;
      detailed.set(key, new provproto.PropertyDiff().setKind(kind).setInputdiff(true));
    }
    return res;
  }

  /** Runs one cloud operation with its fault, latency, credentials and ledger line. */
  private async operate<T>(
    op: SimOp,
    type: string,
    name: string,
    inputs: JsonObject,
    outputs: JsonObject | undefined,
    id: string | undefined,
    action: string,
    run: (fault: FaultAction | undefined, line: Omit<LedgerEntry, "outcome">) => Promise<T>,
  ): Promise<T> {
    const line: Omit<LedgerEntry, "outcome"> = {
      op,
      pkg: this.pkg,
      type,
      name,
      ...(cloudName(inputs) !== undefined ? { cloudName: cloudName(inputs) } : {}),
      ...(id ? { id } : {}),
    };
    const fault = await this.faults.match(op, { type, inputs, ...(outputs ? { outputs } : {}) });
    try {
      if (fault?.delayMs) await sleep(fault.delayMs);
      if (fault?.hang)
        await new Promise<void>((resolve) => {
          this.hangs.add(resolve);
        });
      if (fault?.hang) throw new ProviderError(`${action}: context canceled`, "Canceled");
      if (fault?.crash && !fault.after) crash(this.dir, { ...line, outcome: "fault" });
      if (fault?.error && !fault.after) throw new ProviderError(fault.error, "Injected");
      if (op !== "read" && op !== "invoke" && this.latencyMs) await sleep(this.latencyMs);
      if (this.credentials.unauthorized) throw this.credentials.unauthorized(action);
      const result = await run(fault, line);
      appendLedger(this.dir, { ...line, outcome: "ok" });
      return result;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      const idOf = e instanceof InitFailed ? { id: e.id } : {};
      appendLedger(this.dir, { ...line, ...idOf, outcome: fault ? "fault" : "failed", error });
      throw e;
    }
  }

  private async create(req: provproto.CreateRequest): Promise<provproto.CreateResponse> {
    const type = req.getType();
    const urn = req.getUrn();
    const inputs = plain(req.getProperties());
    if (req.getPreview()) {
      const made = await this.sim.create(type, urn, inputs, true);
      const known = Object.fromEntries(
        Object.entries(inputs).filter(([, v]) => !containsUnknown(v)),
      );
      const outputs: JsonObject = { ...made.outputs };
      for (const k of await this.sim.outputKeys(type, urn, known))
        if (!(k in outputs)) outputs[k] = UNKNOWN;
      return new provproto.CreateResponse().setId("").setProperties(struct(outputs));
    }
    return this.operate(
      "create",
      type,
      nameOf(urn),
      inputs,
      undefined,
      undefined,
      `creating ${type}`,
      async (fault, line) => {
        const made = await this.sim.create(type, urn, inputs, false);
        line.id = made.id;
        if (fault?.after && fault.crash) crash(this.dir, { ...line, outcome: "fault" });
        if (fault?.after && fault.error)
          throw new InitFailed(fault.error, made.id, made.outputs, inputs);
        return new provproto.CreateResponse().setId(made.id).setProperties(struct(made.outputs));
      },
    );
  }

  private async read(req: provproto.ReadRequest): Promise<provproto.ReadResponse> {
    const type = req.getType();
    const id = req.getId();
    const inputs = plain(req.getInputs());
    const outputs = plain(req.getProperties());
    return this.operate(
      "read",
      type,
      nameOf(req.getUrn()),
      inputs,
      outputs,
      id,
      `reading ${type} ${id}`,
      async () => {
        const found = await this.sim.read(type, id, outputs);
        // Gone from the cloud: an empty id, and the engine drops it from state
        // (`provider_plugin.go`, Read; `step.go`, RefreshStep).
        if (!found) return new provproto.ReadResponse().setId("");
        return new provproto.ReadResponse()
          .setId(found.id)
          .setProperties(struct(found.outputs))
          .setInputs(struct(inputs));
      },
    );
  }

  private async update(req: provproto.UpdateRequest): Promise<provproto.UpdateResponse> {
    const type = req.getType();
    const id = req.getId();
    const oldOutputs = plain(req.getOlds());
    const olds = req.hasOldInputs() ? plain(req.getOldInputs()) : oldOutputs;
    const news = plain(req.getNews());
    if (req.getPreview()) {
      const out = await this.sim.update(type, id, olds, news, oldOutputs, true);
      return new provproto.UpdateResponse().setProperties(struct(out));
    }
    return this.operate(
      "update",
      type,
      nameOf(req.getUrn()),
      news,
      undefined,
      id,
      `updating ${type} ${id}`,
      async () => {
        const out = await this.sim.update(type, id, olds, news, oldOutputs, false);
        return new provproto.UpdateResponse().setProperties(struct(out));
      },
    );
  }

  private async delete(req: provproto.DeleteRequest): Promise<Empty> {
    const type = req.getType();
    const id = req.getId();
    const outputs = plain(req.getProperties());
    const inputs = req.hasOldInputs() ? plain(req.getOldInputs()) : {};
    return this.operate(
      "delete",
      type,
      nameOf(req.getUrn()),
      inputs,
      outputs,
      id,
      `deleting ${type} ${id}`,
      async () => {
        await this.sim.delete(type, id, outputs);
        return new Empty();
      },
    );
  }

  private async invoke(req: provproto.InvokeRequest): Promise<provproto.InvokeResponse> {
    const token = req.getTok();
    const args = plain(req.getArgs());
    return this.operate(
      "invoke",
      token,
      token,
      args,
      undefined,
      undefined,
      `invoking ${token}`,
      async () =>
        new provproto.InvokeResponse().setReturn(struct(await this.sim.invoke(token, args))),
    );
  }
}

/** Starts the plugin for `pkg` and prints its port; resolves with the server. */
export async function serve(pkg: string, env: NodeJS.ProcessEnv): Promise<grpc.Server> {
  const dir = env[SIM_DIR_VAR];
  if (!dir)
    throw new Error(
      `pulumi-resource-${pkg} (simulated): ${SIM_DIR_VAR} must name the directory of the simulated clouds`,
    );
  const plugin = new SimPlugin(pkg, path.resolve(dir), env);
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
  });
  server.addService(provrpc.ResourceProviderService, plugin.service());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  process.stdout.write(`${port}\n`);
  return server;
}

if (require.main === module) {
  const pkg = process.argv[2] ?? "";
  if (!(SIMULATED_PACKAGES as readonly string[]).includes(pkg)) {
    process.stderr.write(
      `usage: plugin.js <${SIMULATED_PACKAGES.join("|")}> [engine address]: got ${JSON.stringify(pkg)}\n`,
    );
    process.exit(2);
  }
  // The engine stops plugins with SIGINT, then SIGKILL (`plugin.go`, `Close`).
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
  serve(pkg, process.env).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}

/**
 * A `crash` fault: the ledger line first (so the fault is counted), then the plugin dies at
 * once, with no reply and no cleanup, as a provider plugin that crashes does.
 */
function crash(dir: string, line: LedgerEntry): never {
  appendLedger(dir, { ...line, error: "plugin crashed (injected)" });
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable: the plugin was killed");
}
