/**
 * The stack an engine operation runs on: project and stack files, config (decrypted, validated
 * against `Pulumi.yaml` as the CLI does before every `up`/`preview`/`destroy`/`refresh`:
 * `pkg/workspace/config.go`), the checkpoint in the file backend (read, written as the step
 * journal goes, locked for the operation), and the providers: the SDK's dynamic provider host
 * for `pulumi-nodejs`, simulated clouds for the rest.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { FileBackend, newManifest } from "../backend";
import { openCloud, doubleDir } from "../../sim/cloud";
import type { FaultPlan, LedgerEntry, PendingOperation, ResourceState } from "../engine/deployment";
import {
  PluginProvider,
  type ResourceProvider,
  SimulatedProviderAdapter,
  DYNAMIC_PACKAGE,
} from "../engine/providers";
import { type Props, SECRET_SIG, SIG_KEY, isSecret } from "../engine/rpc";
import { simulatedProvider } from "../../sim/providers";
import { appendLedger, loadFaults, type Faults } from "../faults";
import {
  type Project,
  type ResolvedConfigValue,
  type StackSettings,
  loadProject,
  loadStackSettings,
  resolvedConfig,
  saveStackSettings,
  setConfigPath,
  normalizeKey,
  pathLeafValue,
} from "../project";
import {
  type Crypter,
  type JsonValue,
  type PropertyValue,
  Secret,
  crypterFromState,
  deserializeProperties,
  passphraseFromEnv,
  passphraseSecretsProviders,
  serializeProperties,
} from "../secrets";
import { currentStack } from "../workspace";
import { CliError, type CliContext } from "./context";

/** What an engine operation needs from its stack. */
export interface StackWorkspace {
  readonly project: Project;
  readonly stack: string;
  lock(): Promise<() => Promise<void>>;
  leaveLocked(): boolean;
  displayConfig(): Record<string, string>;
  programConfig(): Record<string, ResolvedConfigValue>;
  providerConfig(pkg: string): Props;
  provider(pkg: string, inputs: Props, engineAddress: string): Promise<ResourceProvider>;
  pwdMain(): { pwd: string; main: string };
  read(): Promise<{ resources: ResourceState[]; pending: PendingOperation[] }>;
  write(resources: ResourceState[], pending: PendingOperation[]): Promise<void>;
  addHistory(entry: Record<string, unknown>): Promise<void>;
  setConfigFromFlags(pairs: string[], isPath: boolean): Promise<void>;
  readonly faults: FaultPlan;
  ledger(entry: LedgerEntry): void;
}

/** Wire secrets (`{sig, value}`) → the secrets module's `Secret` markers, and back. */
function toPropertyValue(v: unknown): PropertyValue {
  if (isSecret(v)) return new Secret(toPropertyValue(v.value));
  if (Array.isArray(v)) return v.map(toPropertyValue);
  if (v && typeof v === "object") {
    const out: Record<string, PropertyValue> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toPropertyValue(x);
    return out;
  }
  return v as PropertyValue;
}

function toWire(v: unknown): unknown {
  if (v instanceof Secret) return { [SIG_KEY]: SECRET_SIG, value: toWire(v.value) };
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
  }
  return v;
}

const PROPERTY_FIELDS = ["inputs", "outputs"] as const;

