/**
 * Project and stack config of the pulumi double: the rules and messages of
 * pkg/workspace/config.go and sdk/go/common/workspace/project.go.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  getConfigPath,
  loadProject,
  loadStackSettings,
  resolvedConfig,
  saveStackSettings,
  setConfigPath,
  validateStackConfig,
  type Project,
  type RawConfigValue,
} from "./project";
import { SymmetricCrypter } from "./secrets";

function projectDir(yamlText: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proj-"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yamlText);
  return dir;
}

const FLEET = `name: fleet
runtime:
  name: nodejs
  options:
    typescript: false
main: dist/index.js
config:
  fleet:cloud:
    type: string
  fleet:count:
    type: integer
    default: 2
  fleet:debug:
    type: boolean
    default: false
  fleet:zones:
    type: array
    items:
      type: string
    default: [a]
  fleet:token:
    type: string
    secret: true
    default: x
  region: nyc3
  aws:region:
    value: us-east-1
`;

const crypter = new SymmetricCrypter(Buffer.alloc(32, 3));

describe("engine double: project and stack config", () => {
  let project: Project;
  before(() => {
    project = loadProject(projectDir(FLEET));
  });

  const check = (config: Record<string, RawConfigValue>) => () =>
    validateStackConfig(
      project,
      "dev",
      { "fleet:token": { secure: crypter.encryptValue("t") }, ...config },
      crypter,
    );

  it("reads Pulumi.yaml, with shorthand config rewritten as the CLI does", () => {
    expect(project.name).to.equal("fleet");
    expect(project.runtime).to.equal("nodejs");
    expect(project.main).to.equal("dist/index.js");
    expect(project.config.region).to.deep.equal({ default: "nyc3" });
    expect(project.config["aws:region"]).to.deep.equal({ value: "us-east-1" });
  });

  it("requires project keys declared with neither default nor value", () => {
    expect(check({})).to.throw("Stack 'dev' is missing configuration value 'fleet:cloud'");
    const p2 = loadProject(
      projectDir(
        "name: p\nruntime: nodejs\nconfig:\n  b:\n    type: string\n  a:\n    type: string\n  c:\n    type: string\n",
      ),
    );
    expect(() => validateStackConfig(p2, "dev", {}, crypter)).to.throw(
      "Stack 'dev' is missing configuration values 'a', 'b' and 'c'",
    );
  });

  it("type-checks stack values against declared types", () => {
    expect(
      check({ "fleet:cloud": "aws", "fleet:count": "3", "fleet:debug": "true" }),
    ).to.not.throw();
    expect(check({ "fleet:cloud": "aws", "fleet:count": "three" })).to.throw(
      "Stack 'dev' with configuration key 'fleet:count' must be of type 'integer'",
    );
    expect(check({ "fleet:cloud": "aws", "fleet:debug": "yes" })).to.throw(
      "Stack 'dev' with configuration key 'fleet:debug' must be of type 'boolean'",
    );
    // A YAML list for a string key is an object value: not a string.
    expect(check({ "fleet:cloud": ["aws"] })).to.throw(
      "Stack 'dev' with configuration key 'fleet:cloud' must be of type 'string'",
    );
    // A JSON string for an array key stays a string.
    expect(check({ "fleet:cloud": "aws", "fleet:zones": '["a","b"]' })).to.throw(
      "Stack 'dev' with configuration key 'fleet:zones' must be of type 'array<string>'",
    );
    expect(check({ "fleet:cloud": "aws", "fleet:zones": ["a", 1] })).to.throw(
      "must be of type 'array<string>'",
    );
    expect(check({ "fleet:cloud": "aws", "fleet:zones": ["a", "b"] })).to.not.throw();
  });

  it("requires secret-declared keys to be encrypted", () => {
    expect(check({ "fleet:cloud": "aws", "fleet:token": "plain" })).to.throw(
      "Stack 'dev' with configuration key 'fleet:token' must be encrypted as it's secret",
    );
  });

  it("applies the project's schema rules", () => {
    const bad = (cfg: string) => () =>
      loadProject(projectDir(`name: p\nruntime: nodejs\nconfig:\n${cfg}`));
    expect(bad("  a:\n    type: array\n")).to.throw(
      "The configuration key 'a' declares an array but does not specify the underlying type via the 'items' attribute",
    );
    expect(bad("  a:\n    type: integer\n    default: x\n")).to.throw(
      "The default value specified for configuration key 'a' is not of the expected type 'integer'",
    );
    expect(bad("  aws:region:\n    type: string\n")).to.throw(
      "Configuration key 'aws:region' is not namespaced by the project and should not define a type",
    );
    expect(bad("  a:\n    default: 1\n    value: 2\n")).to.throw(
      "project config 'a' cannot have both a 'default' and 'value' attribute",
    );
    expect(() => loadProject(projectDir("runtime: nodejs\n"))).to.throw(
      "project is missing a 'name' attribute",
    );
  });

  it("resolves config as the language host receives it: text, JSON objects, secrets decrypted", () => {
    const cfg = resolvedConfig(
      project,
      "dev",
      {
        config: {
          "fleet:cloud": "aws",
          "fleet:token": { secure: crypter.encryptValue("tok") },
          "fleet:workers": ["w1", { name: "w2", size: "s", n: 2 }],
        },
      },
      crypter,
    );
    expect(cfg["fleet:cloud"]).to.deep.equal({ value: "aws", secret: false });
    expect(cfg["fleet:count"]).to.deep.equal({ value: "2", secret: false });
    expect(cfg["fleet:debug"]).to.deep.equal({ value: "false", secret: false });
    expect(cfg["fleet:zones"]).to.deep.equal({ value: '["a"]', secret: false });
    expect(cfg["fleet:token"]).to.deep.equal({ value: "tok", secret: true });
    expect(cfg["aws:region"]).to.deep.equal({ value: "us-east-1", secret: false });
    expect(cfg["fleet:workers"].value).to.equal('["w1",{"n":2,"name":"w2","size":"s"}]');
  });

  it("sets values by path as config.Map.Set does", () => {
    const cfg: Record<string, RawConfigValue> = { "fleet:s": "scalar" };
    setConfigPath(cfg, "fleet:net.ports[0]", 22, true);
    setConfigPath(cfg, "fleet:net.ports[1]", 23, true);
    setConfigPath(cfg, 'fleet:net["a.b"]', "x", true);
    expect(cfg["fleet:net"]).to.deep.equal({ ports: [22, 23], "a.b": "x" });
    expect(getConfigPath(cfg, "fleet:net.ports[1]", true)).to.equal(23);
    // A scalar at the top is replaced; deeper down it is an error.
    setConfigPath(cfg, "fleet:s.x", "1", true);
    expect(cfg["fleet:s"]).to.deep.equal({ x: "1" });
    expect(() => setConfigPath(cfg, "fleet:s.x.y", "1", true)).to.throw(
      "could not set config: s.x: expected a map",
    );
    expect(() => setConfigPath(cfg, "fleet:net.ports[5]", 1, true)).to.throw(
      "could not set config: net.ports[5]: array index out of range",
    );
    expect(() => setConfigPath(cfg, "fleet:empty.secure", "v", true)).to.throw(
      'maps with the single key "secure" are reserved',
    );
  });

  it("writes Pulumi.<stack>.yaml in ProjectStack order with sorted config keys", () => {
    const dir = projectDir(FLEET);
    saveStackSettings(dir, "dev", {
      config: { "fleet:z": "1", "aws:region": "x", "fleet:a": { secure: "v1:a:b" } },
      encryptionsalt: "v1:salt",
    });
    const text = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
    expect(text).to.equal(
      'encryptionsalt: v1:salt\nconfig:\n  aws:region: x\n  fleet:a:\n    secure: v1:a:b\n  fleet:z: "1"\n',
    );
    const back = loadStackSettings(dir, "dev");
    expect(back.config["fleet:z"]).to.equal("1");
    expect(back.encryptionsalt).to.equal("v1:salt");
    fs.writeFileSync(path.join(dir, "Pulumi.bad.yaml"), "config:\n  nonamespace: 1\n");
    expect(() => loadStackSettings(dir, "bad")).to.throw(
      "could not unmarshal map: could not parse nonamespace as a configuration key",
    );
  });
});
