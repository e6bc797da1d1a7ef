import { expect } from "chai";
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
