/**
 * What the `config`, `stack` and account commands share: finding the project, the backend and
 * the stack the way `pkg/cmd/pulumi/stack/io.go` (`RequireStack`, `ChooseStack`) does, the
 * stack's secrets manager as `pkg/cmd/pulumi/stack/secrets.go` (`GetSecretsManager`) builds it,
 * and the CLI's JSON/table printing (`pkg/cmd/pulumi/ui/json.go`, `cmdutil.Table`).
 *
 * The double is never interactive (its stdin/stdout are pipes under the Automation API), so
 * every path where the CLI would prompt takes the CLI's non-interactive branch.
 */
import type { Command } from "commander";
import { FileBackend, fullyQualified, parseStackRef, type StackRef } from "../backend";
import {
  loadProject,
  loadStackSettings,
  resolvedConfig,
  saveStackSettings,
  type Project,
  type ResolvedConfigValue,
  type StackSettings,
} from "../project";
import {
  crypterFromState,
  newPassphraseState,
  passphraseFromEnv,
  passphraseSecretsProviders,
  type Crypter,
  type SecretsProviders,
} from "../secrets";
import { currentStack, setCurrentStack } from "../workspace";
import { CliError, type CliContext } from "./context";

/** Adds `-s, --stack <name>` as every stack-scoped command has it. */
export function stackOption(
  cmd: Command,
  help = "The name of the stack to operate on. Defaults to the current stack",
): Command {
  return cmd.option("-s, --stack <stack-name>", help);
}

/** The project in the working directory or above, or undefined when there is none. */
export function tryLoadProject(cwd: string): Project | undefined {
  try {
    return loadProject(cwd);
  } catch (e) {
    if (e instanceof CliError && e.message.startsWith("no Pulumi.yaml project file found"))
      return undefined;
    throw e;
  }
}

/** A resolved stack: its project, backend and reference. */
export interface StackTarget {
  project: Project;
  backend: FileBackend;
  ref: StackRef;
}

/** `diyBackendReference.String()`: the bare name inside its own project, else fully qualified. */
export function refString(ref: StackRef, currentProject: string | undefined): string {
  return ref.project === currentProject ? ref.name : fullyQualified(ref.project, ref.name);
}

/** The stack selected in the workspace for this backend, if it still exists. */
export function selectedStack(
  ctx: CliContext,
  project: Project,
  backend: FileBackend,
): StackRef | undefined {
  const sel = currentStack(ctx.env, project.name, project.file, backend.url);
  if (!sel) return undefined;
  const ref = parseStackRef(sel, project.name);
  return backend.stackExists(ref.project, ref.name) ? ref : undefined;
}

/** Records the selected stack as `state.SetCurrentStack` does (fully qualified name). */
export function selectStack(
  ctx: CliContext,
  project: Project,
  backend: FileBackend,
  ref: StackRef | undefined,
): void {
  setCurrentStack(
    ctx.env,
    project.name,
    project.file,
    backend.url,
    ref ? fullyQualified(ref.project, ref.name) : undefined,
  );
}

/**
 * `RequireStack`: the named stack (it must exist: "no stack named '<name>' found"), else the
 * selected one, else the non-interactive `ChooseStack` error. Commands here all need a project.
 */
export function requireStack(
  ctx: CliContext,
  stackName: string | undefined,
  offerNew: boolean,
): StackTarget {
  const project = loadProject(ctx.cwd);
  const backend = FileBackend.fromEnv(ctx.env, ctx.cwd);
  if (stackName) {
    const ref = parseStackRef(stackName, project.name);
    if (!backend.stackExists(ref.project, ref.name)) {
      // backenderr.StackNotFoundError{StackName: stackName}
      throw new CliError(`no stack named '${stackName}' found`);
    }
    return { project, backend, ref };
  }
  const ref = selectedStack(ctx, project, backend);
  if (ref) return { project, backend, ref };
  throw new CliError(
    offerNew
      ? "no stack selected; please use `pulumi stack select` or `pulumi stack init` to choose one"
      : "no stack selected; please use `pulumi stack select` to choose one",
  );
}

/** Refuses secrets providers the double cannot model (cloud KMS, Pulumi Cloud). */
export function checkPassphraseProvider(settings: StackSettings): void {
  const p = settings.secretsprovider;
  if (p && p !== "passphrase" && p !== "default") {
    throw new CliError(
      `the pulumi double supports only the passphrase secrets provider, not '${p}'`,
    );
  }
}

