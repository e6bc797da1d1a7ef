/**
 * The simulated provider plugins at their gRPC boundary, started as the engine starts them
 * (the `bin/` shim, the port on stdout): credentials, preview unknowns, faults and the ledger.
 * End-to-end use under Pulumi's engine is in tests/cli/fleet.test.ts and tests/e2e/.
 */
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { SIM_BIN } from "../harness/project";
import { readLedger } from "./faults";
import { UNKNOWN } from "./plugin";

const DROPLET = "digitalocean:index/droplet:Droplet";
const URN = (name: string) => `urn:pulumi:dev::fleet::${DROPLET}::${name}`;

interface Started {
  proc: ChildProcess;
  client: provrpc.ResourceProviderClient;
  dir: string;
  stderr: () => string;
}

async function start(pkg: string, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-sim-plugin-"));
  const proc = spawn(path.join(SIM_BIN, `pulumi-resource-${pkg}`), ["127.0.0.1:1"], {
    env: {
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
      HOME: dir,
      FLEET_SIM_DIR: dir,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once("exit", (code) => reject(new Error(`plugin exited ${code}: ${err}`)));
  });
  const client = new provrpc.ResourceProviderClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  return { proc, client, dir, stderr: () => err };
}

function call<Req, Res>(
  fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));
}

function configure(s: Started, args: Record<string, unknown>) {
  const req = new provproto.ConfigureRequest()
    .setArgs(Struct.fromJavaScript(args as Record<string, never>))
    .setAcceptsecrets(true)
    .setType(`pulumi:providers:${s.proc.spawnargs[0].split("pulumi-resource-")[1]}`);
  return call<provproto.ConfigureRequest, provproto.ConfigureResponse>(
    s.client.configure.bind(s.client),
    req,
  );
}

const running: Started[] = [];
afterEach(() => {
  for (const s of running.splice(0)) {
    s.client.close();
    s.proc.kill("SIGKILL");
  }
});

