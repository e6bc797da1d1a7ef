/**
 * The DIY file backend laid out exactly as `pkg/backend/diy/` lays it out, for `file://` URLs:
 *
 * ```
 * <root>/.pulumi/meta.yaml                                          version: 1 (meta.go)
 * <root>/.pulumi/stacks/<project>/<stack>.json                      the checkpoint (store.go)
 * <root>/.pulumi/stacks/<project>/<stack>.json.bak                  previous checkpoint (state.go backupTarget)
 * <root>/.pulumi/backups/<project>/<stack>/<stack>.<unixnano>.json  after each update (state.go backupStack)
 * <root>/.pulumi/history/<project>/<stack>/<stack>-<unixnano>.history.json     UpdateInfo (addToHistory)
 * <root>/.pulumi/history/<project>/<stack>/<stack>-<unixnano>.checkpoint.json  checkpoint copy
 * <root>/.pulumi/locks/organization/<project>/<stack>/<uuid>.json   lock (lock.go)
 * ```
 *
 * Checkpoints are written compact (`state.go`, `compactJSONMarshaler`), in `apitype` field order
 * (`sdk/go/common/apitype/core.go`). Gzip/zstd compression, the legacy (non-project) layout and
 * non-file schemes are not modelled: they fail with a CliError that says so.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CliError } from "./cli/context";
import { findProjectFile, loadProject, type RawConfigValue } from "./project";
import type { JsonValue, SecretsProviders } from "./secrets";
import { sortKeys } from "./secrets";
import { readCredentials } from "./workspace";

/** `apitype.OperationType`. */
export type OperationType = "creating" | "updating" | "deleting" | "reading";

/** A resource in a checkpoint (`apitype.ResourceV3`; JSON field names). */
export interface ResourceState {
  urn: string;
  custom: boolean;
  delete?: boolean;
  id?: string;
  type: string;
  inputs?: { [key: string]: JsonValue };
  outputs?: { [key: string]: JsonValue };
  parent?: string;
  protect?: boolean;
  taint?: boolean;
  external?: boolean;
  dependencies?: string[];
  initErrors?: string[];
  provider?: string;
  propertyDependencies?: { [key: string]: string[] };
  pendingReplacement?: boolean;
  additionalSecretOutputs?: string[];
  aliases?: string[];
  customTimeouts?: { create?: number; update?: number; delete?: number };
  importID?: string;
  retainOnDelete?: boolean;
  deletedWith?: string;
  replaceWith?: string[];
  /** RFC 3339 time the resource was created. */
  created?: string;
  /** RFC 3339 time the resource was last modified. */
  modified?: string;
  sourcePosition?: string;
  ignoreChanges?: string[];
  hideDiff?: string[];
  replaceOnChanges?: string[];
  refreshBeforeUpdate?: boolean;
  viewOf?: string;
}

/** A pending operation (`apitype.OperationV2`). */
export interface PendingOperation {
  resource: ResourceState;
  type: OperationType;
}

/** `apitype.ManifestV1`. */
export interface Manifest {
  /** RFC 3339 time. */
  time: string;
  /** sha256 hex of `version` (`pkg/resource/deploy/manifest.go`, `NewMagic`). */
  magic: string;
  version: string;
  plugins?: { name: string; path: string; type: string; version: string }[];
}

/** `apitype.DeploymentV3`. */
export interface Deployment {
  manifest: Manifest;
  secrets_providers?: SecretsProviders;
  resources?: ResourceState[];
  pending_operations?: PendingOperation[];
  metadata?: { integrity_error?: unknown };
}

/** `apitype.CheckpointV3`. */
export interface Checkpoint {
  stack: string;
  config?: Record<string, RawConfigValue>;
  latest?: Deployment;
}

/** `backend.UpdateInfo` as the DIY backend stores it in `*.history.json` (`pkg/backend/updates.go`). */
export interface UpdateInfo {
  kind: string;
  /** Unix seconds. */
  startTime: number;
  message: string;
  environment: Record<string, string>;
  config: Record<string, RawConfigValue>;
  version: number;
  result: "in-progress" | "succeeded" | "failed";
  /** Unix seconds. */
  endTime: number;
  resourceChanges?: Record<string, number>;
}

/** The root stack resource type (`tokens.RootStackType`). */
export const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

