/**
 * A cross-process lock around "read stack config → change it → run the engine", so two fleet
 * processes on one stack never lose each other's changes. Built on proper-lockfile (an mkdir
 * lock with a heartbeat, so a crashed holder's lock goes stale and is taken over).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as lockfile from "proper-lockfile";

/** Lock tuning; the defaults suit real engine runs (minutes), tests pass smaller ones. */
export interface LockOptions {
  /** Give up waiting after this long. @default 30 minutes */
  timeoutMs?: number;
  /** A holder that stopped refreshing its lock for this long is presumed dead. @default 30 s */
  staleMs?: number;
  /** The longest pause between two attempts to take the lock. @default 1000 */
  pollMs?: number;
}

export class LockTimeoutError extends Error {
  constructor(file: string, ms: number) {
    super(
      `another fleet process has held the stack lock ${file} for over ${Math.round(ms / 1000)} s; try again later`,
    );
    this.name = "LockTimeoutError";
  }
}

/** Runs `fn` while holding the lock at `file` (a directory `file.lock` is created beside it). */
export async function withLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const stale = Math.max(options.staleMs ?? 30_000, 2_000);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, "", { flag: "a" });
  const deadline = Date.now() + timeoutMs;
  let wait = 25;
  let release: (() => Promise<void>) | undefined;
  for (;;) {
    try {
      release = await lockfile.lock(file, { stale, realpath: false, retries: 0 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
      if (Date.now() >= deadline) throw new LockTimeoutError(file, timeoutMs);
      await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
      wait = Math.min(wait * 2, Math.max(options.pollMs ?? 1_000, 1));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
