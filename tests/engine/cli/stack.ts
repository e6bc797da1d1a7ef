/**
 * `pulumi stack` and its `select`, `init`, `ls`, `rm`, `output`, `export`, `import` and
 * `history` subcommands, with the flags and output of `pkg/cmd/pulumi/stack/*.go` over the DIY
 * backend (`pkg/backend/diy`).
 */
import * as fs from "node:fs";
import { Command, Option } from "commander";
import type { Register } from "./main";
import { doubleVersion } from "./main";
import { CliError, type CliContext } from "./context";
import {
  FileBackend,
  fullyQualified,
  newManifest,
  parseStackRef,
  ROOT_STACK_TYPE,
  StackHasResourcesError,
  validateStackName,
  type Deployment,
  type ResourceState,
  type UpdateInfo,
} from "../backend";
import {
  configValueText,
  isObjectValue,
  isSecureValue,
  loadStackSettings,
  saveStackSettings,
  stackSettingsPath,
  type Project,
  type RawConfigValue,
} from "../project";
import {
  BLINDING_CRYPTER,
  crypterFromState,
  LockedCrypter,
  newPassphraseState,
  passphraseFromEnv,
  passphraseSecretsProviders,
  SECRET_SIG,
  SIG_KEY,
  goJsonMarshal,
  type Crypter,
  type JsonValue,
} from "../secrets";
import {
  checkPassphraseProvider,
  intFlag,
  jsonText,
  refString,
  requireStack,
  selectedStack,
  selectStack,
  stackFromArgOrFlag,
  stackOption,
  tableText,
  tryLoadProject,
} from "./common";

const SUPPORTED_PROVIDERS = [
  "default",
  "passphrase",
  "awskms",
  "azurekeyvault",
  "gcpkms",
  "hashivault",
];

/** `secrets.go`, `ValidateSecretsProvider`, plus the double's own limit (passphrase only). */
function validateSecretsProvider(typ: string | undefined): void {
  if (typ === undefined || typ === "") return;
  const kind = typ.split(":")[0];
  if (!SUPPORTED_PROVIDERS.includes(kind)) {
    throw new CliError(
      `unknown secrets provider type '${kind}' (supported values: ${SUPPORTED_PROVIDERS.join(",")})`,
    );
  }
  if (kind !== "default" && kind !== "passphrase") {
    throw new CliError(
      `the pulumi double supports only the passphrase secrets provider, not '${typ}'`,
    );
  }
}

/**
 * `io.go`, `CreateStack`: the secrets manager first (a passphrase salt in `Pulumi.<stack>.yaml`;
 * an existing salt must open with the passphrase), then the backend stack with an initial
 * deployment holding the manifest and `secrets_providers`, then "Created stack '<name>'" and
 * the selection.
 */
async function createStack(
  ctx: CliContext,
  project: Project,
  backend: FileBackend,
  name: string,
  opts: { secretsProvider?: string; noSelect?: boolean },
): Promise<void> {
  validateSecretsProvider(opts.secretsProvider);
  const ref = parseStackRef(name, project.name);
  const settings = loadStackSettings(project.dir, ref.name);
  checkPassphraseProvider(settings);
  let state: string;
  let needsSave = false;
  try {
    const passphrase = passphraseFromEnv(ctx.env, ctx.cwd);
    if (settings.encryptionsalt) {
      crypterFromState(passphrase, settings.encryptionsalt);
      state = settings.encryptionsalt;
    } else {
      state = newPassphraseState(passphrase).state;
      settings.encryptionsalt = state;
      needsSave = true;
    }
  } catch (e) {
    throw new CliError(`could not create secrets manager for new stack: ${(e as Error).message}`);
  }
  // passphrase.NewPromptingPassphraseSecretsManager clears the other providers' fields.
  if (settings.encryptedkey || settings.secretsprovider) {
    delete settings.encryptedkey;
    delete settings.secretsprovider;
    needsSave = true;
  }
  const initial: Deployment = {
    manifest: newManifest(`v${doubleVersion()}`),
    secrets_providers: passphraseSecretsProviders(state),
  };
  await backend.createStack(ref.project, ref.name, initial);
  ctx.out(`Created stack '${refString(ref, project.name)}'\n`);
  if (needsSave) saveStackSettings(project.dir, ref.name, settings);
  if (!opts.noSelect) selectStack(ctx, project, backend, ref);
}

