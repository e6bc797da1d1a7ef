/**
 * `Pulumi.yaml` and `Pulumi.<stack>.yaml` as the Pulumi CLI reads, validates and writes them.
 *
 * Sources: `sdk/go/common/workspace/project.go` (project schema rules, shorthand config,
 * `ValidateConfigValue`, `ProjectStack`), `pkg/workspace/config.go` (`mergeConfig`,
 * `validateStackConfigValues`), `sdk/go/common/resource/config/{key,value,map}.go`
 * (config keys, secure/object values).
 *
 * Stack config values are kept as the YAML holds them ({@link RawConfigValue}): a scalar, a
 * `{secure: "v1:…"}` leaf, or a map/list (an "object" value) whose leaves may be secure.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CliError } from "./cli/context";
import { goJsonMarshal, type Crypter } from "./secrets";

/** `items` of an array config type (`project.go`, `ProjectConfigItemsType`). */
export interface ProjectConfigItemsType {
  type: string;
  items?: ProjectConfigItemsType;
}

/** One `config:` declaration in Pulumi.yaml (`project.go`, `ProjectConfigType`). */
export interface ProjectConfigType {
  type?: string;
  description?: string;
  items?: ProjectConfigItemsType;
  default?: unknown;
  value?: unknown;
  secret?: boolean;
}

/** A loaded `Pulumi.yaml`. */
export interface Project {
  /** `name:`. */
  name: string;
  /** Runtime name (`runtime: nodejs` or `runtime: {name: nodejs, options}`). */
  runtime: string;
  /** `runtime.options`, if any. */
  runtimeOptions?: Record<string, unknown>;
  /** `main:`, if any. */
  main?: string;
  description?: string;
  /** `stackConfigDir:`, if any. */
  stackConfigDir?: string;
  /** `backend.url:`, if any (the project's own state backend). */
  backendURL?: string;
  /** `config:` after the shorthand rewrite (`RewriteShorthandConfigValues`). */
  config: Record<string, ProjectConfigType>;
  /** Absolute path of the project file. */
  file: string;
  /** Directory of the project file. */
  dir: string;
}

/** A config value as written in `Pulumi.<stack>.yaml`. */
export type RawConfigValue =
  | string
  | number
  | boolean
  | null
  | { secure: string }
  | RawConfigValue[]
  | { [key: string]: RawConfigValue };

/** A loaded `Pulumi.<stack>.yaml` (`project.go`, `ProjectStack`). */
export interface StackSettings {
  secretsprovider?: string;
  encryptedkey?: string;
  encryptionsalt?: string;
  /** `"<namespace>:<name>"` → value. */
  config: Record<string, RawConfigValue>;
  environment?: unknown;
}

/** A config value as the language host receives it. */
export interface ResolvedConfigValue {
  /** Scalars as text; objects and arrays as JSON. */
  value: string;
  secret: boolean;
}

const PROJECT_FILES = ["Pulumi.yaml", "Pulumi.yml", "Pulumi.json"];
const KNOWN_TYPES = ["string", "integer", "boolean", "array", "object"];

