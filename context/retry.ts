/** Retrying an engine operation while another update holds the stack's lock. */
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
      if (attempt >= attempts) {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        throw new StackBusyError(
          `the stack "${stackName}" is locked by another update (tried ${attempts} times over ${secs} s). ` +
            "If no update is running, a crashed one left the lock: run `pulumi cancel` (Pulumi Cloud) or " +
            "remove the stale lock under the backend's .pulumi/locks directory (file backend)",
        );
      }
      const delay = Math.min(max, base * 2 ** (attempt - 1));
      const delayMs = delay / 2 + Math.random() * (delay / 2);
      onWait?.({ attempt, attempts, delayMs });
      await sleep(delayMs, signal);
    }
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
