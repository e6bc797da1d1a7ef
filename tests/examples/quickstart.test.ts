/**
 * The built example (`examples/quickstart.ts`) run as a person runs it, in a fleet project on
 * Pulumi's engine (local cloud: real worker processes) where the person already has workers:
 * one in their `dev` stack and one in the example's own stack. The example must leave both alone
 * and remove exactly the workers it created.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { killProcessGroups, alive, eventually, fleetProject, ROOT } from "../harness/project";

const EXAMPLE = path.join(ROOT, "dist", "examples", "quickstart.js");

interface Listed {
  name: string;
  id: string;
  status: string;
}

const pidOf = (id: string) => Number(id.split(":")[0]);

describe("examples/quickstart on Pulumi's engine (local cloud)", function () {
  this.timeout(300_000);
  const started: number[] = [];
  after(() => killProcessGroups(started));

  it("works in a stack of its own, removes only the workers it made, and leaves the person's workers running", async () => {
    const p = fleetProject({ config: { "fleet:cloud": "local" }, engine: "engine" });
    const list = (stack: string): Listed[] => {
      const r = p.fleet("--stack", stack, "list", "--json");
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout) as Listed[];
    };
    const create = (stack: string, name: string): Listed => {
      const r = p.fleet("--stack", stack, "create", name, "--json");
      expect(r.status, r.stderr).to.equal(0);
      const [w] = JSON.parse(r.stdout) as Listed[];
      started.push(pidOf(w.id));
      return w;
    };
    const mine = create("dev", "mine");
    const mineToo = create("example", "mine-too");

    const run = spawnSync(process.execPath, [EXAMPLE], {
      cwd: p.dir,
      env: p.env,
      encoding: "utf8",
      timeout: 240_000,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    // The person's workers are where they were, running.
    expect(list("example").map((w) => [w.name, w.id, w.status])).to.deep.equal([
      ["mine-too", mineToo.id, "running"],
    ]);
    expect(list("dev").map((w) => [w.name, w.id, w.status])).to.deep.equal([
      ["mine", mine.id, "running"],
    ]);
    for (const w of [mine, mineToo]) expect(alive(pidOf(w.id)), w.name).to.equal(true);

    const made = /^created (example-a) and ([A-Z0-9]{10})$/m.exec(run.stdout);
    expect(made, run.stdout).to.not.equal(null);
    const names = [made![1], made![2]];
    // The listing it printed: its two workers, and the person's marked as left alone.
    const rows = run.stdout
      .split("\n")
      .filter((l) => l.includes("\t"))
      .map((l) => l.split("\t"));
    expect(rows.map((r) => r[0]).sort()).to.deep.equal([...names, "mine-too"].sort());
    expect(rows.find((r) => r[0] === "mine-too")?.[7]).to.equal("(not this script's: left alone)");
    expect(run.stdout).to.contain(`deleted ${names.join(" and ")}`);

    // Its workers are gone: out of the stack, their processes stopped.
    for (const r of rows.filter((r) => names.includes(r[0]))) {
      started.push(pidOf(r[4]));
      expect(await eventually(() => !alive(pidOf(r[4]))), `${r[0]} stopped`).to.equal(true);
    }
    for (const stack of ["dev", "example"])
      expect(p.fleet("--stack", stack, "delete-all", "--yes").status, stack).to.equal(0);
  });
});