/** Finds the project file in `dir` or above (`workspace.DetectProjectPathFrom`). */
export function findProjectFile(dir: string): string | undefined {
  let d = path.resolve(dir);
  for (;;) {
    for (const f of PROJECT_FILES) {
      const p = path.join(d, f);
      if (fs.existsSync(p)) return p;
    }
    const up = path.dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/**
 * Loads and validates the project in `dir` (or the nearest directory above with a project file).
 * Throws CliError with the CLI's messages (`pkg/workspace/workspace.go`, `project.go` `Validate`).
 */
export function loadProject(dir: string): Project {
  const file = findProjectFile(dir);
  if (!file) {
    // pkg/workspace/workspace.go, NewFrom
    throw new CliError(
      `no Pulumi.yaml project file found (searching upwards from ${path.resolve(dir)}). If you have not ` +
        "created a project yet, use `pulumi new` to do so",
    );
  }
  const text = fs.readFileSync(file, "utf8");
  let doc: unknown;
  try {
    doc = file.endsWith(".json") ? JSON.parse(text) : yaml.load(text);
  } catch (e) {
    throw new CliError(`could not unmarshal '${file}': ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    // project.go: "expected project to be an object, was '%T'"
    throw new CliError(`expected project to be an object, was '${typeof doc}'`);
  }
  const raw = doc as Record<string, unknown>;
  if (raw.name === undefined || raw.name === null)
    throw new CliError("project is missing a 'name' attribute");
  if (typeof raw.name !== "string" || raw.name === "") {
    throw new CliError("project is missing a non-empty string 'name' attribute");
  }
  const name = raw.name;
  let runtime: string;
  let runtimeOptions: Record<string, unknown> | undefined;
  if (typeof raw.runtime === "string" && raw.runtime !== "") runtime = raw.runtime;
  else if (typeof raw.runtime === "object" && raw.runtime !== null && !Array.isArray(raw.runtime)) {
    const r = raw.runtime as Record<string, unknown>;
    if (typeof r.name !== "string" || r.name === "") {
      throw new CliError(
        "runtime section must be a string or an object with name and options attributes",
      );
    }
    runtime = r.name;
    if (r.options !== undefined) runtimeOptions = r.options as Record<string, unknown>;
  } else if (raw.runtime === undefined) {
    throw new CliError("project is missing a 'runtime' attribute");
  } else {
    throw new CliError(
      "runtime section must be a string or an object with name and options attributes",
    );
  }
  const config = rewriteShorthandConfig(name, raw.config);
  const project: Project = {
    name,
    runtime,
    runtimeOptions,
    main: typeof raw.main === "string" ? raw.main : undefined,
    description: typeof raw.description === "string" ? raw.description : undefined,
    stackConfigDir: typeof raw.stackConfigDir === "string" ? raw.stackConfigDir : undefined,
    backendURL:
      typeof raw.backend === "object" &&
      raw.backend !== null &&
      typeof (raw.backend as { url?: unknown }).url === "string"
        ? (raw.backend as { url: string }).url
        : undefined,
    config,
    file,
    dir: path.dirname(file),
  };
  validateProject(project);
  return project;
}

/** `project.go`, `RewriteShorthandConfigValues`: scalars and lists become `default`/`value`. */
function rewriteShorthandConfig(
  projectName: string,
  cfg: unknown,
): Record<string, ProjectConfigType> {
  const out: Record<string, ProjectConfigType> = {};
  if (cfg === undefined || cfg === null) return out;
  if (typeof cfg !== "object" || Array.isArray(cfg)) {
    throw new CliError("project config must be an object");
  }
  for (const [k, v] of Object.entries(cfg as Record<string, unknown>)) {
    const primitive = typeof v === "string" || typeof v === "boolean" || Number.isInteger(v);
    if (primitive || Array.isArray(v)) {
      out[k] = isNamespacedByProject(projectName, k) ? { default: v } : { value: v };
    } else if (typeof v === "object" && v !== null) {
      out[k] = v as ProjectConfigType;
    } else {
      out[k] = { default: v };
    }
  }
  return out;
}

function isNamespacedByProject(projectName: string, key: string): boolean {
  // project.go, configKeyIsNamespacedByProject
  return !key.includes(":") || key.startsWith(projectName + ":");
}

/** `project.go`, `(*Project).Validate`, config part. */
function validateProject(p: Project): void {
  for (const key of Object.keys(p.config)) {
    const t = p.config[key];
    if (t.default !== undefined && t.value !== undefined) {
      throw new CliError(
        `project config '${key}' cannot have both a 'default' and 'value' attribute`,
      );
    }
    if (isNamespacedByProject(p.name, key)) {
      if (t.type !== undefined && !KNOWN_TYPES.includes(t.type)) {
        // The CLI rejects this through the project JSON schema (`project.json`, config type enum).
        throw new CliError(
          `${p.file}: config.${key}.type: value must be one of ${KNOWN_TYPES.map((x) => `"${x}"`).join(", ")}`,
        );
      }
      if (t.type === "array" && t.items === undefined) {
        throw new CliError(
          `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`,
        );
      }
      if (t.type !== undefined && t.default !== undefined) {
        if (!validateConfigValue(t.type, t.items, t.default)) {
          throw new CliError(
            `The default value specified for configuration key '${key}' is not of the expected type '${fullTypeName(t.type, t.items)}'`,
          );
        }
      }
    } else {
      if (t.type !== undefined) {
        throw new CliError(
          `Configuration key '${key}' is not namespaced by the project and should not define a type`,
        );
      }
      if (t.default !== undefined) {
        throw new CliError(
          `Configuration key '${key}' is not namespaced by the project and should not define a default value. ` +
            "Did you mean to use the 'value' attribute instead of 'default'?",
        );
      }
      if (t.value === undefined) {
        throw new CliError(
          `Configuration key '${key}' is namespaced and must provide an attribute 'value'`,
        );
      }
    }
  }
}

/** `project.go`, `InferFullTypeName`. */
export function fullTypeName(type: string, items?: ProjectConfigItemsType): string {
  return items ? `array<${fullTypeName(items.type, items.items)}>` : type;
}

/**
 * `project.go`, `ValidateConfigValue`: strings must be strings; integers may be whole numbers
 * or strings that parse as integers; booleans may be booleans or "true"/"false"; objects must
 * be maps; anything else must be an array whose items validate against `items`.
 */
export function validateConfigValue(
  type: string,
  items: ProjectConfigItemsType | undefined,
  v: unknown,
): boolean {
  if (type === "string") return typeof v === "string";
  if (type === "integer") {
    if (typeof v === "number") return Number.isInteger(v);
    // strconv.Atoi: optional sign, decimal digits, fits in int64.
    if (typeof v === "string") return /^[+-]?\d+$/.test(v) && isInt64(v);
    return false;
  }
  if (type === "boolean") return v === "true" || v === "false" || typeof v === "boolean";
  if (type === "object") return typeof v === "object" && v !== null && !Array.isArray(v);
  if (!Array.isArray(v) || items === undefined) return false;
  return v.every((e) => validateConfigValue(items.type, items.items, e));
}

function isInt64(s: string): boolean {
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

/** Parses a config key (`config/key.go`, `ParseKey`). */
export function parseKey(s: string): { namespace: string; name: string } {
  const colons = s.split(":").length - 1;
  if (colons === 1) {
    const i = s.indexOf(":");
    return { namespace: s.slice(0, i), name: s.slice(i + 1) };
  }
  if (colons === 2) {
    const [ns, mod, name] = s.split(":");
    if (mod === "config" && ns !== "" && name !== "") return { namespace: ns, name };
  }
  throw new CliError(
    `could not parse ${s} as a configuration key (configuration keys should be of the form \`<namespace>:<name>\`)`,
  );
}

/** A key as the user typed it → `ns:name` (`pkg/cmd/pulumi/config/io.go`, `parseConfigKey`). */
export function normalizeKey(projectName: string, key: string, isPath = false): string {
  if (isPath) {
    const i = key.search(/[[.]/);
    if (i > 0) {
      const top = normalizeKey(projectName, key.slice(0, i));
      return top + key.slice(i);
    }
  }
  const k = key.includes(":") ? key : `${projectName}:${key}`;
  const p = parseKey(k);
  return `${p.namespace}:${p.name}`;
}

/** `config/io.go`, `PrettyKeyForProject`: the project's own keys without their namespace. */
export function prettyKey(projectName: string, key: string): string {
  const p = parseKey(key);
  return p.namespace === projectName ? p.name : `${p.namespace}:${p.name}`;
}

/** Path of `Pulumi.<stack>.yaml` (`workspace.DetectProjectStackPath`; `stackConfigDir` honoured). */
export function stackSettingsPath(project: Project, stack: string): string {
  const name = stack.split("/").pop() ?? stack;
  const dir = project.stackConfigDir
    ? path.resolve(project.dir, project.stackConfigDir)
    : project.dir;
  for (const ext of [".yaml", ".yml", ".json"]) {
    const p = path.join(dir, `Pulumi.${name}${ext}`);
    if (fs.existsSync(p)) return p;
  }
  return path.join(dir, `Pulumi.${name}.yaml`);
}

/** Loads `Pulumi.<stack>.yaml` from the project in `dir`; an absent file is empty settings. */
export function loadStackSettings(dir: string, stack: string): StackSettings {
  const file = stackSettingsPath(loadProject(dir), stack);
  if (!fs.existsSync(file)) return { config: {} };
  const text = fs.readFileSync(file, "utf8");
  let doc: unknown;
  try {
    doc = file.endsWith(".json") ? JSON.parse(text) : yaml.load(text);
  } catch (e) {
    throw new CliError(`could not unmarshal '${file}': ${(e as Error).message}`);
  }
  if (doc === undefined || doc === null) return { config: {} };
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new CliError(`could not unmarshal '${file}': expected an object`);
  }
  const raw = doc as Record<string, unknown>;
  const settings: StackSettings = { config: {} };
  for (const k of ["secretsprovider", "encryptedkey", "encryptionsalt"] as const) {
    if (typeof raw[k] === "string" && raw[k] !== "") settings[k] = raw[k] as string;
  }
  if (raw.environment !== undefined) settings.environment = raw.environment;
  const cfg = raw.config;
  if (cfg !== undefined && cfg !== null) {
    if (typeof cfg !== "object" || Array.isArray(cfg)) {
      throw new CliError(`could not unmarshal '${file}': could not unmarshal map`);
    }
    for (const [k, v] of Object.entries(cfg as Record<string, unknown>)) {
      let key: { namespace: string; name: string };
      try {
        key = parseKey(k);
      } catch (e) {
        // config/map.go, UnmarshalYAML: "could not unmarshal map: %w"
        throw new CliError(`could not unmarshal map: ${(e as Error).message}`);
      }
      settings.config[`${key.namespace}:${key.name}`] = v as RawConfigValue;
    }
  }
  return settings;
}

/**
 * Writes `Pulumi.<stack>.yaml` as `ProjectStack` marshals: `secretsprovider`, `encryptedkey`,
 * `encryptionsalt`, `config` (keys sorted), `environment`; empty fields are omitted. Unlike the
 * CLI, comments in an existing file are not preserved.
 */
export function saveStackSettings(dir: string, stack: string, settings: StackSettings): string {
  const file = stackSettingsPath(loadProject(dir), stack);
  const out: Record<string, unknown> = {};
  if (settings.secretsprovider) out.secretsprovider = settings.secretsprovider;
  if (settings.encryptedkey) out.encryptedkey = settings.encryptedkey;
  if (settings.encryptionsalt) out.encryptionsalt = settings.encryptionsalt;
  const keys = Object.keys(settings.config).sort();
  if (keys.length > 0) {
    const cfg: Record<string, RawConfigValue> = {};
    for (const k of keys) cfg[k] = settings.config[k];
    out.config = cfg;
  }
  if (settings.environment !== undefined) out.environment = settings.environment;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = file.endsWith(".json")
    ? JSON.stringify(out, null, 4) + "\n"
    : Object.keys(out).length === 0
      ? "{}\n"
      : yaml.dump(out, { lineWidth: -1, noRefs: true, quotingType: '"' }); // yaml.v3 quotes with "
  fs.writeFileSync(file, text);
  return file;
}

/** True for a `{secure: "…"}` leaf. */
export function isSecureLeaf(v: unknown): v is { secure: string } {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as Record<string, unknown>).secure === "string"
  );
}

/** True when the value is or contains a secure leaf (`config.Value.Secure`). */
export function isSecureValue(v: RawConfigValue): boolean {
  if (isSecureLeaf(v)) return true;
  if (Array.isArray(v)) return v.some(isSecureValue);
  if (typeof v === "object" && v !== null) return Object.values(v).some(isSecureValue);
  return false;
}

/** True for a map or list that is not a secure leaf (`config.Value.Object`). */
export function isObjectValue(v: RawConfigValue): boolean {
  return typeof v === "object" && v !== null && !isSecureLeaf(v);
}

/** Replaces secure leaves by their decrypted text (or by what `crypter` returns). */
export function decryptObject(v: RawConfigValue, crypter: Crypter | undefined): unknown {
  if (isSecureLeaf(v)) {
    if (!crypter)
      throw new CliError("cannot decrypt a secure configuration value without a decrypter");
    return crypter.decryptValue(v.secure);
  }
  if (Array.isArray(v)) return v.map((e) => decryptObject(e, crypter));
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) out[k] = decryptObject(e, crypter);
    return out;
  }
  return v;
}