export async function openWorkspace(
  ctx: CliContext,
  stackFlag: string | undefined,
  _opts: { forUpdate: boolean },
): Promise<StackWorkspace> {
  const project = loadProject(ctx.cwd);
  const backend = FileBackend.fromEnv(ctx.env, ctx.cwd);
  const stack = stackFlag ?? currentStack(ctx.env, project.name, project.file, backend.url);
  if (!stack) {
    throw new CliError("no stack selected; please use `pulumi stack select` to choose one");
  }
  if (!backend.stackExists(project.name, stack)) {
    throw new CliError(`no stack named '${stack}' found`);
  }
  let settings: StackSettings = loadStackSettings(project.dir, stack);
  let crypterCache: Crypter | undefined;
  const crypter = (): Crypter => {
    if (!crypterCache) {
      const state = settings.encryptionsalt;
      if (!state)
        throw new CliError(
          `the stack '${stack}' has no encryptionsalt in its stack file; it was not created by \`pulumi stack init\``,
        );
      crypterCache = crypterFromState(passphraseFromEnv(ctx.env, ctx.cwd), state);
    }
    return crypterCache;
  };
  let config = resolvedConfig(project, stack, settings, crypter());
  const dir = doubleDir(ctx.env, path.join(backend.root, ".pulumi", "double"));
  const faults: Faults = loadFaults(ctx.env, dir);
  let writing: Promise<void> = Promise.resolve();
  let queued: { resources: ResourceState[]; pending: PendingOperation[] } | undefined;
  let queuedDone: Promise<void> | undefined;

  // Resource states are never mutated once recorded, so each is serialized once, not per write.
  const serialized = new WeakMap<ResourceState, ResourceState>();
  const serialize = (r: ResourceState): ResourceState => {
    const cached = serialized.get(r);
    if (cached) return cached;
    const out: ResourceState = { ...r };
    for (const f of PROPERTY_FIELDS) {
      if (r[f])
        out[f] = serializeProperties(
          toPropertyValue(r[f]) as Record<string, PropertyValue>,
          crypter(),
        ) as Props;
    }
    serialized.set(r, out);
    return out;
  };

  const ws: StackWorkspace = {
    project,
    stack,
    faults,
    ledger: (entry) => appendLedger(dir, entry as Parameters<typeof appendLedger>[1]),
    leaveLocked: () => faults.leaveLocked(),
    lock: () => backend.lock(project.name, stack),
    displayConfig: () => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(config)) out[k] = v.secret ? "[secret]" : v.value;
      return out;
    },
    programConfig: () => config,
    providerConfig: (pkg) => {
      // `pkg/resource/deploy/target.go`, GetPackageConfig: a secure config value becomes a
      // secret input of the default provider, so the checkpoint holds it encrypted.
      const out: Props = {};
      for (const [k, v] of Object.entries(config)) {
        if (!k.startsWith(`${pkg}:`)) continue;
        out[k.slice(pkg.length + 1)] = v.secret
          ? { [SIG_KEY]: SECRET_SIG, value: v.value }
          : v.value;
      }
      return out;
    },
    async provider(pkg, inputs, engineAddress) {
      if (pkg === DYNAMIC_PACKAGE)
        return PluginProvider.startDynamic(ws.pwdMain().pwd, engineAddress, ctx.env);
      const sim = simulatedProvider(pkg, openCloud(dir));
      if (!sim) {
        // `pkg/workspace/plugins.go`: MissingError.
        throw new Error(
          `no resource plugin 'pulumi-resource-${pkg}' found in the workspace or on your $PATH, install the plugin using \`pulumi plugin install resource ${pkg}\``,
        );
      }
      return new SimulatedProviderAdapter(pkg, sim, inputs);
    },
    pwdMain: () => {
      // `pkg/engine/project.go`, getPwdMain.
      const main = project.main ? path.resolve(project.dir, project.main) : project.dir;
      let stat: fs.Stats;
      try {
        stat = fs.statSync(main);
      } catch (e) {
        throw new CliError(`project 'main' could not be read: ${(e as Error).message}`);
      }
      return stat.isDirectory()
        ? { pwd: main, main: "." }
        : { pwd: path.dirname(main), main: path.basename(main) };
    },
    async read() {
      const d = backend.readDeployment(project.name, stack);
      const resources = (d?.resources ?? []) as unknown as ResourceState[];
      const toState = (r: ResourceState): ResourceState => {
        const out: ResourceState = { ...r };
        for (const f of PROPERTY_FIELDS) {
          if (r[f])
            out[f] = toWire(
              deserializeProperties(r[f] as Record<string, JsonValue>, crypter()),
            ) as Props;
        }
        return out;
      };
      const pending = ((d?.pending_operations ?? []) as unknown as PendingOperation[]).map((p) => ({
        ...p,
        resource: toState(p.resource),
      }));
      return { resources: resources.map(toState), pending };
    },
    write(resources, pending) {
      queued = { resources, pending };
      if (!queuedDone) {
        queuedDone = writing.then(async () => {
          const next = queued as { resources: ResourceState[]; pending: PendingOperation[] };
          queued = undefined;
          queuedDone = undefined;
          backend.writeDeployment(project.name, stack, {
            manifest: newManifest(`v${doubleVersion()}`),
            secrets_providers: passphraseSecretsProviders(settings.encryptionsalt ?? ""),
            resources: next.resources.map(serialize),
            ...(next.pending.length
              ? {
                  pending_operations: next.pending.map((p) => ({
                    ...p,
                    resource: serialize(p.resource),
                  })),
                }
              : {}),
          } as never);
        });
        writing = queuedDone;
      }
      return queuedDone;
    },
    async addHistory(entry) {
      await writing;
      backend.addHistory(project.name, stack, entry as never);
    },
    async setConfigFromFlags(pairs, isPath) {
      for (const pair of pairs) {
        const i = pair.indexOf("=");
        if (i < 0) throw new CliError(`could not parse config '${pair}': expected key=value`);
        setConfigPath(
          settings.config,
          normalizeKey(project.name, pair.slice(0, i), isPath),
          pathLeafValue(pair.slice(i + 1)),
          isPath,
        );
      }
      saveStackSettings(project.dir, stack, settings);
      settings = loadStackSettings(project.dir, stack);
      config = resolvedConfig(project, stack, settings, crypter());
    },
  };
  return ws;
}

function doubleVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("@pulumi/pulumi/package.json") as { version: string }).version;
}
