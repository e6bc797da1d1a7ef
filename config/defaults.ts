/**
 * Per-cloud defaults from `config/<cloud>.yaml`: loaded with js-yaml, checked against a strict
 * schema (so a typo is an error, not a silently ignored key), and refused outright when they
 * contain anything that looks like a credential.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { z } from "zod";
import { type CloudName, descriptor } from "../strategies/registry";
import { FleetConfigError, isCredentialKey, looksLikeCredential } from "./errors";
import { defaultsDir } from "./paths";
import { ABSTRACT_SIZES, validateIdentifier } from "./rules";

/** The defaults of one cloud, as `config/<cloud>.yaml` declares them. */
export interface CloudDefaults {
  /** Default region. */
  region: string;
  /** Default size. */
  size: string;
  /** Default image. */
  image: string;
  /** Provider size for each abstract size. */
  sizes: Readonly<Record<(typeof ABSTRACT_SIZES)[number], string>>;
  /** Cloud-specific settings declared by the registry's `extraKeys`. */
  extras: Readonly<Record<string, string>>;
}

const BASE_KEYS = ["region", "size", "image", "sizes"] as const;

function schemaFor(extraKeys: readonly string[]) {
  const extras: Record<string, z.ZodOptional<z.ZodString>> = {};
  for (const k of extraKeys) extras[k] = z.string().optional();
  return z
    .object({
      region: z.string(),
      size: z.string(),
      image: z.string(),
      sizes: z.object({ small: z.string(), medium: z.string(), large: z.string() }).strict(),
      ...extras,
    })
    .strict();
}

/**
 * Walks a parsed YAML value and refuses credential-like keys or values. Each node is visited
 * once: YAML aliases share nodes, and walking them again and again would take exponential time
 * on a "billion laughs" document.
 */
function refuseCredentials(
  where: string,
  value: unknown,
  hint: string,
  at = "",
  seen: WeakSet<object> = new WeakSet(),
): void {
  const allowed = `credentials never belong in ${where}: ${hint}`;
  if (typeof value === "string" && looksLikeCredential(value)) {
    throw new FleetConfigError(
      `${where}: ${at || "(top level)"}`,
      value,
      allowed,
      "credential found:",
    );
  }
  if (value && typeof value === "object") {
    if (seen.has(value)) return;
    seen.add(value);
    for (const [k, v] of Object.entries(value)) {
      const here = at ? `${at}.${k}` : k;
      if (isCredentialKey(k)) {
        throw new FleetConfigError(
          `${where}: ${here}`,
          "(hidden)",
          allowed,
          "credential key found:",
        );
      }
      refuseCredentials(where, v, hint, here, seen);
    }
  }
}

/**
 * Parses and validates the text of `config/<cloud>.yaml`. `where` names the file in errors.
 * Pure: tested with inline YAML.
 */
export function parseCloudDefaults(cloud: CloudName, text: string, where: string): CloudDefaults {
  const d = descriptor(cloud);
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: where, schema: yaml.CORE_SCHEMA });
  } catch (e) {
    // One line: js-yaml's message continues with a multi-line snippet of the file.
    const reason =
      e instanceof yaml.YAMLException
        ? `${e.reason}${e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : ""}`
        : e instanceof RangeError
          ? "nested too deeply"
          : String(e).split("\n")[0];
    throw new FleetConfigError(
      where,
      "(unparsable YAML)",
      "valid YAML",
      `malformed YAML (${reason}):`,
    );
  }
  const hint = d.credentials?.hint ?? "this cloud needs no credentials";
  refuseCredentials(where, doc, hint);
  const extraKeys = d.extraKeys ?? [];
  const allowedKeys = [...BASE_KEYS, ...extraKeys].join(", ");
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw new FleetConfigError(where, doc, `a mapping with the keys ${allowedKeys}`);
  }
  const result = schemaFor(extraKeys).safeParse(doc);
  if (!result.success) {
    // A typo shows up twice (the misspelt key is unknown, the intended one missing): name the typo.
    const issues = result.error.issues;
    const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
    const at = issue.path.join(".");
    if (issue.code === "unrecognized_keys") {
      const parent = at ? `${at}.` : "";
      const allowed = at === "sizes" ? ["small", "medium", "large"].join(", ") : allowedKeys;
      throw new FleetConfigError(
        `${where}: ${parent}${issue.keys[0]}`,
        issue.keys[0],
        `allowed keys: ${allowed}`,
        "unknown key (a typo?):",
      );
    }
    const got = issue.path.reduce<unknown>(
      (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
      doc,
    );
    throw new FleetConfigError(
      `${where}: ${at}`,
      got,
      `${issue.message.toLowerCase()}; expected a string`,
    );
  }
  const v = result.data as Record<string, unknown> & z.infer<ReturnType<typeof schemaFor>>;
  const key = (k: string) => `${where}: ${k}`;
  const extras: Record<string, string> = {};
  for (const k of extraKeys) if (typeof v[k] === "string") extras[k] = v[k] as string;
  return {
    region: validateIdentifier(key("region"), v.region, "region"),
    size: validateIdentifier(key("size"), v.size, "size"),
    image: validateIdentifier(key("image"), v.image, "image"),
    sizes: {
      small: validateIdentifier(key("sizes.small"), v.sizes.small, "size"),
      medium: validateIdentifier(key("sizes.medium"), v.sizes.medium, "size"),
      large: validateIdentifier(key("sizes.large"), v.sizes.large, "size"),
    },
    extras,
  };
}

const cache = new Map<string, CloudDefaults>();

/** Loads `config/<cloud>.yaml` from `dir` (fleet's own `config/` by default), cached per file. */
export function loadCloudDefaults(cloud: CloudName, dir: string = defaultsDir()): CloudDefaults {
  const file = path.join(dir, `${cloud}.yaml`);
  const hit = cache.get(file);
  if (hit) return hit;
  const where = `config/${cloud}.yaml`;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new FleetConfigError(
      where,
      file,
      "the per-cloud defaults file must exist and be readable",
      `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)}):`,
    );
  }
  const parsed = parseCloudDefaults(cloud, text, where);
  cache.set(file, parsed);
  return parsed;
}
