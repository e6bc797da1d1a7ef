/**
 * Root hooks of the reliability suite: count unhandled promise rejections (the runner fails
 * the run when there is any), and never let a test wait for a terminal that is not there.
 */
import { record } from "./stats";

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
