/**
 * How each simulated provider words an API error, and the capacity and quota errors of each
 * cloud in the provider's real format — ready to paste into `FLEET_SIM_FAULTS` rules
 * (`faults.ts`). Sources are named per entry and in tests/sim/README.md.
 */
import { randomBytes, randomUUID } from "node:crypto";

/** An error a simulated provider returns; `message` is what the real provider prints. */
export class ProviderError extends Error {
  /** The cloud API's error code (`InvalidGroup.Duplicate`, `uniqueness_error`, …). */
  public readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "ProviderError";
    this.code = code;
  }
}

/**
 * DigitalOcean through the Terraform provider: `Error creating droplet: POST
 * https://api.digitalocean.com/v2/droplets: 422 (request "…") <message>` (godo's error string,
 * wrapped by terraform-provider-digitalocean; seen e.g. in ChainSafe/forest-iac#437).
 */
export function doError(action: string, method: string, p: string, status: number, msg: string) {
  return new ProviderError(
    `Error ${action}: ${method} https://api.digitalocean.com/v2/${p}: ${status} (request "${randomUUID()}") ${msg}`,
    status === 404 ? "not_found" : "unprocessable_entity",
  );
}

/**
 * AWS SDK v2 errors as terraform-provider-aws wraps them: `creating EC2 Instance: operation
 * error EC2: RunInstances, https response error StatusCode: 400, RequestID: …, api error
 * <Code>: <message>` (smithy-go `OperationError` + `ResponseError`).
 */
export function awsError(
  action: string,
  operation: string,
  status: number,
  code: string,
  msg: string,
) {
  return new ProviderError(
    `${action}: operation error EC2: ${operation}, https response error StatusCode: ${status}, RequestID: ${randomUUID()}, api error ${code}: ${msg}`,
    code,
  );
}

/**
 * Azure SDK for Go (azcore) `ResponseError` text, which azure-native reports as it is: the
 * request line, `RESPONSE <status>`, `ERROR CODE`, then the JSON body (cf.
 * cloud-barista/cb-spider#1558, Azure/karpenter-provider-azure#192).
 */
export function azureError(method: string, id: string, status: number, code: string, msg: string) {
  const line = "-".repeat(80);
  const reason = status === 409 ? "Conflict" : status === 404 ? "Not Found" : "Bad Request";
  const body = JSON.stringify({ error: { code, message: msg } }, null, 2);
  return new ProviderError(
    `${method} https://management.azure.com${id}\n${line}\nRESPONSE ${status}: ${status} ${reason}\nERROR CODE: ${code}\n${line}\n${body}\n${line}\n`,
    code,
  );
}

/**
 * Google API errors as terraform-provider-google wraps them: `Error creating instance:
 * googleapi: Error 409: The resource '…' already exists, alreadyExists`.
 */
export function gcpError(action: string, status: number, msg: string, reason: string) {
  return new ProviderError(
    `Error ${action}: googleapi: Error ${status}: ${msg}, ${reason}`,
    reason,
  );
}

/**
 * hcloud-go's error string, which terraform-provider-hcloud prints as it is: `<message>
 * (<code>, <correlation id>)` (e.g. `error during placement (resource_unavailable,
 * 1d1d17e504e28a4c)`, mysticaltech/terraform-hcloud-kube-hetzner#1539).
 */
export function hcloudError(msg: string, code: string) {
  return new ProviderError(`${msg} (${code}, ${randomBytes(8).toString("hex")})`, code);
}

const REQ = "3f1c2a9e-7b5d-4e8a-9c0f-1a2b3c4d5e6f";
const AZ_LINE = "-".repeat(80);
const AZ_VM =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/fleet-rg1a2b3c4d/providers/Microsoft.Compute/virtualMachines/w1";
const azure = (status: number, code: string, message: string) =>
  `PUT https://management.azure.com${AZ_VM}\n${AZ_LINE}\nRESPONSE ${status}: ${status} Conflict\nERROR CODE: ${code}\n${AZ_LINE}\n${JSON.stringify({ error: { code, message } }, null, 2)}\n${AZ_LINE}\n`;

