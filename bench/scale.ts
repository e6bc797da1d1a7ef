/**
 * fleet at scale through the `pulumi` double (issue 10): one `fleet create --count N` on the
 * simulated DigitalOcean, then `fleet list --json` and `fleet delete-all --yes`, timed, with the
 * simulated cloud checked after each step. A baseline of N/10 workers runs in the same process
 * first, so the last figure is a ratio: per-worker time at N over per-worker time at N/10
 * (1.0 = linear).
 *
 *   npm run bench:scale                 N = 5,000 (baseline 500)
 *   npm run bench:scale -- --count 1000
 *
 * Prints the table, then as the LAST line one JSON object with every figure.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { packageRoot } from "../config/paths";

const ROOT = packageRoot();
const CLI = path.join(ROOT, "dist", "cli", "fleet.js");
const DOUBLE_BIN = path.join(ROOT, "tests", "engine", "bin");
const DROPLET = "digitalocean:index/droplet:Droplet";

interface Timing {
  count: number;
  createS: number;
  listS: number;
  deleteAllS: number;
}

function countDroplets(dir: string): number {
  // The simulated cloud's own reader (tests/sim/cloud.ts) keeps the journal semantics right.
  const script = `require(${JSON.stringify(path.join(ROOT, "dist", "tests", "engine", "cloud.js"))})
    .openCloud(${JSON.stringify(dir)}).list({ type: ${JSON.stringify(DROPLET)} })
    .then((l) => console.log(l.length))`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`reading the simulated cloud failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

function run(count: number): Timing {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-scale-"));
  const yaml = fs
    .readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")
    .replace(/^main: .*$/m, `main: ${path.join(ROOT, "dist", "index.js")}`);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml);
  fs.mkdirSync(path.join(dir, ".fleet", "stacks"), { recursive: true });
  fs.writeFileSync(
    path.join(dir, ".fleet", "stacks", "Pulumi.scale.yaml"),
    "config:\n  fleet:cloud: digitalocean\n",
  );
  const doubleDir = path.join(dir, "double");
  const env = {
    ...process.env,
    PATH: `${DOUBLE_BIN}${path.delimiter}${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "scale",
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_DOUBLE_DIR: doubleDir,
    DIGITALOCEAN_TOKEN: "dop_v1_scale",
    NODE_OPTIONS: "--max-old-space-size=8192",
  };
  fs.mkdirSync(path.join(dir, "state"));
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
    if (countDroplets(doubleDir) !== count)
      throw new Error("the simulated cloud does not hold every droplet");
    const list = fleet("list", "--json");
    const listed = (JSON.parse(list.stdout) as unknown[]).length;
    if (listed !== count) throw new Error(`list shows ${listed} workers, not ${count}`);
    const all = fleet("delete-all", "--yes");
    if (countDroplets(doubleDir) !== 0)
      throw new Error("delete-all left droplets in the simulated cloud");
    return { count, createS: create.seconds, listS: list.seconds, deleteAllS: all.seconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const i = process.argv.indexOf("--count");
  const count = i >= 0 ? Number(process.argv[i + 1]) : 5000;
  if (!Number.isInteger(count) || count < 10)
    throw new Error("--count takes a whole number of at least 10");
  const baseline = run(Math.max(1, Math.round(count / 10)));
  const big = run(count);
  const perWorker = (t: Timing) => (t.createS + t.deleteAllS) / t.count;
  const rows = [baseline, big].map(
    (t) =>
      `${String(t.count).padStart(6)}  create ${t.createS.toFixed(1).padStart(7)} s  list ${t.listS.toFixed(1).padStart(5)} s  delete-all ${t.deleteAllS.toFixed(1).padStart(7)} s`,
  );
  console.log(rows.join("\n"));
  const scalingRatio = perWorker(big) / perWorker(baseline);
  console.log(
    `per-worker time at ${big.count} / at ${baseline.count}: ${scalingRatio.toFixed(2)} (1.0 = linear)`,
  );
  console.log(JSON.stringify({ baseline, big, scalingRatio: Number(scalingRatio.toFixed(2)) }));
}

main();
