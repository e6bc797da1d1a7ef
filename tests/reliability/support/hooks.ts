/**
 * Root hooks of the reliability suite: put Pulumi's engine and the simulated clouds' plugins
 * first on PATH (for this process and every process it starts; in-process `fleet` runs and
 * `CloudContext.open` find `pulumi` there), count unhandled promise rejections (the runner
 * fails the run when there is any), and never let a test wait for a terminal that is not there.
 */
import { ENGINE_BIN, pathFor } from "../../harness/project";
import { record } from "./stats";

// Every project's env has them first on PATH too (`relProject`); this covers anything started
// without one.
if (!(process.env.PATH ?? "").startsWith(ENGINE_BIN)) process.env.PATH = pathFor("engine");

let unhandled = 0;

process.on("unhandledRejection", (reason) => {
  unhandled++;
  record({ unhandled: 1 });
  process.stderr.write(`unhandled rejection: ${String(reason)}\n`);
});

export const mochaHooks = {
  beforeAll(): void {
    // `fleet delete-all` without --yes asks on a terminal; the fuzzer must never block there.
    Object.defineProperty(process.stdin, "isTTY", { value: false, configurable: true });
  },
  afterAll(): void {
    if (unhandled) throw new Error(`${unhandled} unhandled promise rejection(s)`);
  },
};
