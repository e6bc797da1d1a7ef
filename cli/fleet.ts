#!/usr/bin/env node
/**
 * The `fleet` command: a thin CLI over CloudContext. Tables for people, `--json` for scripts,
 * live per-worker progress on stderr, one line per error. Exit codes: 0 ok, 1 failure,
 * 2 usage error, 130 interrupted.
 *
 * Start-up stays fast: the Pulumi SDK is loaded only when a command runs, never for `--help`.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { maskCredentials } from "../config/errors";
import { CLOUDS, MAX_COUNT } from "../config/rules";
import type { CloudContext } from "../context/cloud-context";
import type { Progress } from "../context/events";
import type { FleetCost } from "../config/prices";
import type { Worker } from "../strategies/contract";
import type { CloudName } from "../strategies/registry";

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

interface GlobalOptions {
  stack: string;
  cwd: string;
  json?: boolean;
  quiet?: boolean;
  installPulumi?: boolean;
}

class UsageError extends Error {}

/** `--count`: a whole number from 1 to MAX_COUNT, refused (exit 2) before anything runs. */
function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1 || n > MAX_COUNT) {
    throw new InvalidArgumentError(
      `expected a whole number from 1 to ${MAX_COUNT.toLocaleString("en-US")}, got "${value}"`,
    );
  }
  return n;
}

/**
 * A usage error from commander (`error: unknown command 'x'`, sometimes with a `(Did you
 * mean …?)` line) as one line in fleet's form, `fleet: error: …`, with where to find the usage.
 */
export function usageErrorLine(text: string): string {
  const message = text
    .replace(/^error: /, "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" ");
  return `fleet: error: ${maskCredentials(message)} (fleet --help shows the usage)\n`;
}

/** Loads a module on first use, so `fleet --help` pays only for what it shows. */
function loadLazily<T>(id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id) as T;
}

function stderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Renders workers as a table (cli-table3), or a note when there are none. */
function table(workers: readonly Worker[]): string {
  if (!workers.length) return "no workers";
  const Table = loadLazily<typeof import("cli-table3")>("cli-table3");
  const t = new Table({
    head: ["NAME", "CLOUD", "REGION", "SIZE", "IP", "CREATED", "STATUS"],
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const w of workers)
    t.push([w.name, w.cloud, w.region, w.size, w.ip || "-", w.createdAt || "-", w.status]);
  return t.toString();
}

/**
 * What a command's engine updates did to workers, from the progress the engine's events gave
 * (not from what was asked): an update also re-creates workers the stack config lists that are
 * missing from the stack (after a plain `pulumi destroy`), and a command's report names them.
 */
export class WorkerChanges {
  private readonly created = new Set<string>();
  private readonly deleted = new Set<string>();
  private readonly replaced = new Set<string>();

  /** Takes one progress event; only finished creates, deletes and replacements count. */
  add(p: Progress): void {
    if (p.state === "created") this.created.add(p.worker);
    else if (p.state === "deleted") this.deleted.add(p.worker);
    else if (p.state === "replaced") this.replaced.add(p.worker);
  }

  /**
   * One line per kind of change, each naming its workers (sorted): created, deleted, and
   * replaced (a worker both created anew and deleted, as when it moves to another cloud).
   * `asked`: the workers the command created, so the others created are called out.
   */
  lines(asked?: readonly string[]): string[] {
    const both = new Set([
      ...this.replaced,
      ...[...this.created].filter((w) => this.deleted.has(w)),
    ]);
    const only = (set: Set<string>) => sorted([...set].filter((w) => !both.has(w)));
    const created = only(this.created);
    const deleted = only(this.deleted);
    const lines: string[] = [];
    if (created.length) {
      const extra = asked ? created.filter((w) => !asked.includes(w)) : [];
      lines.push(
        `created ${count(created)}: ${created.join(", ")}` +
          (extra.length
            ? ` (not asked for: ${extra.join(", ")}, which the stack config lists and the stack did not have)`
            : ""),
      );
    }
    if (deleted.length) lines.push(`deleted ${count(deleted)}: ${deleted.join(", ")}`);
    if (both.size) lines.push(`replaced ${count([...both])}: ${sorted([...both]).join(", ")}`);
    return lines;
  }

  /** Whether the updates deleted this worker. */
  wasDeleted(worker: string): boolean {
    return this.deleted.has(worker);
  }
}

function count(workers: readonly string[]): string {
  return `${workers.length} worker${workers.length === 1 ? "" : "s"}`;
}

function sorted(names: string[]): string[] {
  return names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** Live progress: an ora spinner on a terminal, plain lines otherwise; always on stderr. */
function progressReporter(opts: GlobalOptions): {
  onProgress: (p: Progress) => void;
  stop: () => void;
  start: (text: string) => void;
  /** What the command's updates did, collected whether progress is shown or not. */
  changes: WorkerChanges;
} {
  const changes = new WorkerChanges();
  if (opts.quiet || opts.json) {
    return {
      onProgress: (p) => changes.add(p),
      stop: () => undefined,
      start: () => undefined,
      changes,
    };
  }
  const tty = process.stderr.isTTY === true;
  const spinner = tty
    ? loadLazily<typeof import("ora")>("ora")({ stream: process.stderr })
    : undefined;
  const done = new Set<string>();
  let total = 0;
  return {
    changes,
    start(text) {
      if (spinner) spinner.start(text);
      else stderr(text);
    },
    onProgress(p) {
      changes.add(p);
      const line = `${p.worker}: ${p.state}${p.detail ? ` (${p.detail})` : ""}`;
      if (p.state === "moving") {
        // Capacity failover: keep the line (where it was refused, where it goes next).
        if (spinner) spinner.warn(line).start(`${done.size} done`);
        else stderr(line);
        return;
      }
      if (/(ed|failed)$/.test(p.state)) done.add(p.worker);
      else total = Math.max(total, done.size + 1);
      if (spinner) {
        if (/(ed|failed)$/.test(p.state))
          spinner[p.state === "failed" ? "fail" : "succeed"](line).start(`${done.size} done`);
        else spinner.text = line;
      } else stderr(line);
    },
    stop() {
      spinner?.stop();
    },
  };
}

/** The commands that may start a stack that does not exist yet; the others refuse its name. */
const STARTS_A_STACK: ReadonlySet<string> = new Set(["create", "use"]);

async function openContext(
  opts: GlobalOptions,
  signal: AbortSignal,
  onProgress: (p: Progress) => void,
  createStack: boolean,
): Promise<CloudContext> {
  const { CloudContext } = await import("../context/cloud-context");
  const common = { onProgress, signal, onMessage: (m: string) => !opts.quiet && stderr(m) };
  return CloudContext.open({
    ...common,
    // The engine gets the terminal's Ctrl-C itself; see `interrupts` below.
    signalEngine: false,
    workDir: opts.cwd,
    stackName: opts.stack,
    installPulumi: opts.installPulumi,
    createStack,
  });
}

function print(opts: GlobalOptions, workers: readonly Worker[], what: string[] = []): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(workers, null, 2)}\n`);
  else {
    say(opts, what);
    process.stdout.write(`${table(workers)}\n`);
  }
}

/** Report lines on stderr, unless --quiet or --json. */
function say(opts: GlobalOptions, lines: readonly string[]): void {
  if (!opts.quiet && !opts.json) for (const line of lines) stderr(line);
}

/** Validates names and cloud with the program's own rules before the engine is even opened. */
async function validateFirst(
  names: readonly string[],
  cloud?: string,
  ttl?: string,
): Promise<void> {
  const { validateWorkerName, parseCloud } = await import("../config/rules");
  names.forEach((n, i) => validateWorkerName(`names[${i}]`, n));
  if (cloud !== undefined) parseCloud("cloud", cloud);
  if (ttl !== undefined) (await import("../config/expiry")).parseTtl("--ttl", ttl);
}

/** A worker as `fleet list` shows it: the `workers` output plus its price and expiry. */
export type ListedWorker = Worker & {
  /** On-demand price per hour from `config/prices/`; null when unknown (never 0 for unknown). */
  pricePerHour: number | null;
  /** The currency of `pricePerHour` (ISO 4217: USD, EUR); null when the price is unknown. */
  currency: string | null;
  /** When it expires (ISO-8601 UTC, from its config entry); null when it has no expiry. */
  expiresAt: string | null;
};

/** Adds each worker's price and expiry; also returns what the whole fleet costs. */
async function priced(c: CloudContext, workers: readonly Worker[]) {
  const { loadPriceBook, fleetCost } = await import("../config/prices");
  const { FleetConfigError } = await import("../config/errors");
  let entries: Awaited<ReturnType<CloudContext["getDesired"]>>["entries"] = [];
  try {
    ({ entries } = await c.getDesired());
  } catch (e) {
    // Listing must work while the config is broken (it is how people look before fixing it).
    if (!(e instanceof FleetConfigError)) throw e;
    stderr(`fleet: expiry not shown: the stack config is invalid: ${e.message.split("\n")[0]}`);
  }
  const expiry = new Map<string, string>();
  for (const e of entries)
    if (typeof e !== "string" && e.expiresAt) expiry.set(e.name, e.expiresAt);
  const cost = fleetCost(workers, loadPriceBook());
  const listed: ListedWorker[] = workers.map((w, i) => ({
    ...w,
    pricePerHour: cost.workers[i].pricePerHour,
    currency: cost.workers[i].currency,
    expiresAt: expiry.get(w.name) ?? null,
  }));
  return { listed, cost };
}

/** The `fleet list` table: every column of `table` plus the hourly price (with its currency) and the expiry. */
async function listTable(workers: readonly ListedWorker[]): Promise<string> {
  if (!workers.length) return "no workers";
  const { formatPrice } = await import("../config/prices");
  const Table = loadLazily<typeof import("cli-table3")>("cli-table3");
  const t = new Table({
    head: ["NAME", "CLOUD", "REGION", "SIZE", "IP", "CREATED", "STATUS", "PER HOUR", "EXPIRES"],
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const w of workers)
    t.push([
      w.name,
      w.cloud,
      w.region,
      w.size,
      w.ip || "-",
      w.createdAt || "-",
      w.status,
      formatPrice(w.pricePerHour, 4, w.currency),
      w.expiresAt ?? "-",
    ]);
  return t.toString();
}

/** `fleet cost`'s table: one row per worker, columns aligned (cli-table3). */
export async function costTable(cost: FleetCost): Promise<string> {
  if (!cost.workers.length) return "no workers";
  const { formatPrice } = await import("../config/prices");
  const Table = loadLazily<typeof import("cli-table3")>("cli-table3");
  const t = new Table({
    head: ["NAME", "CLOUD", "REGION", "SIZE", "PER HOUR", "PER 30 DAYS", "CURRENCY"],
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    colAligns: ["left", "left", "left", "left", "right", "right", "left"],
  });
  for (const w of cost.workers) {
    const per30 =
      w.pricePerHour === null
        ? null
        : (Math.round(w.pricePerHour * 1e6) * cost.hoursPer30Days) / 1e6;
    t.push([
      w.name,
      w.cloud,
      w.region ?? "-",
      w.size ?? "-",
      formatPrice(w.pricePerHour, 4, w.currency),
      formatPrice(per30, 2, w.currency),
      w.currency ?? "-",
    ]);
  }
  return t.toString();
}

/** `fleet prices`: each cloud's sizes of fleet's, their price in the default region, source and day read. */
async function pricesTable(opts: GlobalOptions, only?: CloudName, dir?: string): Promise<string> {
  const { CLOUDS } = await import("../strategies/registry");
  const { loadCloudDefaults } = await import("../config/defaults");
  const { loadPriceTable, priceOf, formatPrice } = await import("../config/prices");
  const { fleetSizes } = await import("../config/price-update");
  const rows: {
    cloud: CloudName;
    size: string;
    role: string;
    region: string;
    pricePerHour: number | null;
    currency: string | null;
    source: string | null;
    read: string | null;
    why: string | null;
  }[] = [];
  for (const cloud of CLOUDS) {
    if (only && cloud !== only) continue;
    const d = loadCloudDefaults(cloud);
    const table = loadPriceTable(cloud, dir);
    for (const size of fleetSizes(d)) {
      const role = [
        ...(d.size === size ? ["default"] : []),
        ...(["small", "medium", "large"] as const).filter((a) => d.sizes[a] === size),
      ].join(", ");
      const p = table ? priceOf({ [cloud]: table }, { cloud, region: d.region, size }) : undefined;
      const src = table?.sources.find((s) => s.id === table.sizes[size]?.source);
      rows.push({
        cloud,
        size,
        role,
        region: d.region,
        pricePerHour: p ?? null,
        currency: p === undefined ? null : (table?.currency ?? null),
        source: src?.url ?? src?.id ?? null,
        read: src?.read ?? null,
        why: table?.unknown[size] ?? null,
      });
    }
  }
  if (opts.json) return JSON.stringify(rows, null, 2);
  const Table = loadLazily<typeof import("cli-table3")>("cli-table3");
  const t = new Table({
    head: ["CLOUD", "SIZE", "USED AS", "REGION", "PER HOUR", "READ", "SOURCE"],
    style: { head: [], border: [] },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    colAligns: ["left", "left", "left", "left", "right", "left", "left"],
  });
  for (const r of rows)
    t.push([
      r.cloud,
      r.size,
      r.role,
      r.region,
      formatPrice(r.pricePerHour, 4, r.currency),
      r.read ?? "-",
      r.source ?? (r.why ? "unknown: see config/prices" : "-"),
    ]);
  return t.toString();
}

/**
 * `fleet prices --update`: one line per cloud (stdout), one error line per cloud that failed
 * (stderr); a cloud that fails leaves its file as it was and the others are still updated. Throws
 * (exit code 1) when any cloud failed.
 */
async function updateCommand(opts: GlobalOptions, only?: CloudName, dir?: string): Promise<void> {
  const { UPDATABLE_CLOUDS, updatePrices } = await import("../config/price-update");
  const clouds = only ? [only] : UPDATABLE_CLOUDS;
  const updated: unknown[] = [];
  const failed: { cloud: CloudName; error: string }[] = [];
  for (const cloud of clouds) {
    try {
      const u = await updatePrices(cloud, { dir });
      updated.push(u);
      if (!opts.json) {
        const sizes = Object.keys(u.updated).join(", ");
        const missing = u.missing.length
          ? `; not in the response (left as they were): ${u.missing.join(", ")}`
          : "";
        process.stdout.write(
          `${cloud}: updated ${sizes} (${u.currency}, read ${u.read} from ${u.url})${missing}\n`,
        );
      }
    } catch (e) {
      const message = maskCredentials(e instanceof Error ? e.message : String(e));
      failed.push({ cloud, error: message });
      if (!opts.json) stderr(`fleet: error: ${message}`);
    }
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ updated, failed }, null, 2)}\n`);
  if (failed.length)
    throw new Error(`prices not updated for ${failed.map((f) => f.cloud).join(", ")} (see above)`);
}