/**
 * The value's text as the CLI and the language host see it (`config.Value.Value`): scalars
 * formatted with `%v`, secure leaves decrypted, objects as Go-marshalled JSON.
 */
export function configValueText(v: RawConfigValue, crypter: Crypter | undefined): string {
  if (isSecureLeaf(v)) return decryptObject(v, crypter) as string;
  if (isObjectValue(v)) return goJsonMarshal(decryptObject(v, crypter));
  if (v === null) return "";
  return String(v);
}

/** `pkg/workspace/config.go`, `createConfigValue`: a project default/value as stack config. */
function projectValueAsConfig(v: unknown): RawConfigValue {
  if (typeof v === "string" || typeof v === "boolean" || Number.isInteger(v)) return String(v);
  return v as RawConfigValue;
}

/**
 * `pkg/workspace/config.go`, `mergeConfig` (without ESC environments): returns the stack config
 * with project `value`/`default`s applied for keys the stack does not set.
 */
export function applyProjectConfig(
  project: Project,
  config: Record<string, RawConfigValue>,
): Record<string, RawConfigValue> {
  const out = { ...config };
  for (const k of Object.keys(project.config).sort()) {
    const t = project.config[k];
    const key = normalizeKey(project.name, k);
    if (key in out) continue;
    if (t.value !== undefined) out[key] = projectValueAsConfig(t.value);
    else if (t.default !== undefined) out[key] = projectValueAsConfig(t.default);
  }
  return out;
}

