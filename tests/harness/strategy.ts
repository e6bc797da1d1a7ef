import { expect } from "chai";
import type { StrategyArgs, StrategyClass } from "../../strategies/contract";
import { type RecordedResource, RecordingMocks, runUnderMocks } from "./mocks";

/** Declares one strategy component under fresh mocks; returns its outputs and the mocks. */
export function buildStrategy(
  Strategy: StrategyClass,
  name: string,
  args: StrategyArgs,
  mocks: RecordingMocks = new RecordingMocks(),
): ReturnType<typeof runUnderMocks> {
  return runUnderMocks(
    async () => {
      const fleet = new Strategy(name, args);
      return { workers: fleet.workers };
    },
    {},
    { mocks },
  );
}

/** The one resource of a list, failing the test unless there is exactly one. */
export function only(rs: RecordedResource[]): RecordedResource {
  expect(rs).to.have.length(1);
  return rs[0];
}