/** The root stack resource's outputs (`SnapshotStackOutputs`). */
function stackOutputs(d: Deployment | undefined): { [key: string]: JsonValue } {
  const root = d?.resources?.find((r: ResourceState) => r.type === ROOT_STACK_TYPE && !r.delete);
  return root?.outputs ?? {};
}

function isSecretObject(v: JsonValue): v is { [key: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && v[SIG_KEY] === SECRET_SIG;
}

/** The decrypted JSON inside a serialized secret. */
function secretPlain(v: { [key: string]: JsonValue }, dec: Crypter): JsonValue {
  if (typeof v.plaintext === "string") return JSON.parse(v.plaintext) as JsonValue;
  if (typeof v.ciphertext === "string")
    return JSON.parse(dec.decryptValue(v.ciphertext)) as JsonValue;
  throw new CliError("malformed secret value: one of `ciphertext` or `plaintext` must be supplied");
}

/** `display.MassageSecrets`: secrets become "[secret]", or their value with `showSecrets`. */
function massageSecrets(v: JsonValue, showSecrets: boolean, dec: Crypter): JsonValue {
  if (isSecretObject(v))
    return showSecrets ? massageSecrets(secretPlain(v, dec), true, dec) : "[secret]";
  if (Array.isArray(v)) return v.map((e) => massageSecrets(e, showSecrets, dec));
  if (v !== null && typeof v === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const k of Object.keys(v).sort()) out[k] = massageSecrets(v[k], showSecrets, dec);
    return out;
  }
  return v;
}

/** Re-serializes secrets for `stack export --show-secrets` (`{sig, plaintext}`). */
function revealInState(v: JsonValue, dec: Crypter): JsonValue {
  if (isSecretObject(v)) {
    const plain = revealInState(secretPlain(v, dec), dec);
    return { [SIG_KEY]: SECRET_SIG, plaintext: goJsonMarshal(plain) };
  }
  if (Array.isArray(v)) return v.map((e) => revealInState(e, dec));
  if (v !== null && typeof v === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, e] of Object.entries(v as { [key: string]: JsonValue }))
      out[k] = revealInState(e, dec);
    return out;
  }
  return v;
}

/** Encrypts `{sig, plaintext}` secrets on import (the snapshot is re-serialized with its manager). */
function encryptInState(v: JsonValue, enc: () => Crypter): JsonValue {
  if (isSecretObject(v) && typeof v.plaintext === "string" && v.ciphertext === undefined) {
    return { [SIG_KEY]: SECRET_SIG, ciphertext: enc().encryptValue(v.plaintext) };
  }
  if (Array.isArray(v)) return v.map((e) => encryptInState(e, enc));
  if (v !== null && typeof v === "object") {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, e] of Object.entries(v as { [key: string]: JsonValue }))
      out[k] = encryptInState(e, enc);
    return out;
  }
  return v;
}

/**
 * The crypter for secrets in a checkpoint (`NewPromptingPassphraseSecretsManagerFromState`):
 * a missing passphrase fails at once; a wrong one yields the "locked" manager whose decrypts fail.
 */
function stateCrypter(ctx: CliContext, d: Deployment | undefined): Crypter {
  const sp = d?.secrets_providers;
  if (!sp) return BLINDING_CRYPTER;
  if (sp.type !== "passphrase") {
    throw new CliError(
      `the pulumi double supports only the passphrase secrets provider, not '${sp.type}'`,
    );
  }
  const salt = (sp.state as { salt?: string } | undefined)?.salt ?? "";
  let passphrase: string;
  try {
    passphrase = passphraseFromEnv(ctx.env, ctx.cwd);
  } catch (e) {
    throw new CliError(`constructing secrets manager: ${(e as Error).message}`);
  }
  try {
    return crypterFromState(passphrase, salt);
  } catch (e) {
    if ((e as Error).message === "incorrect passphrase") return new LockedCrypter();
    throw e;
  }
}

/** Go `time.Format("2006-01-02T15:04:05.000Z07:00")` in UTC (`pkg/cmd/pulumi/cmd/time.go`). */
function formatTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}

