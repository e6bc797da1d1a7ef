/**
 * Helpers for tests that start real local worker processes: a temporary state directory, a
 * register of every process a test started (so `after` hooks can always clean up), and polling.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type ProcessIdentity, isRunning, parseId } from "../../strategies/local-process";

/** A fresh temporary directory for workers' logs. */
export function tempStateDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "fleet-local-test-"));
}

/** Every process group tests started, killed by `killAll`. */
const started = new Set<number>();

/** Remembers a started worker (an identity or a `<pid>:<startTime>` id) for cleanup. */
export function track<T extends ProcessIdentity | string>(worker: T): T {
  started.add(typeof worker === "string" ? parseId(worker).pid : worker.pid);
  return worker;
}

/** SIGKILLs the process group of every tracked worker that still runs. */
export function killAll(): void {
  for (const pid of started) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  started.clear();
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns its last answer. */
export async function waitFor(
  check: () => boolean,
  timeoutMs = 3000,
  pollMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}

/** Reads a file, or "" when it does not exist (yet). */
export function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** Waits until the worker is no longer running (e.g. after an outside kill, until it is reaped). */
export function waitGone(identity: ProcessIdentity, timeoutMs = 3000): Promise<boolean> {
  return waitFor(() => !isRunning(identity), timeoutMs);
}

/** Whether any process of the group still exists (zombies included). */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
