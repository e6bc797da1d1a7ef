/**
 * A `fleet:workers` list bigger than one process argument: Linux refuses a single argument over
 * 128 KiB (MAX_ARG_STRLEN, E2BIG), and `config set-all` would pass the whole list as one.
 * Through Pulumi's engine, the value goes through `pulumi config set`'s standard input instead.
 */
import { expect } from "chai";
import { openStack } from "../../context/automation";
import { fleetProject } from "../harness/project";

describe("stack config larger than one process argument (Pulumi's engine)", function () {
  this.timeout(120_000);

  it("sets and reads back a 3,000-worker fleet:workers list of about 200 KiB, next to small keys", async () => {
    const p = fleetProject({ config: { "fleet:cloud": "local" } });
    const names = Array.from(
      { length: 3_000 },
      (_, i) => `worker-${String(i).padStart(5, "0")}-${"x".repeat(48)}`,
    );
    const value = JSON.stringify(names);
    expect(Buffer.byteLength(`fleet:workers=${value}`)).to.be.greaterThan(128 * 1024);
    const stack = await openStack({ workDir: p.dir, stackName: p.stack, env: p.env });
    await stack.setConfig({
      "fleet:workers": { value },
      "fleet:region": { value: "localhost" },
    });
    const config = await stack.getAllConfig();
    expect(config["fleet:workers"]?.value).to.equal(value);
    expect(config["fleet:region"]?.value).to.equal("localhost");
    expect(p.configuredNames()).to.have.length(3_000);
  });
});
