/**
 * Using fleet from a script: open the project's stack, create workers in one update, list
 * them, delete one, then everything.
 *
 *   npm run build && node dist/examples/quickstart.js
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
    stackName: "dev",
    signal: controller.signal,
    onProgress: (p) => console.error(`${p.worker}: ${p.state}`),
  });

  // Concurrent calls are coalesced into one engine update.
  const [a, b] = await Promise.all([fleet.createWorker("example-a"), fleet.createWorker()]);
  console.log(`created ${a.name} (${a.ip}) and ${b.name} (${b.ip})`);

  for (const w of await fleet.getAllWorkers()) {
    console.log(`${w.name}\t${w.cloud}\t${w.size}\t${w.ip}\t${w.createdAt}\t${w.status}`);
  }

  await fleet.deleteWorker(a.name);
  await fleet.deleteAllWorkers();
}

main().catch((e: unknown) => {
  if (e instanceof FleetConfigError || e instanceof PulumiCliMissingError) console.error(e.message);
  else console.error(e);
  process.exitCode = 1;
});