function formatMissingKeys(keys: string[]): string {
  // config.go, formatMissingKeys
  if (keys.length === 1) return `'${keys[0]}'`;
  const sorted = [...keys].sort();
  return sorted
    .map((k, i) =>
      i === sorted.length - 1 ? `and '${k}'` : i === sorted.length - 2 ? `'${k}' ` : `'${k}', `,
    )
    .join("");
}

/**
 * Validates stack config against the project's declarations as `up`/`preview`/`destroy`/
 * `refresh` do (`pkg/workspace/config.go`, `ValidateStackConfigAndApplyProjectConfig`):
 * project-namespaced keys declared with neither `default` nor `value` must be set
 * ("Stack 'dev' is missing configuration value 'x'"); typed keys must have values of their type
 * ("Stack 'dev' with configuration key 'x' must be of type 'integer'"); `secret: true` keys must
 * be encrypted. Without a crypter the value checks are skipped, as the CLI does for a nil
 * decrypter. Throws CliError.
 */
export function validateStackConfig(
  project: Project,
  stackName: string,
  config: Record<string, RawConfigValue>,
  crypter?: Crypter,
): void {
  const merged = applyProjectConfig(project, config);
  const keys = Object.keys(project.config).sort();
  const missing: string[] = [];
  for (const k of keys) {
    const t = project.config[k];
    const key = normalizeKey(project.name, k);
    if (
      !(key in merged) &&
      t.value === undefined &&
      t.default === undefined &&
      parseKey(key).namespace === project.name
    ) {
      missing.push(k);
    }
  }
  if (missing.length > 0) {
    throw new CliError(
      `Stack '${stackName}' is missing configuration ${missing.length > 1 ? "values" : "value"} ${formatMissingKeys(missing)}`,
    );
  }
  if (!crypter) return;
  // validateStackConfigValues first decrypts the whole map (stackConfig.Decrypt).
  for (const v of Object.values(merged)) configValueText(v, crypter);
  for (const k of keys) {
    const t = project.config[k];
    if (t.type === undefined) continue;
    const key = normalizeKey(project.name, k);
    const raw: RawConfigValue = key in merged ? merged[key] : "";
    if (t.secret && !isSecureValue(raw)) {
      throw new CliError(
        `Stack '${stackName}' with configuration key '${k}' must be encrypted as it's secret`,
      );
    }
    const text = configValueText(raw, crypter);
    const content: unknown = isObjectValue(raw) ? JSON.parse(text) : text;
    if (!validateConfigValue(t.type, t.items, content)) {
      throw new CliError(
        `Stack '${stackName}' with configuration key '${k}' must be of type '${fullTypeName(t.type, t.items)}'`,
      );
    }
  }
}

