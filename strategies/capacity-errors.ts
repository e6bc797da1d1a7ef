/**
 * The provider errors each cloud's strategy treats as "this placement cannot take the worker
 * now" — out of capacity, over a quota, or not offered there — so that CloudContext moves the
 * worker to its next placement candidate (README, "Capacity failover"). Anything else (bad
 * credentials, a bad image, a name conflict) is not listed: another placement cannot fix it.
 *
 * A leaf module with no imports, so the registry can hand each cloud's list to CloudContext
 * without loading a provider SDK. One section per cloud; each rule names the provider's code,
 * how it shows in the text the provider plugin prints, and where the code is documented.
 */

/** Why a placement refused a worker. */
export type CapacityKind = "capacity" | "quota" | "availability";

/** One provider error code that a different placement may not hit. */
export interface CapacityErrorRule {
  /** The provider's error code (`InsufficientInstanceCapacity`, `resource_unavailable`, …). */
  readonly code: string;
  /** What it means: the cloud is out of capacity, the account is over a quota, or the size/region is not offered. */
  readonly kind: CapacityKind;
  /** Matches the error text the provider plugin reports (as the engine prints it). */
  readonly pattern: RegExp;
  /** Where the code and its meaning are documented. */
  readonly documented: string;
}

/**
 * Per cloud, the errors that fail a worker over to its next candidate. The texts are those the
 * Pulumi providers print: AWS SDK for Go v2 errors as terraform-provider-aws wraps them
 * (`… api error <Code>: <message>`), godo's `422 (request "…") <message>` for DigitalOcean,
 * azcore's `ERROR CODE: <Code>` plus the JSON body for azure-native, the Compute operation's
 * error message for GCP, and hcloud-go's `<message> (<code>, <correlation id>)` for Hetzner.
 */
export const CAPACITY_ERROR_RULES = {
  aws: [
    {
      code: "InsufficientInstanceCapacity",
      kind: "capacity",
      pattern: /\bInsufficientInstanceCapacity\b/,
      // EC2 API reference, "Error codes for the Amazon EC2 API" (server errors), and
      // "Troubleshoot Amazon EC2 instance launch issues" → "Insufficient instance capacity".
      documented:
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/troubleshooting-launch.html",
    },
    {
      code: "VcpuLimitExceeded",
      kind: "quota",
      pattern: /\bVcpuLimitExceeded\b/,
      // EC2 API error codes (client errors); also listed as a launch limit error in
      // gardener/machine-controller-manager-provider-aws `pkg/aws/errors`.
      documented: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
    },
    {
      code: "InstanceLimitExceeded",
      kind: "quota",
      pattern: /\bInstanceLimitExceeded\b/,
      documented: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
    },
    {
      code: "Unsupported",
      kind: "availability",
      // The bare code only, as the SDK prints it (`api error Unsupported: …`); never
      // `UnsupportedOperation` or `InvalidParameterValue … unsupported`.
      pattern: /(?:^|[\s(])Unsupported: /,
      // EC2 API error codes: "The specified request is unsupported … instance type not
      // supported in the Availability Zone"; aws/aws-parallelcluster-node#673 fails over on it.
      documented: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
    },
  ],
  azure: [
    {
      code: "SkuNotAvailable",
      kind: "availability",
      pattern: /\bSkuNotAvailable\b/,
      documented:
        "https://learn.microsoft.com/en-us/azure/azure-resource-manager/troubleshooting/error-sku-not-available",
    },
    {
      code: "AllocationFailed",
      kind: "capacity",
      // ZonalAllocationFailed is the same failure pinned to a zone.
      pattern: /\b(?:Zonal)?AllocationFailed\b/,
      documented:
        "https://learn.microsoft.com/en-us/troubleshoot/azure/virtual-machines/windows/allocation-failure",
    },
    {
      code: "OperationNotAllowed (quota)",
      kind: "quota",
      // Compute reports core quotas as OperationNotAllowed whose message says "quota"
      // (cloud-barista/cb-spider#1558); other OperationNotAllowed errors are not capacity.
      pattern: /\bOperationNotAllowed\b[\s\S]*\bquota\b/i,
      documented:
        "https://learn.microsoft.com/en-us/azure/azure-resource-manager/troubleshooting/error-resource-quota",
    },
  ],
  digitalocean: [
    {
      code: "422 size not available",
      kind: "availability",
      // ChainSafe/forest-iac#437, pry0cc/axiom#305, inlets/inlets-operator#111.
      pattern: /\b422\b[\s\S]*Size is not available in this region/i,
      documented:
        "https://docs.digitalocean.com/platform/regional-availability/ (sizes offered per region); https://docs.digitalocean.com/reference/api/api-reference/#operation/droplets_create (422 unprocessable_entity)",
    },
    {
      code: "422 region not available",
      kind: "availability",
      // digitalocean/api-v2#41, renproject/darknode-cli#5, kelda/kelda#1359 (DigitalOcean
      // temporarily disables creation in full regions).
      pattern: /\b422\b[\s\S]*Region is not available/i,
      documented: "https://docs.digitalocean.com/platform/regional-availability/",
    },
    {
      code: "422 droplet limit",
      kind: "quota",
      // pry0cc/axiom#422: the account's droplet limit.
      pattern: /\b422\b[\s\S]*exceed your droplet limit/i,
      documented: "https://docs.digitalocean.com/products/droplets/details/limits/",
    },
  ],
  gcp: [
    {
      code: "ZONE_RESOURCE_POOL_EXHAUSTED",
      kind: "capacity",
      // The operation error's code, or its message as terraform-provider-google prints it.
      pattern:
        /\bZONE_RESOURCE_POOL_EXHAUSTED|does not have enough resources available to fulfill the request/,
      documented:
        "https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-resource-availability",
    },
    {
      code: "QUOTA_EXCEEDED",
      kind: "quota",
      // hashicorp/terraform-provider-google#20573: `Quota 'CPUS' exceeded.  Limit: 8.0 in region …`.
      pattern: /\bQUOTA_EXCEEDED\b|\bQuota '[A-Z0-9_]+' exceeded\b/,
      documented: "https://cloud.google.com/docs/quotas/troubleshoot",
    },
  ],
  hetzner: [
    {
      code: "resource_unavailable",
      kind: "capacity",
      pattern: /\(resource_unavailable, [0-9a-f]+\)/,
      // Hetzner Cloud API reference, "Errors"; pulumi/pulumi-hcloud#104.
      documented: "https://docs.hetzner.cloud/#errors",
    },
    {
      code: "placement_error",
      kind: "capacity",
      pattern: /\(placement_error, [0-9a-f]+\)/,
      documented: "https://docs.hetzner.cloud/#errors",
    },
    {
      code: "resource_limit_exceeded",
      kind: "quota",
      pattern: /\(resource_limit_exceeded, [0-9a-f]+\)/,
      documented: "https://docs.hetzner.cloud/#errors",
    },
  ],
  // Processes on this machine: nothing another placement could do better.
  local: [],
} as const satisfies Record<string, readonly CapacityErrorRule[]>;

/** The rule a provider's error text matches, or undefined when it is not a capacity error. */
export function matchCapacityError(
  rules: readonly CapacityErrorRule[],
  message: string,
): CapacityErrorRule | undefined {
  return rules.find((r) => r.pattern.test(message));
}
