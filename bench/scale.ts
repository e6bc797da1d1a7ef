/**
 * fleet at scale on Pulumi's own engine (issue 10, issue 16 item 5): one `fleet create --count
 * N` on the simulated DigitalOcean (the provider plugin `tests/sim/bin/pulumi-resource-
 * digitalocean`, loaded by the engine from PATH), then `fleet list --json` and `fleet
 * delete-all --yes`, timed, with the simulated cloud checked after each step. In the same run,
 * on the same engine and plugin, a bare Pulumi program (an inline Automation API program that
 * declares N `digitalocean.Droplet`s and nothing else) is created and destroyed: fleet's time
 * over the bare program's is the overhead ratio (goal ≤ 1.25). A run at N/10 first gives the
 * scaling figure: per-worker time at N over per-worker time at N/10 (1.0 = linear).
 *
 * The engine's own share: the bare program is also run with `PULUMI_SKIP_CHECKPOINTS=true`,
 * which makes the engine skip writing a checkpoint after every step and write only the final
 * one (`SkipCheckpoints` in sdk/go/common/env/env.go; honoured by the snapshot persister in
 * pkg/backend/snapshot.go). The difference is the time the engine spends rewriting the whole
 * state once per step, which grows with N².
 *
 *   npm run bench:scale                   N = 5,000 (and 500)
 *   npm run bench:scale -- --workers 500  N = 500 (and 50)
 *
 * Prints the table, then as the LAST line one JSON object with every figure.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as digitalocean from "@pulumi/digitalocean";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { packageRoot } from "../config/paths";
import { pathFor } from "../tests/harness/project";
import { openCloud } from "../tests/sim/cloud";
import { SIM_DIR_VAR } from "../tests/sim/faults";

const ROOT = packageRoot();
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const DROPLET = "digitalocean:index/droplet:Droplet";

interface Timing {
  count: number;
  createS: number;
  listS: number;
  deleteAllS: number;
}

interface Bare {
  count: number;
  upS: number;
  destroyS: number;
  /** `up` with PULUMI_SKIP_CHECKPOINTS=true. */
  upNoCheckpointsS: number;
}

function droplets(dir: string): Promise<number> {
  return openCloud(dir).count({ type: DROPLET });
}

