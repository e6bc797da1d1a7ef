/**
 * `pulumi config` and its `get`, `set`, `set-all`, `rm`, `rm-all` subcommands, with the flags and
 * output of `pkg/cmd/pulumi/config/config.go` (listConfig, getConfig, configSetCmd.Run,
 * newConfigSetAllCmd, newConfigRemoveCmd, newConfigRemoveAllCmd) and `config/io.go`.
 * ESC environments (`--open`, `config env`) are accepted where the CLI has the flag but do nothing:
 * the double has no environments.
 */
import * as fs from "node:fs";
import { Command, Option } from "commander";
import type { Register } from "./main";
import { CliError, type CliContext } from "./context";
import {
  applyProjectConfig,
  configValueText,
  getConfigPath,
  isObjectValue,
  isSecureValue,
  loadStackSettings,
  normalizeKey,
  parseKey,
  pathLeafValue,
  prettyKey,
  removeConfigPath,
  saveStackSettings,
  setConfigPath,
  type Project,
  type RawConfigValue,
  type StackSettings,
} from "../project";
import { BLINDING_CRYPTER, type Crypter } from "../secrets";
import {
  goIndentJson,
  jsonText,
  lazyCrypter,
  refString,
  requireStack,
  stackCrypter,
  stackOption,
  tableText,
  type StackTarget,
} from "./common";

interface ConfigTarget extends StackTarget {
  settings: StackSettings;
  file?: string;
  crypter: Crypter;
}

/** Resolves the stack and its settings (`--config-file` replaces `Pulumi.<stack>.yaml`). */
function openConfig(ctx: CliContext, opts: { stack?: string; configFile?: string }): ConfigTarget {
  const target = requireStack(ctx, opts.stack, true);
  const file = opts.configFile;
  const settings = file
    ? loadSettingsFile(file)
    : loadStackSettings(target.project.dir, target.ref.name);
  const t: ConfigTarget = { ...target, settings, file, crypter: BLINDING_CRYPTER };
  t.crypter = lazyCrypter(() => stackCrypter(ctx, t, t.settings, () => save(t)));
  return t;
}

function loadSettingsFile(file: string): StackSettings {
  // The double reuses the stack-file reader through a temporary project-less path.
  if (!fs.existsSync(file)) return { config: {} };
  const yaml = require("js-yaml") as typeof import("js-yaml"); // eslint-disable-line @typescript-eslint/no-require-imports
  const doc = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
  const settings: StackSettings = { config: {} };
  if (typeof doc.encryptionsalt === "string") settings.encryptionsalt = doc.encryptionsalt;
  if (typeof doc.secretsprovider === "string") settings.secretsprovider = doc.secretsprovider;
  for (const [k, v] of Object.entries((doc.config ?? {}) as Record<string, RawConfigValue>)) {
    const p = parseKey(k);
    settings.config[`${p.namespace}:${p.name}`] = v;
  }
  return settings;
}

function save(t: ConfigTarget): void {
  if (t.file) {
    const yaml = require("js-yaml") as typeof import("js-yaml"); // eslint-disable-line @typescript-eslint/no-require-imports
    const out: Record<string, unknown> = {};
    if (t.settings.secretsprovider) out.secretsprovider = t.settings.secretsprovider;
    if (t.settings.encryptionsalt) out.encryptionsalt = t.settings.encryptionsalt;
    const cfg: Record<string, RawConfigValue> = {};
    for (const k of Object.keys(t.settings.config).sort()) cfg[k] = t.settings.config[k];
    if (Object.keys(cfg).length > 0) out.config = cfg;
    fs.writeFileSync(t.file, yaml.dump(out, { lineWidth: -1 }));
    return;
  }
  saveStackSettings(t.project.dir, t.ref.name, t.settings);
}

/** `config.KeyArray` order: by namespace, then name. */
function sortKeys(keys: string[]): string[] {
  return [...keys].sort((a, b) => {
    const ka = parseKey(a);
    const kb = parseKey(b);
    if (ka.namespace !== kb.namespace) return ka.namespace < kb.namespace ? -1 : 1;
    return ka.name < kb.name ? -1 : ka.name > kb.name ? 1 : 0;
  });
}

/** The `configValueJSON` shape (`config.go`): `{value?, objectValue?, secret}`. */
interface ConfigValueJSON {
  value?: string;
  objectValue?: unknown;
  secret: boolean;
}

