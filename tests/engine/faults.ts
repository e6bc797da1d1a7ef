/**
 * Fault injection for the `pulumi` double, from one environment variable,
 * `PULUMI_DOUBLE_FAULTS`: a JSON list of rules.
 *
 * Provider-operation rules:
 *   { "op": "create"|"update"|"delete"|"read",
 *     "match": { "<input property>": <value>, … } | { "name": "<logical name>" },
 *     "type"?: "<type token>",
 *     "error"?: "<provider message>", "times"?: n, "delayMs"?: n, "hang"?: true }
 * `match` compares top-level inputs by deep equality; the key `name` compares the resource's
 * logical name (the last URN part) instead — so a droplet's `name` input cannot be matched,
 * match one of its other inputs or its logical name. `{}` matches every resource. `type`
 * (optional) narrows to one type token. At least one of `error`, `delayMs`, `hang` is needed.
 * `times` limits how often a rule fires, counted across processes in `<dir>/faults.json`.
 *
 * Engine-level rules: `{ "kill": { "afterSteps": n } }` (the engine SIGKILLs itself after n
 * completed steps) and `{ "leaveLocked": true }` (the engine exits leaving the stack lock).
 *
 * Every provider operation the engine reports goes into the append-only ledger
 * `<dir>/ledger.jsonl`; tests count operations and faults from it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type Json, type JsonObject, withFileLock } from "../sim/cloud";

/** The environment variable holding the rules. */
export const FAULTS_VAR = "PULUMI_DOUBLE_FAULTS";

/** A provider operation a rule can target. */
export type FaultOp = "create" | "update" | "delete" | "read";
const OPS: readonly FaultOp[] = ["create", "update", "delete", "read"];

/** One provider-operation rule, as parsed. */
export interface FaultRule {
  op: FaultOp;
  match: JsonObject;
  type?: string;
  error?: string;
  times?: number;
  delayMs?: number;
  hang?: boolean;
}

/** What a matching rule asks the engine to do with this operation. */
export interface FaultAction {
  /** Fail the operation with this provider message. */
  error?: string;
  /** Wait this long first (then fail with `error`, or go on when there is none). */
  delayMs?: number;
  /** Never finish (until the process is interrupted). */
  hang?: boolean;
}

/** The resource an operation is about. */
export interface FaultTarget {
  /** Logical name: the last part of the URN. */
  name: string;
  type: string;
  inputs: JsonObject;
}

/** The parsed rules of one `PULUMI_DOUBLE_FAULTS`. */
export interface Faults {
  /** The provider-operation rules, in order. */
  readonly rules: readonly FaultRule[];
  /** First rule (in order) that matches and has `times` left; consumes one. */
  match(op: FaultOp, target: FaultTarget): Promise<FaultAction | undefined>;
  /** From `{ "kill": { "afterSteps": n } }`. */
  killAfterSteps(): number | undefined;
  /** From `{ "leaveLocked": true }`. */
  leaveLocked(): boolean;
}

/** A bad `PULUMI_DOUBLE_FAULTS`; the message names the variable and the bad part. */
export class FaultsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FaultsConfigError";
  }
}

function bad(where: string, rule: unknown, why: string): never {
  throw new FaultsConfigError(
    `${FAULTS_VAR}: ${where} ${JSON.stringify(rule)}: ${why}. ` +
      `Expected a JSON list of { "op": "create"|"update"|"delete"|"read", "match": {…}, ` +
      `"error"?, "times"?, "delayMs"?, "hang"? }, { "kill": { "afterSteps": n } } or ` +
      `{ "leaveLocked": true } (see tests/engine/README.md)`,
  );
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown, min: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= min;

/** Parses the variable's text; throws `FaultsConfigError` naming the bad part. */
export function parseFaults(text: string | undefined): {
  rules: FaultRule[];
  killAfterSteps?: number;
  leaveLocked: boolean;
} {
  const out: { rules: FaultRule[]; killAfterSteps?: number; leaveLocked: boolean } = {
    rules: [],
    leaveLocked: false,
  };
  if (text === undefined || text.trim() === "") return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FaultsConfigError(
      `${FAULTS_VAR} is not valid JSON (${(e as Error).message}): ${text.slice(0, 200)}`,
    );
  }
  if (!Array.isArray(parsed)) bad("the value", parsed, "must be a JSON list of rules");
  parsed.forEach((rule, i) => {
    const where = `rule ${i}`;
    if (!isObject(rule)) bad(where, rule, "a rule must be an object");
    const keys = Object.keys(rule);
    if ("kill" in rule) {
      if (keys.length !== 1) bad(where, rule, "a kill rule has only the key kill");
      const k = rule.kill;
      if (!isObject(k) || Object.keys(k).join() !== "afterSteps" || !isCount(k.afterSteps, 0))
        bad(where, rule, "kill must be { afterSteps: <integer ≥ 0> }");
      if (out.killAfterSteps !== undefined) bad(where, rule, "only one kill rule is allowed");
      out.killAfterSteps = k.afterSteps as number;
      return;
    }
    if ("leaveLocked" in rule) {
      if (keys.length !== 1 || rule.leaveLocked !== true)
        bad(where, rule, "a leaveLocked rule is exactly { leaveLocked: true }");
      out.leaveLocked = true;
      return;
    }
    const allowed = ["op", "match", "type", "error", "times", "delayMs", "hang"];
    const unknown = keys.filter((k) => !allowed.includes(k));
    if (unknown.length) bad(where, rule, `unknown key(s) ${unknown.join(", ")}`);
    if (!OPS.includes(rule.op as FaultOp)) bad(where, rule, `op must be one of ${OPS.join(", ")}`);
    if (!isObject(rule.match)) bad(where, rule, "match must be an object");
    if ("name" in rule.match && typeof rule.match.name !== "string")
      bad(where, rule, "match.name (the logical name) must be a string");
    if (rule.type !== undefined && typeof rule.type !== "string")
      bad(where, rule, "type must be a type token string");
    if (rule.error !== undefined && (typeof rule.error !== "string" || rule.error === ""))
      bad(where, rule, "error must be a non-empty string");
    if (rule.times !== undefined && !isCount(rule.times, 1))
      bad(where, rule, "times must be an integer ≥ 1");
    if (rule.delayMs !== undefined && !isCount(rule.delayMs, 0))
      bad(where, rule, "delayMs must be an integer ≥ 0");
    if (rule.hang !== undefined && rule.hang !== true) bad(where, rule, "hang must be true");
    if (rule.error === undefined && rule.delayMs === undefined && rule.hang === undefined)
      bad(where, rule, "a rule needs error, delayMs or hang");
    out.rules.push(rule as unknown as FaultRule);
  });
  return out;
}

