/**
 * mocha's `spec` output for people, plus the run's real counts as JSON for `.ci/run`, from the
 * same single run. The counts go to the file named by the reporter option `summaryFile`
 * (`--reporter-option summaryFile=…`) or the `FLEET_TEST_SUMMARY` environment variable; with
 * neither, this reporter is exactly `spec`.
 *
 * The file is written synchronously when the run ends (mocha's `exit: true` ends the process
 * right after), and only then: a run that crashed leaves no file, so it cannot pass for green.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Mocha from "mocha";

/** What `.ci/run` reads. */
interface TestSummary {
  passed: number;
  /** Failed tests and failed hooks, as mocha counts them. */
  failed: number;
  skipped: number;
  /** Tests mocha found (a failed hook can leave some of them not run). */
  total: number;
  /** The full titles of the failures, for the CI log. */
  failures: string[];
}

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions = {}) {
    super(runner, options);
    const fromOption = (options.reporterOptions as Record<string, unknown> | undefined)
      ?.summaryFile;
    const file = typeof fromOption === "string" ? fromOption : process.env.FLEET_TEST_SUMMARY;
    if (!file) return;
    const failures: string[] = [];
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test: Mocha.Runnable) => {
      failures.push(test.fullTitle());
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const stats = this.stats;
      const summary: TestSummary = {
        passed: stats.passes,
        failed: stats.failures,
        skipped: stats.pending,
        total: runner.total,
        failures,
      };
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    });
  }
}

export = SpecWithSummary;
