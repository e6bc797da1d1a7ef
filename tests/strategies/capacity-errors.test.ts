/**
 * Which provider errors fail a worker over: every capacity, quota and availability error of
 * each simulated cloud, in the provider's real wording (CAPACITY_ERRORS), and errors that a
 * different placement cannot fix.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { CAPACITY_ERROR_RULES } from "../../strategies/capacity-errors";
import { CLOUDS, capacityErrorOf, descriptor } from "../../strategies/registry";
import { CAPACITY_ERRORS } from "../sim/errors";

describe("strategies/capacity-errors", () => {
  const expected: [keyof typeof CAPACITY_ERRORS, string, string][] = [
    ["aws", CAPACITY_ERRORS.aws.insufficientCapacity, "InsufficientInstanceCapacity"],
    ["aws", CAPACITY_ERRORS.aws.vcpuLimitExceeded, "VcpuLimitExceeded"],
    ["aws", CAPACITY_ERRORS.aws.unsupported, "Unsupported"],
    ["digitalocean", CAPACITY_ERRORS.digitalocean.sizeUnavailable, "422 size not available"],
    ["digitalocean", CAPACITY_ERRORS.digitalocean.regionUnavailable, "422 region not available"],
    ["digitalocean", CAPACITY_ERRORS.digitalocean.dropletLimit, "422 droplet limit"],
    ["azure", CAPACITY_ERRORS.azure.skuNotAvailable, "SkuNotAvailable"],
    ["azure", CAPACITY_ERRORS.azure.allocationFailed, "AllocationFailed"],
    ["azure", CAPACITY_ERRORS.azure.quotaExceeded, "OperationNotAllowed (quota)"],
    ["gcp", CAPACITY_ERRORS.gcp.zoneResourcePoolExhausted, "ZONE_RESOURCE_POOL_EXHAUSTED"],
    ["gcp", CAPACITY_ERRORS.gcp.quotaExceeded, "QUOTA_EXCEEDED"],
    ["hetzner", CAPACITY_ERRORS.hetzner.resourceUnavailable, "resource_unavailable"],
    ["hetzner", CAPACITY_ERRORS.hetzner.placementError, "placement_error"],
  ];
  for (const [cloud, text, code] of expected) {
    it(`${cloud}: ${code} fails over`, () => {
      expect(capacityErrorOf(cloud, text)?.code).to.equal(code);
      // As the engine reports it: on one line, after the resource's own prefix.
      const flat = `error: digitalocean:index/droplet:Droplet resource 'x' failed: ${text.replace(/\s+/g, " ")}`;
      expect(capacityErrorOf(cloud, flat)?.code).to.equal(code);
    });
  }

  it("classifies by the cloud the worker was tried on: another cloud's code does not count", () => {
    expect(capacityErrorOf("digitalocean", CAPACITY_ERRORS.aws.insufficientCapacity)).to.equal(
      undefined,
    );
    expect(capacityErrorOf("local", CAPACITY_ERRORS.hetzner.resourceUnavailable)).to.equal(
      undefined,
    );
  });

  const notCapacity: [Parameters<typeof capacityErrorOf>[0], string][] = [
    [
      "aws",
      'creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 400, RequestID: r, api error InvalidAMIID.Malformed: Invalid id: "ami-1"',
    ],
    [
      "aws",
      "creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 401, RequestID: r, api error AuthFailure: AWS was not able to validate the provided access credentials",
    ],
    [
      "aws",
      "creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 400, RequestID: r, api error UnsupportedOperation: The instance type t3.micro does not support hibernation",
    ],
    [
      "digitalocean",
      'Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 401 (request "r") Unable to authenticate you',
    ],
    [
      "digitalocean",
      'Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 (request "r") You specified an invalid image for Droplet creation.',
    ],
    [
      "azure",
      'PUT https://management.azure.com/x\nRESPONSE 409: 409 Conflict\nERROR CODE: OperationNotAllowed\n{"error":{"code":"OperationNotAllowed","message":"The operation is not allowed while the VM is being deleted."}}',
    ],
    [
      "gcp",
      "Error creating instance: googleapi: Error 409: The resource 'projects/p/zones/us-central1-a/instances/w1' already exists, alreadyExists",
    ],
    ["hetzner", "server name is already used (uniqueness_error, 0123456789abcdef)"],
    ["hetzner", "unable to authenticate (unauthorized, 0123456789abcdef)"],
  ];
  for (const [cloud, text] of notCapacity) {
    it(`${cloud}: does not fail over on "${text.slice(text.lastIndexOf(":") - 30, text.lastIndexOf(":") + 40).trim()}…"`, () => {
      expect(capacityErrorOf(cloud, text)).to.equal(undefined);
    });
  }

  it("every rule says where it is documented, and the registry hands each cloud its own list", () => {
    for (const cloud of CLOUDS) {
      expect(descriptor(cloud).capacityErrors).to.equal(CAPACITY_ERROR_RULES[cloud]);
      for (const rule of descriptor(cloud).capacityErrors)
        expect(rule.documented, `${cloud} ${rule.code}`).to.match(/^https:\/\//);
    }
    expect(CAPACITY_ERROR_RULES.local).to.deep.equal([]);
  });

  it("classifying loads no provider SDK", () => {
    const registry = path.join(__dirname, "..", "..", "strategies", "registry.js");
    const script = `
      const r = require(${JSON.stringify(registry)});
      const hit = r.capacityErrorOf("aws", "api error VcpuLimitExceeded: x");
      const sdks = Object.keys(require.cache).filter((k) => /node_modules[\\/]@pulumi[\\/](?!pulumi)/.test(k));
      console.log(JSON.stringify({ code: hit && hit.code, sdks: sdks.length }));`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ code: "VcpuLimitExceeded", sdks: 0 });
  });
});
