/**
 * Imports run one way: no module of `strategies/` or `config/` reaches itself again through
 * the modules it loads, at load time (`import … from`) or later (`import()`, as the registry
 * loads strategies). Type-only imports are erased by tsc and do not count.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageRoot } from "../../config/paths";

const DIRS = ["strategies", "config"];

/** The relative modules a source file loads, as project-relative paths without extension. */
export function runtimeImports(source: string, from: string): string[] {
  const specs: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^'";]*?\s+from\s+)?["']([^"']+)["']/gm;
  for (const m of source.matchAll(statement)) {
    // `import type …`, or `import { type A, type B } from …`: erased by tsc.
    const names = /^\{([^}]*)\}\s+from\s+$/.exec(m[3] ?? "")?.[1];
    const typeOnly =
      m[2] !== undefined ||
      (names !== undefined && names.split(",").every((n) => /^\s*(type\s|$)/.test(n)));
    if (!typeOnly) specs.push(m[4]);
  }
  for (const m of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) specs.push(m[1]);
  return specs
    .filter((s) => s.startsWith("."))
    .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(from), s)));
}

/** Every cycle (as a path a → … → a) in a graph of module → modules it loads. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, stack: string[]) => {
    const at = stack.indexOf(node);
    if (at >= 0) {
      found.push([...stack.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    stack.push(node);
    for (const next of graph.get(node) ?? []) visit(next, stack);
    stack.pop();
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return found;
}

function sourceGraph(): Map<string, string[]> {
  const root = packageRoot();
  const graph = new Map<string, string[]>();
  for (const dir of DIRS) {
    for (const file of fs.readdirSync(path.join(root, dir))) {
      if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
      const id = `${dir}/${file.slice(0, -3)}`;
      graph.set(id, runtimeImports(fs.readFileSync(path.join(root, dir, file), "utf8"), id));
    }
  }
  return graph;
}

describe("imports of strategies/ and config/", () => {
  it("form no circle", () => {
    const graph = sourceGraph();
    expect(graph.get("strategies/registry")).to.include("strategies/azure");
    expect(cycles(graph).map((c) => c.join(" → "))).to.deep.equal([]);
  });

  it("the check sees static, dynamic and re-exporting imports, and skips type-only ones (control)", () => {
    const src = [
      'import * as a from "./a";',
      'import type { B } from "./b";',
      'import { type C } from "./c";',
      'import { type D, e } from "./d";',
      'export { f } from "../config/f";',
      'const g = () => import("./g");',
      'import * as pulumi from "@pulumi/pulumi";',
    ].join("\n");
    expect(runtimeImports(src, "strategies/x")).to.deep.equal([
      "strategies/a",
      "strategies/d",
      "config/f",
      "strategies/g",
    ]);
    const graph = new Map([
      ["r", ["s"]],
      ["s", ["t"]],
      ["t", ["r"]],
      ["u", []],
    ]);
    expect(cycles(graph)).to.deep.equal([["r", "s", "t", "r"]]);
  });
});