const RESOURCE_FIELDS: (keyof ResourceState)[] = [
  "urn", "custom", "delete", "id", "type", "inputs", "outputs", "parent", "protect", "taint", "external",
  "dependencies", "initErrors", "provider", "propertyDependencies", "pendingReplacement",
  "additionalSecretOutputs", "aliases", "customTimeouts", "importID", "retainOnDelete", "deletedWith",
  "replaceWith", "created", "modified", "sourcePosition", "ignoreChanges", "hideDiff", "replaceOnChanges",
  "refreshBeforeUpdate", "viewOf",
]; // prettier-ignore

function isEmpty(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === false ||
    v === "" ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0)
  );
}

/** A resource in `apitype.ResourceV3` field order with `omitempty` applied (urn/custom/type always). */
export function normalizeResource(r: ResourceState): ResourceState {
  // The engine writes the snapshot after every step; a resource it did not touch is the same
  // object each time, so it is normalized once (a 5,000-worker update writes thousands of times).
  const cached = normalized.get(r);
  if (cached) return cached;
  const out: Record<string, unknown> = {};
  for (const f of RESOURCE_FIELDS) {
    const v = r[f];
    if (f === "urn" || f === "custom" || f === "type") out[f] = v;
    else if (!isEmpty(v)) out[f] = f === "inputs" || f === "outputs" ? sortKeys(v) : v;
  }
  normalized.set(r, out as unknown as ResourceState);
  return out as unknown as ResourceState;
}

const normalized = new WeakMap<ResourceState, ResourceState>();

/** A deployment in `apitype.DeploymentV3` field order (Go always writes `metadata`, a struct). */
export function normalizeDeployment(d: Deployment): Deployment {
  const out: Deployment = { manifest: d.manifest };
  if (d.secrets_providers) out.secrets_providers = d.secrets_providers;
  if (d.resources && d.resources.length > 0) out.resources = d.resources.map(normalizeResource);
  if (d.pending_operations && d.pending_operations.length > 0) {
    out.pending_operations = d.pending_operations.map((op) => ({
      resource: normalizeResource(op.resource),
      type: op.type,
    }));
  }
  out.metadata = d.metadata ?? {};
  return out;
}

/**
 * The checkpoint file's text: exactly `JSON.stringify({ version: 3, checkpoint: { stack, latest:
 * normalizeDeployment(d) } })`, but built from each resource's text, kept per resource object. The
 * engine writes the whole snapshot after every step; resources it did not touch are the same
 * objects each time, so a 5,000-resource stack is not re-serialized thousands of times.
 */
export function checkpointJSON(stack: string, d: Deployment): string {
  const latest = normalizeDeployment({ ...d, resources: [], pending_operations: [] });
  const parts: string[] = [`"manifest":${JSON.stringify(latest.manifest)}`];
  if (latest.secrets_providers)
    parts.push(`"secrets_providers":${JSON.stringify(latest.secrets_providers)}`);
  if (d.resources?.length) parts.push(`"resources":[${d.resources.map(resourceJSON).join(",")}]`);
  if (d.pending_operations?.length) {
    const ops = d.pending_operations.map(
      (op) => `{"resource":${resourceJSON(op.resource)},"type":${JSON.stringify(op.type)}}`,
    );
    parts.push(`"pending_operations":[${ops.join(",")}]`);
  }
  parts.push(`"metadata":${JSON.stringify(latest.metadata)}`);
  return `{"version":3,"checkpoint":{"stack":${JSON.stringify(stack)},"latest":{${parts.join(",")}}}}`;
}

const resourceTexts = new WeakMap<ResourceState, string>();
function resourceJSON(r: ResourceState): string {
  let text = resourceTexts.get(r);
  if (text === undefined) {
    text = JSON.stringify(normalizeResource(r));
    resourceTexts.set(r, text);
  }
  return text;
}

/** A new manifest for `version` (`deploy.Manifest`, `NewMagic`). */
export function newManifest(version: string): Manifest {
  return {
    time: new Date().toISOString(),
    magic: crypto.createHash("sha256").update(version).digest("hex"),
    version,
  };
}

/** `tokens.ParseStackName`, with its error texts. */
export function validateStackName(s: string): void {
  if (s === "") throw new CliError("a stack name may not be empty");
  if (s.length > 100) throw new CliError("a stack name cannot exceed 100 characters");
  const m = /^[A-Za-z0-9_.-]*/.exec(s);
  const matched = m ? m[0].length : 0;
  if (matched !== s.length) {
    throw new CliError(
      "a stack name may only contain alphanumeric, hyphens, underscores, or periods: " +
        `invalid character '${s[matched]}' at position ${matched}`,
    );
  }
}

