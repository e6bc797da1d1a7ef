/**
 * Using fleet from a script: open a stack, create workers in one update, list them, and delete
 * exactly the workers this script created.
 *
 *   npm run build && node dist/examples/quickstart.js
 *
 * It works in a stack of its own, `example` (or `FLEET_EXAMPLE_STACK`), which it starts if it
 * does not exist, and it never calls `deleteAllWorkers()`: that deletes every worker of the
 * stack, yours too. Workers already in that stack are left as they are.
 *
 * With no cloud configured this runs on the `local` cloud (processes on this machine).
 * Outside this repository, import from "fleet" instead of "../api".
 */
import { CloudContext, FleetConfigError, PulumiCliMissingError } from "../api";

async function main(): Promise<void> {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort()); // Ctrl-C cancels the running update gracefully
  const fleet = await CloudContext.open({
    workDir: process.cwd(),
    stackName: process.env.FLEET_EXAMPLE_STACK ?? "example",
    signal: controller.signal,
    onProgress: (p) => console.error(`${p.worker}: ${p.state}`),
    onMessage: (m) => console.error(m),
  });

  // Concurrent calls are coalesced into one engine update. Each call settles on its own: a name
  // that is taken fails alone, and only the workers this script created are recorded as its own.
  const created: string[] = [];
  try {
    const results = await Promise.allSettled([
      fleet.createWorker("example-a"),
      fleet.createWorker(),
    ]);
    for (const r of results) if (r.status === "fulfilled") created.push(r.value.name);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    console.log(`created ${created.join(" and ")}`);

    for (const w of await fleet.getAllWorkers()) {
      const own = created.includes(w.name) ? "" : "\t(not this script's: left alone)";
      console.log(
        `${w.name}\t${w.cloud}\t${w.size}\t${w.ip}\t${w.id}\t${w.createdAt}\t${w.status}${own}`,
      );
    }
  } finally {
    // Remove only what this script made: one deleteWorker per name, coalesced into one update.
    await Promise.all(created.map((name) => fleet.deleteWorker(name)));
    if (created.length) console.log(`deleted ${created.join(" and ")}`);
  }
}

main().catch((e: unknown) => {
  if (e instanceof FleetConfigError || e instanceof PulumiCliMissingError) console.error(e.message);
  else console.error(e);
  process.exitCode = 1;
});
