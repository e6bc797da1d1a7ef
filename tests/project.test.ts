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
import { DEFAULT_CLOUD } from "../config/rules";

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

  it("declares every key but the two Pulumi.yaml cannot type (workers, tags)", () => {
    const undeclared = knownStackKeys().filter((k) => !(k in project.config));
    expect(undeclared).to.have.members(["workers", "tags"]);
    expect(BASE_STACK_KEYS).to.include.members(undeclared);
  });

  it("declares the code's defaults: cloud local, no SSH keys, no inbound CIDRs", () => {
    expect(project.config.cloud).to.deep.include({ type: "string", default: DEFAULT_CLOUD });
    expect(DEFAULT_CLOUD).to.equal("local");
    const unset = parseFleetConfig({}, { stack: "dev" });
    expect(project.config.sshPublicKeys).to.deep.include({
      type: "array",
      items: { type: "string" },
      default: unset.sshPublicKeys,
    });
    expect(project.config.sshAllowFrom).to.deep.include({
      type: "array",
      items: { type: "string" },
      default: unset.sshAllowFrom,
    });
    expect(unset.sshPublicKeys).to.deep.equal([]);
    expect(unset.sshAllowFrom).to.deep.equal([]);
    // Keys whose defaults live in config/<cloud>.yaml declare none here.
    for (const k of ["region", "size", "image", "userDataFile", "imageOwner"]) {
      expect(project.config[k], k).to.deep.include({ type: "string" });
      expect(project.config[k], k).not.to.have.property("default");
    }
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
