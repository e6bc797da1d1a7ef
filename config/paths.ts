import * as fs from "node:fs";
import * as path from "node:path";

let cached: string | undefined;

/**
 * The directory of fleet's own package (where `package.json` and `config/` are), found by
 * walking up from this file, so it works from the TypeScript sources and from `dist/`.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return (cached = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`fleet: no package.json above ${__dirname}`);
    dir = parent;
  }
}

/** The directory of the per-cloud defaults (`config/<cloud>.yaml`). */
export function defaultsDir(): string {
  return path.join(packageRoot(), "config");
}