/**
 * `config.go`, `looksLikeSecret`: the key matches passwd|pass|password|pwd|secret|token and the
 * value (first 16 characters) has high entropy. The CLI measures entropy with zxcvbn; the
 * double estimates it as length × log2(alphabet size), which never rates a value lower than
 * zxcvbn's dictionary-aware score does, so the double refuses at least what the CLI refuses.
 */
export function looksLikeSecret(key: string, value: string): boolean {
  if (!/passwd|pass|password|pwd|secret|token/i.test(parseKey(key).name)) return false;
  const v = value.length > 16 ? value.slice(0, 16) : value;
  if (v.length === 0) return false;
  let alphabet = 0;
  if (/[a-z]/.test(v)) alphabet += 26;
  if (/[A-Z]/.test(v)) alphabet += 26;
  if (/[0-9]/.test(v)) alphabet += 10;
  if (/[^a-zA-Z0-9]/.test(v)) alphabet += 33;
  const entropy = v.length * Math.log2(alphabet);
  return entropy >= 80 || (entropy >= 40 && entropy / v.length >= 3);
}

function keyFor(project: Project, key: string, isPath: boolean): string {
  try {
    return normalizeKey(project.name, key, isPath);
  } catch (e) {
    throw new CliError(`invalid configuration key: ${(e as Error).message}`);
  }
}

/** A value typed by `--type` (`config.NewTypedValue`). */
function typedValue(text: string, type: string | undefined, isPath: boolean): RawConfigValue {
  switch (type) {
    case undefined:
    case "":
      // Top-level entries are always strings; path leaves get bool/int conversion.
      return isPath ? pathLeafValue(text) : text;
    case "string":
      return text;
    case "int":
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case "bool":
      return text === "true" ? true : text === "false" ? false : text;
    case "float":
      return Number.isFinite(Number(text)) && text.trim() !== "" ? Number(text) : text;
    default:
      throw new CliError(`invalid type "${type}"; must be one of string, int, bool, or float`);
  }
}