/** A parsed stack reference (`store.go`, `projectReferenceStore.ParseReference`). */
export interface StackRef {
  project: string;
  name: string;
}

/**
 * Parses `stack`, `organization/stack` or `organization/project/stack`; the organization must
 * be `organization` and the project defaults to the current one.
 */
export function parseStackRef(ref: string, currentProject: string | undefined): StackRef {
  if (ref === "") throw new CliError("stack name must not be empty");
  const split = ref.split("/");
  let org = "";
  let project = "";
  let name = "";
  if (split.length === 1) name = split[0];
  else if (split.length === 2) [org, name] = split;
  else if (split.length === 3) [org, project, name] = split;
  if (org === "") org = "organization";
  if (org !== "organization") throw new CliError("organization name must be 'organization'");
  if (project === "") {
    if (!currentProject) {
      throw new CliError(
        "no Pulumi.yaml project file found; either run this command from a directory containing a Pulumi " +
          "project, or pass the fully qualified stack name (organization/project/stack)",
      );
    }
    project = currentProject;
  }
  validateStackName(name);
  return { project, name };
}

/** `diyBackendReference.FullyQualifiedName`. */
export function fullyQualified(project: string, stack: string): string {
  return `organization/${project}/${stack}`;
}

interface LockContent {
  pid: number;
  username: string;
  hostname: string;
  timestamp: string;
}

let nanoCounter = 0n;
/** `time.Now().UnixNano()`, strictly increasing within the process. */
function unixNano(): string {
  let n = BigInt(Date.now()) * 1_000_000n;
  if (n <= nanoCounter) n = nanoCounter + 1n;
  nanoCounter = n;
  return n.toString();
}

/** Go `time.Format(time.RFC3339)` of a JSON timestamp (seconds, `Z` for UTC). */
function rfc3339(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace(/\.\d+Z$/, "Z");
}

/** The DIY backend over a local directory. */
export class FileBackend {
  /** The directory holding `.pulumi/`. */
  readonly root: string;
  /** Per-instance lock id (`backend.go`: `uuid.NewV4()`). */
  readonly lockID = crypto.randomUUID();
  /** The URL canonicalised the way `massageBlobPath` does (used in lock error messages). */
  readonly canonicalURL: string;

  /**
   * Opens the backend at `url` (`file://<dir>`, `file://~/<dir>`, relative paths resolved from
   * `cwd`), creating `.pulumi/meta.yaml` as `ensurePulumiMeta` does.
   */
  constructor(
    /** The URL as given (what `whoami` and the workspace file use: `diyBackend.URL()`). */
    readonly url: string,
    cwd: string,
  ) {
    if (!url.startsWith("file://")) {
      throw new CliError(
        `the pulumi double supports only file:// backends (a DIY backend on local disk); got '${url}'. ` +
          "Set PULUMI_BACKEND_URL=file://<dir> or run `pulumi login file://<dir>`",
      );
    }
    // backend.go, massageBlobPath
    let p = url.slice("file://".length).split("?")[0];
    if (p === "~") p = os.homedir();
    else if (p.startsWith("~/")) p = path.join(os.homedir(), p.slice(2));
    this.root = path.resolve(cwd, p);
    const query = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
    if (query.get("no_tmp_dir") === null || query.get("no_tmp_dir") === "")
      query.set("no_tmp_dir", "true");
    else if (query.get("no_tmp_dir") === "false") query.delete("no_tmp_dir");
    const qs =
      [...query.keys()].length > 0
        ? `?${[...query.entries()]
            .sort()
            .map(([k, v]) => `${k}=${v}`)
            .join("&")}`
        : "";
    this.canonicalURL = `file://${this.root}${qs}`;
    this.ensureMeta();
  }

  /**
   * The backend the CLI would use: `PULUMI_BACKEND_URL`, else `current` in the credentials file
   * written by `pulumi login` (`pkg/cmd/pulumi/backend`, `CurrentBackend`). With neither, the
   * real CLI would log in to Pulumi Cloud; the double fails with a CliError that says what to set.
   */
  static fromEnv(env: NodeJS.ProcessEnv, cwd: string): FileBackend {
    const url = FileBackend.urlFromEnv(env, cwd);
    if (!url) {
      throw new CliError(
        "no backend: the pulumi double does not log in to Pulumi Cloud; set PULUMI_BACKEND_URL=file://<dir> " +
          "or run `pulumi login file://<dir>` (or `pulumi login --local`)",
      );
    }
    return new FileBackend(url, cwd);
  }