/** Asks on the terminal (the caller checks there is one). */
async function confirm(question: string): Promise<boolean> {
  const readline = await import("node:readline/promises");
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Builds the program; exported so tests can inspect it without spawning. */
export function buildProgram(
  run: (
    fn: (
      opts: GlobalOptions,
      ctx: () => Promise<CloudContext>,
      reporter: ReturnType<typeof progressReporter>,
    ) => Promise<void>,
    cmd: Command,
  ) => Promise<void>,
): Command {
  const program = new Command("fleet")
    .description(
      "Multi-cloud worker orchestration on Pulumi: create, list and delete worker VMs on any cloud.",
    )
    .option(
      "-s, --stack <name>",
      "the stack to use (create and use start it if it does not exist; the other commands refuse a name that does not exist)",
      process.env.FLEET_STACK ?? "dev",
    )
    .option("-C, --cwd <dir>", "the fleet project directory", process.cwd())
    .option("--json", "machine-readable output on stdout")
    .option("-q, --quiet", "no progress output")
    .option(
      "--install-pulumi",
      "install the pinned Pulumi CLI if it is missing: a download, else a build from engine/go.mod (or FLEET_INSTALL_PULUMI=1)",
    )
    // One line, as every other error; commander repeats a bad argument in its error: never a
    // credential pasted by mistake.
    .configureOutput({ outputError: (text, write) => write(usageErrorLine(text)) })
    .exitOverride();

  program
    .command("create")
    .description(
      `create workers: the names given, or --count random ones (1 to ${MAX_COUNT.toLocaleString("en-US")}; default 1)`,
    )
    .argument("[names...]", "worker names (letters, digits, - and .)")
    .option(
      "-n, --count <n>",
      `create this many workers with random names (1 to ${MAX_COUNT.toLocaleString("en-US")})`,
      parseCount,
    )
    .addOption(
      new Option(
        "--cloud <cloud>",
        `put them in this cloud instead of the stack's default: ${CLOUDS.join(", ")}`,
      ),
    )
    .option(
      "--ttl <duration>",
      "remove them after this long (30m, 2h, 1d; 5m to 30d): records expiresAt; `fleet reap` removes expired workers",
    )
    .action((names: string[], o: { count?: number; cloud?: string; ttl?: string }, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        if (names.length && o.count) throw new UsageError("give names or --count, not both");
        await validateFirst(names, o.cloud, o.ttl);
        const c = await ctx();
        rep.start(`creating ${names.length || o.count || 1} worker(s) on stack ${c.stackName}…`);
        const made = await c.createWorkers(names.length ? names : (o.count ?? 1), {
          cloud: o.cloud as never,
          ttl: o.ttl,
        });
        rep.stop();
        print(opts, made, rep.changes.lines(made.map((w) => w.name)));
      }, cmd),
    );

  program
    .command("delete")
    .description("delete the named workers")
    .argument("<names...>", "worker names")
    .action((names: string[], _o: unknown, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        await validateFirst(names);
        const c = await ctx();
        rep.start(`deleting ${names.length} worker(s)…`);
        await c.deleteWorkers(names);
        rep.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify({ deleted: names })}\n`);
        const gone = names.filter((n) => !rep.changes.wasDeleted(n));
        say(opts, [
          ...rep.changes.lines([]),
          ...(gone.length
            ? [`removed from the stack config, with no worker to delete: ${gone.join(", ")}`]
            : []),
        ]);
      }, cmd),
    );

  program
    .command("delete-all")
    .description("delete every worker of the stack (and only what the stack manages)")
    .option("-y, --yes", "do not ask for confirmation")
    .action((o: { yes?: boolean }, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        if (!o.yes && !process.stdin.isTTY)
          throw new UsageError(
            "refusing to delete every worker without --yes (there is no terminal to ask)",
          );
        const c = await ctx(); // a stack that does not exist is refused before anything is asked
        if (!o.yes && !(await confirm(`Delete every worker of stack "${c.stackName}"?`))) {
          stderr("nothing deleted");
          return;
        }
        rep.start("deleting all workers…");
        await c.deleteAllWorkers();
        rep.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify({ deleted: "all" })}\n`);
        const lines = rep.changes.lines();
        say(opts, lines.length ? lines : ["no workers to delete"]);
      }, cmd),
    );

  program
    .command("list")
    .alias("ls")
    .description(
      "list workers: name, cloud, region, size, IP, creation time, status, price per hour (in its currency), expiry; then the fleet's total cost per currency",
    )
    .option("-r, --refresh", "reconcile with the clouds first; vanished workers show as missing")
    .action((o: { refresh?: boolean }, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        const c = await ctx();
        if (o.refresh) rep.start("refreshing from the clouds…");
        const workers = await c.getAllWorkers({ refresh: o.refresh });
        rep.stop();
        const { listed, cost } = await priced(c, workers);
        if (opts.json) process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
        else {
          const { costLines } = await import("../config/prices");
          const lines = [await listTable(listed), ...costLines(cost)];
          process.stdout.write(`${lines.join("\n")}\n`);
        }
        const missing = workers.filter((w) => w.status === "missing").map((w) => w.name);
        if (missing.length && !opts.quiet) {
          const n = missing.length;
          stderr(
            `fleet: ${n} worker${n === 1 ? "" : "s"} missing from ${n === 1 ? "its cloud" : "their clouds"} (deleted outside fleet?): ` +
              `${missing.join(", ")}; \`fleet sync\` recreates ${n === 1 ? "it" : "them"}, \`fleet delete ${missing.join(" ")}\` drops ${n === 1 ? "it" : "them"}`,
          );
        }
      }, cmd),
    );

  program
    .command("cost")
    .description(
      "what the fleet costs: each worker's on-demand price per hour and per 30 days (720 h), in its cloud's currency; totals per currency",
    )
    .action((_o: unknown, cmd: Command) =>
      run(async (opts, ctx) => {
        const c = await ctx();
        const { cost } = await priced(c, await c.getAllWorkers());
        if (opts.json) process.stdout.write(`${JSON.stringify(cost, null, 2)}\n`);
        else {
          const { costLines } = await import("../config/prices");
          process.stdout.write(`${[await costTable(cost), ...costLines(cost)].join("\n")}\n`);
        }
      }, cmd),
    );

  program
    .command("prices")
    .description(
      "show what fleet's sizes cost in each cloud, with sources and the day they were read; --update refreshes the tables from the clouds' price APIs",
    )
    .option(
      "--update",
      "read each cloud's price API and rewrite config/prices/<cloud>.yaml for fleet's sizes (credentials: DIGITALOCEAN_TOKEN, HCLOUD_TOKEN, GOOGLE_API_KEY; AWS and Azure need none)",
    )
    .addOption(new Option("--cloud <cloud>", "only this cloud"))
    .option("--dir <dir>", "the price tables' directory (default: fleet's own config/prices)")
    .action((o: { update?: boolean; cloud?: string; dir?: string }, cmd: Command) =>
      run(async (opts) => {
        if (o.cloud !== undefined) await validateFirst([], o.cloud);
        if (o.update && o.cloud !== undefined) {
          const { UPDATABLE_CLOUDS } = await import("../config/price-update");
          if (!(UPDATABLE_CLOUDS as string[]).includes(o.cloud))
            throw new UsageError(
              `--cloud ${o.cloud} has no price API to update from; one of ${UPDATABLE_CLOUDS.join(", ")}`,
            );
        }
        if (o.update) await updateCommand(opts, o.cloud as never, o.dir);
        else process.stdout.write(`${await pricesTable(opts, o.cloud as never, o.dir)}\n`);
      }, cmd),
    );

  program
    .command("reap")
    .description(
      "delete every worker past its expiry in one update; nothing expired → exit 0 without an update (safe from cron)",
    )
    .action((_o: unknown, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        const c = await ctx();
        rep.start("reaping expired workers…");
        const reaped = await c.reapExpired();
        rep.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify({ reaped })}\n`);
        say(opts, reaped.length ? rep.changes.lines([]) : ["no expired workers"]);
      }, cmd),
    );

  program
    .command("use")
    .description(
      "switch the stack's default cloud; workers without their own cloud move (new ones first)",
    )
    .argument("<cloud>", `the cloud to use: ${CLOUDS.join(", ")}`)
    .action((cloud: string, _o: unknown, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        await validateFirst([], cloud);
        const c = await ctx();
        rep.start(`moving workers to ${cloud}…`);
        const workers = await c.useCloud(cloud as never);
        rep.stop();
        print(opts, workers, [`stack ${c.stackName} now uses ${cloud}`, ...rep.changes.lines()]);
      }, cmd),
    );

  program
    .command("adopt")
    .description(
      "resolve a create a killed engine left pending, where fleet cannot find what it made (clouds other than local): keep the object you found with its id, or --none to drop the create",
    )
    .argument("<worker>", "the worker (or resource) whose create is pending")
    .argument("[id]", "the id of the object in its cloud, named after the worker")
    .option("--none", "the create made nothing: drop it")
    .action((worker: string, id: string | undefined, o: { none?: boolean }, cmd: Command) =>
      run(async (opts, ctx) => {
        if ((id === undefined) === !o.none)
          throw new UsageError(
            `adopt ${worker}: give either the id of what the create made, or --none when it made nothing`,
          );
        const c = await ctx();
        await c.resolvePendingCreate(worker, o.none ? undefined : id);
        if (opts.json) process.stdout.write(`${JSON.stringify({ worker, id: id ?? null })}\n`);
        else if (!opts.quiet)
          stderr(
            id !== undefined
              ? `kept ${worker} (id ${id}) in the state; \`fleet sync\` fills in the rest`
              : `dropped the pending create of ${worker}`,
          );
      }, cmd),
    );

  program
    .command("sync")
    .description(
      "run an update with the stack config as it is (converge after a failure or a hand edit)",
    )
    .action((_o: unknown, cmd: Command) =>
      run(async (opts, ctx, rep) => {
        const c = await ctx();
        rep.start("converging…");
        const workers = await c.sync();
        rep.stop();
        const lines = rep.changes.lines();
        print(opts, workers, lines.length ? lines : ["nothing to change"]);
      }, cmd),
    );

  program
    .command("env")
    .description(
      "print the environment that makes plain `pulumi up` use fleet's backend and passphrase",
    )
    .action((_o: unknown, cmd: Command) =>
      run(async (opts) => {
        const { engineEnvironment, requireStack } = await import("../context/automation");
        await requireStack({ workDir: opts.cwd, stackName: opts.stack }); // a mistyped --stack
        const env = engineEnvironment(opts.cwd);
        delete env.PULUMI_SKIP_UPDATE_CHECK;
        for (const [k, v] of Object.entries(env))
          process.stdout.write(`export ${k}=${JSON.stringify(v)}\n`);
      }, cmd),
    );
  return program;
}

