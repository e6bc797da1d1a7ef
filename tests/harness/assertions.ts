import { expect } from "chai";
import { FleetConfigError } from "../../config/errors";

/** Runs `fn`, expecting it to refuse its input with a FleetConfigError; returns the error. */
export function refusal(fn: () => unknown): FleetConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(FleetConfigError);
    return e as FleetConfigError;
  }
  throw new Error("expected a FleetConfigError, but nothing was thrown");
}
