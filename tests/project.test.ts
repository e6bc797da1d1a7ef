/**
 * The project files: Pulumi.yaml is valid against Pulumi's own project schema, and what it
 * declares (names, defaults, main) agrees with the code, so the CLI and the program never
 * disagree about a default.
 */
import Ajv2020 from "ajv/dist/2020";
import { expect } from "chai";
import * as yaml from "js-yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import { BASE_STACK_KEYS, knownStackKeys, parseFleetConfig, PROJECT } from "../config/fleet-config";
import { packageRoot } from "../config/paths";

interface DeclaredKey {
  type: string;
  default?: unknown;
  description?: string;
  items?: { type: string };
}
interface Project {
  name: string;
  runtime: { name: string; options?: Record<string, unknown> };
  main?: string;
  description?: string;
  config: Record<string, DeclaredKey>;
}

const root = packageRoot();
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

describe("project files", () => {
  const project = yaml.load(read("Pulumi.yaml")) as Project;
  const schema = JSON.parse(read("tests/fixtures/pulumi-project.schema.json")) as object;
  // Pulumi's schema is not written for Ajv's strict mode (it omits `type` next to `properties`).
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);

  it("Pulumi.yaml is valid against Pulumi's project schema", () => {
    expect(validate(project), JSON.stringify(validate.errors)).to.equal(true);
  });

  it("the schema check can fail (control)", () => {
    expect(validate({ name: "fleet" })).to.equal(false);
    expect(validate({ ...project, config: { cloud: { type: "strin" } } })).to.equal(false);
  });

  it("names the project fleet, runs the compiled program without ts-node", () => {
    expect(project.name).to.equal(PROJECT);
    expect(project.runtime).to.deep.equal({ name: "nodejs", options: { typescript: false } });
    // Pulumi runs the compiled program entry; package.json's main is the library entry for scripts.
    expect(project.main).to.equal("dist/index.js");
    expect(fs.existsSync(path.join(root, project.main ?? "missing")), project.main).to.equal(true);
    expect(project.description).to.be.a("string").and.not.equal("");
  });

  it("declares only keys the code knows, each with a description", () => {
    const known = knownStackKeys();
    for (const [key, decl] of Object.entries(project.config)) {
      expect(known, `Pulumi.yaml declares fleet:${key}`).to.include(key);
      expect(decl.description, key).to.be.a("string").and.not.equal("");
    }
  });

  it("declares only keys with a static default: cloud, default local", () => {
    expect(Object.keys(project.config)).to.deep.equal(["cloud"]);
    // The documented default (DESIGN.md, README); the next test checks the code parses it so.
    expect(project.config.cloud).to.deep.include({ type: "string", default: "local" });
    expect(BASE_STACK_KEYS).to.include.members(["workers", "tags", "sshPublicKeys"]);
  });

  it("the declared defaults, as the CLI passes them, parse to the code's defaults", () => {
    const values: Record<string, string> = {};
    for (const [key, decl] of Object.entries(project.config)) {
      if (decl.default === undefined) continue;
      values[`fleet:${key}`] =
        typeof decl.default === "string" ? decl.default : JSON.stringify(decl.default);
    }
    const fromDeclared = parseFleetConfig(values, { stack: "dev" });
    expect(fromDeclared).to.deep.equal(parseFleetConfig({}, { stack: "dev" }));
  });

  it("Pulumi.dev.yaml holds only valid fleet config", () => {
    const dev = yaml.load(read("Pulumi.dev.yaml")) as { config: Record<string, unknown> };
    const values = Object.fromEntries(
      Object.entries(dev.config).map(([k, v]) => [
        k,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    );
    // `key: { secure: … }` is how a stack file stores a secret.
    const secretKeys = new Set(
      Object.entries(dev.config)
        .filter(([, v]) => typeof v === "object" && v !== null && "secure" in v)
        .map(([k]) => k),
    );
    expect(() => parseFleetConfig(values, { stack: "dev", secretKeys })).not.to.throw();
  });
});

/**
 * The CLI's own checks of stack config against what Pulumi.yaml declares, run before every
 * `up`, `preview`, `destroy` and `refresh` (pulumi/pulumi at the pinned SDK's engine):
 * - `pkg/workspace/config.go` `mergeConfig`: a project key declared with neither `default` nor
 *   `value` and absent from the stack is "missing" ("Stack 'dev' is missing configuration
 *   value …"); a declared `default` is merged into the stack config when the stack has none.
 * - `pkg/workspace/config.go` `validateStackConfigValue`: for a key with a declared `type`, an
 *   object value is JSON-decoded, anything else stays a string, and it must pass
 *   `ValidateConfigValue` (`sdk/go/common/workspace/project.go`).
 * - `sdk/go/common/resource/config/object.go` `MarshalString`: in `Pulumi.<stack>.yaml` a scalar
 *   of any YAML type is a plain string value; only lists and mappings are object values.
 *   `pulumi config set k '["a"]'` stores a plain string.
 */
interface StackValue {
  text: string;
  object: boolean;
}

function stackValue(written: unknown): StackValue {
  if (written !== null && typeof written === "object")
    return { text: JSON.stringify(written), object: true };
  return { text: String(written), object: false };
}

/** `ValidateConfigValue`, sdk/go/common/workspace/project.go. */
function validateConfigValue(
  type: string,
  items: { type: string } | undefined,
  v: unknown,
): boolean {
  if (type === "string") return typeof v === "string";
  if (type === "integer")
    return (
      (typeof v === "number" && Number.isInteger(v)) ||
      (typeof v === "string" && /^[+-]?\d+$/.test(v))
    );
  if (type === "boolean") return v === true || v === false || v === "true" || v === "false";
  if (!Array.isArray(v) || !items) return false;
  return v.every((item) => validateConfigValue(items.type, undefined, item));
}

/**
 * What the CLI does with a stack's config before running the program: the errors it stops
 * with, and otherwise the values the program sees (`mergeConfig` + `validateStackConfigValues`,
 * pkg/workspace/config.go).
 */
function cliConfigCheck(
  decl: Project,
  stack: Readonly<Record<string, unknown>>,
): { errors: string[]; values: Record<string, string> } {
  const merged = new Map<string, StackValue>(
    Object.entries(stack).map(([k, v]) => [k, stackValue(v)]),
  );
  const missing: string[] = [];
  const errors: string[] = [];
  for (const name of Object.keys(decl.config).sort()) {
    const d = decl.config[name];
    const key = name.includes(":") ? name : `${decl.name}:${name}`;
    if (!merged.has(key)) {
      if (d.default === undefined) {
        if (key.startsWith(`${decl.name}:`)) missing.push(name);
        continue;
      }
      merged.set(key, stackValue(d.default));
    }
  }
  if (missing.length)
    errors.push(`Stack 'dev' is missing configuration values ${missing.join(", ")}`);
  else {
    for (const name of Object.keys(decl.config).sort()) {
      const d = decl.config[name];
      const v = merged.get(name.includes(":") ? name : `${decl.name}:${name}`);
      if (!v || !d.type) continue;
      const content: unknown = v.object ? JSON.parse(v.text) : v.text;
      if (!validateConfigValue(d.type, d.items, content))
        errors.push(`Stack 'dev' with configuration key '${name}' must be of type '${d.type}'`);
    }
  }
  return { errors, values: Object.fromEntries([...merged].map(([k, v]) => [k, v.text])) };
}

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVkMjU1MTlrZXlmb3JmbGVldHRlc3Rz me@laptop";

/** Every documented form of every key, as written in `Pulumi.<stack>.yaml` or set by the CLI. */
const FORMS: [key: string, written: unknown, how: string][] = [
  ["cloud", "aws", "a string"],
  ["workers", ["scraper-1", { name: "scraper-2", size: "large" }], "a YAML list"],
  ["workers", '["scraper-1"]', "a JSON list set as a string"],
  ["region", "us-east-1", "a string"],
  ["size", "large", "an abstract size"],
  ["size", "s-1vcpu-1gb", "a provider size"],
  ["image", "ami-0123456789abcdef0", "an AMI id"],
  ["imageOwner", "099720109477", "an account id"],
  ["imageOwner", 99720109477, "an account id YAML reads as a number"],
  ["sshPublicKeys", [KEY], "a YAML list (or `config set --path 'fleet:sshPublicKeys[0]'`)"],
  ["sshPublicKeys", JSON.stringify([KEY]), "a JSON list set as a string"],
  ["sshPublicKeys", KEY, "a single key"],
  ["sshAllowFrom", ["203.0.113.7/32"], "a YAML list"],
  ["sshAllowFrom", '["203.0.113.7/32"]', "a JSON list set as a string"],
  ["sshAllowFrom", "203.0.113.7/32", "a single CIDR"],
  ["userDataFile", "cloud-init.yaml", "a relative path"],
  ["tags", { team: "batch" }, "a YAML mapping"],
  ["tags", '{"team":"batch"}', "a JSON mapping set as a string"],
  ["localCommand", "sleep 1000", "a shell command"],
  ["placements", [{ cloud: "aws", region: "us-east-1", size: "t3.micro" }], "a YAML list"],
  ["placements", '[{"cloud":"aws","region":"us-east-1"}]', "a JSON list set as a string"],
  ["placementOrder", "cheapest", "a string"],
  ["stateRevision", "0123456789abcdef", "a revision fleet writes on a shared backend"],
];

describe("Pulumi.yaml against the CLI's checks of declared keys (pkg/workspace/config.go)", () => {
  const project = yaml.load(read("Pulumi.yaml")) as Project;
  const parse = (values: Record<string, string>) =>
    parseFleetConfig(values, { stack: "dev", readFile: () => Buffer.from("#cloud-config\n") });

  it("the documented forms cover every key fleet knows", () => {
    expect([...new Set(FORMS.map(([k]) => k))]).to.have.members(knownStackKeys());
  });

  for (const [key, written, how] of FORMS) {
    it(`fleet:${key} as ${how} passes the CLI and fleet`, () => {
      // On AWS, which honours every key (the local cloud refuses what it cannot honour).
      const cloud =
        key === "cloud" ? {} : { "fleet:cloud": key === "localCommand" ? "local" : "aws" };
      const stack = { ...cloud, [`fleet:${key}`]: written };
      const { errors, values } = cliConfigCheck(project, stack);
      expect(errors).to.deep.equal([]);
      expect(() => parse(values)).not.to.throw();
    });
  }

  it("an empty stack and the tracked Pulumi.dev.yaml pass the CLI", () => {
    expect(cliConfigCheck(project, {}).errors).to.deep.equal([]);
    const dev = yaml.load(read("Pulumi.dev.yaml")) as { config: Record<string, unknown> };
    const { errors, values } = cliConfigCheck(project, dev.config);
    expect(errors).to.deep.equal([]);
    expect(parse(values).cloud).to.equal("local");
  });

  it("the check refuses what the CLI refuses (control: the old declarations)", () => {
    const old: Project = {
      ...project,
      config: {
        ...project.config,
        region: { type: "string" },
        sshAllowFrom: { type: "array", items: { type: "string" }, default: [] },
      },
    };
    expect(cliConfigCheck(old, {}).errors).to.deep.equal([
      "Stack 'dev' is missing configuration values region",
    ]);
    expect(
      cliConfigCheck(old, { "fleet:region": "x", "fleet:sshAllowFrom": '["203.0.113.7/32"]' })
        .errors,
    ).to.deep.equal(["Stack 'dev' with configuration key 'sshAllowFrom' must be of type 'array'"]);
    expect(
      cliConfigCheck(old, { "fleet:region": "x", "fleet:sshAllowFrom": ["203.0.113.7/32"] }).errors,
    ).to.deep.equal([]);
  });
});
