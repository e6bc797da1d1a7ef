/**
 * The simulated cloud: what exists "out there" in the clouds whose provider plugins cannot be
 * installed here, kept apart from Pulumi state so that orphans (state lost, object kept) and
 * out-of-band deletes (object gone, state kept) can happen as they do for real.
 *
 * Storage, in the directory `FLEET_SIM_DIR` names (`faults.ts`):
 * - `cloud.json`          a snapshot `{ "version": 1, "objects": [CloudObject, …] }`;
 * - `cloud.journal.jsonl` operations appended since that snapshot, one JSON line each
 *                         (`{ "put": CloudObject }` or `{ "del": "<key>" }`).
 * The store is the snapshot with the journal replayed on top. Every read-modify-write runs under
 * one `proper-lockfile` lock on `cloud.json`, so concurrent processes never lose each other's
 * objects. Each process keeps the store in memory and, under the lock, reads only the journal
 * bytes appended since its last look (a changed snapshot — new inode, size or mtime — makes it
 * reload). Writes append one line per object, and operations queued while the lock is held are
 * applied together under the next acquisition, so N creates never rewrite an N-entry file N
 * times. When the journal grows past the live objects (and at `compact()`), the snapshot is
 * rewritten and the journal emptied.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as lockfile from "proper-lockfile";

/** A JSON value, as plain as the engine passes it (secrets unwrapped, no unknowns). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** One object in the simulated cloud. */
export interface CloudObject {
  /** Package of the provider that made it: `aws`, `digitalocean`, `azure-native`, `gcp`, `hcloud`. */
  provider: string;
  /** Pulumi type token, e.g. `digitalocean:index/droplet:Droplet`. */
  type: string;
  /** The provider's id (what Pulumi state records as the resource id). */
  id: string;
  /** The cloud-side name, when the object has one. */
  name?: string;
  /** The inputs it was created (or last updated) with. */
  inputs: JsonObject;
  /** The outputs the provider reports for it. */
  outputs: JsonObject;
  /** When it was created, ISO-8601 UTC. */
  createdAt: string;
}

/** Selects objects: every given field must equal. */
export interface CloudFilter {
  provider?: string;
  type?: string;
  name?: string;
}

/** A view of the store inside one atomic operation (see `SimulatedCloud.transact`). */
export interface CloudTransaction {
  get(provider: string, type: string, id: string): CloudObject | undefined;
  list(filter?: CloudFilter): CloudObject[];
  put(obj: CloudObject): void;
  remove(provider: string, type: string, id: string): boolean;
}

const SNAPSHOT = "cloud.json";
const JOURNAL = "cloud.journal.jsonl";

type JournalEntry = { put: CloudObject } | { del: string };

function keyOf(provider: string, type: string, id: string): string {
  return `${provider}\u0000${type}\u0000${id}`;
}

/**
 * Runs `fn` while holding the `proper-lockfile` lock on `<dir>/<file>` (created empty when
 * missing). Waits for other holders; a holder killed mid-lock is considered stale after 10 s
 * (proper-lockfile's default). Shared with `faults.ts`.
 */