/**
 * The config the engine passes to the program: project defaults applied, validated (see
 * {@link validateStackConfig}), every value decrypted to text — objects/arrays as JSON, exactly
 * the strings the language host receives — with whether it was secret.
 */
export function resolvedConfig(
  project: Project,
  stackName: string,
  settings: StackSettings,
  crypter: Crypter | undefined,
): Record<string, ResolvedConfigValue> {
  validateStackConfig(project, stackName, settings.config, crypter);
  const merged = applyProjectConfig(project, settings.config);
  const out: Record<string, ResolvedConfigValue> = {};
  for (const k of Object.keys(merged).sort()) {
    out[k] = { value: configValueText(merged[k], crypter), secret: isSecureValue(merged[k]) };
  }
  return out;
}

/** A parsed property path segment (`resource.ParsePropertyPath`). */
export type PathSegment = string | number;

/** Parses `a.b[0]["c.d"]` into segments (`sdk/go/common/resource/properties_path.go`). */
export function parsePropertyPath(p: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  let cur = "";
  const bad = (): never => {
    throw new CliError(`invalid config key path: invalid property path '${p}'`);
  };
  while (i < p.length) {
    const c = p[i];
    if (c === ".") {
      if (cur === "" && (out.length === 0 || p[i - 1] !== "]")) bad();
      if (cur !== "") out.push(cur);
      cur = "";
      i++;
    } else if (c === "[") {
      if (cur !== "") out.push(cur);
      cur = "";
      const close = p.indexOf("]", i);
      if (close < 0) bad();
      const inner = p.slice(i + 1, close);
      if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (/^"(.*)"$/.test(inner)) out.push(inner.slice(1, -1));
      else bad();
      i = close + 1;
    } else {
      cur += c;
      i++;
    }
  }
  if (cur !== "") out.push(cur);
  if (out.length === 0) throw new CliError("invalid config key path: empty config key path");
  return out;
}

