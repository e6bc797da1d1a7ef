/**
 * The pulumi double's state commands through its real executable (`tests/engine/bin/pulumi`) and
 * through `LocalWorkspace` from `@pulumi/pulumi/automation` with the double first on PATH.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ConcurrentUpdateError,
  LocalWorkspace,
  StackAlreadyExistsError,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";
import { packageRoot } from "../../config/paths";
import { FileBackend } from "./backend";
import { openStack } from "./cli/common";

const BIN_DIR = path.join(packageRoot(), "tests", "engine", "bin");
const PULUMI = path.join(BIN_DIR, "pulumi");

interface Sandbox {
  dir: string;
  state: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

function sandbox(projectYaml = "name: fleet\nruntime: nodejs\n"): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dbl-"));
  const dir = path.join(root, "proj");
  const state = path.join(root, "state");
  const home = path.join(root, "home");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), projectYaml);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: root,
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_HOME: home,
    PULUMI_CONFIG_PASSPHRASE: "pw",
  };
  return { dir, state, home, env };
}

function run(sb: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [PULUMI, ...args], {
    cwd: sb.dir,
    env: { ...sb.env, ...env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(sb: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = run(sb, args, env);
  expect(r.stderr, `pulumi ${args.join(" ")}`).to.equal("");
  expect(r.code, `pulumi ${args.join(" ")}`).to.equal(0);
  return r.stdout;
}

describe("engine double: state commands through bin/pulumi", function () {
  this.timeout(60000);

  it("init writes the salt and the initial state, selects the stack and refuses a second init", () => {
    const sb = sandbox();
    expect(ok(sb, ["stack", "init", "dev"])).to.equal("Created stack 'dev'\n");
    expect(fs.readFileSync(path.join(sb.dir, "Pulumi.dev.yaml"), "utf8")).to.match(
      /^encryptionsalt: v1:[A-Za-z0-9+/]{11}=:v1:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/=]+\n$/,
    );
    const chk = JSON.parse(
      fs.readFileSync(path.join(sb.state, ".pulumi/stacks/fleet/dev.json"), "utf8"),
    ) as {
      version: number;
      checkpoint: { latest: { secrets_providers: { type: string; state: { salt: string } } } };
    };
    expect(chk.version).to.equal(3);
    expect(chk.checkpoint.latest.secrets_providers.type).to.equal("passphrase");
    expect(fs.readFileSync(path.join(sb.dir, "Pulumi.dev.yaml"), "utf8")).to.contain(
      chk.checkpoint.latest.secrets_providers.state.salt,
    );
    expect(ok(sb, ["stack", "--show-name"])).to.equal("dev\n");
    const ws = fs.readdirSync(path.join(sb.home, "workspaces"));
    expect(ws).to.have.length(1);
    expect(ws[0]).to.match(/^fleet-[0-9a-f]{40}-workspace\.json$/);
    const again = run(sb, ["stack", "init", "dev"]);
    expect(again.code).to.equal(255);
    expect(again.stderr).to.equal("error: stack 'organization/fleet/dev' already exists\n");
    const missing = run(sb, ["stack", "select", "prod"]);
    expect(missing.stderr).to.equal("error: no stack named 'prod' found\n");
    const noPass = run(sb, ["stack", "init", "qa"], { PULUMI_CONFIG_PASSPHRASE: undefined });
    expect(noPass.stderr).to.equal(
      "error: could not create secrets manager for new stack: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables\n",
    );
  });

  it("sets, gets, lists and removes config, secrets encrypted", () => {
    const sb = sandbox();
    ok(sb, ["stack", "init", "dev"]);
    ok(sb, ["config", "set", "cloud", "aws"]);
    ok(sb, ["config", "set", "token", "--secret", "tok-123"]);
    ok(sb, ["config", "set", "--path", "net.ports[0]", "22"]);
    ok(sb, ["config", "set-all", "--plaintext", "region=nyc3", "--secret", "apiKey=k"]);
    const yaml = fs.readFileSync(path.join(sb.dir, "Pulumi.dev.yaml"), "utf8");
    expect(yaml).to.contain("fleet:cloud: aws");
    expect(yaml).to.not.contain("tok-123");
    expect(yaml).to.match(/fleet:token:\n {4}secure: v1:/);
    expect(yaml).to.match(/fleet:net:\n {4}ports:\n {6}- 22/);
    expect(ok(sb, ["config", "get", "cloud"])).to.equal("aws\n");
    expect(ok(sb, ["config", "get", "token"])).to.equal("tok-123\n");
    expect(JSON.parse(ok(sb, ["config", "get", "net", "--json"]))).to.deep.equal({
      value: '{"ports":[22]}',
      objectValue: { ports: [22] },
      secret: false,
    });
    const list = ok(sb, ["config"]);
    expect(list).to.equal(
      'KEY     VALUE\napiKey  [secret]\ncloud   aws\nnet     {"ports":[22]}\nregion  nyc3\ntoken   [secret]\n',
    );
    const all = JSON.parse(ok(sb, ["config", "--show-secrets", "--json"])) as Record<
      string,
      { value?: string; secret: boolean }
    >;
    expect(all["fleet:token"]).to.deep.equal({ value: "tok-123", secret: true });
    expect(JSON.parse(ok(sb, ["config", "--json"]))["fleet:token"]).to.deep.equal({ secret: true });
    ok(sb, ["config", "rm", "cloud"]);
    ok(sb, ["config", "rm-all", "region", "apiKey"]);
    const gone = run(sb, ["config", "get", "cloud"]);
    expect(gone.code).to.equal(255);
    expect(gone.stderr).to.equal("error: configuration key 'cloud' not found for stack 'dev'\n");
    expect(Object.keys(JSON.parse(ok(sb, ["config", "--json"])))).to.deep.equal([
      "fleet:net",
      "fleet:token",
    ]);
  });

  it("edits another file with --config-file and leaves Pulumi.<stack>.yaml alone", () => {
    const sb = sandbox();
    ok(sb, ["stack", "init", "dev"]);
    const before = fs.readFileSync(path.join(sb.dir, "Pulumi.dev.yaml"), "utf8");
    const other = path.join(sb.dir, "other.yaml");
    ok(sb, ["config", "set", "--config-file", other, "--secret", "k", "v"]);
    expect(fs.readFileSync(path.join(sb.dir, "Pulumi.dev.yaml"), "utf8")).to.equal(before);
    expect(fs.readFileSync(other, "utf8")).to.match(
      /^encryptionsalt: v1:.*\nconfig:\n {2}fleet:k:\n {4}secure: v1:/,
    );
    expect(ok(sb, ["config", "get", "k", "--config-file", other])).to.equal("v\n");
  });

  it("gives the CLI's errors for a wrong or missing passphrase, unknown flags and no stack", () => {
    const sb = sandbox();
    ok(sb, ["stack", "init", "dev"]);
    ok(sb, ["config", "set", "--secret", "token", "t"]);
    const wrong = run(sb, ["config", "get", "token"], { PULUMI_CONFIG_PASSPHRASE: "nope" });
    expect(wrong.code).to.equal(255);
    expect(wrong.stderr).to.equal("error: incorrect passphrase\n");
    const none = run(sb, ["config", "get", "token"], { PULUMI_CONFIG_PASSPHRASE: undefined });
    expect(none.stderr).to.contain(
      "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE",
    );
    // A plaintext value needs no passphrase.
    ok(sb, ["config", "set", "cloud", "aws"], { PULUMI_CONFIG_PASSPHRASE: undefined });
    const bad = run(sb, ["config", "set", "x", "y", "--no-such-flag"]);
    expect(bad.code).to.equal(255);
    expect(bad.stderr).to.contain("unknown option '--no-such-flag'");
    expect(run(sb, ["stack", "bogus"]).stderr).to.equal(
      'error: unknown command "bogus" for "pulumi stack"\n',
    );
    expect(ok(sb, ["whoami", "-v"])).to.contain("Backend URL: file://");
    const both = run(sb, ["config", "set", "x", "y", "--secret", "--plaintext"]);
    expect(both.stderr).to.contain(
      "if any flags in the group [secret plaintext type] are set none of the others can be",
    );
    const secretish = run(sb, ["config", "set", "dbPassword", "Xk9#pQ2$vL7@wR4!"]);
    expect(secretish.stderr).to.contain("looks like a secret; rerun with --secret");
    const other = sandbox();
    const noStack = run(other, ["config"]);
    expect(noStack.stderr).to.equal(
      "error: no stack selected; please use `pulumi stack select` or `pulumi stack init` to choose one\n",
    );
  });

  it("shows outputs, exports and imports state, refuses rm of a stack with resources, cancels locks", () => {
    const sb = sandbox();
    ok(sb, ["stack", "init", "dev"]);
    const exported = JSON.parse(ok(sb, ["stack", "export"])) as {
      version: number;
      deployment: Record<string, unknown>;
    };
    expect(exported.version).to.equal(3);
    expect(ok(sb, ["stack", "output", "--json"])).to.equal("{}\n");
    const urn = "urn:pulumi:dev::fleet::pulumi:pulumi:Stack::fleet-dev";
    const d = {
      ...exported.deployment,
      resources: [
        {
          urn,
          custom: false,
          type: "pulumi:pulumi:Stack",
          outputs: {
            ip: "10.0.0.1",
            token: {
              "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
              plaintext: '"s3"',
            },
          },
        },
        {
          urn: "urn:pulumi:dev::fleet::fleet:local:Worker::w1",
          custom: true,
          id: "1",
          type: "fleet:local:Worker",
          parent: urn,
        },
      ],
    };
    const file = path.join(sb.dir, "state.json");
    fs.writeFileSync(file, JSON.stringify({ version: 3, deployment: d }));
    expect(ok(sb, ["stack", "import", "--file", file])).to.equal("Import complete.\n");
    const raw = fs.readFileSync(path.join(sb.state, ".pulumi/stacks/fleet/dev.json"), "utf8");
    expect(raw).to.not.contain("s3");
    expect(raw).to.contain('"ciphertext":"v1:');
    expect(JSON.parse(ok(sb, ["stack", "output", "--json"]))).to.deep.equal({
      ip: "10.0.0.1",
      token: "[secret]",
    });
    expect(JSON.parse(ok(sb, ["stack", "output", "--json", "--show-secrets"]))).to.deep.equal({
      ip: "10.0.0.1",
      token: "s3",
    });
    expect(ok(sb, ["stack", "output", "ip"])).to.equal("10.0.0.1\n");
    const shown = JSON.parse(ok(sb, ["stack", "export", "--show-secrets"])) as {
      deployment: { resources: { outputs?: Record<string, unknown> }[] };
    };
    expect(shown.deployment.resources[0].outputs?.token).to.deep.equal({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      plaintext: '"s3"',
    });
    const noYes = run(sb, ["stack", "rm", "dev"]);
    expect(noYes.stderr).to.equal("error: non-interactive mode requires --yes flag\n");
    const refused = run(sb, ["stack", "rm", "dev", "--yes"]);
    expect(refused.code).to.equal(255);
    expect(refused.stderr).to.equal(
      "error: 'dev' still has resources; removal rejected. Possible actions:\n" +
        "- Make sure that 'dev' is the stack that you want to destroy\n" +
        "- Run `pulumi destroy` to delete the resources, then run `pulumi stack rm`\n" +
        "- Run `pulumi stack rm --force` to override this error\n",
    );
    // A lock left behind by another process blocks rm until `pulumi cancel` removes it.
    const lockDir = path.join(sb.state, ".pulumi/locks/organization/fleet/dev");
    fs.mkdirSync(lockDir, { recursive: true });
    fs.writeFileSync(
      path.join(lockDir, "00000000-0000-4000-8000-000000000000.json"),
      JSON.stringify({ pid: 1, username: "u", hostname: "h", timestamp: "2026-01-01T00:00:00Z" }),
    );
    const locked = run(sb, ["stack", "rm", "dev", "--yes", "--force"]);
    expect(locked.stderr).to.contain("the stack is currently locked by 1 lock(s).");
    expect(locked.stderr).to.contain("created by u@h (pid 1) at 2026-01-01T00:00:00Z");
    expect(ok(sb, ["cancel", "--yes"])).to.equal(
      "The currently running update for 'dev' has been canceled!\n",
    );
    expect(ok(sb, ["stack", "rm", "dev", "--yes", "--force"])).to.equal(
      "Stack 'dev' has been removed!\n",
    );
    expect(fs.existsSync(path.join(sb.dir, "Pulumi.dev.yaml"))).to.equal(false);
    expect(JSON.parse(ok(sb, ["stack", "ls", "--json"]))).to.deep.equal([]);
  });

  it("logs in to a file backend and reports it in whoami", () => {
    const sb = sandbox();
    const env = { PULUMI_BACKEND_URL: undefined };
    const url = `file://${sb.state}`;
    expect(ok(sb, ["login", url], env)).to.match(
      new RegExp(`^Logged in to .+ as .+ \\(${url}\\)\\n$`),
    );
    const creds = JSON.parse(fs.readFileSync(path.join(sb.home, "credentials.json"), "utf8")) as {
      current: string;
    };
    expect(creds.current).to.equal(url);
    expect(JSON.parse(ok(sb, ["whoami", "--json"], env))).to.deep.equal({
      user: os.userInfo().username,
      url,
    });
    expect(ok(sb, ["whoami", "-v"], env)).to.contain(`Backend URL: ${url}\n`);
    expect(run(sb, ["login", "https://api.example.com"], env).stderr).to.contain(
      "supports only file:// backends",
    );
    expect(ok(sb, ["logout"], env)).to.equal(`Logged out of ${url}\n`);
    expect(fs.existsSync(path.join(sb.home, "credentials.json"))).to.equal(false);
  });
});

describe("engine double: what the engine gets from openStack and writes to history", function () {
  this.timeout(60000);

  it("validates config before an update and resolves it for the language host", () => {
    const sb = sandbox(
      "name: fleet\nruntime: nodejs\nconfig:\n  fleet:cloud:\n    type: string\n  fleet:count:\n    type: integer\n    default: 1\n",
    );
    ok(sb, ["stack", "init", "dev"]);
    const ctx = { env: sb.env, cwd: sb.dir, out: () => undefined, err: () => undefined };
    expect(() => openStack(ctx, undefined)).to.throw(
      "Stack 'dev' is missing configuration value 'fleet:cloud'",
    );
    ok(sb, ["config", "set", "cloud", "aws"]);
    ok(sb, ["config", "set", "count", "many"]);
    expect(() => openStack(ctx, "dev")).to.throw(
      "Stack 'dev' with configuration key 'fleet:count' must be of type 'integer'",
    );
    ok(sb, ["config", "set", "count", "3"]);
    ok(sb, ["config", "set", "--secret", "token", "t"]);
    const s = openStack(ctx, "dev");
    expect(s.config).to.deep.equal({
      "fleet:cloud": { value: "aws", secret: false },
      "fleet:count": { value: "3", secret: false },
      "fleet:token": { value: "t", secret: true },
    });
    expect(s.secretsProviders).to.deep.equal({
      type: "passphrase",
      state: { salt: s.settings.encryptionsalt },
    });
    expect(() =>
      openStack({ ...ctx, env: { ...sb.env, PULUMI_CONFIG_PASSPHRASE: "bad" } }, "dev"),
    ).to.throw("incorrect passphrase");
  });

  it("prints history as the UpdateInfo JSON that stack.info() and history() parse", async () => {
    const sb = sandbox();
    ok(sb, ["stack", "init", "dev"]);
    ok(sb, ["config", "set", "--secret", "token", "t"]);
    const be = new FileBackend(sb.env.PULUMI_BACKEND_URL as string, sb.dir);
    const salt = fs.readFileSync(path.join(sb.dir, "Pulumi.dev.yaml"), "utf8");
    expect(salt).to.contain("secure:");
    const yamlDoc = (await import("js-yaml")).load(salt) as {
      config: Record<string, { secure: string }>;
    };
    for (const [i, result] of (["succeeded", "failed"] as const).entries()) {
      be.addHistory("fleet", "dev", {
        kind: "update",
        startTime: 1700000000 + i,
        message: `run ${i}`,
        environment: { "exec.kind": "auto.local" },
        config: { "fleet:cloud": "aws", "fleet:token": yamlDoc.config["fleet:token"] },
        version: i + 1,
        result,
        endTime: 1700000010 + i,
        resourceChanges: { create: 2 },
      });
    }
    const hist = JSON.parse(
      ok(sb, ["stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1"]),
    );
    expect(hist).to.deep.equal([
      {
        version: 2,
        kind: "update",
        startTime: "2023-11-14T22:13:21.000Z",
        message: "run 1",
        environment: { "exec.kind": "auto.local" },
        config: {
          "fleet:cloud": { value: "aws", secret: false },
          "fleet:token": { value: "t", secret: true },
        },
        result: "failed",
        endTime: "2023-11-14T22:13:31.000Z",
        resourceChanges: { create: 2 },
      },
    ]);
    const blind = JSON.parse(ok(sb, ["stack", "history", "--json"])) as {
      config: Record<string, unknown>;
    }[];
    expect(blind).to.have.length(2);
    expect(blind[0].config["fleet:token"]).to.deep.equal({ secret: true });
  });
});

describe("engine double: LocalWorkspace with the double on PATH", function () {
  this.timeout(120000);

  it("creates/selects a stack and manages config, state and outputs", async () => {
    const sb = sandbox("name: fleet\nruntime: nodejs\nmain: index.js\n");
    const envVars: Record<string, string> = {};
    for (const [k, v] of Object.entries(sb.env)) if (v !== undefined) envVars[k] = v;
    envVars.PATH = `${BIN_DIR}${path.delimiter}${process.env.PATH ?? ""}`;
    const oldPath = process.env.PATH;
    process.env.PATH = envVars.PATH; // `pulumi version` runs before envVars apply
    try {
      const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "dev", workDir: sb.dir },
        { envVars },
      );
      const again = await LocalWorkspace.createOrSelectStack(
        { stackName: "dev", workDir: sb.dir },
        { envVars },
      );
      expect(again.name).to.equal("dev");
      await stack.setAllConfig({
        cloud: { value: "aws" },
        token: { value: "tok", secret: true },
        workers: { value: JSON.stringify(["a", "b"]) },
      });
      await stack.setConfig("region", { value: "nyc3" });
      expect(await stack.getAllConfig()).to.deep.equal({
        "fleet:cloud": { value: "aws", secret: false },
        "fleet:region": { value: "nyc3", secret: false },
        "fleet:token": { value: "tok", secret: true },
        "fleet:workers": { value: '["a","b"]', secret: false },
      });
      expect(await stack.getConfig("token")).to.deep.equal({ value: "tok", secret: true });
      await stack.removeConfig("region");
      expect(Object.keys(await stack.getAllConfig())).to.not.include("fleet:region");
      expect(await stack.outputs()).to.deep.equal({});
      const state = await stack.exportStack();
      expect(state.version).to.equal(3);
      await stack.importStack(state);
      const ws = stack.workspace;
      expect((await ws.whoAmI()).url).to.equal(sb.env.PULUMI_BACKEND_URL);
      expect((await ws.listStacks()).map((s) => [s.name, s.current])).to.deep.equal([
        ["dev", true],
      ]);
      expect(await stack.info()).to.equal(undefined);
      const be = new FileBackend(envVars.PULUMI_BACKEND_URL, sb.dir);
      be.addHistory("fleet", "dev", {
        kind: "update",
        startTime: 1700000000,
        message: "m",
        environment: {},
        config: {},
        version: 1,
        result: "succeeded",
        endTime: 1700000003,
        resourceChanges: { same: 1 },
      });
      const info = await stack.info();
      expect(info?.result).to.equal("succeeded");
      expect(info?.resourceChanges).to.deep.equal({ same: 1 });
      expect(info?.startTime.toISOString()).to.equal("2023-11-14T22:13:20.000Z");
      let err: unknown;
      try {
        await LocalWorkspace.selectStack({ stackName: "nope", workDir: sb.dir }, { envVars });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(StackNotFoundError);
      try {
        await LocalWorkspace.createStack({ stackName: "dev", workDir: sb.dir }, { envVars });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(StackAlreadyExistsError);
      // A lock left by another process: the Automation API sees a ConcurrentUpdateError until
      // `stack.cancel()` (`pulumi cancel`) removes it.
      const lockDir = path.join(sb.state, ".pulumi/locks/organization/fleet/dev");
      fs.mkdirSync(lockDir, { recursive: true });
      fs.writeFileSync(
        path.join(lockDir, "11111111-1111-4111-8111-111111111111.json"),
        JSON.stringify({ pid: 2, username: "u", hostname: "h", timestamp: "2026-01-01T00:00:00Z" }),
      );
      err = undefined;
      try {
        await ws.removeStack("dev");
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConcurrentUpdateError);
      await stack.cancel();
      await ws.removeStack("dev");
      expect(await ws.listStacks()).to.deep.equal([]);
    } finally {
      process.env.PATH = oldPath;
    }
  });
});