  /**
   * The backend URL as `pkg/workspace` `GetCurrentCloudURL` picks it: `PULUMI_BACKEND_URL`, else
   * the project's `backend.url` (when `cwd` is in a project), else the logged-in URL.
   */
  static urlFromEnv(env: NodeJS.ProcessEnv, cwd?: string): string | undefined {
    if (env.PULUMI_BACKEND_URL) return env.PULUMI_BACKEND_URL;
    if (cwd !== undefined && findProjectFile(cwd)) {
      const fromProject = loadProject(cwd).backendURL;
      if (fromProject) return fromProject;
    }
    return readCredentials(env).current || undefined;
  }

  private get bookkeeping(): string {
    return path.join(this.root, ".pulumi");
  }

  /** `meta.go`, `ensurePulumiMeta`: read/validate, or write `version: 1` for a new store. */
  private ensureMeta(): void {
    const meta = path.join(this.bookkeeping, "meta.yaml");
    if (fs.existsSync(meta)) {
      let doc: unknown;
      try {
        doc = yaml.load(fs.readFileSync(meta, "utf8"));
      } catch (e) {
        throw new CliError(`corrupt store: unmarshal ".pulumi/meta.yaml": ${(e as Error).message}`);
      }
      const version = (doc as { version?: unknown } | null)?.version;
      if (typeof version !== "number")
        throw new CliError(`corrupt store: missing version in ".pulumi/meta.yaml"`);
      if (version !== 1) {
        throw new CliError(
          `the pulumi double supports only the project-scoped state layout (meta.yaml version 1), not ${version}`,
        );
      }
      return;
    }
    const stacks = path.join(this.bookkeeping, "stacks");
    if (
      fs.existsSync(stacks) &&
      fs.readdirSync(stacks).some((f) => /\.json(\.gz|\.zst)?$/.test(f))
    ) {
      throw new CliError(
        "the pulumi double does not support the legacy (non project-scoped) state layout",
      );
    }
    fs.mkdirSync(this.bookkeeping, { recursive: true });
    fs.writeFileSync(meta, "version: 1\n");
  }

  /** `<root>/.pulumi/stacks/<project>/<stack>.json`. */
  stackPath(project: string, stack: string): string {
    return path.join(this.bookkeeping, "stacks", project, `${stack}.json`);
  }

  /** `<root>/.pulumi/history/<project>/<stack>`. */
  historyDir(project: string, stack: string): string {
    return path.join(this.bookkeeping, "history", project, stack);
  }

  /** `<root>/.pulumi/backups/<project>/<stack>`. */
  backupDir(project: string, stack: string): string {
    return path.join(this.bookkeeping, "backups", project, stack);
  }

  /** `<root>/.pulumi/locks/organization/<project>/<stack>`. */
  lockDir(project: string, stack: string): string {
    return path.join(this.bookkeeping, "locks", "organization", project, stack);
  }

  private checkCompression(project: string, stack: string): void {
    const p = this.stackPath(project, stack);
    if (fs.existsSync(`${p}.gz`) || fs.existsSync(`${p}.zst`)) {
      throw new CliError(`the pulumi double does not read compressed checkpoints (${p}.gz/.zst)`);
    }
  }

  /** Whether the stack's checkpoint file exists (`state.go`, `stackExists`). */
  stackExists(project: string, stack: string): boolean {
    this.checkCompression(project, stack);
    return fs.existsSync(this.stackPath(project, stack));
  }

  /**
   * `backend.go`, `CreateStack`: locks, refuses an existing stack ("stack
   * 'organization/p/s' already exists"), writes the empty checkpoint
   * `{"version":0,"checkpoint":{"stack":"organization/p/s"}}` that `saveStack` writes for an
   * empty `TypedDeployment`, then, when given, the initial deployment over it (so the empty
   * one is left in `.bak`, as `saveCheckpoint` leaves it).
   */
  async createStack(project: string, stack: string, initial?: Deployment): Promise<void> {
    validateStackName(stack);
    const unlock = await this.lock(project, stack);
    try {
      if (this.stackExists(project, stack)) {
        throw new CliError(`stack '${fullyQualified(project, stack)}' already exists`);
      }
      this.saveCheckpointBytes(
        project,
        stack,
        JSON.stringify({ version: 0, checkpoint: { stack: fullyQualified(project, stack) } }),
      );
      // CreateStack then saves the initial state (manifest + secrets_providers) over it.
      if (initial) this.writeDeployment(project, stack, initial);
    } finally {
      await unlock();
    }
  }