/**
 * The stack's config crypter (`secrets.go`, `GetSecretsManager`): with an `encryptionsalt`, the
 * passphrase must open it ("incorrect passphrase"); without one, a new salt is made and saved to
 * `Pulumi.<stack>.yaml` (the default DIY secrets manager is the passphrase one).
 */
export function stackCrypter(
  ctx: CliContext,
  target: StackTarget,
  settings: StackSettings,
  persist: () => void = () => saveStackSettings(target.project.dir, target.ref.name, settings),
): Crypter {
  checkPassphraseProvider(settings);
  const passphrase = passphraseFromEnv(ctx.env, ctx.cwd);
  if (settings.encryptionsalt) return crypterFromState(passphrase, settings.encryptionsalt);
  const { state, crypter } = newPassphraseState(passphrase);
  settings.encryptionsalt = state;
  persist(); // secrets.go: SecretsManagerMustSave
  return crypter;
}

/** Lazily built crypter, so commands that never touch a secret never need the passphrase. */
export function lazyCrypter(make: () => Crypter): Crypter {
  let c: Crypter | undefined;
  const get = (): Crypter => (c ??= make());
  return {
    encryptValue: (s) => get().encryptValue(s),
    decryptValue: (s) => get().decryptValue(s),
  };
}

/** Loads the stack settings of a target. */
export function targetSettings(target: StackTarget): StackSettings {
  return loadStackSettings(target.project.dir, target.ref.name);
}

/** `ui.FprintJSON`: two-space indented, no HTML escaping, trailing newline. */
export function jsonText(v: unknown): string {
  return JSON.stringify(v, null, 2) + "\n";
}

/** `json.MarshalIndent(v, "", "  ")`: like {@link jsonText} but HTML-escaped, as Go's Marshal does. */
export function goIndentJson(v: unknown): string {
  return JSON.stringify(v, null, 2)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026");
}

/** `cmdutil.Table.String`: columns padded to their widest cell, separated by two spaces. */
export function tableText(headers: string[], rows: string[][], prefix = ""): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map(
      (r) =>
        prefix +
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
          .join("  ")
          .trimEnd() +
        "\n",
    )
    .join("");
}

/** Reads an integer flag as cobra's IntVar does. */
export function intFlag(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^[+-]?\d+$/.test(v)) {
    throw new CliError(
      `invalid argument "${v}" for "--${name}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`,
    );
  }
  return Number(v);
}

/**
 * `only one of --stack or argument stack name may be specified, not both` (stack_select.go,
 * stack_remove.go, cancel.go).
 */
export function stackFromArgOrFlag(
  arg: string | undefined,
  flag: string | undefined,
): string | undefined {
  if (arg !== undefined) {
    if (flag)
      throw new CliError("only one of --stack or argument stack name may be specified, not both");
    return arg;
  }
  return flag;
}

/** Everything an update needs about its stack (see {@link openStack}). */
export interface OpenedStack extends StackTarget {
  /** `Pulumi.<stack>.yaml`. */
  settings: StackSettings;
  /** The stack's secrets manager: encrypts config and checkpoint secrets. */
  crypter: Crypter;
  /** What the checkpoint's `secrets_providers` must say for this stack. */
  secretsProviders: SecretsProviders;
  /** Validated config with project defaults, as the language host receives it. */
  config: Record<string, ResolvedConfigValue>;
}

/**
 * Opens a stack for `up`/`preview`/`refresh`/`destroy` as the CLI does before it runs the
 * engine: `RequireStack` (OfferNew), the secrets manager (built eagerly, so a passphrase stack
 * fails without `PULUMI_CONFIG_PASSPHRASE` even when it has no secrets, like the CLI), then
 * `ValidateStackConfigAndApplyProjectConfig` ("Stack 'dev' is missing configuration value …").
 */
export function openStack(ctx: CliContext, stackName: string | undefined): OpenedStack {
  const target = requireStack(ctx, stackName, true);
  const settings = targetSettings(target);
  const crypter = stackCrypter(ctx, target, settings);
  const config = resolvedConfig(target.project, target.ref.name, settings, crypter);
  return {
    ...target,
    settings,
    crypter,
    secretsProviders: passphraseSecretsProviders(settings.encryptionsalt ?? ""),
    config,
  };
}
