/** Retrying an engine operation while another update holds the stack's lock. */
import * as os from "node:os";
import { CancelledError, StackBusyError } from "./stack";

/** Retry policy for a stack locked by another update. */
export interface RetryOptions {
  /** Attempts in all. @default 6 */
  attempts?: number;
  /** First delay; doubles each time, with jitter. @default 500 */
  baseDelayMs?: number;
  /** Longest delay. @default 8000 */
  maxDelayMs?: number;
}

/** One wait before a retry: the attempt that failed, how many there are, and the delay. */
export interface RetryWait {
  attempt: number;
  attempts: number;
  delayMs: number;
}

/**
 * Runs `fn`, again after a growing, jittered delay each time it fails with StackBusyError; after
 * the last attempt, a StackBusyError that says how long it tried and how to clear a stale lock.
 * Aborting `signal` ends the wait with CancelledError, and once it is aborted `fn` is not run.
 */
export async function retryBusy<T>(
  fn: () => Promise<T>,
  stackName: string,
  retry: RetryOptions = {},
  signal?: AbortSignal,
  onWait?: (wait: RetryWait) => void,
): Promise<T> {
  const attempts = Math.max(1, retry.attempts ?? 6);
  const base = retry.baseDelayMs ?? 500;
  const max = retry.maxDelayMs ?? 8_000;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    // Once cancelled, start no engine operation (the engine may never hear of the cancel: a
    // terminal's Ctrl-C reaches only the processes running at that moment).
    if (signal?.aborted) throw new CancelledError();
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof StackBusyError)) throw e;
      const dead = deadHolder(e.message);
      if (dead) {
        // Waiting cannot help: the engine that holds the lock is gone.
        throw new StackBusyError(
          `the stack "${stackName}" is locked by an update that is no longer running (pulumi, pid ${dead.pid} on this machine, since ${dead.at}): ` +
            `a killed engine left its lock. Clear it with \`pulumi cancel --yes --stack ${stackName}\` ` +
            '(after `eval "$(fleet env)"`), then run the command again',
        );
      }
      if (attempt >= attempts) {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        throw new StackBusyError(
          `the stack "${stackName}" is locked by another update (tried ${attempts} times over ${secs} s). ` +
            `${lockHolders(e.message)}If no update is running, a killed one left the lock: clear it with ` +
            `\`pulumi cancel --yes --stack ${stackName}\` (after \`eval "$(fleet env)"\`)`,
        );
      }
      const delay = Math.min(max, base * 2 ** (attempt - 1));
      const delayMs = delay / 2 + Math.random() * (delay / 2);
      onWait?.({ attempt, attempts, delayMs });
      await sleep(delayMs, signal);
    }
  }
}

/** The lock holders the engine named, as a sentence start ("" when it named none). */
function lockHolders(message: string): string {
  const m = /\((.*created by.*)\)$/s.exec(message);
  return m ? `Lock: ${m[1]}. ` : "";
}

/**
 * A lock holder that is certainly gone: a \`pulumi\` on this machine whose process no longer
 * exists (the engine writes its pid and hostname into the lock: pkg/backend/diy/lock.go).
 * Holders on other machines cannot be checked, and are waited for.
 */
export function deadHolder(message: string): { pid: number; at: string } | undefined {
  const re = /created by [^@\s]+@(\S+) \(pid (\d+)\) at ([^\s;)]+)/g;
  let found: { pid: number; at: string } | undefined;
  for (const m of message.matchAll(re)) {
    if (m[1] !== os.hostname()) return undefined;
    const pid = Number(m[2]);
    if (isRunning(pid)) return undefined;
    found = { pid, at: m[3] };
  }
  return found;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(new CancelledError());
      },
      { once: true },
    );
  });
}
