/**
 * Entry point for `pulumi up` / `pulumi destroy` (Pulumi.yaml's `main` is the compiled
 * `dist/index.js`). The exported function's result becomes the stack outputs.
 */
import { fleetProgram } from "./program";

export = async () => fleetProgram();
