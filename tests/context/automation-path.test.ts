/**
 * `CloudContext.open({ env })` / `openStack` find the Pulumi CLI on the PATH of the environment
 * they are given, as every CLI call they make gets that environment: a PATH given there and not
 * in this process's used to reach the calls but not the lookup ("found none on PATH").
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openStack } from "../../context/automation";

import { ENGINE_BIN, ROOT } from "../harness/project";

describe("openStack: the CLI on the given environment's PATH", function () {
  this.timeout(120_000);
  let saved: string | undefined;
  before(() => {
    saved = process.env.PATH;
    // This process's PATH without any `pulumi` on it.
    process.env.PATH = (saved ?? "")
      .split(path.delimiter)
      .filter((d) => d && !fs.existsSync(path.join(d, "pulumi")))
      .join(path.delimiter);
  });
  after(() => {
    process.env.PATH = saved;
  });

  it("uses the `pulumi` found first on `env.PATH`", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-envpath-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.mkdirSync(path.join(dir, "state"));
    const stack = await openStack({
      workDir: dir,
      stackName: "dev",
      env: {
        PATH: `${ENGINE_BIN}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "envpath",
        PULUMI_HOME: path.join(dir, "home"),
        // fleet's own install root is under HOME: this test must find the CLI on env.PATH.
        HOME: dir,
      },
    });
    expect(stack.name).to.equal("dev");
    expect(
      fs.existsSync(path.join(dir, "state", ".pulumi", "stacks", "fleet", "dev.json")),
    ).to.equal(true);
  });
});
