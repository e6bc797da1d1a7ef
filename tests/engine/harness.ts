/**
 * Test harness for the `pulumi` double: a project in a temporary directory whose program is the
 * fixture (`fixtures/program.ts`), a file backend and a simulated cloud of its own, and helpers
 * to run the double as a subprocess and read what it left behind (checkpoint, events, ledger).
 */
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { type CloudObject, openCloud } from "../sim/cloud";
import type { EngineEvent } from "./engine/events";
import { type LedgerLine, readLedger } from "./faults";

const ROOT = path.join(__dirname, "..", "..", "..");
/** The double's executable. */
export const PULUMI = path.join(ROOT, "tests", "engine", "bin", "pulumi");
const PROGRAM = path.join(__dirname, "fixtures", "program.js");

/** One resource of the fixture program (see `fixtures/program.ts`). */
export interface FixtureResource {
  name: string;
  type?: string;
  props?: Record<string, unknown>;
  secretProps?: string[];
  parent?: string;
  dependsOn?: string[];
  protect?: boolean;
  deleteBeforeReplace?: boolean;
  ignoreChanges?: string[];
}

export interface CheckpointResource {
  urn: string;
  type: string;
  id?: string;
  custom: boolean;
  delete?: boolean;
  parent?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  provider?: string;
  dependencies?: string[];
}

export interface EngineProject {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs the double synchronously in the project. */
  pulumi(args: string[], extraEnv?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** Starts the double without waiting (for signals). */
  start(args: string[], extraEnv?: NodeJS.ProcessEnv): import("node:child_process").ChildProcess;
  /** Sets `fixture:resources` in the stack file. */
  setResources(resources: FixtureResource[]): void;
  /** `up --yes` with an event log; returns the run and its events. */
  up(
    extra?: string[],
    extraEnv?: NodeJS.ProcessEnv,
  ): { run: SpawnSyncReturns<string>; events: EngineEvent[] };
  checkpoint(): {
    resources: CheckpointResource[];
    pending: { type: string; resource: CheckpointResource }[];
  };
  /** Custom resources in state, by logical name. */
  stateNames(): string[];
  /** Objects in the simulated cloud. */
  cloud(): Promise<CloudObject[]>;
  ledger(): LedgerLine[];
}

/** A fresh project and stack `dev` for the fixture program. */
export function engineProject(extraProjectConfig: Record<string, unknown> = {}): EngineProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-engine-"));
  const project = {
    name: "fixture",
    runtime: "nodejs",
    main: PROGRAM,
    ...(Object.keys(extraProjectConfig).length ? { config: extraProjectConfig } : {}),
  };
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml.dump(project));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "engine-test",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_DOUBLE_DIR: path.join(dir, "double"),
    DIGITALOCEAN_TOKEN: "dop_v1_test",
  };
  fs.mkdirSync(path.join(dir, "state"));
  const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [PULUMI, ...args, "--cwd", dir], {
      env: { ...env, ...extraEnv },
      encoding: "utf8",
      timeout: 120_000,
    });
  const init = run(["stack", "init", "dev"]);
  if (init.status !== 0) throw new Error(`stack init failed: ${init.stderr}`);
  const stackFile = path.join(dir, "Pulumi.dev.yaml");
  const p: EngineProject = {
    dir,
    env,
    pulumi: run,
    start: (args, extraEnv = {}) =>
      spawn(process.execPath, [PULUMI, ...args, "--cwd", dir], {
        env: { ...env, ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    setResources(resources) {
      const doc = (yaml.load(fs.readFileSync(stackFile, "utf8")) ?? {}) as {
        config?: Record<string, unknown>;
      };
      doc.config = { ...(doc.config ?? {}), "fixture:resources": JSON.stringify(resources) };
      fs.writeFileSync(stackFile, yaml.dump(doc));
    },
    up(extra = [], extraEnv = {}) {
      const log = path.join(
        dir,
        `events-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`,
      );
      const r = run(["up", "--yes", "--stack", "dev", "--event-log", log, ...extra], extraEnv);
      return { run: r, events: readEvents(log) };
    },
    checkpoint() {
      const file = path.join(dir, "state", ".pulumi", "stacks", "fixture", "dev.json");
      if (!fs.existsSync(file)) return { resources: [], pending: [] };
      const cp = JSON.parse(fs.readFileSync(file, "utf8")) as {
        checkpoint: {
          latest?: {
            resources?: CheckpointResource[];
            pending_operations?: { type: string; resource: CheckpointResource }[];
          };
        };
      };
      return {
        resources: cp.checkpoint.latest?.resources ?? [],
        pending: cp.checkpoint.latest?.pending_operations ?? [],
      };
    },
    stateNames() {
      return p
        .checkpoint()
        .resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"))
        .map((r) => r.urn.split("::").pop() as string);
    },
    cloud: () => openCloud(env.PULUMI_DOUBLE_DIR as string).list(),
    ledger: () => readLedger(env.PULUMI_DOUBLE_DIR as string),
  };
  return p;
}

export function readEvents(file: string): EngineEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EngineEvent);
}

/** `[op, logical name]` of each resourcePreEvent, in order. */
export function steps(events: EngineEvent[]): [string, string][] {
  const out: [string, string][] = [];
  for (const e of events)
    if ("resourcePreEvent" in e)
      out.push([
        e.resourcePreEvent.metadata.op,
        e.resourcePreEvent.metadata.urn.split("::").pop() as string,
      ]);
  return out;
}

/** A droplet's inputs, as DigitalOcean requires them. */
export function droplet(name: string, extra: Record<string, unknown> = {}): FixtureResource {
  return {
    name,
    type: "digitalocean:index/droplet:Droplet",
    props: { name, image: "ubuntu-24-04-x64", region: "nyc3", size: "s-1vcpu-1gb", ...extra },
  };
}
