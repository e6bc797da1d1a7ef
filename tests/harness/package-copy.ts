/**
 * A throwaway copy of the compiled fleet package with its own `config/<cloud>.yaml`, for tests
 * of what a person editing those files can break. The copy shares `node_modules` through a
 * symlink, so it runs against the very same `@pulumi/pulumi` module (and mocks) as the tests.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packageRoot } from "../../config/paths";
import type * as Program from "../../program";

export interface PackageCopy {
  /** The copy's root (holds `package.json`, `config/`, `dist/`). */
  root: string;
  /** The copy's compiled program module. */
  program: typeof Program;
  /** Deletes the copy. */
  remove(): void;
}

/**
 * Copies the compiled program and the shipped `config/*.yaml`, then overwrites the YAML files
 * named in `yaml` (`{ "digitalocean.yaml": "…" }`) with the given text.
 */
export function copyPackage(yaml: Record<string, string> = {}): PackageCopy {
  const real = packageRoot();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-copy-"));
  fs.writeFileSync(path.join(root, "package.json"), '{ "name": "fleet-copy", "private": true }\n');
  fs.symlinkSync(path.join(real, "node_modules"), path.join(root, "node_modules"), "dir");
  fs.cpSync(path.join(real, "config"), path.join(root, "config"), {
    recursive: true,
    filter: (src) => fs.statSync(src).isDirectory() || src.endsWith(".yaml"),
  });
  for (const [file, text] of Object.entries(yaml)) {
    fs.writeFileSync(path.join(root, "config", file), text);
  }
  for (const part of ["program.js", "index.js", "config", "strategies"]) {
    fs.cpSync(path.join(real, "dist", part), path.join(root, "dist", part), { recursive: true });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the copy is the point
  const program = require(path.join(root, "dist", "program.js")) as typeof Program;
  return {
    root,
    program,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** The text of one of the shipped `config/<cloud>.yaml` files. */
export function shippedYaml(file: string): string {
  return fs.readFileSync(path.join(packageRoot(), "config", file), "utf8");
}