export async function withFileLock<T>(
  dir: string,
  file: string,
  initial: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, file);
  try {
    fs.writeFileSync(target, initial, { flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const release = await lockfile.lock(target, {
    realpath: false,
    stale: 10000,
    retries: { retries: 2000, factor: 1.2, minTimeout: 2, maxTimeout: 50, randomize: true },
    // A compromised lock (e.g. the event loop stalled past `stale`) must not crash the engine
    // from a timer; the next operation simply takes the lock again.
    onCompromised: () => undefined,
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

interface Pending {
  run: (tx: CloudTransaction) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** The simulated cloud in one directory. Use `openCloud(dir)` to share one per directory. */
export class SimulatedCloud {
  /** The directory holding `cloud.json`. */
  public readonly dir: string;
  private objects = new Map<string, CloudObject>();
  private snapshotSig = "";
  private journalOffset = 0;
  private journalLines = 0;
  private queue: Pending[] = [];
  private draining = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Runs `fn` atomically against the whole store (across processes): reads and writes inside
   * it see one consistent store. Use it for check-then-create (unique names, duplicate keys).
   * `fn` must be synchronous; what it returns is returned.
   */
  transact<T>(fn: (tx: CloudTransaction) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  /** Adds or replaces an object (same provider, type and id). */
  put(obj: CloudObject): Promise<void> {
    return this.transact((tx) => tx.put(obj));
  }

  /** One object, or undefined when it does not exist. */
  get(provider: string, type: string, id: string): Promise<CloudObject | undefined> {
    return this.transact((tx) => tx.get(provider, type, id));
  }

  /** Objects matching the filter, in creation order. */
  list(filter: CloudFilter = {}): Promise<CloudObject[]> {
    return this.transact((tx) => tx.list(filter));
  }

  /** How many objects match the filter. */
  async count(filter: CloudFilter = {}): Promise<number> {
    return (await this.list(filter)).length;
  }

  /** Removes an object; true when it existed. */
  remove(provider: string, type: string, id: string): Promise<boolean> {
    return this.transact((tx) => tx.remove(provider, type, id));
  }

  /**
   * Deletes an object behind Pulumi's back (someone used the console): state still has it, a
   * later `refresh` (provider `read`) finds it gone. True when it existed.
   */
  deleteOutOfBand(provider: string, type: string, id: string): Promise<boolean> {
    return this.remove(provider, type, id);
  }

  /** Rewrites `cloud.json` with every live object and empties the journal. */
  compact(): Promise<void> {
    return this.transact(() => undefined).then(() =>
      withFileLock(this.dir, SNAPSHOT, this.emptySnapshot(), () => {
        this.sync();
        this.writeSnapshot();
      }),
    );
  }

  private emptySnapshot(): string {
    return JSON.stringify({ version: 1, objects: [] });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.queue.length);
        const outcomes: { ok: boolean; value: unknown }[] = [];
        try {
          await withFileLock(this.dir, SNAPSHOT, this.emptySnapshot(), () => {
            this.sync();
            const entries: JournalEntry[] = [];
            const tx = this.transaction(entries);
            for (const p of batch) {
              try {
                outcomes.push({ ok: true, value: p.run(tx) });
              } catch (e) {
                outcomes.push({ ok: false, value: e });
              }
            }
            if (entries.length) this.append(entries);
          });
        } catch (e) {
          for (const p of batch) p.reject(e);
          continue;
        }
        batch.forEach((p, i) =>
          outcomes[i].ok ? p.resolve(outcomes[i].value) : p.reject(outcomes[i].value),
        );
      }
    } finally {
      this.draining = false;
    }
  }

  private transaction(entries: JournalEntry[]): CloudTransaction {
    const clone = (o: CloudObject): CloudObject => JSON.parse(JSON.stringify(o)) as CloudObject;
    return {
      get: (provider, type, id) => {
        const o = this.objects.get(keyOf(provider, type, id));
        return o && clone(o);
      },
      list: (filter = {}) =>
        [...this.objects.values()]
          .filter(
            (o) =>
              (filter.provider === undefined || o.provider === filter.provider) &&
              (filter.type === undefined || o.type === filter.type) &&
              (filter.name === undefined || o.name === filter.name),
          )
          .map(clone),
      put: (obj) => {
        const o = clone(obj);
        this.objects.set(keyOf(o.provider, o.type, o.id), o);
        entries.push({ put: o });
      },
      remove: (provider, type, id) => {
        const k = keyOf(provider, type, id);
        if (!this.objects.delete(k)) return false;
        entries.push({ del: k });
        return true;
      },
    };
  }

  /** Brings the in-memory store up to date with disk. Call under the lock. */
  private sync(): void {
    const snap = path.join(this.dir, SNAPSHOT);
    const st = fs.statSync(snap);
    const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const journal = path.join(this.dir, JOURNAL);
    let jsize = 0;
    try {
      jsize = fs.statSync(journal).size;
    } catch {
      jsize = 0;
    }
    if (sig !== this.snapshotSig || jsize < this.journalOffset) {
      const text = fs.readFileSync(snap, "utf8");
      const parsed = (text.trim() ? JSON.parse(text) : { objects: [] }) as {
        objects: CloudObject[];
      };
      this.objects = new Map(parsed.objects.map((o) => [keyOf(o.provider, o.type, o.id), o]));
      this.snapshotSig = sig;
      this.journalOffset = 0;
      this.journalLines = 0;
    }
    if (jsize > this.journalOffset) {
      const fd = fs.openSync(journal, "r");
      try {
        const buf = Buffer.alloc(jsize - this.journalOffset);
        fs.readSync(fd, buf, 0, buf.length, this.journalOffset);
        const text = buf.toString("utf8");
        // Only whole lines: a writer holds the lock, so a partial line means a writer died.
        const end = text.lastIndexOf("\n") + 1;
        for (const line of text.slice(0, end).split("\n")) {
          if (!line) continue;
          this.apply(JSON.parse(line) as JournalEntry);
          this.journalLines++;
        }
        this.journalOffset += Buffer.byteLength(text.slice(0, end));
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  private apply(e: JournalEntry): void {
    if ("put" in e) this.objects.set(keyOf(e.put.provider, e.put.type, e.put.id), e.put);
    else this.objects.delete(e.del);
  }

  /** Appends entries in one write; compacts when the journal outgrows the store. Under lock. */
  private append(entries: JournalEntry[]): void {
    const text = entries.map((e) => JSON.stringify(e)).join("\n") + "\n";
    const journal = path.join(this.dir, JOURNAL);
    fs.appendFileSync(journal, text);
    this.journalOffset += Buffer.byteLength(text);
    this.journalLines += entries.length;
    if (this.journalLines > 2 * this.objects.size + 2000) this.writeSnapshot();
  }

  /** Writes the snapshot atomically (rename) and empties the journal. Under lock. */
  private writeSnapshot(): void {
    const snap = path.join(this.dir, SNAPSHOT);
    const tmp = `${snap}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, objects: [...this.objects.values()] }));
    fs.renameSync(tmp, snap);
    fs.writeFileSync(path.join(this.dir, JOURNAL), "");
    const st = fs.statSync(snap);
    this.snapshotSig = `${st.ino}:${st.size}:${st.mtimeMs}`;
    this.journalOffset = 0;
    this.journalLines = 0;
  }
}

const clouds = new Map<string, SimulatedCloud>();

/** The one `SimulatedCloud` of this process for `dir` (so its cache and batching are shared). */
export function openCloud(dir: string): SimulatedCloud {
  const abs = path.resolve(dir);
  let c = clouds.get(abs);
  if (!c) {
    c = new SimulatedCloud(abs);
    clouds.set(abs, c);
  }
  return c;
}
