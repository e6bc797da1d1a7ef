/**
 * fleet's built-in local worker: what a `local` cloud worker runs unless `fleet:localCommand`
 * names another command. It appends a heartbeat line (ISO time, name, pid) to its log every
 * second and exits cleanly on SIGTERM or SIGINT.
 *
 * Run as `node dist/strategies/local-worker.js`; configured by the environment:
 * - `FLEET_WORKER_NAME`: its name. @default "worker"
 * - `FLEET_WORKER_LOG`: the file to append to. @default stdout
 * - `FLEET_HEARTBEAT_MS`: milliseconds between heartbeats. @default 1000
 */
import * as fs from "node:fs";

/** One log line: `<ISO time> <name> <message>`. */
export function heartbeatLine(name: string, message: string, now = new Date()): string {
  return `${now.toISOString()} ${name} ${message}\n`;
}

/** Runs the worker until SIGTERM/SIGINT. */
export function main(env: NodeJS.ProcessEnv = process.env): void {
  const name = env.FLEET_WORKER_NAME || "worker";
  const logFile = env.FLEET_WORKER_LOG || undefined;
  const parsed = Number(env.FLEET_HEARTBEAT_MS);
  const intervalMs = Number.isFinite(parsed) && parsed > 0 ? parsed : 1000;

  const write = (message: string) => {
    const line = heartbeatLine(name, message);
    try {
      if (logFile) fs.appendFileSync(logFile, line);
      else process.stdout.write(line);
    } catch (e) {
      // A vanished log directory must not kill the worker; say so where it can still be seen.
      process.stderr.write(
        `fleet worker ${name}: cannot write ${logFile}: ${(e as Error).message}\n`,
      );
    }
  };

  // Handlers first: once "started" is in the log, SIGTERM is guaranteed a clean exit. (They
  // run from the event loop, so never before `timer` below is initialised.)
  const stop = (signal: NodeJS.Signals) => {
    clearInterval(timer);
    write(`stopping on ${signal}`);
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  write(`started pid=${process.pid}`);
  const timer = setInterval(() => write(`heartbeat pid=${process.pid}`), intervalMs);
}

if (require.main === module) main();