  /**
   * `backend.go`, `RemoveStack` + `state.go` `removeStack`: refuses a stack that has resources
   * other than the root stack unless `force` ("refusing to remove stack because it still
   * contains resources"; the `stack rm` command rewords it). Moves the checkpoint to `.bak`
   * (or deletes it and the backups with `removeBackups`), deletes the history. Refusal throws
   * {@link StackHasResourcesError}.
   */
  async removeStack(
    project: string,
    stack: string,
    force: boolean,
    removeBackups = false,
  ): Promise<void> {
    const unlock = await this.lock(project, stack);
    try {
      const chk = this.readCheckpoint(project, stack);
      if (!chk) throw new CliError(`no stack named '${fullyQualified(project, stack)}' found`);
      const res = chk.latest?.resources ?? [];
      if (!force && res.length > 0 && (res.length > 1 || res[0].type !== ROOT_STACK_TYPE)) {
        throw new StackHasResourcesError();
      }
      const file = this.stackPath(project, stack);
      if (removeBackups) {
        fs.rmSync(file, { force: true });
        fs.rmSync(`${file}.bak`, { force: true });
        fs.rmSync(this.backupDir(project, stack), { recursive: true, force: true });
      } else {
        fs.copyFileSync(file, `${file}.bak`);
        fs.rmSync(file, { force: true });
      }
      fs.rmSync(this.historyDir(project, stack), { recursive: true, force: true });
    } finally {
      await unlock();
    }
  }

