/**
 * The `pulumi` double's command line. Commands register themselves on one commander program;
 * unknown commands and flags fail loudly (exit 255), as cobra does in the real CLI.
 *
 * Root persistent flags follow `pkg/cmd/pulumi/pulumi.go` (`--cwd/-C`, `--color`,
 * `--non-interactive`, `--logflow`, `--logtostderr`, `-v/--verbose`, `--emoji`, `--tracing`, …).
 */
import * as path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { CliError, type CliContext } from "./context";
import { stateGroups } from "./groups";

/** A group of commands that adds itself to the program. */
export type Register = (program: Command, ctx: () => CliContext) => void;

/** Every command group of the double. */
const GROUPS: Register[] = [];

/** Adds command groups (each module exports one `register`). */
export function addGroups(...groups: Register[]): void {
  GROUPS.push(...groups);
}
addGroups(...stateGroups);

/** The version the double reports: the pinned SDK's, as `pulumi version` prints it. */
export function doubleVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("@pulumi/pulumi/package.json") as { version: string }).version;
}

export function buildProgram(ctx: () => CliContext): Command {
  loadGroups();
  const program = new Command("pulumi")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx().out(s),
      writeErr: (s) => ctx().err(s),
      outputError: (s, write) => write(s.replace(/^error: /, "error: ")),
    })
    .option("-C, --cwd <dir>", "run pulumi as if it had been started in another directory")
    .addOption(
      new Option("--color <mode>", "colorize output").choices(["always", "never", "raw", "auto"]),
    )
    .option("--non-interactive", "disable interactive mode")
    .option("--logflow", "flow log settings to child processes")
    .option("--logtostderr", "log to stderr instead of to files")
    .option("-v, --verbose <level>", "enable verbose logging")
    .option("-e, --emoji", "enable emojis in the output")
    .option("-Q, --fully-qualify-stack-names", "show fully-qualified stack names")
    .option("--disable-integrity-checking", "disable integrity checking of checkpoint files")
    .option("--tracing <url>", "emit tracing to the specified endpoint")
    .option("--profiling <prefix>", "emit CPU and memory profiles")
    .option("--memprofilerate <n>", "memory profile rate")
    .option("--otel-traces <url>", "OpenTelemetry traces endpoint")
    // Hidden in the real CLI, but the Automation API may pass it (`pulumi.go`: tracing-header).
    .addOption(new Option("--tracing-header <header>", "tracing header").hideHelp());
  program
    .command("version")
    .description("print Pulumi's version number")
    .action(() => ctx().out(`v${doubleVersion()}\n`));
  for (const group of GROUPS) group(program, ctx);
  return program;
}

/** Runs the double with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let cwd = process.cwd();
  const ctx = (): CliContext => ({
    env: process.env,
    cwd,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
  const program = buildProgram(ctx);
  program.hook("preAction", (_this, action) => {
    const dir = action.optsWithGlobals<{ cwd?: string }>().cwd;
    if (dir) cwd = path.resolve(dir);
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      return 255; // commander already printed the error
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: ${message}\n`);
    return e instanceof CliError ? e.exitCode : 255;
  }
}

let loaded = false;
/** The command groups, loaded on first use (each module adds itself with `addGroups`). */
function loadGroups(): void {
  if (loaded) return;
  loaded = true;
  /* eslint-disable @typescript-eslint/no-require-imports */
  addGroups((require("./update") as typeof import("./update")).register);
  addGroups((require("./plugin") as typeof import("./plugin")).register);
  /* eslint-enable @typescript-eslint/no-require-imports */
}
