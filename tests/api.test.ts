/**
 * The package entry point as a user's script meets it: a TypeScript script in a directory of
 * its own imports CloudContext from "fleet" by name (its node_modules/fleet is a link to this
 * package, as `npm install <path>` makes it), is type-checked against the package's `types`,
 * compiled, and run with Node, driving a fleet project on Pulumi's engine (local cloud).
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { killProcessGroups, alive, eventually, fleetProject, ROOT } from "./harness/project";

const SCRIPT = `import { CloudContext, WorkerNotFoundError, type Worker } from "fleet";

const row = (w: Worker) => [w.name, w.cloud, w.ip, w.status, w.id];

async function main(): Promise<void> {
  const fleet = await CloudContext.open({ workDir: process.argv[2], stackName: "dev" });
  const made = await fleet.createWorkers(["pkg-a", "pkg-b"]);
  const listed = await fleet.getAllWorkers();
  await fleet.deleteWorker("pkg-a");
  const afterDelete = await fleet.getAllWorkers();
  const missing = await fleet.deleteWorker("pkg-a").then(
    () => "deleted twice",
    (e: unknown) => (e instanceof WorkerNotFoundError ? e.message : String(e)),
  );
  await fleet.deleteAllWorkers();
  const afterAll = await fleet.getAllWorkers();
  console.log(JSON.stringify({
    resolved: require.resolve("fleet"),
    made: made.map(row),
    listed: listed.map(row),
    afterDelete: afterDelete.map(row),
    missing,
    afterAll: afterAll.map(row),
  }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
`;

describe('the package entry point: require("fleet") from a script of its own', function () {
  this.timeout(300_000);
  const started: number[] = [];
  after(() => killProcessGroups(started));

  it("type-checks against the package's types, then creates, lists and deletes local workers on Pulumi's engine", async () => {
    const p = fleetProject({ config: { "fleet:cloud": "local" }, engine: "engine" });
    const user = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-user-"));
    fs.mkdirSync(path.join(user, "node_modules"));
    fs.symlinkSync(ROOT, path.join(user, "node_modules", "fleet"), "dir");
    fs.writeFileSync(path.join(user, "script.ts"), SCRIPT);

    const tsc = spawnSync(
      process.execPath,
      [
        path.join(ROOT, "node_modules", "typescript", "bin", "tsc"),
        "--strict",
        "--target",
        "es2022",
        "--module",
        "commonjs",
        "--moduleResolution",
        "node",
        "--types",
        "node",
        "--typeRoots",
        path.join(ROOT, "node_modules", "@types"),
        "--skipLibCheck",
        "script.ts",
      ],
      { cwd: user, encoding: "utf8" },
    );
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).to.equal(0);

    const run = spawnSync(process.execPath, [path.join(user, "script.js"), p.dir], {
      cwd: user,
      env: p.env,
      encoding: "utf8",
      timeout: 240_000,
    });
    expect(run.status, run.stderr).to.equal(0);
    const out = JSON.parse(run.stdout) as Record<string, string[][]> & {
      resolved: string;
      missing: string;
    };
    // The package's `main`, reached by name through node_modules.
    expect(fs.realpathSync(out.resolved)).to.equal(
      fs.realpathSync(path.join(ROOT, "dist", "api.js")),
    );
    const pids = out.made.map((r) => Number(r[4].split(":")[0]));
    started.push(...pids);
    expect(out.made.map((r) => r.slice(0, 4))).to.deep.equal([
      ["pkg-a", "local", "127.0.0.1", "running"],
      ["pkg-b", "local", "127.0.0.1", "running"],
    ]);
    expect(out.listed).to.deep.equal(out.made);
    expect(out.afterDelete).to.deep.equal([out.made[1]]);
    expect(out.missing).to.equal('worker: no such worker: got "pkg-a"; existing workers: pkg-b');
    expect(out.afterAll).to.deep.equal([]);
    for (const pid of pids) expect(await eventually(() => !alive(pid)), `${pid}`).to.equal(true);
    expect(p.configuredNames()).to.deep.equal([]);
  });
});
