import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { retryBusy } from "../../context/retry";
import { CancelledError, StackBusyError } from "../../context/stack";
import { rejection } from "../harness/context";

describe("context/retry", () => {
  const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

  it("retries while the stack is busy, then returns the result", async () => {
    let n = 0;
    const result = await retryBusy(
      async () => {
        if (++n < 3) throw new StackBusyError();
        return "done";
      },
      "dev",
      fast,
    );
    expect([result, n]).to.deep.equal(["done", 3]);
  });

  it("says before each retry which attempt failed and how long it waits", async () => {
    const waits: { attempt: number; attempts: number; delayMs: number }[] = [];
    let n = 0;
    await retryBusy(
      async () => {
        if (++n < 3) throw new StackBusyError();
        return "done";
      },
      "dev",
      { attempts: 3, baseDelayMs: 4, maxDelayMs: 4 },
      undefined,
      (w) => waits.push(w),
    );
    expect(waits.map((w) => [w.attempt, w.attempts])).to.deep.equal([
      [1, 3],
      [2, 3],
    ]);
    for (const w of waits) expect(w.delayMs).to.be.within(2, 4);
  });

  it("gives up after the last attempt, saying how to clear a stale lock", async () => {
    let n = 0;
    const e = await rejection(
      retryBusy(
        async () => {
          n++;
          throw new StackBusyError();
        },
        "dev",
        fast,
      ),
    );
    expect(n).to.equal(3);
    expect(e).to.be.instanceOf(StackBusyError);
    expect(e.message).to.match(/^the stack "dev" is locked by another update \(tried 3 times/);
    expect(e.message).to.include("clear it with `pulumi cancel --yes --stack dev`");
  });

  /** retryBusy against a stack locked by `pid` on this machine: the error and the attempts. */
  async function lockedBy(pid: number): Promise<{ e: Error; n: number }> {
    let n = 0;
    const e = await rejection(
      retryBusy(
        async () => {
          n++;
          throw new StackBusyError(
            `the stack is locked by another update (x.json: created by me@${os.hostname()} (pid ${pid}) at 2026-12-06T07:00:00Z)`,
          );
        },
        "dev",
        fast,
      ),
    );
    return { e, n };
  }

  it("stops at once, naming the command that clears it, when the lock's pulumi ran here and is gone", async () => {
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid!;
    const { e, n } = await lockedBy(gone);
    expect(n, "no retry: waiting cannot help").to.equal(1);
    expect(e.message).to.equal(
      `the stack "dev" is locked by an update that is no longer running (pulumi, pid ${gone} on this machine, since 2026-12-06T07:00:00Z): ` +
        'a killed engine left its lock. Clear it with `pulumi cancel --yes --stack dev` (after `eval "$(fleet env)"`), then run the command again',
    );
  });

  it("keeps waiting while the lock's pulumi still runs", async () => {
    const { e, n } = await lockedBy(process.pid);
    expect(n).to.equal(3);
    expect(e.message).to.include(
      `Lock: x.json: created by me@${os.hostname()} (pid ${process.pid})`,
    );
  });

  it("does not retry other errors, and a cancel ends the wait", async () => {
    let n = 0;
    const other = await rejection(
      retryBusy(
        async () => {
          n++;
          throw new Error("boom");
        },
        "dev",
        fast,
      ),
    );
    expect([other.message, n]).to.deep.equal(["boom", 1]);
    const controller = new AbortController();
    controller.abort();
    const cancelled = await rejection(
      retryBusy(
        async () => {
          throw new StackBusyError();
        },
        "dev",
        { attempts: 5, baseDelayMs: 10_000 },
        controller.signal,
      ),
    );
    expect(cancelled).to.be.instanceOf(CancelledError);
    let ran = false;
    await rejection(
      retryBusy(
        async () => {
          ran = true;
        },
        "dev",
        fast,
        controller.signal,
      ),
    );
    expect(ran).to.equal(false, "no engine operation starts once cancelled");
  });
});