describe("simulated provider plugins (gRPC, as the engine starts them)", function () {
  this.timeout(30_000);

  it("refuses credentials as each provider does: AWS without region or keys, a malformed Hetzner token", async () => {
    const aws = await start("aws");
    running.push(aws);
    const noRegion = await configure(aws, {}).catch((e: grpc.ServiceError) => e);
    expect((noRegion as grpc.ServiceError).details).to.match(/^missing region information/);
    const noKeys = await configure(aws, { region: "us-east-1" }).catch((e: grpc.ServiceError) => e);
    expect((noKeys as grpc.ServiceError).details).to.match(/^No valid credential sources found/);
    const secretKeys = await configure(aws, {
      region: "us-east-1",
      accessKey: "AKIA0000",
      // Configure receives secrets as they are on the wire; the plugin unwraps them.
      secretKey: {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        value: "s",
      },
    });
    expect(secretKeys.getAcceptsecrets(), "later calls carry plain values").to.equal(false);
    expect(secretKeys.getSupportspreview()).to.equal(true);

    const hcloud = await start("hcloud", { HCLOUD_TOKEN: "short" });
    running.push(hcloud);
    const bad = await configure(hcloud, {}).catch((e: grpc.ServiceError) => e);
    expect((bad as grpc.ServiceError).details).to.equal(
      "entered token is invalid (must be exactly 64 characters long)",
    );
  });

  it("DigitalOcean without a token configures, then every API call answers 401", async () => {
    const s = await start("digitalocean");
    running.push(s);
    await configure(s, {});
    const req = new provproto.CreateRequest()
      .setUrn(URN("w"))
      .setType(DROPLET)
      .setProperties(
        Struct.fromJavaScript({ name: "w", image: "ubuntu-24-04-x64", size: "s-1vcpu-1gb" }),
      );
    const e = (await call<provproto.CreateRequest, provproto.CreateResponse>(
      s.client.create.bind(s.client),
      req,
    ).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
    expect(e.details).to.match(/401 \(request "[^"]+"\) Unable to authenticate you$/);
    expect(readLedger(s.dir).map((l) => [l.op, l.outcome])).to.deep.equal([["create", "failed"]]);
  });

  it("a preview create returns the outputs the cloud assigns as unknown, and touches nothing", async () => {
    const s = await start("digitalocean", { DIGITALOCEAN_TOKEN: "t" });
    running.push(s);
    await configure(s, {});
    const req = new provproto.CreateRequest()
      .setUrn(URN("w"))
      .setType(DROPLET)
      .setPreview(true)
      .setProperties(
        Struct.fromJavaScript({
          name: "w",
          image: "ubuntu-24-04-x64",
          size: "s-1vcpu-1gb",
          region: "nyc3",
          sshKeys: [UNKNOWN],
        }),
      );
    const res = await call<provproto.CreateRequest, provproto.CreateResponse>(
      s.client.create.bind(s.client),
      req,
    );
    const out = res.getProperties()?.toJavaScript() ?? {};
    expect(res.getId()).to.equal("");
    expect(out).to.include({ name: "w", region: "nyc3", ipv4Address: UNKNOWN, createdAt: UNKNOWN });
    expect(readLedger(s.dir)).to.deep.equal([]);
  });

  it("faults: match the inputs, count `times` across processes, and `after` returns ErrorResourceInitFailed with the object", async () => {
    const faults = JSON.stringify([
      { op: "create", match: { name: "late" }, error: "droplet never became active", after: true },
      { op: "create", match: { region: "nyc3" }, error: "Size is not available", times: 1 },
    ]);
    const s = await start("digitalocean", { DIGITALOCEAN_TOKEN: "t", FLEET_SIM_FAULTS: faults });
    running.push(s);
    await configure(s, {});
    const create = (name: string) =>
      call<provproto.CreateRequest, provproto.CreateResponse>(
        s.client.create.bind(s.client),
        new provproto.CreateRequest()
          .setUrn(URN(name))
          .setType(DROPLET)
          .setProperties(
            Struct.fromJavaScript({
              name,
              image: "ubuntu-24-04-x64",
              size: "s-1vcpu-1gb",
              region: "nyc3",
            }),
          ),
      );
    const first = (await create("a").catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(first.details).to.equal("Size is not available");
    expect((await create("b")).getId(), "times: 1 is used up").to.match(/^\d+$/);
    const late = (await create("late").catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(late.details).to.equal("droplet never became active");
    expect(late.metadata.get("grpc-status-details-bin"), "init-failure details").to.have.length(1);
    const ledger = readLedger(s.dir).map((l) => [l.name, l.outcome, l.cloudName]);
    expect(ledger).to.deep.equal([
      ["a", "fault", "a"],
      ["b", "ok", "b"],
      ["late", "fault", "late"],
    ]);
    // The object exists in the cloud although the create failed (the engine keeps it in state).
    expect(readLedger(s.dir)[2].id).to.match(/^\d+$/);
  });

  it("hang waits until the engine's Cancel", async () => {
    const faults = JSON.stringify([{ op: "delete", match: {}, hang: true }]);
    const s = await start("digitalocean", { DIGITALOCEAN_TOKEN: "t", FLEET_SIM_FAULTS: faults });
    running.push(s);
    await configure(s, {});
    const del = call(
      s.client.delete.bind(s.client),
      new provproto.DeleteRequest().setUrn(URN("x")).setType(DROPLET).setId("1"),
    ).catch((e: grpc.ServiceError) => e);
    let settled = false;
    void del.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(settled, "still hanging").to.equal(false);
    await call(s.client.cancel.bind(s.client), new Empty());
    expect(((await del) as grpc.ServiceError).details).to.match(/context canceled/);
  });

  it("a bad FLEET_SIM_FAULTS stops the plugin with a message naming the rule", async () => {
    const e = await start("digitalocean", {
      FLEET_SIM_FAULTS: JSON.stringify([{ op: "create", match: {}, error: "x", after: 1 }]),
    }).catch((x: Error) => x);
    expect((e as Error).message).to.contain("FLEET_SIM_FAULTS[0]: after is true");
  });
});
