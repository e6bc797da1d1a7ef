/**
 * The pure parts of a fleet on a shared backend (config/shared-state.ts, context/desired.ts,
 * context/retry.ts): when the desired state lives in the backend, how a record lays over a
 * clone's stack config, revisions, and telling a dead lock holder from a live one. The whole
 * protocol, on Pulumi's engine and a real object store, is tests/shared/shared-backend.test.ts.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { parseFleetConfig } from "../../config/fleet-config";
import {
  NO_RECORD,
  desiredRecord,
  desiredRevision,
  isRecordUrn,
  parseRecord,
  sharedState,
} from "../../config/shared-state";
import { isLockRace, translate } from "../../context/automation";
import { withRecord } from "../../context/desired";
import { StackBusyError, UpdateFailedError } from "../../context/stack";
import { deadHolder } from "../../context/retry";

describe("shared state: where the desired state lives", () => {
  it("is the backend for any PULUMI_BACKEND_URL but file://, and FLEET_SHARED_STATE decides both ways", () => {
    expect(sharedState({})).to.equal(false);
    expect(sharedState({ PULUMI_BACKEND_URL: "file:///tmp/state" })).to.equal(false);
    expect(sharedState({ PULUMI_BACKEND_URL: "file://~" })).to.equal(false);
    for (const url of [
      "s3://fleet?endpoint=http://127.0.0.1:8333",
      "gs://bucket",
      "azblob://container",
      "https://api.pulumi.com",
    ])
      expect(sharedState({ PULUMI_BACKEND_URL: url }), url).to.equal(true);
    expect(
      sharedState({ PULUMI_BACKEND_URL: "file:///nfs/team", FLEET_SHARED_STATE: "1" }),
    ).to.equal(true);
    expect(sharedState({ PULUMI_BACKEND_URL: "s3://b", FLEET_SHARED_STATE: "0" })).to.equal(false);
  });

  it("gives equal content one revision and different content another", () => {
    const a = desiredRevision("local", ["a", { name: "b", size: "s-1vcpu-1gb" }]);
    expect(a).to.match(/^[0-9a-f]{16}$/);
    expect(desiredRevision("local", ["a", { name: "b", size: "s-1vcpu-1gb" }])).to.equal(a);
    expect(desiredRevision("local", ["a"])).to.not.equal(a);
    expect(desiredRevision("aws", ["a", { name: "b", size: "s-1vcpu-1gb" }])).to.not.equal(a);
    expect(desiredRevision("local", [])).to.not.equal(NO_RECORD);
  });

  it("reads a record back from a resource's outputs, and nothing else as one", () => {
    const r = desiredRecord("local", ["a", "b"]);
    expect(parseRecord({ ...r, __provider: "exports.handler = …" })).to.deep.equal(r);
    expect(parseRecord({ revision: r.revision, cloud: "local" })).to.equal(undefined);
    expect(parseRecord(undefined)).to.equal(undefined);
    expect(
      isRecordUrn("urn:pulumi:dev::fleet::pulumi-nodejs:dynamic:Resource::fleet-desired"),
    ).to.equal(true);
    expect(
      isRecordUrn("urn:pulumi:dev::fleet::fleet:local:WorkerFleet$x::fleet-desired-2"),
    ).to.equal(false);
  });

  it("lays the record over a clone's config; without one, wants nothing unless the stack has workers from before", () => {
    const local = {
      "fleet:workers": { value: '["mine"]' },
      "fleet:cloud": { value: "local" },
      "fleet:region": { value: "localhost" },
    };
    const record = desiredRecord("digitalocean", ["theirs"]);
    expect(withRecord(local, record, true)).to.deep.equal({
      "fleet:workers": { value: '["theirs"]' },
      "fleet:cloud": { value: "digitalocean" },
      "fleet:region": { value: "localhost" },
    });
    expect(withRecord(local, undefined, false)).to.deep.equal({
      "fleet:cloud": { value: "local" },
      "fleet:region": { value: "localhost" },
    });
    expect(withRecord(local, undefined, true)).to.deep.equal(local);
  });

  it("accepts the revisions fleet writes in fleet:stateRevision and refuses anything else, naming the key", () => {
    const parse = (v: string) => parseFleetConfig({ "fleet:stateRevision": v }, { stack: "dev" });
    expect(() => parse("none")).to.not.throw();
    expect(() => parse("0123456789abcdef")).to.not.throw();
    for (const bad of ["", "latest", "0123456789ABCDEF", "0123456789abcde"])
      expect(() => parse(bad), bad).to.throw(/fleet:stateRevision.*16 hex digits, or none/s);
  });
});

describe("shared state: a lock left by a killed engine", () => {
  const line = (host: string, pid: number) =>
    `the stack is locked by another update (s3://fleet/.pulumi/locks/organization/fleet/dev/x.json: created by me@${host} (pid ${pid}) at 2026-12-06T07:00:00Z)`;

  it("is named when its pulumi ran on this machine and is gone", () => {
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
    expect(gone).to.be.a("number");
    expect(deadHolder(line(os.hostname(), gone!))).to.deep.equal({
      pid: gone,
      at: "2026-12-06T07:00:00Z",
    });
  });

  it("is waited for when its holder runs, or ran on another machine", () => {
    expect(deadHolder(line(os.hostname(), process.pid))).to.equal(undefined);
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid!;
    expect(deadHolder(line(`not-${os.hostname()}`, gone))).to.equal(undefined);
    expect(deadHolder("the stack is locked by another update")).to.equal(undefined);
  });
});

describe("shared state: the engine losing a race for the lock on a bucket", () => {
  /** A CLI failure as the Automation API makes it (automation/errors.js `createCommandError`). */
  async function commandError(stderr: string): Promise<Error> {
    const { createCommandError } = (await import(
      "@pulumi/pulumi/automation/errors.js"
    )) as unknown as {
      createCommandError(r: unknown): Error;
    };
    const { CommandResult } = (await import("@pulumi/pulumi/automation/cmd.js")) as unknown as {
      CommandResult: new (stdout: string, stderr: string, code: number) => unknown;
    };
    return createCommandError(new CommandResult("", stderr, 255));
  }

  it("is the stack being busy: a lock file gone between the engine's list and read (pkg/backend/diy/lock.go)", async () => {
    const race = await commandError(
      'error: could not create stack: blob (key ".pulumi/locks/organization/fleet/dev/0e2d.json") (code=NotFound): operation error S3: GetObject, https response error StatusCode: 404',
    );
    expect(isLockRace(race)).to.equal(true);
    expect(translate(race)).to.be.instanceOf(StackBusyError);
  });

  it("is not any other NotFound", async () => {
    const other = await commandError(
      'error: blob (key ".pulumi/stacks/fleet/dev.json") (code=NotFound): the specified key does not exist',
    );
    expect(isLockRace(other)).to.equal(false);
    expect(translate(other)).to.be.instanceOf(UpdateFailedError);
  });
});
