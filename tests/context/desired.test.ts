import { expect } from "chai";
import { compactEntry, configChanges, parseDesired } from "../../context/desired";
import { FleetConfigError } from "../../config/errors";

describe("context/desired", () => {
  const ctx = { stack: "dev", projectDir: "/tmp" };

  it("parseDesired validates the config with the override applied", () => {
    const config = {
      "fleet:cloud": { value: "digitalocean" },
      "fleet:workers": { value: '["a"]' },
    };
    const parsed = parseDesired(config, { workers: ["a", { name: "b", cloud: "aws" }] }, ctx);
    expect(parsed.cloud).to.equal("digitalocean");
    expect(parsed.entries).to.deep.equal(["a", { name: "b", cloud: "aws" }]);
    expect(() => parseDesired(config, { workers: ["a", "-bad"] }, ctx)).to.throw(
      FleetConfigError,
      /invalid worker name/,
    );
  });

  it("configChanges writes only what differs", () => {
    const config = { "fleet:cloud": { value: "aws" }, "fleet:workers": { value: '["a"]' } };
    expect(configChanges(config, ["a"], "aws")).to.deep.equal({});
    expect(configChanges(config, ["a", "b"], "aws")).to.deep.equal({
      "fleet:workers": { value: '["a","b"]' },
    });
    expect(configChanges(config, ["a"], "digitalocean")).to.deep.equal({
      "fleet:cloud": { value: "digitalocean" },
    });
    expect(configChanges({ "fleet:cloud": { value: "aws" } }, [], "aws")).to.deep.equal({});
  });

  it("compactEntry writes a bare name when there are no overrides", () => {
    expect(compactEntry({ name: "a" })).to.equal("a");
    expect(compactEntry({ name: "a", cloud: undefined })).to.equal("a");
    expect(compactEntry({ name: "a", cloud: "aws" })).to.deep.equal({ name: "a", cloud: "aws" });
  });
});
