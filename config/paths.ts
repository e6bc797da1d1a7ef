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

/** The file that marks a Pulumi project's directory. */
export const PROJECT_FILE = "Pulumi.yaml";

/**
 * The project directory (where `Pulumi.yaml` is), against which fleet resolves relative paths
 * in config (`fleet:userDataFile`) and keeps the local cloud's logs and state.
 *
 * Plain `pulumi up` does not run the program there: the Node language host starts it with the
 * directory of `main` (here `dist/`) as working directory (sdk/nodejs/cmd/pulumi-language-nodejs
 * main.go: `cmd.Dir = req.Pwd`, and `--pwd` = `ProgramDirectory`, which run.ts `chdir`s to), and
 * passes the project directory as `--root-directory` (`RootDirectory`), which the SDK exposes as
 * `pulumi.runtime.getRootDirectory()` (runtime/settings.ts; "rootDirectory" when unset, as under
 * the Automation API's inline programs and mocks). So, in order:
 * 1. `explicit`, when the caller knows it (CloudContext's inline program: its `workDir`);
 * 2. `rootDirectory`, when it is an absolute directory holding `Pulumi.yaml`;
 * 3. the nearest directory from `cwd` upwards holding `Pulumi.yaml`;
 * 4. `cwd`.
 */
export function projectDirectory(
  options: { explicit?: string; rootDirectory?: string; cwd?: string } = {},
): string {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  if (options.explicit) return path.resolve(cwd, options.explicit);
  const root = options.rootDirectory;
  if (root && path.isAbsolute(root) && fs.existsSync(path.join(root, PROJECT_FILE))) return root;
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, PROJECT_FILE))) return dir;
    if (path.dirname(dir) === dir) return cwd;
  }
}