/** `stack_history.go`, `buildUpdatesJSON`. */
function updatesJSON(updates: UpdateInfo[], dec: Crypter | undefined): unknown[] {
  return updates.map((u) => {
    const config: Record<string, { value?: string; objectValue?: unknown; secret: boolean }> = {};
    for (const k of Object.keys(u.config ?? {}).sort()) {
      const v: RawConfigValue = u.config[k];
      const entry: { value?: string; objectValue?: unknown; secret: boolean } = {
        secret: isSecureValue(v),
      };
      if (!entry.secret || dec) {
        try {
          const text = configValueText(v, dec);
          entry.value = text;
          if (text !== "" && isObjectValue(v)) entry.objectValue = JSON.parse(text);
        } catch {
          entry.value = "ERROR_UNABLE_TO_DECRYPT";
        }
      }
      config[k] = {
        ...(entry.value !== undefined ? { value: entry.value } : {}),
        ...(entry.objectValue !== undefined ? { objectValue: entry.objectValue } : {}),
        secret: entry.secret,
      };
    }
    const info: Record<string, unknown> = {
      version: u.version,
      kind: u.kind,
      startTime: formatTime(u.startTime),
      message: u.message,
      environment: u.environment ?? null, // a nil Go map marshals as null
      config,
    };
    if (u.result) info.result = u.result;
    if (u.result !== "in-progress") {
      info.endTime = formatTime(u.endTime);
      info.resourceChanges = u.resourceChanges ?? {};
    }
    return info;
  });
}

/** Checks an imported deployment as `SaveSnapshot` and `VerifyIntegrity` do (subset). */
function importProblems(d: Deployment, stackName: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of d.resources ?? []) {
    if (!r.urn) {
      problems.push("state file contains errors: resource missing required 'urn' field");
      continue;
    }
    const parts = r.urn.split("::");
    const stack = parts[0].startsWith("urn:pulumi:") ? parts[0].slice("urn:pulumi:".length) : "";
    if (stack !== stackName) {
      problems.push(`resource '${r.urn}' is from a different stack (${stack} != ${stackName})`);
    }
    if (!r.type)
      problems.push(
        `state file contains errors: resource '${r.urn}' missing required 'type' field`,
      );
    if (!r.custom && r.id)
      problems.push(
        `state file contains errors: resource '${r.urn}' has 'custom' false but non-empty ID`,
      );
    if (r.parent && !seen.has(r.parent)) {
      problems.push(
        `state file contains errors: resource ${r.urn}'s parent ${r.parent} comes after it`,
      );
    }
    for (const dep of r.dependencies ?? []) {
      if (!seen.has(dep))
        problems.push(
          `state file contains errors: resource ${r.urn}'s dependency ${dep} comes after it`,
        );
    }
    if (!r.delete) seen.add(r.urn);
  }
  return problems;
}

