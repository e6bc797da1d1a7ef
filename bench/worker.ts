/**
 * One benchmark measurement, run in a fresh child process forked by `bench/run.ts`, so every
 * figure starts from a cold heap and its peak RSS is its own. Usage:
 *
 *   node dist/bench/worker.js program <fleet|bare> <digitalocean|aws> <N>
 *   node dist/bench/worker.js burst <N>
 *   node dist/bench/worker.js parallel <N> <latencyMs> <repetitions>
 *
 * The result is sent to the parent over the IPC channel (or printed as JSON when run by hand).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { MOCK_AMI, providerOutputs, waitForRPCs } from "../tests/harness/mocks";

export type Side = "fleet" | "bare";
export type BenchCloud = "digitalocean" | "aws";

/** What a `program` run reports. */
export interface ProgramResult {
  kind: "program";
  side: Side;
  cloud: BenchCloud;
  n: number;
  /** From just before `setMocks` until the stack outputs resolved and every RPC finished. */
  programMs: number;
  /** From process start (`performance.timeOrigin`) to the same point: start-up and imports too. */
  processMs: number;
  /** CPU time (user + system) spent between the same two points: less sensitive to load. */
  cpuMs: number;
  /** Peak resident set size of this process, KiB (`process.resourceUsage().maxRSS`). */
  maxRssKb: number;
  /** Resources the mocks saw registered (the stack and components included). */
  resources: number;
}

/** What a `burst` run reports. */
export interface BurstResult {
  kind: "burst";
  n: number;
  /** Engine updates (`up`) the concurrent calls used. */
  ups: number;
}

/** What a `parallel` run reports: wall times of `createWorkers` of 1 and of N, interleaved. */
export interface ParallelResult {
  kind: "parallel";
  n: number;
  latencyMs: number;
  oneMs: number[];
  manyMs: number[];
  /** CPU time of the same calls: what the wall time is made of besides waiting on latency. */
  oneCpuMs: number[];
  manyCpuMs: number[];
}

export type WorkerResult = ProgramResult | BurstResult | ParallelResult;

/** The same lean mocks for both sides: provider outputs as the tests' mocks return them. */
class BenchMocks implements pulumi.runtime.Mocks {
  public count = 0;

  newResource(args: pulumi.runtime.MockResourceArgs): {
    id: string | undefined;
    state: Record<string, unknown>;
  } {
    this.count++;
    const custom =
      args.custom !== false &&
      !args.type.includes(":WorkerFleet") &&
      args.type !== "pulumi:pulumi:Stack";
    return {
      id: custom ? `${args.name}-id` : undefined,
      state: { ...args.inputs, ...providerOutputs(args) },
    };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    if (args.token === "aws:ec2/getAmi:getAmi")
      return { id: MOCK_AMI, imageId: MOCK_AMI, name: "ubuntu" };
    throw new Error(`bench: unexpected invoke ${args.token}`);
  }
}

/** Worker names `w00000`…; valid for both clouds. */
export function workerNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `w${String(i).padStart(5, "0")}`);
}

/** The minimal program fleet is measured against: N bare resources, their ids as the output. */
async function bareProgram(cloud: BenchCloud, names: readonly string[]): Promise<object> {
  if (cloud === "digitalocean") {
    const digitalocean = await import("@pulumi/digitalocean");
    const droplets = names.map(
      (name) =>
        new digitalocean.Droplet(`digitalocean-${name}`, {
          name,
          image: "ubuntu-24-04-x64",
          region: "nyc3",
          size: "s-1vcpu-1gb",
        }),
    );
    return { ids: droplets.map((d) => d.id) };
  }
  const aws = await import("@pulumi/aws");
  const instances = names.map(
    (name) =>
      new aws.ec2.Instance(`aws-${name}`, {
        ami: MOCK_AMI,
        instanceType: "t3.micro",
        tags: { Name: name },
      }),
  );
  return { ids: instances.map((i) => i.id) };
}