function matches(rule: FaultRule, op: FaultOp, t: FaultTarget): boolean {
  if (rule.op !== op) return false;
  if (rule.type !== undefined && rule.type !== t.type) return false;
  for (const [k, v] of Object.entries(rule.match)) {
    if (k === "name") {
      if (v !== t.name) return false;
    } else if (!isDeepStrictEqual(t.inputs[k] as Json | undefined, v)) return false;
  }
  return true;
}

const COUNTERS = "faults.json";

/**
 * Reads `PULUMI_DOUBLE_FAULTS` from `env` (throws `FaultsConfigError` when it is bad). `dir` is
 * the double's directory, where `faults.json` counts each rule's uses across processes (a rule
 * is identified by its position and text, so a changed variable starts fresh counts).
 */
export function loadFaults(env: Readonly<Record<string, string | undefined>>, dir: string): Faults {
  const parsed = parseFaults(env[FAULTS_VAR]);
  const ids = parsed.rules.map((r, i) => `${i}:${JSON.stringify(r)}`);
  return {
    rules: parsed.rules,
    killAfterSteps: () => parsed.killAfterSteps,
    leaveLocked: () => parsed.leaveLocked,
    async match(op, target) {
      for (let i = 0; i < parsed.rules.length; i++) {
        const rule = parsed.rules[i];
        if (!matches(rule, op, target)) continue;
        if (rule.times !== undefined) {
          const times = rule.times;
          const consumed = await withFileLock(dir, COUNTERS, "{}", () => {
            const file = path.join(dir, COUNTERS);
            const text = fs.readFileSync(file, "utf8");
            const counts = (text.trim() ? JSON.parse(text) : {}) as Record<string, number>;
            const used = counts[ids[i]] ?? 0;
            if (used >= times) return false;
            counts[ids[i]] = used + 1;
            fs.writeFileSync(`${file}.tmp`, JSON.stringify(counts));
            fs.renameSync(`${file}.tmp`, file);
            return true;
          });
          if (!consumed) continue;
        }
        const action: FaultAction = {};
        if (rule.error !== undefined) action.error = rule.error;
        if (rule.delayMs !== undefined) action.delayMs = rule.delayMs;
        if (rule.hang) action.hang = true;
        return action;
      }
      return undefined;
    },
  };
}

/** One provider operation, as the engine reports it to the ledger. */
export interface LedgerEntry {
  /** ISO-8601 UTC; filled in by `appendLedger` when missing. */
  time?: string;
  /** The process; filled in by `appendLedger` when missing. */
  pid?: number;
  op: FaultOp;
  type: string;
  /** Logical name. */
  name: string;
  id?: string;
  /** `fault` when an injected rule made it fail (or delayed/hung it). */
  outcome: "ok" | "failed" | "fault";
  error?: string;
}

/** A ledger line as read back: `time` and `pid` always present. */
export type LedgerLine = LedgerEntry & { time: string; pid: number };

const LEDGER = "ledger.jsonl";

/**
 * Appends one line to `<dir>/ledger.jsonl`. One `write` with `O_APPEND` per line, so lines of
 * concurrent processes never interleave (each line is well under the size a local file system
 * appends atomically).
 */
export function appendLedger(dir: string, entry: LedgerEntry): void {
  fs.mkdirSync(dir, { recursive: true });
  const line = JSON.stringify({
    time: entry.time ?? new Date().toISOString(),
    pid: entry.pid ?? process.pid,
    ...entry,
  });
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
      // torn line
    }
  }
  return out;
}