/** `pulumi stack` and subcommands. */
export const register: Register = (program, ctx) => {
  // `stack` only dispatches; `pulumi stack` alone runs the hidden default subcommand (see config.ts).
  const stack = program.command("stack").description("Manage stacks and view stack state");
  const current = stack
    .command("__current", { isDefault: true, hidden: true })
    .allowExcessArguments(true)
    // cobra: an operand that is no subcommand is `unknown command "x" for "pulumi stack"`.
    .hook("preAction", (_cmd, action) => {
      if (action.args.length > 0) {
        throw new CliError(`unknown command "${action.args[0]}" for "pulumi stack"`);
      }
    })
    .option("-i, --show-ids", "Display each resource's provider-assigned unique ID")
    .option("-u, --show-urns", "Display each resource's Pulumi-assigned globally unique URN")
    .option("--show-secrets", "Display stack outputs which are marked as secret in plaintext")
    .option("--show-name", "Display only the stack name");
  stackOption(current);
  current.action(
    (opts: {
      stack?: string;
      showName?: boolean;
      showIds?: boolean;
      showUrns?: boolean;
      showSecrets?: boolean;
    }) => {
      const c = ctx();
      const t = requireStack(c, opts.stack, true);
      const fq = program.opts<{ fullyQualifyStackNames?: boolean }>().fullyQualifyStackNames;
      if (opts.showName) {
        c.out(`${fq ? fullyQualified(t.ref.project, t.ref.name) : t.ref.name}\n`);
        return;
      }
      const d = t.backend.readDeployment(t.ref.project, t.ref.name);
      let out = `Current stack is ${refString(t.ref, t.project.name)}:\n`;
      out += "    Managed by " + require("node:os").hostname() + "\n"; // eslint-disable-line @typescript-eslint/no-require-imports
      const resources = d?.resources ?? [];
      if (d && resources.length > 0) {
        out += `    Last updated: ${d.manifest.time}\n`;
        out += `    Pulumi version used: ${d.manifest.version}\n`;
      } else {
        out += "    No updates yet; run `pulumi up`\n";
      }
      out += `Current stack resources (${resources.length}):\n`;
      if (resources.length === 0) out += "    No resources currently in this stack\n";
      else {
        const rows = resources.map((r) => {
          const row = [r.type, r.urn.split("::").pop() ?? ""];
          if (opts.showIds) row.push(r.id ?? "");
          if (opts.showUrns) row.push(r.urn);
          return row;
        });
        const headers = ["TYPE", "NAME"];
        if (opts.showIds) headers.push("ID");
        if (opts.showUrns) headers.push("URN");
        out += tableText(headers, rows, "    ");
      }
      out += "\n";
      const outputs = massageSecrets(
        stackOutputs(d),
        !!opts.showSecrets,
        stateCrypterLazy(c, d),
      ) as Record<string, JsonValue>;
      out += `Current stack outputs (${Object.keys(outputs).length}):\n`;
      if (Object.keys(outputs).length === 0)
        out += "    No output values currently in this stack\n";
      else
        out += tableText(
          ["OUTPUT", "VALUE"],
          Object.keys(outputs)
            .sort()
            .map((k) => [k, stringifyOutput(outputs[k])]),
          "    ",
        );
      out += "\nUse `pulumi stack select` to change stack; `pulumi stack ls` lists known ones\n";
      c.out(out);
    },
  );

  const sub = (name: string): Command => stack.command(name).allowExcessArguments(false);

  stackOption(
    sub("select")
      .description("Switch the current workspace to the given stack")
      .argument("[stack]")
      .option("-c, --create", "If selected stack does not exist, create it")
      .option(
        "--secrets-provider <provider>",
        "Use with --create flag, the type of the provider that should be used to encrypt and decrypt secrets",
      ),
  ).action(
    async (
      arg: string | undefined,
      opts: { stack?: string; create?: boolean; secretsProvider?: string },
    ) => {
      const c = ctx();
      const project = tryLoadProject(c.cwd);
      const backend = FileBackend.fromEnv(c.env, c.cwd);
      const name = stackFromArgOrFlag(arg, opts.stack);
      if (!name) throw new CliError("no stack selected; specify a stack name with --stack"); // backenderr.NoStackSelectedError
      const ref = parseStackRef(name, project?.name);
      if (!project) {
        throw new CliError(
          "no Pulumi.yaml project file found (searching upwards from " +
            c.cwd +
            "). If you have not created a project yet, use `pulumi new` to do so",
        );
      }
      if (backend.stackExists(ref.project, ref.name)) {
        selectStack(c, project, backend, ref);
        return;
      }
      if (opts.create) {
        await createStack(c, project, backend, name, { secretsProvider: opts.secretsProvider });
        return;
      }
      throw new CliError(`no stack named '${refString(ref, project.name)}' found`);
    },
  );

  sub("init")
    .description("Create an empty stack with the given name, ready for updates")
    .argument("[stack-name]")
    .option("-s, --stack <stack-name>", "The name of the stack to create")
    .option(
      "--secrets-provider <provider>",
      "The type of the provider that should be used to encrypt and decrypt secrets",
    )
    .option("--copy-config-from <stack>", "The name of the stack to copy existing config from")
    .option("--no-select", "Do not select the stack")
    .option(
      "--teams <team>",
      "A list of team names that should have permission to read and update this stack, once created",
      (v: string, p: string[]) => [...p, v],
      [] as string[],
    )
    .addOption(new Option("--remote-config", "Store stack configuration remotely").hideHelp())
    .option("-y, --yes", "Skip interactive prompts; fail if required information is missing")
    .action(
      async (
        arg: string | undefined,
        opts: {
          stack?: string;
          secretsProvider?: string;
          copyConfigFrom?: string;
          select: boolean;
          teams: string[];
          remoteConfig?: boolean;
        },
      ) => {
        const c = ctx();
        const project = tryLoadProject(c.cwd);
        const backend = FileBackend.fromEnv(c.env, c.cwd);
        const name = stackFromArgOrFlag(arg, opts.stack);
        validateSecretsProvider(opts.secretsProvider);
        if (!name) throw new CliError("missing stack name");
        if (opts.teams.length > 0) {
          throw new CliError(
            `stack ${name} uses the ${backend.url} backend: ${backend.url} does not support --teams`,
          );
        }
        if (opts.remoteConfig)
          throw new CliError("could not create stack: stack config not supported by diy backends");
        const last = name.split("/").pop() ?? name;
        validateStackName(last);
        if (!project) {
          throw new CliError(
            "no Pulumi.yaml project file found (searching upwards from " +
              c.cwd +
              "). If you have not created a project yet, use `pulumi new` to do so",
          );
        }
        await createStack(c, project, backend, name, {
          secretsProvider: opts.secretsProvider,
          noSelect: !opts.select,
        });
        if (opts.copyConfigFrom) {
          const from = requireStack(c, opts.copyConfigFrom, false);
          const src = loadStackSettings(project.dir, from.ref.name);
          const ref = parseStackRef(name, project.name);
          const dst = loadStackSettings(project.dir, ref.name);
          const hasSecrets = Object.values(src.config).some(isSecureValue);
          if (hasSecrets) {
            const srcC = crypterFromState(
              passphraseFromEnv(c.env, c.cwd),
              src.encryptionsalt ?? "",
            );
            const dstC = crypterFromState(
              passphraseFromEnv(c.env, c.cwd),
              dst.encryptionsalt ?? "",
            );
            for (const [k, v] of Object.entries(src.config))
              dst.config[k] = reencrypt(v, srcC, dstC);
          } else {
            Object.assign(dst.config, src.config);
          }
          saveStackSettings(project.dir, ref.name, dst);
        }
      },
    );

  sub("ls")
    .alias("list")
    .description("List stacks")
    .option("-a, --all", "List all stacks instead of just stacks for the current project")
    .option("-j, --json", "Emit output as JSON")
    .option(
      "-o, --organization <org>",
      "Filter returned stacks to those in a specific organization",
    )
    .option(
      "-p, --project <project>",
      "Filter returned stacks to those with a specific project name",
    )
    .option(
      "-t, --tag <tag>",
      "Filter returned stacks to those in a specific tag (tag-name or tag-name=tag-value)",
    )
    .action(
      (opts: {
        all?: boolean;
        json?: boolean;
        organization?: string;
        project?: string;
        tag?: string;
      }) => {
        const c = ctx();
        const project = tryLoadProject(c.cwd);
        if (!opts.all && !opts.project && !project) {
          throw new CliError(
            "no Pulumi.yaml found; please run this command in a project directory",
          );
        }
        const backend = FileBackend.fromEnv(c.env, c.cwd);
        const projects = opts.all
          ? fs.existsSync(`${backend.root}/.pulumi/stacks`)
            ? fs
                .readdirSync(`${backend.root}/.pulumi/stacks`)
                .filter((p) => fs.statSync(`${backend.root}/.pulumi/stacks/${p}`).isDirectory())
            : []
          : [opts.project ?? (project as Project).name];
        const current = project ? selectedStack(c, project, backend) : undefined;
        const currentName = current ? refString(current, project?.name) : undefined;
        const summaries = projects
          .flatMap((p) => backend.listStacks(p).map((s) => ({ project: p, name: s })))
          .map((r) => {
            const d = backend.readDeployment(r.project, r.name);
            return {
              name: refString(r, project?.name),
              lastUpdate: d && d.manifest.time ? d.manifest.time : undefined,
              resourceCount: d ? (d.resources ?? []).length : undefined,
            };
          })
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        if (opts.json) {
          c.out(
            jsonText(
              summaries.map((s) => ({
                name: s.name,
                current: s.name === currentName,
                ...(s.lastUpdate ? { lastUpdate: new Date(s.lastUpdate).toISOString() } : {}),
                ...(s.resourceCount !== undefined ? { resourceCount: s.resourceCount } : {}),
              })),
            ),
          );
          return;
        }
        c.out(
          tableText(
            ["NAME", "LAST UPDATE", "RESOURCE COUNT"],
            summaries.map((s) => [
              s.name === currentName ? `${s.name}*` : s.name,
              s.lastUpdate ? humanizeTime(new Date(s.lastUpdate)) : "n/a",
              s.resourceCount !== undefined ? String(s.resourceCount) : "n/a",
            ]),
          ),
        );
      },
    );

  stackOption(
    sub("rm")
      .alias("remove")
      .description("Remove a stack and its configuration")
      .argument("[stack-name]")
      .option(
        "-f, --force",
        "Forces deletion of the stack, leaving behind any resources managed by the stack",
      )
      .option("-y, --yes", "Skip confirmation prompts, and proceed with removal anyway")
      .option(
        "--preserve-config",
        "Do not delete the corresponding Pulumi.<stack-name>.yaml configuration file for the stack",
      )
      .option(
        "--remove-backups",
        "Additionally remove backups of the stack, if using the DIY backend",
      ),
  ).action(
    async (
      arg: string | undefined,
      opts: {
        stack?: string;
        force?: boolean;
        yes?: boolean;
        preserveConfig?: boolean;
        removeBackups?: boolean;
      },
    ) => {
      const c = ctx();
      const name = stackFromArgOrFlag(arg, opts.stack);
      const t = requireStack(c, name, false);
      const yes = !!opts.yes || isTruthy(c.env.PULUMI_SKIP_CONFIRMATIONS);
      // ui.ConfirmDeletion in a non-interactive session: backenderr.ErrNonInteractiveRequiresYes
      if (!yes) throw new CliError("non-interactive mode requires --yes flag");
      const shown = refString(t.ref, t.project.name);
      try {
        await t.backend.removeStack(t.ref.project, t.ref.name, !!opts.force, !!opts.removeBackups);
      } catch (e) {
        if (e instanceof StackHasResourcesError) {
          throw new CliError(
            `'${shown}' still has resources; removal rejected. Possible actions:\n` +
              `- Make sure that '${shown}' is the stack that you want to destroy\n` +
              "- Run `pulumi destroy` to delete the resources, then run `pulumi stack rm`\n" +
              "- Run `pulumi stack rm --force` to override this error",
          );
        }
        throw e;
      }
      if (!opts.preserveConfig && t.ref.project === t.project.name) {
        fs.rmSync(stackSettingsPath(t.project, t.ref.name), { force: true });
      }
      c.out(`Stack '${shown}' has been removed!\n`);
      // stack_remove.go: state.SetCurrentStack(ws, BackendURLKey, "") clears the selection.
      selectStack(c, t.project, t.backend, undefined);
    },
  );

  sub("unselect")
    .description("Resets stack selection from the current workspace")
    .action(() => {
      // stack_unselect.go: clears the selection for the current backend.
      const c = ctx();
      const project = tryLoadProject(c.cwd);
      if (!project) return;
      selectStack(c, project, FileBackend.fromEnv(c.env, c.cwd), undefined);
    });

  stackOption(
    sub("output")
      .description("Show a stack's output properties")
      .argument("[property-name]")
      .option("-j, --json", "Emit output as JSON")
      .option("--shell", "Emit output as a shell script")
      .option("--show-secrets", "Display outputs which are marked as secret in plaintext"),
  ).action(
    (
      name: string | undefined,
      opts: { stack?: string; json?: boolean; shell?: boolean; showSecrets?: boolean },
    ) => {
      const c = ctx();
      if (opts.json && opts.shell) throw new CliError("only one of --json and --shell may be set");
      const t = requireStack(c, opts.stack, false);
      const d = t.backend.readDeployment(t.ref.project, t.ref.name);
      const dec = opts.showSecrets ? stateCrypter(c, d) : BLINDING_CRYPTER;
      const outputs = massageSecrets(stackOutputs(d), !!opts.showSecrets, dec) as Record<
        string,
        JsonValue
      >;
      const write = (v: JsonValue): string => (opts.json ? jsonText(v) : `${stringifyOutput(v)}\n`);
      if (name !== undefined) {
        if (!(name in outputs))
          throw new CliError(`current stack does not have output property '${name}'`);
        c.out(
          opts.shell
            ? `${name}=${shellQuote(stringifyOutput(outputs[name]))}\n`
            : write(outputs[name]),
        );
        return;
      }
      if (opts.json) c.out(jsonText(outputs));
      else if (opts.shell) {
        c.out(
          Object.keys(outputs)
            .sort()
            .map((k) => `${k}=${shellQuote(stringifyOutput(outputs[k]))}\n`)
            .join(""),
        );
      } else {
        const keys = Object.keys(outputs).sort();
        let out = `Current stack outputs (${keys.length}):\n`;
        if (keys.length === 0) out += "    No output values currently in this stack\n";
        else
          out += tableText(
            ["OUTPUT", "VALUE"],
            keys.map((k) => [k, stringifyOutput(outputs[k])]),
            "    ",
          );
        c.out(out);
      }
    },
  );

  stackOption(
    sub("export")
      .description("Export a stack's deployment to standard out")
      .option("--file <file>", "A filename to write stack output to")
      .option(
        "--version <version>",
        "Previous stack version to export. (If unset, will export the latest.)",
      )
      .option("--show-secrets", "Emit secrets in plaintext in exported stack. Defaults to `false`"),
  ).action((opts: { stack?: string; file?: string; version?: string; showSecrets?: boolean }) => {
    const c = ctx();
    const t = requireStack(c, opts.stack, false);
    if (opts.version) {
      throw new CliError(
        "the current backend (diy) does not provide the ability to export previous deployments",
      );
    }
    let d: JsonValue = (t.backend.readDeployment(t.ref.project, t.ref.name) ??
      null) as unknown as JsonValue;
    if (opts.showSecrets && d !== null) {
      const dec = stateCrypter(c, d as unknown as Deployment);
      d = revealInState(d, dec);
    }
    const text = JSON.stringify({ version: 3, deployment: d }, null, 4) + "\n";
    if (opts.file) fs.writeFileSync(opts.file, text);
    else c.out(text);
  });

  stackOption(
    sub("import")
      .description("Import a deployment from standard in into an existing stack")
      .option(
        "-f, --force",
        "Force the import to occur, even if apparent errors are discovered beforehand (not recommended)",
      )
      .option("--file <file>", "A filename to read stack input from"),
  ).action(async (opts: { stack?: string; force?: boolean; file?: string }) => {
    const c = ctx();
    const t = requireStack(c, opts.stack, false);
    let text: string;
    try {
      text = opts.file ? fs.readFileSync(opts.file, "utf8") : fs.readFileSync(0, "utf8");
    } catch (e) {
      throw new CliError(`could not open file: ${(e as Error).message}`);
    }
    let u: { version?: number; deployment?: Deployment };
    try {
      u = JSON.parse(text) as typeof u;
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const version = u.version ?? 0;
    if (version > 3) {
      throw new CliError(
        `the stack '${t.ref.name}' is newer than what this version of the Pulumi CLI understands. Please update your version of the Pulumi CLI`,
      );
    }
    if (version !== 3 || !u.deployment) {
      throw new CliError(
        `the pulumi double imports only version 3 deployments (got version ${version})`,
      );
    }
    const d = u.deployment;
    const problems = importProblems(d, t.ref.name);
    if (problems.length > 0) {
      if (!opts.force) {
        const all = [
          ...problems,
          "importing this file could be dangerous; rerun with --force to proceed anyway",
        ];
        throw new CliError(
          `${all.length} errors occurred:\n${all.map((p) => `\t* ${p}`).join("\n")}\n\n`,
        );
      }
      for (const p of problems) c.err(`warning: ${p}\n`);
    }
    for (const op of d.pending_operations ?? []) {
      c.err(
        `warning: removing pending operation '${op.type}' on '${op.resource.urn}' from snapshot\n`,
      );
    }
    const enc = (): Crypter => stateCrypter(c, d);
    const resources = (d.resources ?? []).map(
      (r) => encryptInState(r as unknown as JsonValue, enc) as unknown as ResourceState,
    );
    const unlock = await t.backend.lock(t.ref.project, t.ref.name);
    try {
      t.backend.writeDeployment(t.ref.project, t.ref.name, {
        ...d,
        resources,
        pending_operations: undefined,
      });
    } finally {
      await unlock();
    }
    c.out("Import complete.\n");
  });

  stackOption(
    sub("history")
      .alias("hist")
      .description("Display history for a stack")
      .option(
        "--show-secrets",
        "Show secret values when listing config instead of displaying blinded values",
      )
      .addOption(
        new Option(
          "--output <format>",
          "Output format. Supported values are: default and json",
        ).choices(["default", "json"]),
      )
      .option("-j, --json", "Emit output as JSON (alias for --output=json)")
      .option("--full-dates", "Show full dates, instead of relative dates")
      .option("--page-size <n>", "Used with 'page' to control number of results returned")
      .option("--page <n>", "Used with 'page-size' to paginate results"),
    "Choose a stack other than the currently selected one",
  ).action(
    (opts: {
      stack?: string;
      showSecrets?: boolean;
      output?: string;
      json?: boolean;
      pageSize?: string;
      page?: string;
    }) => {
      const c = ctx();
      if (opts.output && opts.json) {
        throw new CliError(
          "if any flags in the group [output json] are set none of the others can be; [json output] were all set",
        );
      }
      const pageSize = intFlag("page-size", opts.pageSize, 10);
      const page = intFlag("page", opts.page, 1);
      const t = requireStack(c, opts.stack, false);
      const updates = t.backend.history(t.ref.project, t.ref.name, pageSize, page);
      let dec: Crypter | undefined;
      if (opts.showSecrets) {
        const settings = loadStackSettings(t.project.dir, t.ref.name);
        try {
          dec = crypterFromState(passphraseFromEnv(c.env, c.cwd), settings.encryptionsalt ?? "");
        } catch (e) {
          throw new CliError(`decrypting secrets: ${(e as Error).message}`);
        }
      }
      if (opts.json || opts.output === "json") {
        c.out(jsonText(updatesJSON(updates, dec)));
        return;
      }
      if (updates.length === 0) {
        c.out(
          page > 1
            ? `No stack updates found on page '${page}'\n`
            : "Stack has never been updated\n",
        );
        return;
      }
      for (const u of updates) {
        c.out(
          `Version: ${u.version}\nUpdateKind: ${u.kind}\nStatus: ${u.result}\nMessage: ${u.message}\n` +
            `+${u.resourceChanges?.create ?? 0}-${u.resourceChanges?.delete ?? 0}~${u.resourceChanges?.update ?? 0} ${u.resourceChanges?.same ?? 0}\n` +
            `Updated ${formatTime(u.startTime)} took ${u.endTime - u.startTime}s\n\n`,
        );
      }
    },
  );
};

function stateCrypterLazy(c: CliContext, d: Deployment | undefined): Crypter {
  let k: Crypter | undefined;
  return {
    encryptValue: (s) => (k ??= stateCrypter(c, d)).encryptValue(s),
    decryptValue: (s) => (k ??= stateCrypter(c, d)).decryptValue(s),
  };
}

function reencrypt(v: RawConfigValue, from: Crypter, to: Crypter): RawConfigValue {
  if (
    v !== null &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as { secure?: unknown }).secure === "string"
  ) {
    return { secure: to.encryptValue(from.decryptValue((v as { secure: string }).secure)) };
  }
  if (Array.isArray(v)) return v.map((e) => reencrypt(e, from, to));
  if (v !== null && typeof v === "object") {
    const out: { [key: string]: RawConfigValue } = {};
    for (const [k, e] of Object.entries(v)) out[k] = reencrypt(e, from, to);
    return out;
  }
  return v;
}

