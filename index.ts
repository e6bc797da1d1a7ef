/**
 * Entry point for `pulumi up` / `pulumi destroy` (Pulumi.yaml's `main` is the compiled
 * `dist/index.js`). The exported function's result becomes the stack outputs; bad stack config
 * fails as one clear message per problem, without a stack trace (`runErrorOf`).
 */
import { fleetProgram, runErrorOf } from "./program";

export = async () => {
  try {
    return await fleetProgram();
  } catch (e) {
    throw runErrorOf(e);
  }
};