function scratch(): { dir: string; env: NodeJS.ProcessEnv; simDir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-scale-"));
  const simDir = path.join(dir, "sim");
  fs.mkdirSync(path.join(dir, "state"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pathFor("engine"),
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "scale",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    [SIM_DIR_VAR]: simDir,
    DIGITALOCEAN_TOKEN: `dop_v1_${"0".repeat(64)}`,
    NODE_OPTIONS: "--max-old-space-size=8192",
  };
  return { dir, env, simDir };
}

async function runFleet(count: number): Promise<Timing> {
  const { dir, env, simDir } = scratch();
  // A fleet project as a person's clone has it: Pulumi.yaml, main, node_modules.
  const yaml = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml);
  const main = /^main: (.*)$/m.exec(yaml)?.[1] ?? "index.js";
  fs.mkdirSync(path.dirname(path.join(dir, main)), { recursive: true });
  fs.writeFileSync(
    path.join(dir, main),
    `module.exports = require(${JSON.stringify(path.join(ROOT, "dist", "index.js"))});\n`,
  );
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  const stackDir = path.join(dir, /^stackConfigDir: (.*)$/m.exec(yaml)?.[1] ?? ".");
  fs.mkdirSync(stackDir, { recursive: true });
  fs.writeFileSync(
    path.join(stackDir, "Pulumi.scale.yaml"),
    "config:\n  fleet:cloud: digitalocean\n",
  );
  const fleet = (...args: string[]) => {
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [CLI, "-C", dir, "--stack", "scale", "--quiet", ...args],
      {
        env,
        encoding: "utf8",
        maxBuffer: 1 << 30,
        input: "",
      },
    );
    if (r.status !== 0)
      throw new Error(`fleet ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout };
  };
  try {
    const create = fleet("create", "--count", String(count), "--json");
    const made = (JSON.parse(create.stdout) as unknown[]).length;
    if (made !== count) throw new Error(`create returned ${made} workers, not ${count}`);
    if ((await droplets(simDir)) !== count)
      throw new Error("the simulated cloud does not hold every droplet");
    const list = fleet("list", "--json");
    const listed = (JSON.parse(list.stdout) as unknown[]).length;
    if (listed !== count) throw new Error(`list shows ${listed} workers, not ${count}`);
    const all = fleet("delete-all", "--yes");
    if ((await droplets(simDir)) !== 0)
      throw new Error("delete-all left droplets in the simulated cloud");
    return { count, createS: create.seconds, listS: list.seconds, deleteAllS: all.seconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The bare program: N droplets with the image, region and size fleet's DigitalOcean defaults use. */
async function runBare(
  count: number,
  skipCheckpoints: boolean,
): Promise<{ up: number; destroy: number }> {
  const { dir, env, simDir } = scratch();
  const envVars = Object.fromEntries(
    Object.entries({
      ...env,
      ...(skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
    }).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const saved = process.env.PATH;
  process.env.PATH = env.PATH; // the Automation API finds `pulumi` on this process's PATH
  try {
    const stack = await LocalWorkspace.createOrSelectStack(
      {
        stackName: "bare",
        projectName: "bare",
        program: () => {
          for (let i = 0; i < count; i++)
            new digitalocean.Droplet(`w${i}`, {
              name: `w${i}`,
              image: "ubuntu-24-04-x64",
              region: "nyc3",
              size: "s-1vcpu-1gb",
            });
          return Promise.resolve();
        },
      },
      { workDir: dir, envVars },
    );
    const t0 = performance.now();
    await stack.up();
    const up = (performance.now() - t0) / 1000;
    if ((await droplets(simDir)) !== count) throw new Error("bare up did not make every droplet");
    const t1 = performance.now();
    await stack.destroy();
    const destroy = (performance.now() - t1) / 1000;
    if ((await droplets(simDir)) !== 0) throw new Error("bare destroy left droplets");
    return { up, destroy };
  } finally {
    process.env.PATH = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function bare(count: number): Promise<Bare> {
  const a = await runBare(count, false);
  const b = await runBare(count, true);
  return { count, upS: a.up, destroyS: a.destroy, upNoCheckpointsS: b.up };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--workers");
  const count = i >= 0 ? Number(process.argv[i + 1]) : 5000;
  if (!Number.isInteger(count) || count < 10)
    throw new Error("--workers takes a whole number of at least 10");
  const small = Math.round(count / 10);
  const fleetSmall = await runFleet(small);
  const fleetBig = await runFleet(count);
  const bareSmall = await bare(small);
  const bareBig = await bare(count);
  const s = (n: number) => `${n.toFixed(1).padStart(7)} s`;
  const lines: string[] = [];
  for (const [f, b] of [
    [fleetSmall, bareSmall],
    [fleetBig, bareBig],
  ] as const) {
    lines.push(
      `${String(f.count).padStart(6)}  fleet: create ${s(f.createS)}  list ${s(f.listS)}  delete-all ${s(f.deleteAllS)}`,
      `${" ".repeat(6)}  bare : up     ${s(b.upS)}  (no checkpoints ${s(b.upNoCheckpointsS)})  destroy ${s(b.destroyS)}`,
    );
  }
  const fleetTotal = (t: Timing) => t.createS + t.deleteAllS;
  const bareTotal = (b: Bare) => b.upS + b.destroyS;
  const ratio = fleetTotal(fleetBig) / bareTotal(bareBig);
  const scaling =
    fleetTotal(fleetBig) / fleetBig.count / (fleetTotal(fleetSmall) / fleetSmall.count);
  const checkpointShare = (bareBig.upS - bareBig.upNoCheckpointsS) / bareBig.upS;
  lines.push(
    `fleet / bare Pulumi program at ${count} (create + delete): ${ratio.toFixed(2)} (goal ≤ 1.25)`,
    `per-worker fleet time at ${count} / at ${small}: ${scaling.toFixed(2)} (1.0 = linear)`,
    `engine's per-step checkpoint writes in the bare up at ${count}: ${(checkpointShare * 100).toFixed(0)}% of it ` +
      `(PULUMI_SKIP_CHECKPOINTS=true, sdk/go/common/env/env.go)`,
  );
  console.log(lines.join("\n"));
  console.log(
    JSON.stringify({
      fleet: [fleetSmall, fleetBig],
      bare: [bareSmall, bareBig],
      ratio: Number(ratio.toFixed(2)),
      scalingRatio: Number(scaling.toFixed(2)),
      checkpointShare: Number(checkpointShare.toFixed(2)),
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