/** go-humanize `Time` (what `stack ls` shows under LAST UPDATE). */
export function humanizeTime(t: Date, now: Date = new Date()): string {
  const secs = Math.floor((now.getTime() - t.getTime()) / 1000);
  const label = secs < 0 ? "from now" : "ago";
  const d = Math.abs(secs);
  const M = 60;
  const H = 60 * M;
  const D = 24 * H;
  const W = 7 * D;
  const MO = 30 * D;
  const Y = 12 * MO;
  const steps: [number, string, number][] = [
    [1, "now", 0],
    [2, "1 second", 0],
    [M, "%d seconds", 1],
    [2 * M, "1 minute", 0],
    [H, "%d minutes", M],
    [2 * H, "1 hour", 0],
    [D, "%d hours", H],
    [2 * D, "1 day", 0],
    [W, "%d days", D],
    [2 * W, "1 week", 0],
    [MO, "%d weeks", W],
    [2 * MO, "1 month", 0],
    [Y, "%d months", MO],
    [Y + 6 * MO, "1 year", 0],
    [2 * Y, "2 years", 0],
  ];
  for (const [limit, fmt, div] of steps) {
    if (d < limit) {
      if (fmt === "now") return "now";
      return `${div ? fmt.replace("%d", String(Math.floor(d / div))) : fmt} ${label}`;
    }
  }
  return `${Math.floor(d / Y)} years ${label}`;
}

/** `stack.go`, `stringifyOutput`: strings raw, anything else single-line JSON. */
function stringifyOutput(v: JsonValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** POSIX shell quoting as `stack output --shell` does on Unix (single quotes). */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
}

function isTruthy(v: string | undefined): boolean {
  return v === "1" || v?.toLowerCase() === "true";
}