/**
 * Ctrl-C. A terminal sends SIGINT to every process of its foreground process group, so fleet
 * and its `pulumi` child both get each Ctrl-C; the engine cancels gracefully on its first
 * SIGINT (steps in flight finish) and terminates at once on its second
 * (pkg/backend/cancellation_scope.go). So fleet never signals the engine itself (the
 * Automation API would send one more SIGINT on abort: `automation/cmd.js`): it aborts its own
 * work (nothing new starts, the config is made to match what exists), waits for the engine to
 * stop and says which stop it was. A third Ctrl-C leaves at once.
 */
function interrupts(controller: AbortController): { readonly count: number; stop: () => void } {
  let count = 0;
  const onSigint = () => {
    count++;
    if (count === 1) {
      stderr(
        "fleet: Ctrl-C: cancelling: nothing new starts, and an update under way is cancelled gracefully by the engine (steps already running finish); " +
          "Ctrl-C again terminates it at once, which can leave operations pending",
      );
      controller.abort();
    } else if (count === 2) {
      stderr(
        "fleet: Ctrl-C again: the engine terminates at once; waiting for it to stop (Ctrl-C once more to leave now)",
      );
    } else process.exit(EXIT.interrupted);
  };
  process.on("SIGINT", onSigint);
  return {
    get count() {
      return count;
    },
    stop: () => {
      process.removeListener("SIGINT", onSigint);
    },
  };
}