/**
 * Capacity and quota errors per simulated cloud, with example values (instance type t3.micro,
 * zone us-east-1a, …), in the text the real provider prints. Use them as the `error` of a
 * `FLEET_SIM_FAULTS` rule; sources in tests/sim/README.md.
 */
export const CAPACITY_ERRORS = {
  aws: {
    /** EC2 out of capacity for a type in a zone (StatusCode 500; hashicorp/terraform-provider-aws#1496). */
    insufficientCapacity: `creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 500, RequestID: ${REQ}, api error InsufficientInstanceCapacity: We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. You can currently get t3.micro capacity by not specifying an Availability Zone in your request or choosing us-east-1b, us-east-1c.`,
    /** The account's On-Demand vCPU quota (aws/amazon-cloudwatch-agent-test#256, bentoml/bentoctl#202). */
    vcpuLimitExceeded: `creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 400, RequestID: ${REQ}, api error VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
    /** The type does not exist in that zone (EC2 API error codes reference, `Unsupported`). */
    unsupported: `creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 400, RequestID: ${REQ}, api error Unsupported: Your requested instance type (t3.micro) is not supported in your requested Availability Zone (us-east-1e). Please retry your request by not specifying an Availability Zone or choosing us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f.`,
  },
  digitalocean: {
    /** ChainSafe/forest-iac#437, pry0cc/axiom#305. */
    sizeUnavailable: `Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 (request "${REQ}") Size is not available in this region.`,
    /** digitalocean/api-v2#41, renproject/darknode-cli#5. */
    regionUnavailable: `Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 (request "${REQ}") Region is not available`,
    /** pry0cc/axiom#422, OpenRouterLabs/spawn#3059. */
    dropletLimit: `Error creating droplet: POST https://api.digitalocean.com/v2/droplets: 422 (request "${REQ}") creating this/these droplet(s) will exceed your droplet limit`,
  },
  azure: {
    /** Azure-Samples/azuresandbox#70, Azure/azure-cli#32628. */
    skuNotAvailable: azure(
      409,
      "SkuNotAvailable",
      "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: Standard_B1s' is currently not available in location 'westeurope'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.",
    ),
    /** Azure docs "Troubleshoot allocation failures" (AllocationFailed). */
    allocationFailed: azure(
      409,
      "AllocationFailed",
      "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance",
    ),
    /** cloud-barista/cb-spider#1558, nforgeio/neonKUBE#1671. */
    quotaExceeded: azure(
      409,
      "OperationNotAllowed",
      "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 10, Current Usage: 10, Additional Required: 1, (Minimum) New Limit Required: 11. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by specifying parameters listed in the ‘Details’ section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/regional-quota-requests",
    ),
  },
  gcp: {
    /** The insert operation's error as the provider waits on it (googlefonts/fontbakery-dashboard#81, CCExtractor/sample-platform#901). */
    zoneResourcePoolExhausted:
      "Error waiting for instance to create: The zone 'projects/fleet-project/zones/us-central1-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.",
    /** hashicorp/terraform-provider-google#20573 (QUOTA_EXCEEDED operation error). */
    quotaExceeded:
      "Error waiting for instance to create: Quota 'CPUS' exceeded.  Limit: 8.0 in region us-central1.",
  },
  hetzner: {
    /** pulumi/pulumi-hcloud#104, hetznercloud/terraform-provider-hcloud#531. */
    resourceUnavailable: "error during placement (resource_unavailable, 1d1d17e504e28a4c)",
    /** Hetzner Cloud API docs, error code `placement_error`. */
    placementError: "error during placement (placement_error, 6c4be35cf2e8ed9d)",
  },
} as const;
