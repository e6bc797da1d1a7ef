/**
 * gRPC plumbing for the double: the SDK's own generated protos (`@pulumi/pulumi/proto`) and
 * `@grpc/grpc-js`, loaded from the SDK's dependency tree so both sides speak one protocol copy.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as grpcTypes from "@grpc/grpc-js";

const sdkRoot = require.resolve("@pulumi/pulumi/package.json").replace(/package\.json$/, "");
function sdk<T>(rel: string): T {
  return require(require.resolve(rel, { paths: [sdkRoot] })) as T;
}

/** `@grpc/grpc-js` as the SDK loads it. */
export const grpc = sdk<typeof grpcTypes>("@grpc/grpc-js");

/** A generated protobuf message: only what the double uses of it. */
export interface Message {
  [method: string]: unknown;
}
type Ctor = new () => Message;
type ProtoModule = Record<string, Ctor & Record<string, unknown>>;

export const resproto = sdk<ProtoModule>("@pulumi/pulumi/proto/resource_pb");
export const resrpc = sdk<Record<string, grpcTypes.ServiceDefinition>>(
  "@pulumi/pulumi/proto/resource_grpc_pb",
);
export const engproto = sdk<ProtoModule>("@pulumi/pulumi/proto/engine_pb");
export const engrpc = sdk<Record<string, grpcTypes.ServiceDefinition>>(
  "@pulumi/pulumi/proto/engine_grpc_pb",
);
export const langproto = sdk<ProtoModule>("@pulumi/pulumi/proto/language_pb");
export const langrpc = sdk<Record<string, unknown>>("@pulumi/pulumi/proto/language_grpc_pb");
export const provproto = sdk<ProtoModule>("@pulumi/pulumi/proto/provider_pb");
export const provrpc = sdk<Record<string, unknown>>("@pulumi/pulumi/proto/provider_grpc_pb");
export const eventsproto = sdk<ProtoModule>("@pulumi/pulumi/proto/events_pb");
export const eventsrpc = sdk<Record<string, unknown>>("@pulumi/pulumi/proto/events_grpc_pb");
export const pluginproto = sdk<ProtoModule>("@pulumi/pulumi/proto/plugin_pb");
const structproto = sdk<{
  Struct: { fromJavaScript(v: Record<string, unknown>): Message };
}>("google-protobuf/google/protobuf/struct_pb");
const emptyproto = sdk<{ Empty: Ctor }>("google-protobuf/google/protobuf/empty_pb");

/** The SDK's wire markers (`runtime/rpc.js`). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
export const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A property map as JSON: secrets stay `{SIG_KEY: SECRET_SIG, value}` as on the wire. */
export type Props = Record<string, unknown>;

export function toStruct(value: Props): Message {
  return structproto.Struct.fromJavaScript(value);
}

export function fromStruct(s: unknown): Props {
  if (!s) return {};
  return (s as { toJavaScript(): Props }).toJavaScript();
}

export function empty(): Message {
  return new emptyproto.Empty();
}

export function newMessage(module: ProtoModule, name: string): Message {
  const C = module[name];
  if (!C) throw new Error(`no protobuf message ${name}`);
  return new C();
}

/** Calls a setter/getter on a generated message by name. */
export function call<T = unknown>(m: unknown, method: string, ...args: unknown[]): T {
  const fn = (m as Record<string, unknown>)[method];
  if (typeof fn !== "function") throw new Error(`protobuf message has no ${method}`);
  return (fn as (...a: unknown[]) => T).apply(m, args);
}

export function isSecret(v: unknown): v is { value: unknown } {
  return !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function secret(value: unknown): Props {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** Removes secret markers (for providers that do not accept secrets); reports whether any were found. */
export function unwrapSecrets(v: unknown): unknown {
  if (isSecret(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const [k, x] of Object.entries(v)) out[k] = unwrapSecrets(x);
    return out;
  }
  return v;
}

export function containsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v).some(containsSecret);
  return false;
}

export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (isSecret(v)) return containsUnknown(v.value);
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** Starts a gRPC server with one service on 127.0.0.1 and resolves with it and its port. */
export async function serve(
  service: grpcTypes.ServiceDefinition,
  impl: grpcTypes.UntypedServiceImplementation,
): Promise<{ server: grpcTypes.Server; port: number }> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
  });
  server.addService(service, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port };
}

/** A client of a generated service. */
export type Client = grpcTypes.Client & Record<string, unknown>;

export function client(rpcModule: Record<string, unknown>, name: string, address: string): Client {
  const C = rpcModule[name] as new (
    address: string,
    creds: grpcTypes.ChannelCredentials,
    options: grpcTypes.ChannelOptions,
  ) => Client;
  return new C(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
  });
}

/** Promisifies a unary call on a generated client. */
export function unary<T = Message>(c: Client, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = c[method] as (
      req: unknown,
      cb: (err: grpcTypes.ServiceError | null, res: T) => void,
    ) => void;
    fn.call(c, request, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