async function runProgram(side: Side, cloud: BenchCloud, n: number): Promise<ProgramResult> {
  // Load the SDKs (and, for fleet, its program) before the clock starts, on both sides alike;
  // touching the resource class makes the SDK's lazy module loading happen here too.
  let program: () => Promise<object>;
  const names = workerNames(n);
  if (cloud === "digitalocean") void (await import("@pulumi/digitalocean")).Droplet;
  else void (await import("@pulumi/aws")).ec2.Instance;
  if (side === "fleet") {
    const { fleetProgram } = await import("../program");
    program = () => fleetProgram();
  } else program = () => bareProgram(cloud, names);

  const config: Record<string, string> =
    side === "fleet" ? { "fleet:cloud": cloud, "fleet:workers": JSON.stringify(names) } : {};
  const mocks = new BenchMocks();

  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await pulumi.runtime.setMocks(mocks, "fleet", "dev", false);
  pulumi.runtime.setAllConfig(config, []);
  const outputs = ((await pulumi.runtime.runInPulumiStack(program)) ?? {}) as Record<
    string,
    unknown
  >;
  await waitForRPCs();
  const t1 = performance.now();
  const cpu = process.cpuUsage(c0);

  const list = side === "fleet" ? outputs.workers : outputs.ids;
  if (!Array.isArray(list) || list.length !== n)
    throw new Error(`bench: ${side} ${cloud} ${n}: expected ${n} outputs`);
  return {
    kind: "program",
    side,
    cloud,
    n,
    programMs: t1 - t0,
    processMs: t1,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
    resources: mocks.count,
  };
}

/** A fresh engine-double stack on DigitalOcean in a temp dir, and a CloudContext over it. */
async function freshContext(latencyMs = 0) {
  const { EngineDouble } = await import("../tests/harness/engine-double");
  const { CloudContext } = await import("../context/cloud-context");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-bench-"));
  const stack = new EngineDouble({ dir });
  await stack.setConfig({ "fleet:cloud": { value: "digitalocean" } });
  if (latencyMs) stack.setFaults({ latencyMs });
  const ctx = new CloudContext({
    stack,
    projectDir: dir,
    env: { DIGITALOCEAN_TOKEN: "bench-not-a-token" },
  });
  return { ctx, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function runBurst(n: number): Promise<BurstResult> {
  const { ctx, dispose } = await freshContext();
  try {
    const made = await Promise.all(workerNames(n).map((name) => ctx.createWorker(name)));
    if (made.length !== n) throw new Error(`bench: burst created ${made.length} of ${n}`);
    return { kind: "burst", n, ups: ctx.stats.ups };
  } finally {
    dispose();
  }
}

async function timeCreate(n: number, latencyMs: number): Promise<{ ms: number; cpuMs: number }> {
  const { ctx, dispose } = await freshContext(latencyMs);
  try {
    const names = workerNames(n);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const made = await ctx.createWorkers(names);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    if (made.length !== n) throw new Error(`bench: created ${made.length} of ${n}`);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    dispose();
  }
}

async function runParallel(n: number, latencyMs: number, reps: number): Promise<ParallelResult> {
  // One discarded round first: the first update in a process pays for loading and JIT.
  await timeCreate(1, latencyMs);
  await timeCreate(n, latencyMs);
  const one = { ms: [] as number[], cpu: [] as number[] };
  const many = { ms: [] as number[], cpu: [] as number[] };
  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? [1, n] : [n, 1];
    for (const k of order) {
      const t = await timeCreate(k, latencyMs);
      const into = k === 1 ? one : many;
      into.ms.push(t.ms);
      into.cpu.push(t.cpuMs);
    }
  }
  return {
    kind: "parallel",
    n,
    latencyMs,
    oneMs: one.ms,
    manyMs: many.ms,
    oneCpuMs: one.cpu,
    manyCpuMs: many.cpu,
  };
}

function positive(arg: string | undefined, what: string): number {
  const v = Number(arg);
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench worker: bad ${what}: ${arg}`);
  return v;
}

async function main(argv: readonly string[]): Promise<WorkerResult> {
  const [mode, ...rest] = argv;
  switch (mode) {
    case "program": {
      const [side, cloud, n] = rest;
      if (side !== "fleet" && side !== "bare") throw new Error(`bench worker: bad side ${side}`);
      if (cloud !== "digitalocean" && cloud !== "aws")
        throw new Error(`bench worker: bad cloud ${cloud}`);
      return runProgram(side, cloud, positive(n, "N"));
    }
    case "burst":
      return runBurst(positive(rest[0], "N"));
    case "parallel":
      return runParallel(
        positive(rest[0], "N"),
        positive(rest[1], "latency"),
        positive(rest[2], "repetitions"),
      );
    default:
      throw new Error(`bench worker: unknown mode ${mode}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (result) => {
      // Exit explicitly once the result is out: the Pulumi runtime can leave handles open.
      if (process.send) process.send(result, undefined, {}, () => process.exit(0));
      else process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
