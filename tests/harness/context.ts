/** Builds a CloudContext over a fresh engine double in a temp directory. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudContext, type CloudContextOptions } from "../../context/cloud-context";
import { EngineDouble } from "./engine-double";

/** Dummy credentials: presence is all fleet checks before an update. */
export const TEST_ENV: NodeJS.ProcessEnv = {
  DIGITALOCEAN_TOKEN: "test-token",
  AWS_ACCESS_KEY_ID: "test-key",
  AWS_REGION: "us-east-1",
};

export interface TestFleet {
  dir: string;
  stack: EngineDouble;
  ctx: CloudContext;
}

/** A temp project + double, with `config` as the initial stack config (plain values). */
export function testFleet(
  config: Record<string, string> = { "fleet:cloud": "digitalocean" },
  options: Partial<CloudContextOptions> = {},
): TestFleet {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-test-"));
  const stack = new EngineDouble({ dir: path.join(dir, "engine"), projectDir: dir });
  const values: Record<string, { value: string }> = {};
  for (const [k, v] of Object.entries(config)) values[k] = { value: v };
  fs.writeFileSync(path.join(dir, "engine", "config.json"), JSON.stringify(values));
  const ctx = new CloudContext({
    stack,
    projectDir: dir,
    env: TEST_ENV,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    lock: { timeoutMs: 60_000, staleMs: 5_000 },
    ...options,
  });
  return { dir, stack, ctx };
}

/** The worker names in the double's stack config. */
export async function configuredNames(stack: EngineDouble): Promise<string[]> {
  const raw = (await stack.getAllConfig())["fleet:workers"]?.value ?? "[]";
  return (JSON.parse(raw) as (string | { name: string })[]).map((e) =>
    typeof e === "string" ? e : e.name,
  );
}

/** Awaits a promise expected to reject; returns the error (fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}