/** `pulumi config` and subcommands. */
export const register: Register = (program, ctx) => {
  // `config` itself only dispatches: its listing is a hidden default subcommand, so that
  // options such as `--json` reach the subcommand that owns them (commander would otherwise let
  // the parent consume every option it knows, wherever it appears).
  const config = program.command("config").description("Manage configuration");
  const list = config
    .command("__list", { isDefault: true, hidden: true })
    .allowExcessArguments(true)
    // cobra: an operand that is no subcommand is `unknown command "x" for "pulumi config"`.
    .hook("preAction", (_cmd, action) => {
      if (action.args.length > 0) {
        throw new CliError(`unknown command "${action.args[0]}" for "pulumi config"`);
      }
    })
    .option(
      "--show-secrets",
      "Show secret values when listing config instead of displaying blinded values",
    )
    .option("--open", "Open and resolve any environments listed in the stack configuration")
    .option("-j, --json", "Emit output as JSON")
    .option(
      "--config-file <file>",
      "Use the configuration values in the specified file rather than detecting the file name",
    );
  stackOption(list);
  list.action(
    (opts: { showSecrets?: boolean; json?: boolean; stack?: string; configFile?: string }) => {
      const c = ctx();
      const t = openConfig(c, opts);
      // listConfig: ApplyProjectConfig (no validation), blinding unless --show-secrets.
      const cfg = applyProjectConfig(t.project, t.settings.config);
      const keys = sortKeys(Object.keys(cfg));
      const dec =
        opts.showSecrets && keys.some((k) => isSecureValue(cfg[k])) ? t.crypter : BLINDING_CRYPTER;
      const decrypted: Record<string, string> = {};
      for (const k of keys) decrypted[k] = configValueText(cfg[k], dec);
      if (opts.json) {
        const out: Record<string, ConfigValueJSON> = {};
        for (const k of [...keys].sort()) {
          const secret = isSecureValue(cfg[k]);
          const entry: ConfigValueJSON = { value: decrypted[k], secret };
          if (isObjectValue(cfg[k])) entry.objectValue = JSON.parse(decrypted[k]);
          if (secret && !opts.showSecrets) {
            delete entry.value;
            delete entry.objectValue;
          }
          out[k] = orderEntry(entry);
        }
        c.out(jsonText(out));
        return;
      }
      c.out(
        tableText(
          ["KEY", "VALUE"],
          keys.map((k) => [prettyKey(t.project.name, k), decrypted[k]]),
        ),
      );
    },
  );

  const sub = (name: string): Command => {
    const cmd = config.command(name).allowExcessArguments(false);
    stackOption(cmd);
    cmd.option(
      "--config-file <file>",
      "Use the configuration values in the specified file rather than detecting the file name",
    );
    return cmd;
  };

  sub("get")
    .description("Get a single configuration value")
    .argument("<key>")
    .option("-j, --json", "Emit output as JSON")
    .option("--open", "Open and resolve any environments listed in the stack configuration")
    .option("--path", "The key contains a path to a property in a map or list to get")
    .action(
      (
        key: string,
        opts: { json?: boolean; path?: boolean; stack?: string; configFile?: string },
      ) => {
        const c = ctx();
        const t = openConfig(c, opts);
        const k = keyFor(t.project, key, !!opts.path);
        const cfg = applyProjectConfig(t.project, t.settings.config);
        const v = getConfigPath(cfg, k, !!opts.path);
        if (v === undefined) {
          throw new CliError(
            `configuration key '${prettyKey(t.project.name, k)}' not found for stack '${refString(t.ref, t.project.name)}'`,
          );
        }
        let raw: string;
        try {
          raw = configValueText(v, t.crypter);
        } catch (e) {
          const msg = (e as Error).message;
          // config.go getConfig: errors from the secrets manager come back as they are; a bad
          // ciphertext is "could not decrypt configuration value: …".
          if (/passphrase/.test(msg)) throw e;
          throw new CliError(`could not decrypt configuration value: ${msg}`);
        }
        if (opts.json) {
          const out: ConfigValueJSON = { value: raw, secret: isSecureValue(v) };
          if (isObjectValue(v)) out.objectValue = JSON.parse(raw);
          c.out(goIndentJson(orderEntry(out)) + "\n");
        } else {
          c.out(`${raw}\n`);
        }
      },
    );

  sub("set")
    .description("Set configuration value")
    .argument("<key>")
    .argument("[value]")
    .option("--path", "The key contains a path to a property in a map or list to set")
    .option("--plaintext", "Save the value as plaintext (unencrypted)")
    .option("--secret", "Encrypt the value instead of storing it in plaintext")
    .addOption(
      new Option(
        "--type <type>",
        "Save the value as the given type.  Allowed values are string, bool, int, and float",
      ),
    )
    .option(
      "--raw",
      "When setting the value through stdin, do not trim trailing newlines from the value",
    )
    .action(
      (
        key: string,
        value: string | undefined,
        opts: {
          path?: boolean;
          plaintext?: boolean;
          secret?: boolean;
          type?: string;
          raw?: boolean;
          stack?: string;
          configFile?: string;
        },
      ) => {
        const c = ctx();
        // cobra MarkFlagsMutuallyExclusive("secret", "plaintext", "type")
        const set = (["secret", "plaintext", "type"] as const).filter((f) => opts[f] !== undefined);
        if (set.length > 1) {
          const names = [...set].sort();
          throw new CliError(
            `if any flags in the group [secret plaintext type] are set none of the others can be; [${names.join(" ")}] were all set`,
          );
        }
        const t = openConfig(c, opts);
        const k = keyFor(t.project, key, !!opts.path);
        let text: string;
        if (value !== undefined) text = value;
        else if (!process.stdin.isTTY) {
          const b = fs.readFileSync(0, "utf8");
          text = opts.raw ? b : b.replace(/\r?\n$/, "");
        } else {
          // backenderr.NonInteractiveInputRequiredError
          throw new CliError("config value must be specified in non-interactive mode");
        }
        let v: RawConfigValue;
        if (opts.secret) {
          v = { secure: t.crypter.encryptValue(text) };
        } else {
          v = typedValue(text, opts.type, !!opts.path);
          if (!opts.plaintext && looksLikeSecret(k, text)) {
            throw new CliError(
              `config value for '${k}' looks like a secret; rerun with --secret to encrypt it, or --plaintext if you meant to store in plaintext`,
            );
          }
        }
        try {
          setConfigPath(t.settings.config, k, v, !!opts.path);
        } catch (e) {
          const msg = (e as Error).message;
          throw new CliError(
            msg.startsWith("could not set config") ? msg : `could not set config: ${msg}`,
          );
        }
        save(t);
      },
    );

  sub("set-all")
    .description("Set multiple configuration values")
    .option("--path", "Parse the keys as paths in a map or list rather than raw strings")
    .option("--plaintext <key=value>", "Marks a value as plaintext (unencrypted)", collect, [])
    .option("--secret <key=value>", "Marks a value as secret to be encrypted", collect, [])
    .option(
      "--json <json>",
      "Read values from a JSON string in the format produced by 'pulumi config --json'",
    )
    .action(
      (opts: {
        path?: boolean;
        plaintext: string[];
        secret: string[];
        json?: string;
        stack?: string;
        configFile?: string;
      }) => {
        const c = ctx();
        const isPath = !!opts.path;
        if (
          opts.json !== undefined &&
          opts.json !== "" &&
          (opts.plaintext.length > 0 || opts.secret.length > 0 || isPath)
        ) {
          throw new CliError(
            "the --json option cannot be used with the --plaintext, --secret or --path options",
          );
        }
        const t = openConfig(c, opts);
        for (const pair of opts.plaintext) {
          const [k, v] = parseKeyValuePair(t.project, pair, isPath);
          setAllPath(t.settings.config, k, isPath ? pathLeafValue(v) : v, isPath);
        }
        for (const pair of opts.secret) {
          const [k, v] = parseKeyValuePair(t.project, pair, isPath);
          setAllPath(t.settings.config, k, { secure: t.crypter.encryptValue(v) }, isPath);
        }
        if (opts.json) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(opts.json);
          } catch (e) {
            throw new CliError(`could not parse --json argument: ${(e as Error).message}`);
          }
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            throw new CliError(
              "could not parse --json argument: json: cannot unmarshal into Go value of type map[string]config.configValueJSON",
            );
          }
          for (const [jsonKey, jv] of Object.entries(parsed as Record<string, ConfigValueJSON>)) {
            if (jv.value === undefined || jv.value === null) {
              throw new CliError(`value for --json object key "${jsonKey}" is nil`);
            }
            let k: string;
            try {
              k = normalizeKey(t.project.name, jsonKey);
            } catch (e) {
              throw new CliError(`invalid --json object key "${jsonKey}": ${(e as Error).message}`);
            }
            let v: RawConfigValue;
            if (jv.objectValue !== undefined && jv.objectValue !== null) {
              v = jv.secret
                ? { secure: t.crypter.encryptValue(jv.value) }
                : (JSON.parse(jv.value) as RawConfigValue);
            } else if (jv.secret) {
              v = { secure: t.crypter.encryptValue(jv.value) };
            } else {
              v = jv.value;
            }
            t.settings.config[k] = v;
          }
        }
        save(t);
      },
    );

  const rm = sub("rm")
    .alias("remove")
    .description("Remove configuration value")
    .argument("<key>")
    .option("--path", "The key contains a path to a property in a map or list to remove")
    .action((key: string, opts: { path?: boolean; stack?: string; configFile?: string }) => {
      const c = ctx();
      const t = openConfig(c, opts);
      const k = keyFor(t.project, key, !!opts.path);
      removeConfigPath(t.settings.config, k, !!opts.path);
      save(t);
    });
  void rm;

  sub("rm-all")
    .alias("remove-all")
    .description("Remove multiple configuration values")
    .argument("<key...>")
    .option("--path", "Parse the keys as paths in a map or list rather than raw strings")
    .action((keys: string[], opts: { path?: boolean; stack?: string; configFile?: string }) => {
      const c = ctx();
      const t = openConfig(c, opts);
      for (const key of keys)
        removeConfigPath(t.settings.config, keyFor(t.project, key, !!opts.path), !!opts.path);
      save(t);
    });
};

