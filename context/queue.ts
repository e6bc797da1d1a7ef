/**
 * The request queue of one CloudContext: calls made while an update runs (or in the same tick)
 * wait here and are taken in batches, so any number of requests costs one engine update.
 * Knows nothing about stacks or config: it orders and groups requests and hands each batch to
 * the function it was given.
 */
import type { CloudName } from "../config/rules";
import type { WorkerOverrides } from "../config/fleet-config";
import type { Worker } from "../strategies/contract";

/** A promise with its settle functions, resolved when the request it belongs to is done. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One request waiting for an engine operation. */
export type Mutation =
  | { kind: "create"; entries: WorkerOverrides[]; generated: boolean; done: Deferred<Worker[]> }
  | {
      kind: "delete";
      names: string[];
      /** Reap: delete only those of `names` still in config and expired at this ISO instant. */
      expiredBy?: string;
      done: Deferred<void>;
    }
  | { kind: "cloud"; cloud: CloudName; done: Deferred<Worker[]> }
  | { kind: "sync"; done: Deferred<Worker[]> }
  | { kind: "destroy"; done: Deferred<void> }
  | { kind: "refresh"; done: Deferred<Worker[]> };

/** Requests that run alone: a destroy or a refresh is its own engine operation. */
export function isExclusive(m: Mutation): boolean {
  return m.kind === "destroy" || m.kind === "refresh";
}

/**
 * Queues requests and runs them in batches, one batch at a time, in call order. `run` settles
 * each request of the batch it is given; if it throws, every request of that batch not yet
 * settled rejects with the error.
 */
export class MutationQueue {
  private queue: Mutation[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly run: (batch: Mutation[]) => Promise<void>) {}

  /** Queues `m` and starts draining if nothing is; resolves as `m` is settled. */
  enqueue<M extends Mutation>(m: M): M["done"]["promise"] {
    this.queue.push(m);
    if (!this.draining) {
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
      });
    }
    return m.done.promise;
  }

  /** Waits until every queued request has been run. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // Let every call made in the same tick join the first batch.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length) {
      let batch: Mutation[];
      if (isExclusive(this.queue[0])) {
        batch = this.queue.splice(0, 1);
      } else {
        const end = this.queue.findIndex(isExclusive);
        batch = takeBatch(this.queue, end < 0 ? this.queue.length : end);
      }
      try {
        await this.run(batch);
      } catch (e) {
        // A request already settled ignores this (a promise settles once).
        for (const m of batch) m.done.reject(e);
      }
    }
  }
}

/**
 * Takes the next batch: the longest prefix of `queue[0, end)` in which no worker name is
 * touched twice. Creating and deleting one name in a single update would not do what the calls
 * meant one after the other (a create then a delete never makes the worker and the create
 * fails; a delete then a create keeps the old worker), so the later call waits for the next
 * update.
 */
export function takeBatch(queue: Mutation[], end: number): Mutation[] {
  const touched = new Set<string>();
  let n = 0;
  for (; n < end; n++) {
    const names = mutationWorkers(queue[n]).map((w) => w.toLowerCase());
    if (n > 0 && names.some((w) => touched.has(w))) break;
    for (const w of names) touched.add(w);
  }
  return queue.splice(0, Math.max(n, 1));
}

/** The workers a request names (creates and deletes; others name none). */
export function mutationWorkers(m: Mutation): string[] {
  if (m.kind === "create") return m.entries.map((e) => e.name);
  if (m.kind === "delete") return m.names;
  return [];
}

/** What a request asked for, for messages: `creating a, b`, `deleting c`, `sync`, … */
export function describe(m: Mutation): string {
  switch (m.kind) {
    case "create":
      return `creating ${m.entries.map((e) => e.name).join(", ")}`;
    case "delete":
      return `deleting ${m.names.join(", ")}`;
    case "cloud":
      return `switching to ${m.cloud}`;
    case "destroy":
      return "deleting all workers";
    default:
      return m.kind;
  }
}
