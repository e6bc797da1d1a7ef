import { expect } from "chai";
import {
  type Mutation,
  MutationQueue,
  deferred,
  describe as describeMutation,
  takeBatch,
} from "../../context/queue";

const create = (...names: string[]): Mutation => ({
  kind: "create",
  entries: names.map((name) => ({ name })),
  generated: false,
  done: deferred(),
});
const del = (...names: string[]): Mutation => ({ kind: "delete", names, done: deferred() });
const destroy = (): Mutation => ({ kind: "destroy", done: deferred() });
const refresh = (): Mutation => ({ kind: "refresh", done: deferred() });

/** A queue whose runner records each batch (as descriptions) and resolves every request. */
function recordingQueue(hold?: Promise<void>) {
  const batches: string[][] = [];
  const queue = new MutationQueue(async (batch) => {
    batches.push(batch.map(describeMutation));
    await hold;
    for (const m of batch) (m.done.resolve as (v: unknown) => void)(undefined);
  });
  return { queue, batches };
}

describe("context/queue", () => {
  it("coalesces requests made in the same tick into one batch", async () => {
    const { queue, batches } = recordingQueue();
    await Promise.all([
      queue.enqueue(create("a")),
      queue.enqueue(create("b")),
      queue.enqueue(del("c")),
    ]);
    expect(batches).to.deep.equal([["creating a", "creating b", "deleting c"]]);
  });

  it("requests that arrive while a batch runs form the next batch, together", async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const { queue, batches } = recordingQueue(hold);
    const first = queue.enqueue(create("a"));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const later = [queue.enqueue(create("b")), queue.enqueue(create("c"))];
    release();
    await Promise.all([first, ...later]);
    expect(batches).to.deep.equal([["creating a"], ["creating b", "creating c"]]);
  });

  it("runs a destroy or a refresh alone, in call order", async () => {
    const { queue, batches } = recordingQueue();
    await Promise.all([
      queue.enqueue(create("a")),
      queue.enqueue(destroy()),
      queue.enqueue(create("b")),
      queue.enqueue(refresh()),
      queue.enqueue(del("b")),
    ]);
    expect(batches).to.deep.equal([
      ["creating a"],
      ["deleting all workers"],
      ["creating b"],
      ["refresh"],
      ["deleting b"],
    ]);
  });

  it("a name touched twice waits for the next batch, with everything after it", () => {
    const queue = [create("a"), create("b"), del("a"), create("c")];
    const batch = takeBatch(queue, queue.length);
    expect(batch.map(describeMutation)).to.deep.equal(["creating a", "creating b"]);
    expect(queue.map(describeMutation)).to.deep.equal(["deleting a", "creating c"]);
    expect(takeBatch(queue, queue.length).map(describeMutation)).to.deep.equal([
      "deleting a",
      "creating c",
    ]);
  });

  it("names are compared without case, as the clouds do", () => {
    const queue = [create("Web"), del("web")];
    expect(takeBatch(queue, 2)).to.have.length(1);
  });

  it("a runner that throws rejects every request of its batch, and the queue goes on", async () => {
    let calls = 0;
    const queue = new MutationQueue(async (batch) => {
      calls++;
      if (calls === 1) throw new Error("lock timeout");
      for (const m of batch) (m.done.resolve as (v: unknown) => void)(undefined);
    });
    const results = await Promise.allSettled([queue.enqueue(create("a")), queue.enqueue(del("b"))]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason.message).to.equal("lock timeout");
    await queue.enqueue(create("c"));
    expect(calls).to.equal(2);
  });

  it("idle waits for every queued request", async () => {
    const order: string[] = [];
    const queue = new MutationQueue(async (batch) => {
      await new Promise((r) => setTimeout(r, 20));
      order.push(batch.map(describeMutation).join());
      for (const m of batch) (m.done.resolve as (v: unknown) => void)(undefined);
    });
    void queue.enqueue(create("a"));
    void queue.enqueue(destroy());
    await queue.idle();
    expect(order).to.deep.equal(["creating a", "deleting all workers"]);
  });
});
