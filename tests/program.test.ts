import { expect } from "chai";
import { fleetProgram } from "../program";
import { runUnderMocks } from "./harness/mocks";

describe("program", () => {
  it("exports workers for digitalocean", async () => {
    const { outputs, mocks } = await runUnderMocks(() => fleetProgram(), {
      "fleet:cloud": "digitalocean",
      "fleet:workers": JSON.stringify(["a", "b"]),
    });
    console.log(
      JSON.stringify(outputs, null, 1),
      mocks.resources.map((r) => r.type + " " + r.name),
    );
    expect(outputs.workers).to.have.length(2);
  });
  it("exports workers for aws", async () => {
    const { outputs, mocks } = await runUnderMocks(() => fleetProgram(), {
      "fleet:cloud": "aws",
      "fleet:workers": JSON.stringify(["a", { name: "b", region: "eu-west-1" }]),
    });
    console.log(
      JSON.stringify(outputs, null, 1),
      mocks.resources.map((r) => r.type + " " + r.name),
    );
    expect(outputs.workers).to.have.length(2);
  });
});