/**
 * What to run after an operation interrupted twice (the engine terminated at once), or
 * undefined after one Ctrl-C: then the CancelledError's own line says what was done and what
 * was not (a graceful cancel leaves nothing pending, and the stack config lists what exists).
 */
function afterInterrupt(count: number, opts: GlobalOptions): string | undefined {
  if (count < 2) return undefined;
  return (
    "fleet: the update was terminated: creates that were running are left pending in the state, and what they made may run unknown to it; " +
    `\`fleet sync\`${opts.cwd === process.cwd() ? "" : ` -C ${opts.cwd}`}${opts.stack === "dev" ? "" : ` --stack ${opts.stack}`} keeps what they made (the engine's refresh --import-pending-creates) or names what it cannot find, then converges`
  );
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const controller = new AbortController();
  const interrupted = interrupts(controller);

  const program = buildProgram(async (fn, cmd) => {
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    const reporter = progressReporter(opts);
    let opened: CloudContext | undefined;
    try {
      // The stack name becomes part of file paths (fleet's lock): validate it like Pulumi does.
      const { validateStackName } = await import("../config/rules");
      validateStackName("--stack", opts.stack);
      const ctx = async () =>
        (opened ??= await openContext(
          opts,
          controller.signal,
          reporter.onProgress,
          STARTS_A_STACK.has(cmd.name()),
        ));
      await fn(opts, ctx, reporter);
    } catch (e) {
      reporter.stop();
      code = reportError(e, controller.signal.aborted);
      const after = afterInterrupt(interrupted.count, opts);
      if (after) stderr(after);
    }
    if (opened && cmd.name() !== "reap") await warnExpired(opened);
  });

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      code =
        e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version"
          ? EXIT.ok
          : EXIT.usage;
    } else code = reportError(e, false);
  } finally {
    interrupted.stop();
  }
  return code;
}

