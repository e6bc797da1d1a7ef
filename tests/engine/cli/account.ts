/**
 * `pulumi login`, `logout`, `whoami` and `cancel` for the DIY file backend
 * (`pkg/cmd/pulumi/auth/login.go`, `auth/logout.go`, `whoami/whoami.go`, `cancel/cancel.go`,
 * `pkg/backend/diy/backend.go` `Login`/`CurrentUser`/`CancelCurrentUpdate`).
 *
 * `whoami -v`: the CLI's whoami has its own boolean `-v/--verbose` that shadows the root's
 * `-v <level>`; commander would hand `-v` to the root option, so the group rewrites a bare
 * `-v`/`--verbose` after `whoami` to the hidden `--whoami-verbose` before parsing.
 */
import * as os from "node:os";
import { Command, Option } from "commander";
import type { Register } from "./main";
import { CliError } from "./context";
import { FileBackend } from "../backend";
import { deleteAccount, readCredentials, storeAccount } from "../workspace";
import { jsonText, requireStack, stackFromArgOrFlag, stackOption } from "./common";

/** `pulumi login`, `logout`, `whoami`, `cancel`. */
export const register: Register = (program, ctx) => {
  const parseAsync = program.parseAsync.bind(program);
  program.parseAsync = (argv?: readonly string[], opts?: Parameters<Command["parseAsync"]>[1]) => {
    const args = [...(argv ?? [])];
    const i = commandIndex(args);
    if (i >= 0 && args[i] === "whoami" && opts?.from === "user") {
      for (let j = i + 1; j < args.length && args[j] !== "--"; j++) {
        if (args[j] === "-v" || args[j] === "--verbose") args[j] = "--whoami-verbose";
      }
    }
    return parseAsync(args, opts);
  };

  program
    .command("login")
    .description("Log in to the Pulumi Cloud")
    .argument("[url]")
    .allowExcessArguments(false)
    .option("-c, --cloud-url <url>", "A cloud URL to log in to")
    .option(
      "--default-org <org>",
      "A default org to associate with the login. Please note, currently, only the managed and self-hosted backends support organizations",
    )
    .option("-l, --local", "Use Pulumi in local-only mode")
    .option("--insecure", "Allow insecure server connections when using SSL")
    .option("--interactive", "Show interactive login options based on known accounts")
    .action(
      (
        arg: string | undefined,
        opts: { cloudUrl?: string; local?: boolean; defaultOrg?: string },
      ) => {
        const c = ctx();
        let url = opts.cloudUrl ?? "";
        if (arg !== undefined) {
          if (url !== "")
            throw new CliError(
              "only one of --cloud-url or argument URL may be specified, not both",
            );
          url = arg;
        }
        if (opts.local) {
          if (url !== "")
            throw new CliError("a URL may not be specified when --local mode is enabled");
          url = "file://~";
        }
        if (url === "") url = FileBackend.urlFromEnv(c.env) ?? "";
        if (url === "") {
          throw new CliError(
            "the pulumi double cannot log in to Pulumi Cloud; use `pulumi login file://<dir>` or `pulumi login --local`",
          );
        }
        const be = new FileBackend(url, c.cwd);
        if (opts.defaultOrg)
          throw new CliError("unable to set default org for this type of backend");
        storeAccount(c.env, be.url, true);
        c.out(`Logged in to ${hostName()} as ${os.userInfo().username} (${be.url})\n`);
      },
    );

  program
    .command("logout")
    .description("Log out of the Pulumi Cloud")
    .argument("[url]")
    .allowExcessArguments(false)
    .option("--all", "Logout of all backends")
    .option("-c, --cloud-url <url>", "A cloud URL to log out of (defaults to current cloud)")
    .option("-l, --local", "Log out of using local mode")
    .action(
      (arg: string | undefined, opts: { all?: boolean; cloudUrl?: string; local?: boolean }) => {
        const c = ctx();
        let url = opts.cloudUrl ?? "";
        if (arg !== undefined) {
          if (url !== "" || opts.all) {
            throw new CliError(
              "only one of --all, --cloud-url or argument URL may be specified, not both",
            );
          }
          url = arg;
        }
        if (opts.local) {
          if (url !== "")
            throw new CliError("a URL may not be specified when --local mode is enabled");
          url = "file://~";
        }
        if (opts.all) {
          const creds = readCredentials(c.env);
          for (const u of Object.keys(creds.accessTokens ?? {})) deleteAccount(c.env, u);
          c.out("Logged out of everything\n");
          return;
        }
        if (url === "") url = FileBackend.urlFromEnv(c.env) ?? "https://api.pulumi.com";
        deleteAccount(c.env, url);
        c.out(`Logged out of ${url}\n`);
      },
    );

  program
    .command("whoami")
    .description("Display the current logged-in user")
    .allowExcessArguments(false)
    .addOption(
      new Option(
        "--output <format>",
        "Output format. Supported values are: default and json",
      ).choices(["default", "json"]),
    )
    .option("-j, --json", "Emit output as JSON (alias for --output=json)")
    .addOption(new Option("--whoami-verbose", "Print detailed whoami information").hideHelp())
    .action((opts: { output?: string; json?: boolean; whoamiVerbose?: boolean }) => {
      const c = ctx();
      const be = FileBackend.fromEnv(c.env, c.cwd);
      const user = os.userInfo().username; // diy CurrentUser: user.Current().Username
      if (opts.json || opts.output === "json") {
        c.out(jsonText({ user, url: be.url }));
      } else if (opts.whoamiVerbose) {
        c.out(`User: ${user}\nOrganizations: \nBackend URL: ${be.url}\n`);
      } else {
        c.out(`${user}\n`);
      }
    });

  stackOption(
    program
      .command("cancel")
      .description("Cancel a stack's currently running update, if any")
      .argument("[stack-name]")
      .allowExcessArguments(false)
      .option("-y, --yes", "Skip confirmation prompts, and proceed with cancellation anyway"),
  ).action((arg: string | undefined, opts: { stack?: string }) => {
    const c = ctx();
    const t = requireStack(c, stackFromArgOrFlag(arg, opts.stack), false);
    // Non-interactive: no confirmation prompt (cancel.go only asks when interactive).
    t.backend.unlockAll(t.ref.project, t.ref.name);
    c.out(`The currently running update for '${t.ref.name}' has been canceled!\n`);
  });
};

/** Root options that take a value (`main.ts`), so their values are not mistaken for commands. */
const ROOT_VALUE_OPTIONS = new Set([
  "-C",
  "--cwd",
  "--color",
  "-v",
  "--verbose",
  "--tracing",
  "--profiling",
  "--memprofilerate",
  "--otel-traces",
]);

/** Index of the command name in user argv (the first operand), or -1. */
function commandIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return -1;
    if (ROOT_VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith("-")) return i;
  }
  return -1;
}

/** `diyBackend.Name()`: the host name, or "diy". */
function hostName(): string {
  return os.hostname() || "diy";
}
