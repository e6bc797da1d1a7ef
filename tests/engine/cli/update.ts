/**
 * `pulumi up`, `preview`, `destroy` and `refresh` in the double, with the flags the Automation
 * API 3.270 passes (`automation/stack.js`) and those a person uses with fleet by hand.
 *
 * - The program: inline through `--client <addr>` (the Automation API's LanguageRuntime server,
 *   `Run` with the monitor address and the engine address as its first argument), or the
 *   project's `main` through the SDK's own Node language host runner (`@pulumi/pulumi/cmd/run`,
 *   started as `sdk/nodejs/cmd/pulumi-language-nodejs/main.go` `constructArguments` does, in the
 *   directory of `main`: `pkg/engine/project.go`, `getPwdMain`).
 * - SIGINT once: graceful cancel; twice: terminate at once (`pkg/backend/cancellation_scope.go`).
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import type { Command } from "commander";
import { Deployment, type DeploymentResult, type OperationKind } from "../engine/deployment";
import { COLORS, EventSink } from "../engine/events";
import { call, client, langproto, langrpc, newMessage, unary } from "../engine/rpc";
import { CliError, type CliContext } from "./context";
import type { Register } from "./main";
import { openWorkspace, type StackWorkspace } from "./workspace";

interface UpdateFlags {
  stack?: string;
  yes?: boolean;
  skipPreview?: boolean;
  client?: string;
  execKind?: string;
  eventLog?: string;
  parallel?: string;
  target?: string[];
  refresh?: boolean;
  expectNoChanges?: boolean;
  continueOnError?: boolean;
  message?: string;
  diff?: boolean;
  previewOnly?: boolean;
  clearPendingCreates?: boolean;
  runProgram?: string | boolean;
  suppressOutputs?: boolean;
  suppressProgress?: boolean;
  json?: boolean;
  config?: string[];
  configPath?: boolean;
  execAgent?: string;
  showSecrets?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function commonFlags(cmd: Command, kind: OperationKind): Command {
  cmd
    .option("-s, --stack <name>", "the name of the stack to operate on")
    .option("-y, --yes", "automatically approve and perform the update after previewing it")
    .option("-f, --skip-preview", "do not calculate a preview before performing the update")
    .option("--client <address>", "the address of an existing language runtime host to connect to")
    .option("--exec-kind <kind>", "the kind of execution context")
    .option("--exec-agent <agent>", "the agent executing the command")
    .option("--event-log <path>", "log events to a file (or tcp://host:port)")
    .option("-p, --parallel <n>", "allow P resource operations to run in parallel at once")
    .option(
      "-t, --target <urn>",
      "specify a single resource URN to operate on (repeatable)",
      collect,
    )
    .option("-m, --message <text>", "optional message to associate with the update")
    .option("--diff", "display operation as a rich diff")
    .option("--suppress-outputs", "suppress display of stack outputs")
    .option("--suppress-progress", "suppress display of periodic progress dots")
    .option("-j, --json", "serialize the update diffs, operations, and overall output as JSON")
    .option("--show-secrets", "show secret outputs in the CLI output");
  if (kind !== "refresh")
    cmd.option("-r, --refresh", "refresh the state of the stack's resources first");
  if (kind === "update" || kind === "preview" || kind === "refresh")
    cmd.option("--expect-no-changes", "return an error if any changes occur during this operation");
  if (kind === "update" || kind === "destroy")
    cmd.option("--continue-on-error", "continue past errors from independent resources");
  if (kind !== "update") cmd.option("--preview-only", "only show a preview");
  if (kind === "refresh")
    cmd.option(
      "--clear-pending-creates",
      "clear all pending creates, dropping them from the state",
    );
  if (kind !== "update" && kind !== "preview")
    cmd.option("--run-program [bool]", "run the program to determine up-to-date state");
  if (kind === "update" || kind === "preview")
    cmd
      .option(
        "-c, --config <key=value>",
        "config to use during the update and save to the stack config file",
        collect,
      )
      .option("--config-path", "config keys contain a path to a property in a map or list to set");
  return cmd;
}

export const register: Register = (program, ctx) => {
  const define = (name: string, kind: OperationKind, description: string) =>
    commonFlags(program.command(name).description(description), kind).action(
      async (flags: UpdateFlags) => {
        await runOperation(ctx(), kind, flags);
      },
    );
  define("up", "update", "create or update the resources in a stack");
  define("preview", "preview", "show a preview of updates to a stack's resources");
  define("destroy", "destroy", "destroy all existing resources in the stack");
  define("refresh", "refresh", "refresh the resources in a stack");
};

async function runOperation(
  ctx: CliContext,
  kind: OperationKind,
  flags: UpdateFlags,
): Promise<void> {
  const preview = kind === "preview" || flags.previewOnly === true;
  if (!preview && !flags.yes && !flags.skipPreview && !process.stdin.isTTY) {
    // `pkg/cmd/pulumi/operations/up.go`: non-interactive runs need --yes (or --skip-preview).
    throw new CliError(
      "--yes or --skip-preview must be passed in to proceed when running in non-interactive mode",
    );
  }
  const ws = await openWorkspace(ctx, flags.stack, { forUpdate: true });
  if (flags.config?.length) await ws.setConfigFromFlags(flags.config, flags.configPath === true);
  const release = preview ? async () => undefined : await ws.lock();
  let released = false;
  const unlock = async () => {
    if (released || ws.leaveLocked()) return;
    released = true;
    await release();
  };
  const events = new EventSink(flags.eventLog);
  const print = (line: string) => ctx.out(`${line}\n`);
  let result: DeploymentResult | undefined;
  const started = Date.now();
  let interrupts = 0;
  let deployment: Deployment | undefined;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      ctx.out(
        "^C received; cancelling. If you would like to terminate immediately, press ^C again.\n",
      );
      deployment?.cancel();
    } else {
      // Terminate: no more waiting for steps in flight; their pending operations stay in the
      // checkpoint. The operation still unwinds and releases its stack lock.
      ctx.out(`${COLORS.red}^C received; terminating${COLORS.reset}\n`);
      void unlock().finally(() => process.exit(255));
    }
  };
  process.on("SIGINT", onSigint);
  try {
    events.emit({ preludeEvent: { config: ws.displayConfig() } });
    const verb = {
      update: "Updating",
      preview: "Previewing update",
      destroy: "Destroying",
      refresh: "Refreshing",
    }[preview ? "preview" : kind];
    print(`${verb} (${ws.stack}):`);

    if (flags.refresh && kind !== "refresh" && !preview) {
      const r = await deploy(ws, "refresh", false, flags, events, print, (d) => (deployment = d));
      if (r.result !== "succeeded") {
        result = r;
        return;
      }
    }
    result = await deploy(ws, kind, preview, flags, events, print, (d) => (deployment = d));
  } finally {
    process.removeListener("SIGINT", onSigint);
    const r = result;
    if (r) {
      const changed = Object.entries(r.changes).filter(([op]) => op !== "same" && op !== "refresh");
      if (!preview && !(kind === "refresh" && r.result === "succeeded" && false)) {
        // Stack file written as the step journal went; history once, at the end.
        await ws.addHistory({
          kind: kind === "update" ? "update" : kind,
          message: flags.message ?? "",
          result: r.result,
          startTime: Math.floor(started / 1000),
          endTime: Math.floor(Date.now() / 1000),
          resourceChanges: r.changes,
        });
      }
      print("Resources:");
      for (const [op, n] of changed)
        print(
          `    ${n} ${op === "create" ? "created" : op === "delete" ? "deleted" : op === "update" ? "updated" : op}`,
        );
      if (r.changes.same) print(`    ${r.changes.same} unchanged`);
      print(`\nDuration: ${Math.max(1, Math.round((Date.now() - started) / 1000))}s`);
      events.emit({
        summaryEvent: {
          maybeCorrupt: false,
          durationSeconds: Math.round((Date.now() - started) / 1000),
          resourceChanges: r.changes,
          PolicyPacks: {},
          isPreview: preview,
          result: r.result,
        },
      });
    }
    events.emit({ cancelEvent: {} });
    await events.close();
    await unlock();
  }
  const r = result as DeploymentResult;
  if (r.result === "canceled")
    throw new CliError(`${kind === "update" ? "update" : kind} canceled`);
  if (r.result === "failed") {
    const first = r.errors.slice(0, 5).map((e) => `  ${e.replace(/\n/g, "\n  ")}`);
    if (first.length) ctx.err(`Diagnostics:\n${first.join("\n")}\n`);
    throw new CliError(`${kind === "update" ? "update" : kind} failed`);
  }
  if (flags.expectNoChanges) {
    const changes = Object.entries(r.changes).filter(([op, n]) => op !== "same" && n > 0);
    // `pkg/backend/backenderr/backenderr.go`: ErrExpectedNoChanges.
    if (changes.length) throw new CliError("no changes were expected but changes were proposed");
  }
}

async function deploy(
  ws: StackWorkspace,
  kind: OperationKind,
  preview: boolean,
  flags: UpdateFlags,
  events: EventSink,
  print: (line: string) => void,
  onDeployment: (d: Deployment) => void,
): Promise<DeploymentResult> {
  const before = await ws.read();
  const parallel = flags.parallel ? Number(flags.parallel) : 4 * os.cpus().length;
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new CliError(`invalid argument "${flags.parallel}" for "-p, --parallel" flag`);
  const d = new Deployment({
    // `preview` is an update that takes no steps; `destroy/refresh --preview-only` likewise.
    kind: kind === "preview" ? "update" : kind,
    preview: preview || kind === "preview",
    project: ws.project.name,
    stack: ws.stack,
    organization: "organization",
    resources: before.resources,
    pending: before.pending,
    parallel,
    continueOnError: flags.continueOnError === true,
    targets: flags.target ?? [],
    clearPendingCreates: flags.clearPendingCreates === true,
    providerConfig: (pkg) => ws.providerConfig(pkg),
    provider: (pkg, inputs) => ws.provider(pkg, inputs, engineAddressHolder.address),
    persist: (resources, pending) => ws.write(resources, pending),
    events,
    faults: ws.faults,
    ledger: (entry) => ws.ledger(entry),
    print,
  });
  onDeployment(d);
  const engineAddressHolder = { address: "" };
  return d.run(async (monitor, engine, stop) => {
    engineAddressHolder.address = engine;
    return runProgram(ws, flags, monitor, engine, preview || kind === "preview", stop);
  });
}

/** Runs the program once; resolves with an error message when it failed. */
async function runProgram(
  ws: StackWorkspace,
  flags: UpdateFlags,
  monitor: string,
  engine: string,
  dryRun: boolean,
  stop: AbortSignal,
): Promise<string | undefined> {
  const config = ws.programConfig();
  const secretKeys = Object.entries(config)
    .filter(([, v]) => v.secret)
    .map(([k]) => k);
  const { pwd, main } = ws.pwdMain();
  if (flags.client) {
    const lang = client(langrpc, "LanguageRuntimeClient", flags.client);
    const req = newMessage(langproto, "RunRequest");
    call(req, "setProject", ws.project.name);
    call(req, "setStack", ws.stack);
    call(req, "setPwd", pwd);
    call(req, "setProgram", main);
    call(req, "setArgsList", [engine]);
    const m = call<{ set(k: string, v: string): void }>(req, "getConfigMap");
    for (const [k, v] of Object.entries(config)) m.set(k, v.value);
    call(req, "setConfigsecretkeysList", secretKeys);
    call(req, "setDryrun", dryRun);
    call(req, "setParallel", flags.parallel ? Number(flags.parallel) : 4 * os.cpus().length);
    call(req, "setMonitorAddress", monitor);
    call(req, "setOrganization", "organization");
    const info = newMessage(langproto, "ProgramInfo");
    call(info, "setRootDirectory", ws.project.dir);
    call(info, "setProgramDirectory", pwd);
    call(info, "setEntryPoint", main);
    call(req, "setInfo", info);
    // Cancelled with the deployment: closing the channel cancels the Run call.
    stop.addEventListener("abort", () => lang.close(), { once: true });
    try {
      const res = await unary(lang, "run", req);
      const err = call<string>(res, "getError");
      return err || undefined;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return msg.replace(/^\d+ [A-Z_]+: /, "");
    } finally {
      lang.close();
    }
  }
  const runner = require.resolve("@pulumi/pulumi/cmd/run", { paths: [pwd, __dirname] });
  const args = [
    runner,
    "--monitor",
    monitor,
    "--engine",
    engine,
    "--organization",
    "organization",
    "--project",
    ws.project.name,
    "--root-directory",
    ws.project.dir,
    "--stack",
    ws.stack,
    "--pwd",
    pwd,
  ];
  if (dryRun) args.push("--dry-run");
  args.push("--parallel", String(flags.parallel ?? 4 * os.cpus().length), main);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // `pulumi-language-nodejs` `constructConfig`: keys as `<namespace>:config:<name>`.
    PULUMI_CONFIG: JSON.stringify(
      Object.fromEntries(
        Object.entries(config).map(([k, v]) => [k.replace(/^([^:]+):/, "$1:config:"), v.value]),
      ),
    ),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
  };
  const child = spawn(process.execPath, args, {
    cwd: pwd,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  // Cancelled with the deployment: SIGINT, then SIGKILL after the host's 5 s WaitDelay.
  stop.addEventListener(
    "abort",
    () => {
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
    },
    { once: true },
  );
  const code = await new Promise<number>((resolve) => child.once("exit", (c) => resolve(c ?? 1)));
  if (code === 0) return undefined;
  // `main.go`: exit code 32 means the program already reported a user-actionable error.
  return code === 32 ? "" : `Program exited with non-zero exit code: ${code}`;
}