/**
 * One stderr line naming the workers past their expiry (never on stdout, so `--json` output
 * stays clean). Advisory: when the config cannot be read, the command's own outcome, already
 * reported, stands, and nothing more is said.
 */
async function warnExpired(c: CloudContext): Promise<void> {
  const { expiredWorkers, expiryWarning } = await import("../config/expiry");
  let expired: { name: string; expiresAt: string }[];
  try {
    expired = expiredWorkers((await c.getDesired()).entries, new Date());
  } catch {
    return;
  }
  if (expired.length) stderr(expiryWarning(expired));
}

function reportError(e: unknown, aborted: boolean): number {
  if (e instanceof UsageError) {
    stderr(`fleet: error: ${maskCredentials(e.message)}`);
    return EXIT.usage;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const sub = (err as { errors?: readonly Error[] }).errors;
  const lines = sub && sub.length > 1 ? sub.map((s) => s.message) : [err.message];
  for (const line of lines) stderr(`fleet: error: ${maskCredentials(line.split("\n")[0])}`);
  if (process.env.FLEET_DEBUG && err.stack) stderr(maskCredentials(err.stack));
  return aborted || err.name === "CancelledError" ? EXIT.interrupted : EXIT.failure;
}

if (require.main === module) {
  // Exit explicitly once output is flushed: an engine run can leave handles open.
  void main(process.argv.slice(2)).then((code) => {
    process.stdout.write("", () => process.exit(code));
  });
}
