/**
 * The pulumi double's file backend: the layout and JSON of pkg/backend/diy, locking with the
 * CLI's message (which the Automation API classifies as a ConcurrentUpdateError), stack
 * removal rules and history.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation/errors";
import { FileBackend, newManifest, type Deployment, type UpdateInfo } from "./backend";
import { passphraseSecretsProviders } from "./secrets";

// The Automation API's own classifier (marked @internal, so not in its typings).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createCommandError } = require("@pulumi/pulumi/automation/errors") as {
  createCommandError: (r: { stdout: string; stderr: string; code: number }) => Error;
};

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "state-"));
}

const STACK_URN = "urn:pulumi:dev::fleet::pulumi:pulumi:Stack::fleet-dev";

function deployment(extra: Partial<Deployment> = {}): Deployment {
  return {
    manifest: newManifest("v3.270.0"),
    secrets_providers: passphraseSecretsProviders("v1:c2FsdA==:v1:x:y"),
    resources: [
      { urn: STACK_URN, custom: false, type: "pulumi:pulumi:Stack", outputs: { z: 1, a: "b" } },
      {
        type: "digitalocean:index/droplet:Droplet",
        urn: "urn:pulumi:dev::fleet::digitalocean:index/droplet:Droplet::w1",
        custom: true,
        id: "123",
        parent: STACK_URN,
        inputs: { name: "w1" },
        created: "2026-01-01T00:00:00Z",
        modified: "2026-01-01T00:00:00Z",
      },
    ],
    ...extra,
  };
}

describe("engine double: file backend", () => {
  it("lays out a new stack as pkg/backend/diy does", async () => {
    const root = tmp();
    const b = new FileBackend(`file://${root}`, "/");
    expect(fs.readFileSync(path.join(root, ".pulumi/meta.yaml"), "utf8")).to.equal("version: 1\n");
    await b.createStack("fleet", "dev");
    const file = path.join(root, ".pulumi/stacks/fleet/dev.json");
    expect(fs.readFileSync(file, "utf8")).to.equal(
      '{"version":0,"checkpoint":{"stack":"organization/fleet/dev"}}',
    );
    expect(b.stackExists("fleet", "dev")).to.equal(true);
    expect(b.readDeployment("fleet", "dev")).to.equal(undefined);
    expect(b.listStacks("fleet")).to.deep.equal(["dev"]);
    await b.createStack("fleet", "prod", { manifest: newManifest("v3.270.0") });
    expect(
      fs.readFileSync(`${path.join(root, ".pulumi/stacks/fleet/prod.json")}.bak`, "utf8"),
    ).to.contain('"version":0');
    try {
      await b.createStack("fleet", "dev");
      expect.fail("created a stack twice");
    } catch (e) {
      expect((e as Error).message).to.equal("stack 'organization/fleet/dev' already exists");
      expect((e as Error).message).to.match(/stack.*already exists/);
    }
    expect(() => new FileBackend("s3://bucket", "/")).to.throw(/only file:\/\/ backends/);
  });

  it("writes checkpoints with apitype field names and order, keeping a .bak", async () => {
    const root = tmp();
    const b = new FileBackend(`file://${root}`, "/");
    await b.createStack("fleet", "dev");
    b.writeDeployment("fleet", "dev", deployment());
    const file = path.join(root, ".pulumi/stacks/fleet/dev.json");
    const text = fs.readFileSync(file, "utf8");
    const doc = JSON.parse(text) as {
      version: number;
      checkpoint: { stack: string; latest: Record<string, unknown> };
    };
    expect(doc.version).to.equal(3);
    expect(doc.checkpoint.stack).to.equal("organization/fleet/dev");
    expect(Object.keys(doc.checkpoint.latest)).to.deep.equal([
      "manifest",
      "secrets_providers",
      "resources",
      "metadata",
    ]);
    const res = (doc.checkpoint.latest.resources as Record<string, unknown>[])[1];
    expect(Object.keys(res)).to.deep.equal([
      "urn",
      "custom",
      "id",
      "type",
      "inputs",
      "parent",
      "created",
      "modified",
    ]);
    expect(
      Object.keys(
        (doc.checkpoint.latest.resources as Record<string, Record<string, unknown>>[])[0].outputs,
      ),
    ).to.deep.equal(["a", "z"]);
    expect(text).to.not.contain("\n");
    expect(fs.readFileSync(`${file}.bak`, "utf8")).to.contain('"version":0');
    expect(b.readDeployment("fleet", "dev")?.resources?.[1].id).to.equal("123");
  });

  it("refuses a held lock with the CLI's message, which the Automation API classifies", async () => {
    const root = tmp();
    const a = new FileBackend(`file://${root}`, "/");
    const other = new FileBackend(`file://${root}`, "/");
    await a.createStack("fleet", "dev");
    const release = await a.lock("fleet", "dev");
    const lockFile = path.join(root, `.pulumi/locks/organization/fleet/dev/${a.lockID}.json`);
    const content = JSON.parse(fs.readFileSync(lockFile, "utf8")) as Record<string, unknown>;
    expect(Object.keys(content)).to.deep.equal(["pid", "username", "hostname", "timestamp"]);
    let message = "";
    try {
      await other.lock("fleet", "dev");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(
      /^the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`\.\n {2}file:\/\/.*\/\.pulumi\/locks\/organization\/fleet\/dev\/[0-9a-f-]{36}\.json\?no_tmp_dir=true: created by .+@.+ \(pid \d+\) at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    const err = createCommandError({ stdout: "", stderr: `error: ${message}\n`, code: 255 });
    expect(err).to.be.instanceOf(ConcurrentUpdateError);
    await release();
    const again = await other.lock("fleet", "dev");
    await again();
    // `pulumi cancel` on DIY deletes every lock file of the stack.
    await a.lock("fleet", "dev");
    other.unlockAll("fleet", "dev");
    await (
      await other.lock("fleet", "dev")
    )();
  });

  it("refuses to remove a stack with resources unless forced", async () => {
    const root = tmp();
    const b = new FileBackend(`file://${root}`, "/");
    await b.createStack("fleet", "dev");
    b.writeDeployment("fleet", "dev", deployment());
    let msg = "";
    await b.removeStack("fleet", "dev", false).catch((e: Error) => (msg = e.message));
    expect(msg).to.equal("refusing to remove stack because it still contains resources");
    await b.removeStack("fleet", "dev", true);
    expect(b.stackExists("fleet", "dev")).to.equal(false);
    expect(fs.existsSync(path.join(root, ".pulumi/stacks/fleet/dev.json.bak"))).to.equal(true);
    // Only the root stack resource left: removable without --force.
    await b.createStack("fleet", "qa");
    b.writeDeployment(
      "fleet",
      "qa",
      deployment({ resources: deployment().resources?.slice(0, 1) }),
    );
    await b.removeStack("fleet", "qa", false);
    expect(b.listStacks("fleet")).to.deep.equal([]);
  });

  it("keeps update history newest first, with checkpoint copies and backups", async () => {
    const root = tmp();
    const b = new FileBackend(`file://${root}`, "/");
    await b.createStack("fleet", "dev");
    b.writeDeployment("fleet", "dev", deployment());
    const entry = (message: string): UpdateInfo => ({
      kind: "update",
      startTime: 1700000000,
      message,
      environment: {},
      config: { "fleet:cloud": "aws" },
      version: 0,
      result: "succeeded",
      endTime: 1700000005,
      resourceChanges: { create: 2 },
    });
    b.addHistory("fleet", "dev", entry("first"));
    b.addHistory("fleet", "dev", entry("second"));
    b.addHistory("fleet", "dev", entry("third"));
    expect(b.history("fleet", "dev").map((u) => u.message)).to.deep.equal([
      "third",
      "second",
      "first",
    ]);
    expect(b.history("fleet", "dev", 2, 2).map((u) => u.message)).to.deep.equal(["first"]);
    const files = fs.readdirSync(path.join(root, ".pulumi/history/fleet/dev"));
    expect(files.filter((f) => /^dev-\d+\.history\.json$/.test(f))).to.have.length(3);
    expect(files.filter((f) => /^dev-\d+\.checkpoint\.json$/.test(f))).to.have.length(3);
    expect(
      fs
        .readdirSync(path.join(root, ".pulumi/backups/fleet/dev"))
        .every((f) => /^dev\.\d+\.json$/.test(f)),
    ).to.equal(true);
  });
});

describe("checkpointJSON", () => {
  it("writes exactly what JSON.stringify of the normalized checkpoint writes", async () => {
    const { checkpointJSON, normalizeDeployment, newManifest } = await import("./backend");
    const d = {
      manifest: newManifest("v3.270.0"),
      secrets_providers: { type: "passphrase", state: { salt: "v1:abc" } },
      resources: [
        {
          urn: "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev",
          custom: false,
          type: "pulumi:pulumi:Stack",
          outputs: { b: 1, a: [2, { d: 3, c: 4 }] },
        },
        {
          urn: "urn:pulumi:dev::p::t:m:R::r",
          custom: true,
          id: "1",
          type: "t:m:R",
          inputs: { z: "", y: null },
          dependencies: [],
          protect: false,
        },
      ],
      pending_operations: [
        {
          resource: {
            urn: "urn:pulumi:dev::p::t:m:R::q",
            custom: true,
            type: "t:m:R",
            inputs: { x: 1 },
          },
          type: "creating" as const,
        },
      ],
    };
    const expected = JSON.stringify({
      version: 3,
      checkpoint: { stack: "organization/p/dev", latest: normalizeDeployment(d) },
    });
    expect(checkpointJSON("organization/p/dev", d)).to.equal(expected);
    const bare = { manifest: d.manifest };
    expect(checkpointJSON("s", bare)).to.equal(
      JSON.stringify({ version: 3, checkpoint: { stack: "s", latest: normalizeDeployment(bare) } }),
    );
  });
});