/** `set-all` returns `Map.Set`'s error as it is (no "could not set config: " prefix). */
function setAllPath(
  config: Record<string, RawConfigValue>,
  key: string,
  v: RawConfigValue,
  isPath: boolean,
): void {
  try {
    setConfigPath(config, key, v, isPath);
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^could not set config: /, ""));
  }
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Go marshals `configValueJSON` fields in declaration order: value, objectValue, secret. */
function orderEntry(e: ConfigValueJSON): ConfigValueJSON {
  const out: ConfigValueJSON = {} as ConfigValueJSON;
  if (e.value !== undefined) out.value = e.value;
  if (e.objectValue !== undefined) out.objectValue = e.objectValue;
  out.secret = e.secret;
  return out;
}

/** `config/io.go`, `parseKeyValuePair`. */
function parseKeyValuePair(project: Project, pair: string, isPath: boolean): [string, string] {
  let p = pair;
  let split: string[];
  const first = p[0];
  if (first === '"' || first === "'") {
    p = p.slice(1);
    const i = p.indexOf(`${first}=`);
    split = i < 0 ? [p] : [p.slice(0, i), p.slice(i + 2)];
  } else {
    const i = p.indexOf("=");
    split = i < 0 ? [p] : [p.slice(0, i), p.slice(i + 1)];
  }
  if (split.length < 2) throw new CliError("config value must be in the form [key]=[value]");
  return [keyFor(project, split[0], isPath), split[1]];
}
