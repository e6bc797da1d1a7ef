/**
 * Fault injection and the operation ledger of the simulated provider plugins (`plugin.ts`).
 *
 * `FLEET_SIM_FAULTS` holds a JSON list of rules:
 *   { "op": "create"|"update"|"delete"|"read"|"invoke",
 *     "match": { "<input property or path>": <value>, … },
 *     "type"?: "<type token>" (for invoke: the function token),
 *     "error"?: "<provider message>", "times"?: n, "delayMs"?: n, "hang"?: true, "after"?: true,
 *     "crash"?: true }
 * `match` compares the inputs the plugin receives, by deep equality: a droplet's `name` is the
 * worker's name, `tags.Name` an EC2 instance's Name tag (Pulumi property paths). For `delete`
 * and `read`, which carry the old inputs and outputs, outputs fill in keys the inputs lack. `{}`
 * matches every resource (of `type`, when given). At least one of `error`, `delayMs`, `hang`.
 * `times` limits how often a rule fires, counted across processes in `<dir>/faults.json`.
 * `after: true` (create only, with `error`) makes the object in the simulated cloud first and
 * then fails, the way a provider reports an object that was made but did not come up: the
 * engine keeps it in state with `initErrors`. `hang` waits until the engine sends `Cancel`
 * or the plugin is killed. `crash: true` makes the plugin process die at once (SIGKILL to
 * itself), as a provider plugin that crashes does: the engine sees its gRPC connection drop
 * mid-operation. With `after: true` (create only) the object is made in the simulated cloud
 * first, so the crash leaves an object the engine never heard of. Previews are never faulted.
 *
 * Every cloud operation (not previews) goes into the append-only ledger `<dir>/ledger.jsonl`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type Json, type JsonObject, withFileLock } from "./cloud";

/** The environment variable holding the rules. */
export const FAULTS_VAR = "FLEET_SIM_FAULTS";
/** The environment variable naming the simulated clouds' directory. */
export const SIM_DIR_VAR = "FLEET_SIM_DIR";
/** Milliseconds every create, update and delete takes (the clouds' latency); default 0. */
export const LATENCY_VAR = "FLEET_SIM_LATENCY_MS";

/** A provider operation a rule can target and the ledger records. */
export type SimOp = "create" | "update" | "delete" | "read" | "invoke";
const OPS: readonly SimOp[] = ["create", "update", "delete", "read", "invoke"];

/** One rule, as parsed. */
export interface FaultRule {
  op: SimOp;
  match: JsonObject;
  type?: string;
  error?: string;
  times?: number;
  delayMs?: number;
  hang?: boolean;
  after?: boolean;
  crash?: boolean;
}

/** What a matching rule asks the plugin to do with this operation. */
export interface FaultAction {
  error?: string;
  delayMs?: number;
  hang?: boolean;
  after?: boolean;
  crash?: boolean;
}

/** The resource (or function call) an operation is about. */
export interface FaultTarget {
  type: string;
  /** The inputs the plugin received (for invoke: the arguments). */
  inputs: JsonObject;
  /** The old outputs, for delete and read. */
  outputs?: JsonObject;
}

/** A bad `FLEET_SIM_FAULTS`: the message names the variable and the rule. */
export class FaultsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FaultsConfigError";
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isCount(v: unknown, min: number): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= min;
}

