/**
 * What the CLI keeps under `PULUMI_HOME` (default `~/.pulumi`): the credentials file written by
 * `pulumi login` and the per-project workspace file that remembers the selected stack.
 *
 * - `credentials.json` (`sdk/go/common/workspace/creds.go`): `{current, accessTokens, accounts}`,
 *   4-space indented; `PULUMI_CREDENTIALS_PATH` overrides its folder. The double writes the
 *   plaintext form only (no `PULUMI_CREDENTIAL_STORE` encryption).
 * - `workspaces/<project>-<sha1(abs path of Pulumi.yaml)>-workspace.json`
 *   (`pkg/workspace/workspace.go` `settingsPath`, `pkg/workspace/settings.go`):
 *   `{"stacks": {"<backend URL>": "organization/<project>/<stack>"}}`, 4-space indented; the
 *   file is removed when nothing is selected.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** `PULUMI_HOME` or `~/.pulumi` (`sdk/go/common/workspace/paths.go`, `GetPulumiHomeDir`). */
export function pulumiHome(env: NodeJS.ProcessEnv): string {
  return env.PULUMI_HOME && env.PULUMI_HOME !== ""
    ? env.PULUMI_HOME
    : path.join(os.homedir(), ".pulumi");
}

/** One account in the credentials file (`creds.go`, `Account`). */
export interface Account {
  accessToken?: string;
  username?: string;
  organizations?: string[];
  lastValidatedAt?: string;
  insecure?: boolean;
}

/** The credentials file (`creds.go`, `Credentials`). */
export interface Credentials {
  current?: string;
  accessTokens?: Record<string, string>;
  accounts?: Record<string, Account>;
}

/** Path of `credentials.json` (`creds.go`, `getCredsFilePath`). */
export function credentialsPath(env: NodeJS.ProcessEnv): string {
  const dir =
    env.PULUMI_CREDENTIALS_PATH && env.PULUMI_CREDENTIALS_PATH !== ""
      ? env.PULUMI_CREDENTIALS_PATH
      : pulumiHome(env);
  return path.join(dir, "credentials.json");
}

/** Reads the credentials file; an absent file is empty credentials. */
export function readCredentials(env: NodeJS.ProcessEnv): Credentials {
  const p = credentialsPath(env);
  if (!fs.existsSync(p)) return {};
  return JSON.parse(fs.readFileSync(p, "utf8")) as Credentials;
}

/** Writes the credentials file; with no access tokens left the file is removed (`writeCredentialsFile`). */
export function writeCredentials(env: NodeJS.ProcessEnv, creds: Credentials): void {
  const p = credentialsPath(env);
  if (!creds.accessTokens || Object.keys(creds.accessTokens).length === 0) {
    fs.rmSync(p, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
  fs.writeFileSync(p, JSON.stringify(creds, null, 4), { mode: 0o600 });
}

/**
 * Records a login (`creds.go`, `StoreAccount`; the DIY backend stores an empty account, whose
 * zero `lastValidatedAt` Go still marshals).
 */
export function storeAccount(env: NodeJS.ProcessEnv, url: string, current: boolean): void {
  const creds = readCredentials(env);
  creds.accessTokens ??= {};
  creds.accounts ??= {};
  creds.accessTokens[url] = "";
  creds.accounts[url] = { lastValidatedAt: "0001-01-01T00:00:00Z" };
  if (current) creds.current = url;
  writeCredentials(env, creds);
}

/** Removes a login (`creds.go`, `DeleteAccount`): `current` is cleared when it was that URL. */
export function deleteAccount(env: NodeJS.ProcessEnv, url: string): void {
  const creds = readCredentials(env);
  delete creds.accessTokens?.[url];
  delete creds.accounts?.[url];
  if (creds.current === url) delete creds.current;
  writeCredentials(env, creds);
}

/** Path of the project's workspace settings file (`pkg/workspace/workspace.go`, `settingsPath`). */
export function workspaceSettingsPath(
  env: NodeJS.ProcessEnv,
  projectName: string,
  projectFile: string,
): string {
  const sha1 = crypto.createHash("sha1").update(projectFile).digest("hex");
  return path.join(pulumiHome(env), "workspaces", `${projectName}-${sha1}-workspace.json`);
}

interface Settings {
  stack?: string;
  stacks?: Record<string, string>;
}

/** The stack selected for `backendURL` (`settings.go`, `StackForBackend`, legacy `stack` fallback). */
export function currentStack(
  env: NodeJS.ProcessEnv,
  projectName: string,
  projectFile: string,
  backendURL: string,
): string | undefined {
  const p = workspaceSettingsPath(env, projectName, projectFile);
  if (!fs.existsSync(p)) return undefined;
  const s = JSON.parse(fs.readFileSync(p, "utf8")) as Settings;
  const name = s.stacks?.[backendURL] ?? s.stack;
  return name === "" ? undefined : name;
}

/** Selects (or with `undefined` clears) the stack for `backendURL` (`settings.go`, `SetStackForBackend`). */
export function setCurrentStack(
  env: NodeJS.ProcessEnv,
  projectName: string,
  projectFile: string,
  backendURL: string,
  stack: string | undefined,
): void {
  const p = workspaceSettingsPath(env, projectName, projectFile);
  const s: Settings = fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, "utf8")) as Settings) : {};
  if (stack === undefined || stack === "") {
    if (s.stacks) {
      delete s.stacks[backendURL];
      if (Object.keys(s.stacks).length === 0) delete s.stacks;
    }
    delete s.stack;
  } else {
    s.stacks ??= {};
    s.stacks[backendURL] = stack;
  }
  if (!s.stack && !s.stacks) {
    fs.rmSync(p, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const tmp = `${p}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 4));
  fs.renameSync(tmp, p);
}