  /** Stack names of `project` (`store.go`, `ListReferences`), sorted. */
  listStacks(project: string): string[] {
    const dir = path.join(this.bookkeeping, "stacks", project);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -".json".length))
      .sort();
  }

  /** The checkpoint, migrated to V3 shape (`stack.UnmarshalVersionedCheckpointToLatestCheckpoint`). */
  readCheckpoint(project: string, stack: string): Checkpoint | undefined {
    if (!this.stackExists(project, stack)) return undefined;
    const file = this.stackPath(project, stack);
    let doc: { version?: number; checkpoint?: Checkpoint };
    try {
      doc = JSON.parse(fs.readFileSync(file, "utf8")) as typeof doc;
    } catch (e) {
      throw new CliError(`failed to load checkpoint: ${(e as Error).message}`);
    }
    const version = doc.version ?? 0;
    if (version === 0) {
      // Version 0 unmarshals the whole file as a CheckpointV1; a fresh stack has no `latest`.
      return { stack: fullyQualified(project, stack) };
    }
    if (version > 3) {
      throw new CliError(
        `failed to load checkpoint: the stack '${fullyQualified(project, stack)}' is newer than what this version of the Pulumi CLI understands. Please update your version of the Pulumi CLI`,
      );
    }
    if (version !== 3) {
      throw new CliError(
        `the pulumi double reads only version 3 checkpoints, not version ${version}`,
      );
    }
    if (!doc.checkpoint) throw new CliError("failed to load checkpoint: missing checkpoint");
    return doc.checkpoint;
  }

  /** The latest deployment, or undefined for a stack that was never updated (or does not exist). */
  readDeployment(project: string, stack: string): Deployment | undefined {
    return this.readCheckpoint(project, stack)?.latest;
  }

  /**
   * Saves a deployment as `saveStack`/`saveCheckpoint` do: the current file is first copied
   * to `<stack>.json.bak`, then `{"version":3,"checkpoint":{"stack":…,"latest":…}}` is
   * written compact (atomically, via a temp file and rename).
   */
  writeDeployment(project: string, stack: string, deployment: Deployment): void {
    this.saveCheckpointBytes(
      project,
      stack,
      checkpointJSON(fullyQualified(project, stack), deployment),
    );
  }

  private saveCheckpointBytes(project: string, stack: string, text: string): void {
    const file = this.stackPath(project, stack);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file)) fs.copyFileSync(file, `${file}.bak`); // state.go, backupTarget
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }

  /**
   * Takes the stack lock (`lock.go`, `Lock`): fails if any other lock file exists for the
   * stack, writes `<uuid>.json` with `{pid, username, hostname, timestamp}`, checks again.
   * Resolves with the function that releases it. The error text is the CLI's, so the
   * Automation API's "the stack is currently locked by" test classifies it.
   */
  async lock(project: string, stack: string): Promise<() => Promise<void>> {
    this.checkForLock(project, stack);
    const dir = this.lockDir(project, stack);
    fs.mkdirSync(dir, { recursive: true });
    const mine = path.join(dir, `${this.lockID}.json`);
    const content: LockContent = {
      pid: process.pid,
      username: os.userInfo().username,
      hostname: os.hostname(),
      timestamp: new Date().toISOString(),
    };
    fs.writeFileSync(mine, JSON.stringify(content));
    try {
      this.checkForLock(project, stack);
    } catch (e) {
      fs.rmSync(mine, { force: true });
      throw e;
    }
    let released = false;
    return () => {
      if (!released) {
        released = true;
        fs.rmSync(mine, { force: true });
      }
      return Promise.resolve();
    };
  }

  /** `lock.go`, `checkForLock`, with its message and one line per foreign lock. */
  private checkForLock(project: string, stack: string): void {
    const dir = this.lockDir(project, stack);
    if (!fs.existsSync(dir)) return;
    const others = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name !== `${this.lockID}.json`)
      .map((e) => e.name)
      .sort();
    if (others.length === 0) return;
    let msg =
      `the stack is currently locked by ${others.length} lock(s). Either wait for the other ` +
      "process(es) to end or delete the lock file with `pulumi cancel`.";
    for (const name of others) {
      const rel = path.posix.join(".pulumi", "locks", "organization", project, stack, name);
      let l: LockContent;
      try {
        l = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as LockContent;
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      msg += `\n  ${this.lockURLForError(rel)}: created by ${l.username}@${l.hostname} (pid ${l.pid}) at ${rfc3339(l.timestamp)}`;
    }
    throw new CliError(msg);
  }

  /** `lock.go`, `lockURLForError`: the canonical URL with the lock path joined to its path. */
  private lockURLForError(rel: string): string {
    const [base, query] = this.canonicalURL.split("?");
    return `${base}/${rel}${query ? `?${query}` : ""}`;
  }

  /** Deletes every lock file of the stack (`backend.go`, `CancelCurrentUpdate`: what `pulumi cancel` does on DIY). */
  unlockAll(project: string, stack: string): void {
    const dir = this.lockDir(project, stack);
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isFile()) fs.rmSync(path.join(dir, e.name), { force: true });
    }
  }

  /**
   * Records a finished update as `apply` does for non-dry runs (`state.go`): `addToHistory`
   * writes `<stack>-<nanos>.history.json` and copies the checkpoint to
   * `<stack>-<nanos>.checkpoint.json`; `backupStack` copies it to `backups/…/<stack>.<nanos>.json`.
   */
  addHistory(project: string, stack: string, entry: UpdateInfo): void {
    const dir = this.historyDir(project, stack);
    fs.mkdirSync(dir, { recursive: true });
    const prefix = path.join(dir, `${stack}-${unixNano()}`);
    const ordered = {
      kind: entry.kind,
      startTime: entry.startTime,
      message: entry.message,
      environment: entry.environment,
      config: entry.config,
      version: entry.version,
      result: entry.result,
      endTime: entry.endTime,
      ...(entry.resourceChanges && Object.keys(entry.resourceChanges).length > 0
        ? { resourceChanges: sortKeys(entry.resourceChanges) }
        : {}),
    };
    fs.writeFileSync(`${prefix}.history.json`, JSON.stringify(ordered));
    const file = this.stackPath(project, stack);
    fs.copyFileSync(file, `${prefix}.checkpoint.json`);
    const bdir = this.backupDir(project, stack);
    fs.mkdirSync(bdir, { recursive: true });
    fs.copyFileSync(file, path.join(bdir, `${stack}.${unixNano()}.json`));
  }

  /**
   * Update history, most recent first (`state.go`, `getHistory`); `pageSize` > 0 pages it
   * (pages start at 1).
   */
  history(project: string, stack: string, pageSize = 0, page = 1): UpdateInfo[] {
    const dir = this.historyDir(project, stack);
    if (!fs.existsSync(dir)) return [];
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".history.json"))
      .sort()
      .reverse();
    let start = 0;
    let end = files.length - 1;
    if (pageSize > 0) {
      if (page < 1) page = 1;
      start = (page - 1) * pageSize;
      end = Math.min(start + pageSize - 1, files.length - 1);
    }
    const out: UpdateInfo[] = [];
    for (let i = start; i <= end; i++) {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, files[i]), "utf8")) as UpdateInfo);
    }
    return out;
  }
}

/** `RemoveStack` refused: the stack still has resources (`backend.go`). */
export class StackHasResourcesError extends CliError {
  constructor() {
    super("refusing to remove stack because it still contains resources");
    this.name = "StackHasResourcesError";
  }
}