/** Parses and validates the rules (an unset or empty variable is no rules). */
export function parseFaults(text: string | undefined): FaultRule[] {
  if (text === undefined || !text.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FaultsConfigError(`${FAULTS_VAR}: not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new FaultsConfigError(`${FAULTS_VAR}: must be a JSON list`);
  return parsed.map((rule: unknown, i) => {
    const bad = (why: string): never => {
      throw new FaultsConfigError(`${FAULTS_VAR}[${i}]: ${why}: got ${JSON.stringify(rule)}`);
    };
    if (!isObject(rule)) return bad("a rule is an object");
    const allowed = ["op", "match", "type", "error", "times", "delayMs", "hang", "after", "crash"];
    const unknown = Object.keys(rule).filter((k) => !allowed.includes(k));
    if (unknown.length) bad(`unknown key(s) ${unknown.join(", ")}`);
    if (!OPS.includes(rule.op as SimOp)) bad(`op must be one of ${OPS.join(", ")}`);
    if (!isObject(rule.match)) bad("match must be an object");
    if (rule.type !== undefined && typeof rule.type !== "string")
      bad("type must be a type token string");
    if (rule.error !== undefined && (typeof rule.error !== "string" || rule.error === ""))
      bad("error must be a non-empty string");
    if (rule.times !== undefined && !isCount(rule.times, 1)) bad("times must be an integer ≥ 1");
    if (rule.delayMs !== undefined && !isCount(rule.delayMs, 0))
      bad("delayMs must be an integer ≥ 0");
    if (rule.hang !== undefined && rule.hang !== true) bad("hang must be true");
    if (rule.crash !== undefined && rule.crash !== true) bad("crash must be true");
    if (
      rule.after !== undefined &&
      (rule.after !== true || rule.op !== "create" || (!rule.error && !rule.crash))
    )
      bad("after is true, on a create rule with an error or a crash");
    if (
      rule.error === undefined &&
      rule.delayMs === undefined &&
      rule.hang === undefined &&
      rule.crash === undefined
    )
      bad("a rule needs error, delayMs, hang or crash");
    return rule as unknown as FaultRule;
  });
}

/** Parses `a.b["c"][0]` (Pulumi property path syntax) into segments. */
function segments(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(m[2].replace(/\\(.)/g, "$1"));
    else out.push(Number(m[3]));
  }
  return out;
}

function valueAt(root: JsonObject, p: string): Json | undefined {
  if (p in root) return root[p];
  let cur: Json | undefined = root;
  for (const s of segments(p)) {
    if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur)
      ? typeof s === "number"
        ? cur[s]
        : undefined
      : (cur as JsonObject)[String(s)];
  }
  return cur;
}

function matches(rule: FaultRule, op: SimOp, t: FaultTarget): boolean {
  if (rule.op !== op) return false;
  if (rule.type !== undefined && rule.type !== t.type) return false;
  const seen: JsonObject = { ...(t.outputs ?? {}), ...t.inputs };
  return Object.entries(rule.match).every(([k, v]) => isDeepStrictEqual(valueAt(seen, k), v));
}

const COUNTERS = "faults.json";

/** The rules of one plugin process, with their `times` counted in `dir` across processes. */
export class Faults {
  private readonly rules: FaultRule[];
  private readonly ids: string[];
  constructor(
    text: string | undefined,
    private readonly dir: string,
  ) {
    this.rules = parseFaults(text);
    this.ids = this.rules.map((r, i) => `${i}:${JSON.stringify(r)}`);
  }

  /** The first rule that matches and still has uses left, consumed; undefined when none. */
  async match(op: SimOp, target: FaultTarget): Promise<FaultAction | undefined> {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i];
      if (!matches(rule, op, target)) continue;
      if (rule.times !== undefined && !(await this.consume(i, rule.times))) continue;
      const action: FaultAction = {};
      if (rule.error !== undefined) action.error = rule.error;
      if (rule.delayMs !== undefined) action.delayMs = rule.delayMs;
      if (rule.hang) action.hang = true;
      if (rule.after) action.after = true;
      if (rule.crash) action.crash = true;
      return action;
    }
    return undefined;
  }

  private consume(i: number, times: number): Promise<boolean> {
    return withFileLock(this.dir, COUNTERS, "{}", () => {
      const file = path.join(this.dir, COUNTERS);
      const text = fs.readFileSync(file, "utf8");
      const counts = (text.trim() ? JSON.parse(text) : {}) as Record<string, number>;
      const used = counts[this.ids[i]] ?? 0;
      if (used >= times) return false;
      counts[this.ids[i]] = used + 1;
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(counts));
      fs.renameSync(`${file}.tmp`, file);
      return true;
    });
  }
}

/** One cloud operation of a plugin, as the ledger records it. */
export interface LedgerEntry {
  op: SimOp;
  /** The package (`aws`, `digitalocean`, …). */
  pkg: string;
  /** Resource type, or the function token for invoke. */
  type: string;
  /** Logical name (the last part of the URN); the function token for invoke. */
  name: string;
  /** The name the object carries in the cloud (`name` input, or the `Name` tag), if any. */
  cloudName?: string;
  id?: string;
  /** `fault` when an injected rule made it fail (or delayed or hung it). */
  outcome: "ok" | "failed" | "fault";
  error?: string;
}

/** A ledger line as read back. */
export type LedgerLine = LedgerEntry & { time: string; pid: number };

const LEDGER = "ledger.jsonl";

/** Appends one line (one O_APPEND write, so concurrent processes never interleave lines). */
export function appendLedger(dir: string, entry: LedgerEntry): void {
  fs.mkdirSync(dir, { recursive: true });
  const line = JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...entry });
  fs.appendFileSync(path.join(dir, LEDGER), `${line}\n`);
}

/** Every ledger line, oldest first (a torn last line from a killed process is skipped). */
export function readLedger(dir: string): LedgerLine[] {
  let text = "";
  try {
    text = fs.readFileSync(path.join(dir, LEDGER), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: LedgerLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as LedgerLine);
    } catch {
      // a torn line
    }
  }
  return out;
}
