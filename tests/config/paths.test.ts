import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { projectDirectory } from "../../config/paths";

describe("config/paths projectDirectory", () => {
  let dir = "";
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-paths-")));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: fleet\n");
    fs.mkdirSync(path.join(dir, "dist", "strategies"), { recursive: true });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("takes the directory the caller names", () => {
    expect(projectDirectory({ explicit: dir, cwd: "/" })).to.equal(dir);
  });

  it("takes the engine's --root-directory when it holds Pulumi.yaml", () => {
    expect(projectDirectory({ rootDirectory: dir, cwd: "/" })).to.equal(dir);
  });

  it("ignores the SDK's placeholder and finds Pulumi.yaml above the working directory (dist/)", () => {
    // runtime/state.js: getRootDirectory() is "rootDirectory" when the engine passed none.
    const dist = path.join(dir, "dist", "strategies");
    expect(projectDirectory({ rootDirectory: "rootDirectory", cwd: dist })).to.equal(dir);
    expect(projectDirectory({ rootDirectory: path.join(dir, "dist"), cwd: dist })).to.equal(dir);
  });

  it("falls back to the working directory when no Pulumi.yaml is above it", () => {
    const lone = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-lone-")));
    expect(projectDirectory({ cwd: lone })).to.equal(lone);
  });
});
