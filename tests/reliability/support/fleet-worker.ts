/**
 * A fleet process for the concurrency tests: opens a CloudContext with `CloudContext.open` on a
 * shared project (the Automation API spawning Pulumi's engine found first on PATH; same
 * project dir, so the same cross-process lock and the same checkpoint), runs the steps it is
 * given and reports each result to its parent over IPC. Steps run one after another; the
 * operations of one step run concurrently (so they coalesce in the context's queue).
 */
import { CloudContext } from "../../../context/cloud-context";

export type Op =
  | { kind: "create"; names: string[] }
  | { kind: "delete"; names: string[] }
  | { kind: "sync" }
  | { kind: "list" };

export interface Job {
  projectDir: string;
  stack: string;
  /** The engine's environment: the engine and plugins first on PATH, backend, passphrase, FLEET_SIM_DIR. */
  env: NodeJS.ProcessEnv;
  steps: Op[][];
}

export interface OpResult {
  op: Op;
  ok: boolean;
  error?: { name: string; message: string };
  workers?: string[];
}

export type WorkerMessage =
  | { type: "progress"; worker: string; state: string }
  | { type: "done"; results: OpResult[] };

/** What the parent sends: a job to run, or the end. */
export type ParentMessage = { type: "job"; job: Job } | { type: "exit" };

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

async function run(job: Job): Promise<OpResult[]> {
  const ctx = await CloudContext.open({
    workDir: job.projectDir,
    stackName: job.stack,
    env: job.env,
    lock: { staleMs: 10_000, timeoutMs: 600_000, pollMs: 50 },
    retry: { attempts: 10, baseDelayMs: 50, maxDelayMs: 1_000 },
    onProgress: (p) => void send({ type: "progress", worker: p.worker, state: p.state }),
  });
  const results: OpResult[] = [];
  for (const step of job.steps) {
    const settled = await Promise.allSettled(
      step.map(async (op): Promise<string[] | undefined> => {
        if (op.kind === "create") return (await ctx.createWorkers(op.names)).map((w) => w.name);
        if (op.kind === "delete") return void (await ctx.deleteWorkers(op.names));
        if (op.kind === "sync") return (await ctx.sync()).map((w) => w.name);
        return (await ctx.getAllWorkers()).map((w) => w.name);
      }),
    );
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") results.push({ op: step[i], ok: true, workers: s.value });
      else {
        const e = s.reason instanceof Error ? s.reason : new Error(String(s.reason));
        results.push({ op: step[i], ok: false, error: { name: e.name, message: e.message } });
      }
    });
  }
  return results;
}

async function runReported(job: Job): Promise<void> {
  let results: OpResult[];
  try {
    results = await run(job);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    results = [
      { op: { kind: "sync" }, ok: false, error: { name: err.name, message: err.message } },
    ];
  }
  await send({ type: "done", results });
}

if (require.main === module) {
  // The Pulumi SDK records a stack trace for every promise it makes; short traces keep the
  // engine runs fast without changing what they do.
  Error.stackTraceLimit = 3;
  // Long-lived: jobs over IPC until told to exit (the concurrency rounds reuse processes).
  process.on("message", (m: ParentMessage) => {
    if (m.type === "exit") process.exit(0);
    else void runReported(m.job);
  });
}