/** Splits a `ns:path` key into the top-level config key and the remaining path segments. */
export function splitPathKey(key: string): { top: string; rest: PathSegment[] } {
  const i = key.indexOf(":");
  const ns = key.slice(0, i);
  const segs = parsePropertyPath(key.slice(i + 1));
  if (typeof segs[0] !== "string") {
    throw new CliError("first path segement of config key must be a string");
  }
  return { top: `${ns}:${segs[0]}`, rest: segs.slice(1) };
}

/** Reads `key` (a `ns:name` key, or a path with `isPath`) from stack config. */
export function getConfigPath(
  config: Record<string, RawConfigValue>,
  key: string,
  isPath: boolean,
): RawConfigValue | undefined {
  if (!isPath) return config[key];
  const { top, rest } = splitPathKey(key);
  let v: RawConfigValue | undefined = config[top];
  for (const s of rest) {
    if (v === undefined || v === null || typeof v !== "object" || isSecureLeaf(v)) return undefined;
    v = Array.isArray(v)
      ? typeof s === "number"
        ? v[s]
        : undefined
      : (v as Record<string, RawConfigValue>)[String(s)];
  }
  return v;
}

/** `resource.PropertyPath.String` (simple form: `a.b[0]`, quoted keys as `["a.b"]`). */
function formatPath(p: PathSegment[]): string {
  return p
    .map((k, i) =>
      typeof k === "number"
        ? `[${k}]`
        : /[.[\]"]/.test(k)
          ? `["${k.replace(/"/g, '\\"')}"]`
          : i === 0
            ? k
            : `.${k}`,
    )
    .join("");
}

/**
 * Sets `key` in stack config (`config/map.go` `Map.Set`, `config/object.go` `object.Set`). With
 * `isPath`, missing maps/lists are created (a numeric segment makes a list), an index may append
 * at the end of a list, a scalar at the top is replaced, and a scalar deeper down is an error
 * ("could not set config: a.b: expected a map").
 */
export function setConfigPath(
  config: Record<string, RawConfigValue>,
  key: string,
  value: RawConfigValue,
  isPath: boolean,
): void {
  if (!isPath) {
    config[key] = value;
    return;
  }
  const { top, rest } = splitPathKey(key);
  if (rest.length === 0) {
    config[top] = value;
    return;
  }
  const fail = (prefix: PathSegment[], msg: string): never => {
    throw new CliError(`could not set config: ${formatPath(prefix)}: ${msg}`);
  };
  const isContainer = (v: RawConfigValue | undefined): boolean =>
    typeof v === "object" && v !== null && !isSecureLeaf(v);
  const container = (seg: PathSegment): RawConfigValue => (typeof seg === "number" ? [] : {});
  if (!isContainer(config[top])) config[top] = container(rest[0]);
  const prefix: PathSegment[] = [top.slice(top.indexOf(":") + 1)];
  let parent = config[top] as RawConfigValue[] | Record<string, RawConfigValue>;
  for (let i = 0; i < rest.length; i++) {
    const seg = rest[i];
    prefix.push(seg);
    const last = i === rest.length - 1;
    let next: RawConfigValue | undefined;
    if (Array.isArray(parent)) {
      if (typeof seg !== "number") fail(prefix, "key for an array must be an int");
      const idx = seg as number;
      if (idx < 0 || idx > parent.length) fail(prefix, "array index out of range");
      if (last) {
        parent[idx] = value;
        return;
      }
      next = parent[idx];
      if (next === undefined || next === null) parent[idx] = next = container(rest[i + 1]);
    } else {
      if (typeof seg !== "string") fail(prefix, "key for a map must be a string");
      const k = seg as string;
      if (last) {
        if (k === "secure" && Object.keys(parent).length === 0 && typeof value === "string") {
          // object.go, errSecureReprReserved
          throw new CliError(
            `could not set config: maps with the single key "secure" are reserved`,
          );
        }
        parent[k] = value;
        return;
      }
      next = parent[k];
      if (next === undefined || next === null) parent[k] = next = container(rest[i + 1]);
    }
    if (!isContainer(next))
      fail(prefix, typeof rest[i + 1] === "number" ? "expected an array" : "expected a map");
    parent = next as RawConfigValue[] | Record<string, RawConfigValue>;
  }
}

/** Removes `key` (`config.Map.Remove`); a missing key is not an error, as in the CLI. */
export function removeConfigPath(
  config: Record<string, RawConfigValue>,
  key: string,
  isPath: boolean,
): void {
  if (!isPath) {
    delete config[key];
    return;
  }
  const { top, rest } = splitPathKey(key);
  if (rest.length === 0) {
    delete config[top];
    return;
  }
  let parent: RawConfigValue | undefined = config[top];
  for (let i = 0; i < rest.length - 1; i++) {
    if (parent === undefined || parent === null || typeof parent !== "object") return;
    parent = Array.isArray(parent)
      ? parent[rest[i] as number]
      : (parent as Record<string, RawConfigValue>)[String(rest[i])];
  }
  const lastSeg = rest[rest.length - 1];
  if (Array.isArray(parent) && typeof lastSeg === "number") parent.splice(lastSeg, 1);
  else if (parent && typeof parent === "object")
    delete (parent as Record<string, RawConfigValue>)[String(lastSeg)];
}

/**
 * A leaf value for `config set --path`: "true"/"false" become booleans and integers numbers
 * (the `config set` help text; `config.Value` with `TypeUnknown`), everything else a string.
 */
export function pathLeafValue(text: string): RawConfigValue {
  if (text === "true") return true;
  if (text === "false") return false;
  if (/^-?(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  return text;
}
