/**
 * What every command of the `pulumi` double gets: the environment, the directory it runs in
 * (after `--cwd`) and its two output streams. Commands throw `CliError` to fail; `main` prints
 * it the way the real CLI does (`error: <message>` on stderr) and exits with its code.
 */
export interface CliContext {
  /** The environment the double was started with (PULUMI_BACKEND_URL, passphrase, …). */
  readonly env: NodeJS.ProcessEnv;
  /** The directory the command runs in: `--cwd`/`-C` when given, else the process's. */
  readonly cwd: string;
  /** Writes to stdout (no newline added). */
  out(text: string): void;
  /** Writes to stderr (no newline added). */
  err(text: string): void;
}

/**
 * A command failed. The real CLI prints `error: <message>` and exits with 255
 * (`sdk/go/common/util/cmdutil/exit.go`: `os.Exit(-1)` / `ExitCodeError`).
 */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly exitCode = 255,
  ) {
    super(message);
    this.name = "CliError";
  }
}
