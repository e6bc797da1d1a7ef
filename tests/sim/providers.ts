/**
 * Simulated providers for the clouds whose plugins cannot be installed here: `aws`,
 * `digitalocean`, `azure-native`, `gcp`, `hcloud`. The plugins (plugin.ts) call these for every
 * resource (and provider resource `pulumi:providers:<pkg>`) of those packages.
 *
 * Conventions:
 * - Values are plain JSON: the engine unwraps secrets and never passes unknowns to `create`.
 * - Preview (`create(…, preview=true)`, `update(…, preview=true)`) returns the inputs plus the
 *   outputs the provider can know before the cloud answers; the ones it cannot know (ids, IPs,
 *   creation times, status, ARNs, …) are omitted, and the engine marks them unknown. Preview
 *   never touches the simulated cloud, and `create` in preview returns `id: ""`.
 * - `check` auto-names like the real provider: Terraform-bridged providers use
 *   `<logical name>-<7 random hex>` (pulumi-terraform-bridge `AutoName`, via
 *   `resource.NewUniqueHex`), azure-native `<logical name><8 random hex>` (no separator). The
 *   generated property is listed in `__defaults`, as the bridge records it; an existing name is
 *   kept while olds have it, and a replacement (the engine calls `check` with no olds) gets a
 *   new one.
 * - `diff` reports `deleteBeforeReplace` when a replacement keeps a name the user set, as the
 *   bridge does (`nameRequiresDeleteBeforeReplace`): the new object would collide with the old.
 * - Errors are `ProviderError`s whose message is the provider's real text (see ./errors.ts).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { CloudObject, CloudTransaction, Json, JsonObject, SimulatedCloud } from "./cloud";
import { ProviderError, awsError, azureError, doError, gcpError, hcloudError } from "./errors";

export { CAPACITY_ERRORS, ProviderError } from "./errors";

/** A property `check` refuses, and why (the provider's words). */
export interface CheckFailure {
  property: string;
  reason: string;
}

/** What `check` returns: the inputs to use (auto-named, defaults applied) and any refusals. */
export interface CheckResult {
  inputs: JsonObject;
  failures: CheckFailure[];
}

/** What `diff` returns. `diffs` and `replaces` are top-level input property names. */
export interface DiffResult {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
  diffs: string[];
}

/** One simulated provider package. */
export interface SimulatedProvider {
  /** The package: `aws`, `digitalocean`, `azure-native`, `gcp` or `hcloud`. */
  readonly pkg: string;
  /**
   * Sets the provider configuration (the checked inputs of `pulumi:providers:<pkg>`, e.g.
   * `{ region: "us-east-1" }`). Defaults come from the usual environment variables.
   */
  configure(config: JsonObject): void;
  /**
   * Validates and completes inputs. `urn` (its last part is the logical name) is needed for
   * auto-naming; `randomSeed` makes auto-names reproducible (as the engine's seed does).
   */
  check(
    type: string,
    news: JsonObject,
    olds?: JsonObject,
    urn?: string,
    randomSeed?: Buffer,
  ): CheckResult;
  /** Compares old and new inputs; `ignoreChanges` paths (`tags["k"]`, `ami`, `a.b[0]`) are honoured. */
  diff(
    type: string,
    olds: JsonObject,
    news: JsonObject,
    oldOutputs: JsonObject,
    ignoreChanges: string[],
  ): DiffResult;
  /** Creates the object in the simulated cloud (or only predicts outputs when `preview`). */
  create(
    type: string,
    urn: string,
    inputs: JsonObject,
    preview: boolean,
  ): Promise<{ id: string; outputs: JsonObject }>;
  /** Reads the object back; undefined when it is gone from the cloud. */
  read(
    type: string,
    id: string,
    oldOutputs: JsonObject,
  ): Promise<{ id: string; outputs: JsonObject } | undefined>;
  /** Updates in place; fails with the provider's "not found" error when the object is gone. */
  update(
    type: string,
    id: string,
    olds: JsonObject,
    news: JsonObject,
    oldOutputs: JsonObject,
    preview: boolean,
  ): Promise<JsonObject>;
  /** Deletes; deleting what is already gone succeeds (providers treat 404 as deleted). */
  delete(type: string, id: string, outputs: JsonObject): Promise<void>;
  /** Runs a data-source function such as `aws:ec2/getAmi:getAmi`. */
  invoke(token: string, args: JsonObject): Promise<JsonObject>;
  /**
   * The output properties a create of `type` with `inputs` would report, found by a dry run
   * against the current cloud that writes nothing (empty when the create would fail). A
   * preview marks the ones it cannot know yet as unknown.
   */
  outputKeys(type: string, urn: string, inputs: JsonObject): Promise<string[]>;
}

/** Packages simulated here. */
export const SIMULATED_PACKAGES = ["aws", "digitalocean", "azure-native", "gcp", "hcloud"] as const;

// ---------------------------------------------------------------------------------------------
// helpers

const DEFAULTS = "__defaults";

function clone<T extends Json>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function str(v: Json | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function obj(v: Json | undefined): JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v : {};
}

function arr(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}

function hex(n: number): string {
  return randomBytes(Math.ceil(n / 2))
    .toString("hex")
    .slice(0, n);
}

function logicalName(urn: string | undefined): string {
  if (!urn) return "resource";
  const i = urn.lastIndexOf("::");
  return i >= 0 ? urn.slice(i + 2) : urn;
}

/** Parses `a.b["c:d"][0]` into segments (Pulumi property path syntax). */
export function parsePath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+|\*)\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(m[2].replace(/\\(.)/g, "$1"));
    else if (m[3] !== undefined) out.push(m[3] === "*" ? "*" : Number(m[3]));
  }
  return out;
}

function getPath(v: Json | undefined, segs: (string | number)[]): Json | undefined {
  let cur: Json | undefined = v;
  for (const s of segs) {
    if (cur === null || cur === undefined || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur)
      ? typeof s === "number"
        ? cur[s]
        : undefined
      : (cur as JsonObject)[String(s)];
  }
  return cur;
}

function setPath(root: JsonObject, segs: (string | number)[], value: Json | undefined): void {
  let cur: Json = root;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i];
    const container = cur as JsonObject & Json[];
    let next: Json | undefined = container[s as never];
    if (next === null || typeof next !== "object") {
      if (value === undefined) return;
      next = typeof segs[i + 1] === "number" ? [] : {};
      (container as unknown as Record<string | number, Json>)[s] = next;
    }
    cur = next;
  }
  const last = segs[segs.length - 1];
  const c = cur as unknown as Record<string | number, Json>;
  if (value === undefined) {
    if (Array.isArray(cur) && typeof last === "number") return;
    delete c[last];
  } else c[last] = value;
}

/**
 * Applies `ignoreChanges` to `news` as the engine does (`pkg/resource/deploy/
 * step_generator.go`, `processIgnoreChanges`): each ignored path takes the old value, or is
 * removed when the old inputs lack it.
 */
export function applyIgnoreChanges(
  olds: JsonObject,
  news: JsonObject,
  ignoreChanges: readonly string[],
): JsonObject {
  const out = clone(news);
  for (const p of ignoreChanges) {
    const segs = parsePath(p);
    if (!segs.length) continue;
    if (segs.includes("*")) continue; // wildcards: rarely used by fleet; see README
    setPath(
      out,
      segs,
      getPath(olds, segs) === undefined ? undefined : clone(getPath(olds, segs) as Json),
    );
  }
  return out;
}

/** Pulumi-style auto-name: `<prefix><sep><random hex>`, at most `max` characters. */
function autoName(
  logical: string,
  sep: string,
  randLen: number,
  max: number,
  seed?: Buffer,
  lower = false,
): string {
  const base = lower ? logical.toLowerCase() : logical;
  const rand = seed
    ? createHash("sha256").update(seed).update(logical).digest("hex").slice(0, randLen)
    : hex(randLen);
  const prefix = base.slice(0, Math.max(0, max - randLen - sep.length));
  return `${prefix}${sep}${rand}`;
}

/** The bridge's message for a missing required input (pulumi-terraform-bridge `CheckConfig`/`Check`). */
function missingTf(prop: string): CheckFailure {
  return {
    property: prop,
    reason: `Missing required argument. The argument "${prop}" is required, but no definition was found.`,
  };
}

/** azure-native's message for a missing required input. */
function missingAzure(prop: string): CheckFailure {
  return { property: prop, reason: `missing required property '${prop}'` };
}

/** A SHA-256 of text as a short stable number (deterministic fake ids). */
function md5Fingerprint(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? publicKey;
  const digest = createHash("md5").update(Buffer.from(blob, "base64")).digest("hex");
  return digest.match(/../g)?.join(":") ?? digest;
}

const SSH_KEY_TYPES = [
  "ssh-rsa",
  "ssh-dss",
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
];

function validSshKey(k: string): boolean {
  const parts = k.trim().split(/\s+/);
  return (
    parts.length >= 2 &&
    SSH_KEY_TYPES.includes(parts[0]) &&
    /^[A-Za-z0-9+/]+=*$/.test(parts[1]) &&
    parts[1].length >= 16
  );
}

/** Next value of a named counter kept in the cloud (unique ids and addresses across processes). */
function nextCounter(tx: CloudTransaction, name: string): number {
  const cur = tx.get("_double", "counter", name);
  const n = cur ? (cur.outputs.value as number) + 1 : 0;
  tx.put({
    provider: "_double",
    type: "counter",
    id: name,
    inputs: {},
    outputs: { value: n },
    createdAt: cur?.createdAt ?? new Date().toISOString(),
  });
  return n;
}

/**
 * A public IPv4: first the provider's own documentation /24 (RFC 5737: 192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24), then RFC 2544's 198.18.0.0/15 once that is used up, so
 * addresses stay unique in large runs.
 */
function publicIp(tx: CloudTransaction, pkg: string, range: string): string {
  const n = nextCounter(tx, `ip:${pkg}`);
  if (n < 254) return `${range}.${n + 1}`;
  // 198.18.0.0/15 holds 512 blocks of 254 hosts; each package gets its own 102 blocks.
  const m = n - 254;
  const block = (SIMULATED_PACKAGES.indexOf(pkg as never) * 102 + Math.floor(m / 254)) % 512;
  return `198.${18 + Math.floor(block / 256)}.${block % 256}.${(m % 254) + 1}`;
}

function privateIp(tx: CloudTransaction, pkg: string, prefix: string): string {
  const n = nextCounter(tx, `private-ip:${pkg}`);
  return `${prefix}.${Math.floor(n / 254) % 256}.${(n % 254) + 2}`;
}

function now(): string {
  return new Date().toISOString();
}

function stripDefaults(inputs: JsonObject): JsonObject {
  const out = clone(inputs);
  delete out[DEFAULTS];
  return out;
}

// ---------------------------------------------------------------------------------------------
// per-type specifications

interface Ctx {
  pkg: string;
  config: JsonObject;
  tx: CloudTransaction;
  type: string;
  urn: string;
  inputs: JsonObject;
}

interface UpdateCtx extends Ctx {
  id: string;
  olds: JsonObject;
  oldOutputs: JsonObject;
  existing: CloudObject;
}

interface TypeSpec {
  /** Required inputs (missing → check failure). */
  required: string[];
  /** Missing-input message style. */
  missing: (prop: string) => CheckFailure;
  /** Auto-named property. */
  autoName?: { prop: string; sep: string; rand: number; max: number; lower?: boolean };
  /** Property paths whose change forces replacement. */
  replaceOn: string[];
  /** Extra check-time validation. */
  validate?: (inputs: JsonObject, config: JsonObject) => CheckFailure[];
  /** Outputs knowable in preview (beyond the inputs). */
  preview?: (inputs: JsonObject, config: JsonObject) => JsonObject;
  /**
   * Inputs whose output form has provider-computed parts inside (GCP `natIp`, Azure NIC private
   * IPs): plain JSON cannot hold an unknown inside a value, so preview omits the whole property
   * (the engine marks it unknown) unless an update leaves it unchanged.
   */
  previewOmit?: string[];
  /** Creates: returns id, cloud-side name and outputs (inputs are merged in by the caller). */
  create: (ctx: Ctx) => { id: string; name?: string; outputs: JsonObject };
  /** Validates an in-place update; returns changed outputs. */
  update?: (ctx: UpdateCtx) => JsonObject;
  /** The provider's "gone" error for update of a missing object. */
  notFound: (id: string) => ProviderError;
}

// ---- DigitalOcean (terraform-provider-digitalocean via pulumi-digitalocean) -------------------

const DO_REGIONS = [
  "nyc1",
  "nyc2",
  "nyc3",
  "ams2",
  "ams3",
  "sfo1",
  "sfo2",
  "sfo3",
  "sgp1",
  "lon1",
  "fra1",
  "tor1",
  "blr1",
  "syd1",
  "atl1",
];

/** terraform-provider-digitalocean `tag.ValidateTag`. */
function doTagFailures(prop: string, tags: Json | undefined): CheckFailure[] {
  return arr(tags)
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => typeof t === "string" && !/^[a-zA-Z0-9:\-_]{1,255}$/.test(t))
    .map(({ t, i }) => ({
      property: `${prop}[${i}]`,
      reason: `tags may contain lowercase letters, numbers, colons, dashes, and underscores; there is a limit of 255 characters per tag (got ${JSON.stringify(t)})`,
    }));
}

function doDropletOutputs(id: string, inputs: JsonObject, region: string): JsonObject {
  const size = str(inputs.size) ?? "";
  const m = /-(\d+)vcpu-(\d+)gb/.exec(size);
  return {
    urn: `do:droplet:${id}`,
    region,
    status: "active",
    locked: false,
    disk: m ? Number(m[2]) * 25 : 25,
    memory: m ? Number(m[2]) * 1024 : 1024,
    vcpus: m ? Number(m[1]) : 1,
    priceHourly: 0.00893,
    priceMonthly: 6,
    ipv6Address: "",
    vpcUuid: `c0ffee00-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`,
    backups: false,
    resizeDisk: true,
    gracefulShutdown: false,
  };
}

const DO_SPECS: Record<string, TypeSpec> = {
  "digitalocean:index/droplet:Droplet": {
    // Terraform schema: image, size Required (name is auto-named by the bridge).
    required: ["image", "size"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 255 },
    // terraform-provider-digitalocean droplet schema: image, region, ssh_keys, user_data,
    // vpc_uuid, monitoring, ipv6 (disabling) are ForceNew; size (resize), name (rename),
    // tags, backups are updated in place.
    replaceOn: [
      "image",
      "region",
      "sshKeys",
      "userData",
      "vpcUuid",
      "monitoring",
      "privateNetworking",
    ],
    validate: (i) => doTagFailures("tags", i.tags),
    preview: (i): JsonObject => (i.region ? { region: i.region } : {}),
    create: ({ tx, inputs }) => {
      const name = str(inputs.name) ?? "";
      // DigitalOcean API: droplet names are hostnames.
      if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,253}[a-zA-Z0-9])?$/.test(name))
        throw doError(
          "creating droplet",
          "POST",
          "droplets",
          422,
          "Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)",
        );
      const region = str(inputs.region) ?? "nyc3";
      if (!DO_REGIONS.includes(region))
        throw doError("creating droplet", "POST", "droplets", 422, "Region is not available");
      if (!/^[a-z0-9]+(-[a-z0-9]+)+$/.test(str(inputs.size) ?? ""))
        throw doError(
          "creating droplet",
          "POST",
          "droplets",
          422,
          "You specified an invalid size for Droplet creation.",
        );
      // The SSH keys and tags must exist (fingerprints of keys on the account).
      const keys = tx.list({ provider: "digitalocean", type: "digitalocean:index/sshKey:SshKey" });
      for (const k of arr(inputs.sshKeys)) {
        if (!keys.some((o) => o.outputs.fingerprint === k || o.id === k))
          throw doError(
            "creating droplet",
            "POST",
            "droplets",
            422,
            `You specified an invalid ssh key: ${String(k)}`,
          );
      }
      const id = String(400000000 + nextCounter(tx, "do:droplet") * 7 + 13);
      return {
        id,
        name,
        outputs: {
          ...doDropletOutputs(id, inputs, region),
          ipv4Address: publicIp(tx, "digitalocean", "203.0.113"),
          ipv4AddressPrivate: privateIp(tx, "digitalocean", "10.108"),
          createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        },
      };
    },
    update: ({ inputs, olds, oldOutputs }) => {
      const out: JsonObject = {};
      if (!isDeepStrictEqual(inputs.size, olds.size)) {
        out.size = inputs.size as Json;
        Object.assign(
          out,
          doDropletOutputs(
            str(oldOutputs.urn)?.slice(11) ?? "",
            inputs,
            str(oldOutputs.region) ?? "",
          ),
        );
        delete out.vpcUuid;
        delete out.urn;
        delete out.region;
      }
      return out;
    },
    notFound: (id) =>
      doError(
        "updating droplet",
        "GET",
        `droplets/${id}`,
        404,
        "The resource you were accessing could not be found.",
      ),
  },
  "digitalocean:index/tag:Tag": {
    required: [],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 255 },
    // terraform-provider-digitalocean tag: name ForceNew.
    replaceOn: ["name"],
    validate: (i) =>
      typeof i.name === "string" && !/^[a-zA-Z0-9:\-_]{1,255}$/.test(i.name)
        ? [
            {
              property: "name",
              reason:
                "tags may contain lowercase letters, numbers, colons, dashes, and underscores; there is a limit of 255 characters per tag",
            },
          ]
        : [],
    preview: () => ({ dropletsCount: 0, totalResourceCount: 0 }),
    create: ({ inputs }) => {
      // DigitalOcean's tag id is its name; creating an existing tag succeeds (API: idempotent).
      const name = str(inputs.name) ?? "";
      return {
        id: name,
        name,
        outputs: {
          urn: `do:tag:${name}`,
          dropletsCount: 0,
          totalResourceCount: 0,
          imagesCount: 0,
          volumesCount: 0,
          volumeSnapshotsCount: 0,
          databasesCount: 0,
        },
      };
    },
    notFound: (id) =>
      doError(
        "updating tag",
        "GET",
        `tags/${id}`,
        404,
        "The resource you were accessing could not be found.",
      ),
  },
  "digitalocean:index/sshKey:SshKey": {
    required: ["publicKey"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 255 },
    // terraform-provider-digitalocean ssh_key: public_key ForceNew, name updatable.
    replaceOn: ["publicKey"],
    preview: (i): JsonObject =>
      typeof i.publicKey === "string" ? { fingerprint: md5Fingerprint(i.publicKey) } : {},
    create: ({ tx, inputs }) => {
      const publicKey = str(inputs.publicKey) ?? "";
      if (!validSshKey(publicKey))
        throw doError(
          "creating SSH Key",
          "POST",
          "account/keys",
          422,
          "Key invalid type, we support 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', or 'ssh-ed25519'",
        );
      const fingerprint = md5Fingerprint(publicKey);
      // DigitalOcean refuses the same public key twice on one account (422; koding/koding#9511).
      if (
        tx
          .list({ provider: "digitalocean", type: "digitalocean:index/sshKey:SshKey" })
          .some((o) => o.outputs.fingerprint === fingerprint)
      )
        throw doError(
          "creating SSH Key",
          "POST",
          "account/keys",
          422,
          "SSH Key is already in use on your account",
        );
      const id = String(41000000 + nextCounter(tx, "do:sshkey"));
      return { id, name: str(inputs.name), outputs: { fingerprint } };
    },
    notFound: (id) =>
      doError(
        "updating SSH Key",
        "PUT",
        `account/keys/${id}`,
        404,
        "The resource you were accessing could not be found.",
      ),
  },
  "digitalocean:index/firewall:Firewall": {
    required: [],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 255 },
    // terraform-provider-digitalocean firewall: every argument is updated in place.
    replaceOn: [],
    validate: (i) => doTagFailures("tags", i.tags),
    create: ({ inputs }) => {
      const name = str(inputs.name) ?? "";
      // DigitalOcean API: firewall names are alphanumerics, `-` and `.`.
      if (!/^[a-zA-Z0-9.-]{1,255}$/.test(name))
        throw doError(
          "creating firewall",
          "POST",
          "firewalls",
          422,
          "name must contain only alphanumeric characters, dashes, and periods",
        );
      return {
        id: randomUUID(),
        name,
        outputs: {
          status: "succeeded",
          createdAt: now().replace(/\.\d{3}Z$/, "Z"),
          pendingChanges: [],
          dropletIds: [],
        },
      };
    },
    notFound: (id) =>
      doError(
        "updating firewall",
        "PUT",
        `firewalls/${id}`,
        404,
        "The resource you were accessing could not be found.",
      ),
  },
};

// ---- AWS (terraform-provider-aws via pulumi-aws 7) --------------------------------------------

const ACCOUNT = "123456789012";

function awsRegion(inputs: JsonObject, config: JsonObject): string {
  return str(inputs.region) ?? str(config.region) ?? "";
}

function defaultVpc(region: string): string {
  return `vpc-0${createHash("sha1").update(region).digest("hex").slice(0, 16)}`;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** Tags: AWS keys at most 128 characters, values 256, none starting with `aws:`. */
function awsTagFailures(tags: Json | undefined): CheckFailure[] {
  const out: CheckFailure[] = [];
  for (const [k, v] of Object.entries(obj(tags))) {
    if (k.length > 128 || k.toLowerCase().startsWith("aws:"))
      out.push({ property: `tags["${k}"]`, reason: `invalid tag key ${JSON.stringify(k)}` });
    if (typeof v === "string" && v.length > 256)
      out.push({ property: `tags["${k}"]`, reason: `tag value longer than 256 characters` });
  }
  return out;
}

const AWS_SPECS: Record<string, TypeSpec> = {
  "aws:ec2/instance:Instance": {
    required: [],
    missing: missingTf,
    // terraform-provider-aws aws_instance: ami, availability_zone, subnet_id, key_name,
    // associate_public_ip_address, user_data_base64, private_ip, root_block_device.encrypted
    // and region (pulumi-aws 7) are ForceNew; instance_type, vpc_security_group_ids,
    // metadata_options, tags, volume_tags update in place; user_data replaces only with
    // user_data_replace_on_change (added in diff below).
    replaceOn: [
      "ami",
      "region",
      "availabilityZone",
      "subnetId",
      "keyName",
      "associatePublicIpAddress",
      "privateIp",
      "rootBlockDevice.encrypted",
      "rootBlockDevice.kmsKeyId",
      "launchTemplate",
    ],
    validate: (i, config) => {
      const f: CheckFailure[] = [];
      // aws_instance: AtLeastOneOf ami / launch_template, instance_type / launch_template.
      if (i.ami === undefined && i.launchTemplate === undefined)
        f.push({
          property: "ami",
          reason: '"ami": one of `ami,launch_template` must be specified',
        });
      if (i.instanceType === undefined && i.launchTemplate === undefined)
        f.push({
          property: "instanceType",
          reason: '"instance_type": one of `instance_type,launch_template` must be specified',
        });
      const tokens = str(obj(i.metadataOptions).httpTokens);
      if (tokens !== undefined && !["optional", "required"].includes(tokens))
        f.push({
          property: "metadataOptions.httpTokens",
          reason: `expected metadata_options.0.http_tokens to be one of ["optional" "required"], got ${tokens}`,
        });
      if (!awsRegion(i, config))
        f.push({
          property: "region",
          reason:
            "Missing required configuration variable 'aws:region'\n\tplease set a value using the command `pulumi config set aws:region <value>`",
        });
      return [...f, ...awsTagFailures(i.tags)];
    },
    preview: (i, config) => ({ region: awsRegion(i, config), tagsAll: obj(i.tags) }),
    create: ({ tx, inputs, config }) => {
      const region = awsRegion(inputs, config);
      const act = "creating EC2 Instance";
      const ami = str(inputs.ami) ?? "";
      if (!/^ami-[0-9a-f]{8,17}$/.test(ami))
        throw awsError(
          act,
          "RunInstances",
          400,
          "InvalidAMIID.Malformed",
          `Invalid id: "${ami}" (expecting "ami-...")`,
        );
      const type = str(inputs.instanceType) ?? "";
      if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(type))
        throw awsError(
          act,
          "RunInstances",
          400,
          "InvalidParameterValue",
          `Invalid value '${type}' for InstanceType.`,
        );
      const key = str(inputs.keyName);
      if (key && !tx.get("aws", "aws:ec2/keyPair:KeyPair", `${region}/${key}`))
        throw awsError(
          act,
          "RunInstances",
          400,
          "InvalidKeyPair.NotFound",
          `The key pair '${key}' does not exist`,
        );
      for (const sg of arr(inputs.vpcSecurityGroupIds)) {
        const found = tx
          .list({ provider: "aws", type: "aws:ec2/securityGroup:SecurityGroup" })
          .some((o) => o.id === sg && o.outputs.region === region);
        if (!found)
          throw awsError(
            act,
            "RunInstances",
            400,
            "InvalidGroup.NotFound",
            `The security group '${String(sg)}' does not exist in VPC '${defaultVpc(region)}'`,
          );
      }
      const id = `i-0${hex(16)}`;
      const ip = publicIp(tx, "aws", "198.51.100");
      const priv = privateIp(tx, "aws", "172.31");
      const tags = obj(inputs.tags);
      return {
        id,
        name: str(tags.Name),
        outputs: {
          arn: `arn:aws:ec2:${region}:${ACCOUNT}:instance/${id}`,
          region,
          availabilityZone: str(inputs.availabilityZone) ?? `${region}a`,
          instanceState: "running",
          publicIp: inputs.associatePublicIpAddress === false ? "" : ip,
          publicDns:
            inputs.associatePublicIpAddress === false
              ? ""
              : `ec2-${ip.replace(/\./g, "-")}.${region === "us-east-1" ? "compute-1" : `${region}.compute`}.amazonaws.com`,
          privateIp: priv,
          privateDns: `ip-${priv.replace(/\./g, "-")}.ec2.internal`,
          primaryNetworkInterfaceId: `eni-0${hex(16)}`,
          subnetId: `subnet-0${hex(16)}`,
          tenancy: "default",
          tagsAll: tags,
          // terraform-provider-aws stores user_data as its SHA-1 (StateFunc userDataHashSum).
          ...(typeof inputs.userData === "string" ? { userData: sha1(inputs.userData) } : {}),
        },
      };
    },
    update: ({ inputs }) => ({
      tagsAll: obj(inputs.tags),
      ...(typeof inputs.userData === "string" ? { userData: sha1(inputs.userData) } : {}),
    }),
    notFound: (id) =>
      awsError(
        "reading EC2 Instance",
        "DescribeInstances",
        400,
        "InvalidInstanceID.NotFound",
        `The instance ID '${id}' does not exist`,
      ),
  },
  "aws:ec2/securityGroup:SecurityGroup": {
    required: [],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 255 },
    // terraform-provider-aws aws_security_group: name, name_prefix, description, vpc_id,
    // region ForceNew; ingress, egress, tags update in place.
    replaceOn: ["name", "namePrefix", "description", "vpcId", "region"],
    validate: (i, config) => {
      const f: CheckFailure[] = [];
      const name = str(i.name);
      if (name && name.startsWith("sg-"))
        f.push({ property: "name", reason: "invalid value for name (cannot begin with sg-)" });
      if (name && name.length > 255)
        f.push({
          property: "name",
          reason: `expected length of name to be in the range (0 - 255), got ${name}`,
        });
      if (!awsRegion(i, config))
        f.push({
          property: "region",
          reason:
            "Missing required configuration variable 'aws:region'\n\tplease set a value using the command `pulumi config set aws:region <value>`",
        });
      for (const [list, rules] of [
        ["ingress", i.ingress],
        ["egress", i.egress],
      ] as const)
        arr(rules).forEach((r, n) => {
          const proto = str(obj(r).protocol);
          if (proto === undefined) f.push(missingTf(`${list}[${n}].protocol`));
        });
      return [...f, ...awsTagFailures(i.tags)];
    },
    // Pulumi's default description (pulumi-aws resources.go: "Managed by Pulumi").
    preview: (i, config) => ({
      region: awsRegion(i, config),
      tagsAll: obj(i.tags),
      vpcId: str(i.vpcId) ?? defaultVpc(awsRegion(i, config)),
    }),
    create: ({ tx, inputs, config }) => {
      const region = awsRegion(inputs, config);
      const name = str(inputs.name) ?? "";
      const vpcId = str(inputs.vpcId) ?? defaultVpc(region);
      if (
        tx
          .list({ provider: "aws", type: "aws:ec2/securityGroup:SecurityGroup", name })
          .some((o) => o.outputs.vpcId === vpcId)
      )
        throw awsError(
          `creating Security Group (${name})`,
          "CreateSecurityGroup",
          400,
          "InvalidGroup.Duplicate",
          `The security group '${name}' already exists for VPC '${vpcId}'`,
        );
      const id = `sg-0${hex(16)}`;
      return {
        id,
        name,
        outputs: {
          arn: `arn:aws:ec2:${region}:${ACCOUNT}:security-group/${id}`,
          ownerId: ACCOUNT,
          region,
          vpcId,
          description: str(inputs.description) ?? "Managed by Pulumi",
          revokeRulesOnDelete: false,
          tagsAll: obj(inputs.tags),
        },
      };
    },
    update: ({ inputs }) => ({ tagsAll: obj(inputs.tags) }),
    notFound: (id) =>
      awsError(
        "reading Security Group",
        "DescribeSecurityGroups",
        400,
        "InvalidGroup.NotFound",
        `The security group '${id}' does not exist`,
      ),
  },
  "aws:ec2/keyPair:KeyPair": {
    required: ["publicKey"],
    missing: missingTf,
    autoName: { prop: "keyName", sep: "-", rand: 7, max: 255 },
    // terraform-provider-aws aws_key_pair: key_name, key_name_prefix, public_key, region ForceNew.
    replaceOn: ["keyName", "keyNamePrefix", "publicKey", "region"],
    validate: (i, config) =>
      awsRegion(i, config)
        ? awsTagFailures(i.tags)
        : [
            {
              property: "region",
              reason:
                "Missing required configuration variable 'aws:region'\n\tplease set a value using the command `pulumi config set aws:region <value>`",
            },
          ],
    preview: (i, config) => ({ region: awsRegion(i, config), tagsAll: obj(i.tags) }),
    create: ({ tx, inputs, config }) => {
      const region = awsRegion(inputs, config);
      const keyName = str(inputs.keyName) ?? "";
      const act = `importing EC2 Key Pair (${keyName})`;
      const publicKey = str(inputs.publicKey) ?? "";
      if (!validSshKey(publicKey))
        throw awsError(
          act,
          "ImportKeyPair",
          400,
          "InvalidKey.Format",
          "Key is not in valid OpenSSH public key format",
        );
      if (tx.get("aws", "aws:ec2/keyPair:KeyPair", `${region}/${keyName}`))
        throw awsError(
          act,
          "ImportKeyPair",
          400,
          "InvalidKeyPair.Duplicate",
          `The keypair already exists`,
        );
      const keyPairId = `key-0${hex(16)}`;
      return {
        // The object is stored under region/keyName; the Pulumi id is the key name.
        id: `${region}/${keyName}`,
        name: keyName,
        outputs: {
          arn: `arn:aws:ec2:${region}:${ACCOUNT}:key-pair/${keyName}`,
          keyPairId,
          fingerprint: md5Fingerprint(publicKey),
          keyType: publicKey.startsWith("ssh-ed25519") ? "ed25519" : "rsa",
          region,
          tagsAll: obj(inputs.tags),
        },
      };
    },
    update: ({ inputs }) => ({ tagsAll: obj(inputs.tags) }),
    notFound: (id) =>
      awsError(
        "reading EC2 Key Pair",
        "DescribeKeyPairs",
        400,
        "InvalidKeyPair.NotFound",
        `The key pair '${id}' does not exist`,
      ),
  },
};

/** The AMI catalog of the simulated EC2 (owner → image names). */
const AMI_CATALOG: Record<string, string[]> = {
  "099720109477": [
    "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115",
    "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250305",
    "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250305",
    "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250112",
  ],
  "137112412989": [
    "al2023-ami-2023.6.20250115.0-kernel-6.1-x86_64",
    "amzn2-ami-hvm-2.0.20250108.0-x86_64-gp2",
  ],
  "136693071363": ["debian-12-amd64-20250112-1990"],
};
const OWNER_ALIASES: Record<string, string> = { amazon: "137112412989" };

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
}

function getAmi(args: JsonObject, config: JsonObject): JsonObject {
  const region = awsRegion(args, config);
  const owners = arr(args.owners).map((o) => OWNER_ALIASES[String(o)] ?? String(o));
  const filters = arr(args.filters).map((f) => obj(f));
  let candidates: { owner: string; name: string }[] = [];
  for (const [owner, names] of Object.entries(AMI_CATALOG))
    if (!owners.length || owners.includes(owner))
      candidates.push(...names.map((name) => ({ owner, name })));
  for (const f of filters) {
    const values = arr(f.values).map(String);
    if (f.name === "name")
      candidates = candidates.filter((c) => values.some((v) => globToRegExp(v).test(c.name)));
    else if (f.name === "virtualization-type")
      candidates = candidates.filter(() => values.includes("hvm"));
    else if (f.name === "architecture")
      candidates = candidates.filter((c) =>
        values.some((v) => (v === "arm64" ? c.name.includes("arm64") : !c.name.includes("arm64"))),
      );
  }
  const regex = str(args.nameRegex);
  if (regex) candidates = candidates.filter((c) => new RegExp(regex).test(c.name));
  // terraform-provider-aws data source aws_ami.
  if (!candidates.length)
    throw new ProviderError(
      "Your query returned no results. Please change your search criteria and try again.",
      "NoResults",
    );
  if (candidates.length > 1 && args.mostRecent !== true)
    throw new ProviderError(
      "Your query returned more than one result. Please try a more specific search criteria, or set `most_recent` attribute to true.",
      "MultipleResults",
    );
  const best = [...candidates].sort((a, b) => a.name.localeCompare(b.name)).pop() as {
    owner: string;
    name: string;
  };
  const id = `ami-0${sha1(`${region}/${best.name}`).slice(0, 16)}`;
  return {
    id,
    imageId: id,
    name: best.name,
    ownerId: best.owner,
    architecture: best.name.includes("arm64") ? "arm64" : "x86_64",
    virtualizationType: "hvm",
    rootDeviceType: "ebs",
    state: "available",
    creationDate: "2025-03-05T12:00:00.000Z",
    arn: `arn:aws:ec2:${region}::image/${id}`,
    region,
  };
}

// ---- Azure (azure-native 3) -------------------------------------------------------------------

const SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-111122223333";

function azSub(config: JsonObject): string {
  return str(config.subscriptionId) ?? SUBSCRIPTION;
}

function azLocation(inputs: JsonObject, config: JsonObject): string | undefined {
  return str(inputs.location) ?? str(config.location);
}

/** Azure's naming rules per resource (learn.microsoft.com "Naming rules and restrictions"). */
const AZ_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/;

interface AzureKind {
  token: string;
  nameProp: string;
  path: (sub: string, i: JsonObject) => string;
  parentRg: boolean;
  location: boolean;
  outputs: (ctx: Ctx, id: string) => JsonObject;
  validate?: (i: JsonObject) => CheckFailure[];
  check?: (ctx: Ctx, id: string) => void;
  previewOmit?: string[];
}

const ADMIN_RESERVED = [
  "administrator",
  "admin",
  "user",
  "user1",
  "test",
  "user2",
  "test1",
  "user3",
  "admin1",
  "1",
  "123",
  "a",
  "actuser",
  "adm",
  "admin2",
  "aspnet",
  "backup",
  "console",
  "david",
  "guest",
  "john",
  "owner",
  "root",
  "server",
  "sql",
  "support",
  "support_388945a0",
  "sys",
  "test2",
  "test3",
  "user4",
  "user5",
];

function rgPath(sub: string, rg: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}`;
}

function requireRg(ctx: Ctx, id: string): void {
  const sub = azSub(ctx.config);
  const rg = str(ctx.inputs.resourceGroupName) ?? "";
  if (!ctx.tx.get("azure-native", "azure-native:resources:ResourceGroup", rgPath(sub, rg)))
    throw azureError(
      "PUT",
      id,
      404,
      "ResourceGroupNotFound",
      `Resource group '${rg}' could not be found.`,
    );
}

function requireRef(
  ctx: Ctx,
  id: string,
  ref: string | undefined,
  type: string,
  what: string,
): void {
  if (ref === undefined) return;
  if (!ctx.tx.get("azure-native", type, ref))
    throw azureError(
      "PUT",
      id,
      400,
      "InvalidResourceReference",
      `Resource ${ref} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region. (${what})`,
    );
}

const AZURE_KINDS: AzureKind[] = [
  {
    token: "azure-native:resources:ResourceGroup",
    nameProp: "resourceGroupName",
    path: (sub, i) => rgPath(sub, str(i.resourceGroupName) ?? ""),
    parentRg: false,
    location: true,
    outputs: () => ({ provisioningState: "Succeeded", type: "Microsoft.Resources/resourceGroups" }),
    validate: (i) => {
      const n = str(i.resourceGroupName);
      // Resource group names: 1-90 of alphanumerics, underscores, parentheses, hyphens, periods; not ending in a period.
      return n !== undefined && (!/^[-\w._()]{1,90}$/.test(n) || n.endsWith("."))
        ? [
            {
              property: "resourceGroupName",
              reason: `Resource group name '${n}' is invalid: use up to 90 letters, digits, underscores, parentheses, hyphens and periods, not ending in a period`,
            },
          ]
        : [];
    },
  },
  {
    token: "azure-native:network:NetworkSecurityGroup",
    previewOmit: ["securityRules"],
    nameProp: "networkSecurityGroupName",
    path: (sub, i) =>
      `${rgPath(sub, str(i.resourceGroupName) ?? "")}/providers/Microsoft.Network/networkSecurityGroups/${str(i.networkSecurityGroupName)}`,
    parentRg: true,
    location: true,
    outputs: (ctx, id) => ({
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      type: "Microsoft.Network/networkSecurityGroups",
      securityRules: arr(ctx.inputs.securityRules).map((r) => ({
        ...obj(r),
        id: `${id}/securityRules/${str(obj(r).name)}`,
        provisioningState: "Succeeded",
      })),
      defaultSecurityRules: [
        ["AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork"],
        ["AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer"],
        ["DenyAllInBound", 65500, "Inbound", "Deny", "*"],
        ["AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork"],
        ["AllowInternetOutBound", 65001, "Outbound", "Allow", "*"],
        ["DenyAllOutBound", 65500, "Outbound", "Deny", "*"],
      ].map(([name, priority, direction, access, source]) => ({
        name,
        id: `${id}/defaultSecurityRules/${name}`,
        priority,
        direction,
        access,
        protocol: "*",
        sourceAddressPrefix: source,
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        destinationPortRange: "*",
        provisioningState: "Succeeded",
      })),
    }),
    validate: (i) => {
      const f: CheckFailure[] = [];
      arr(i.securityRules).forEach((r, n) => {
        const p = obj(r).priority;
        // Azure: security rule priority must be between 100 and 4096.
        if (typeof p === "number" && (p < 100 || p > 4096))
          f.push({
            property: `securityRules[${n}].priority`,
            reason: `SecurityRuleInvalidPriority: Security rule has invalid Priority. Value provided: ${p} Allowed range 100-4096.`,
          });
      });
      return f;
    },
  },
  {
    token: "azure-native:network:VirtualNetwork",
    nameProp: "virtualNetworkName",
    path: (sub, i) =>
      `${rgPath(sub, str(i.resourceGroupName) ?? "")}/providers/Microsoft.Network/virtualNetworks/${str(i.virtualNetworkName)}`,
    parentRg: true,
    location: true,
    outputs: () => ({
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      type: "Microsoft.Network/virtualNetworks",
    }),
  },
  {
    token: "azure-native:network:Subnet",
    nameProp: "subnetName",
    path: (sub, i) =>
      `${rgPath(sub, str(i.resourceGroupName) ?? "")}/providers/Microsoft.Network/virtualNetworks/${str(i.virtualNetworkName)}/subnets/${str(i.subnetName)}`,
    parentRg: true,
    location: false,
    outputs: () => ({
      provisioningState: "Succeeded",
      type: "Microsoft.Network/virtualNetworks/subnets",
    }),
    check: (ctx, id) => {
      const vnet = id.replace(/\/subnets\/[^/]*$/, "");
      if (!ctx.tx.get("azure-native", "azure-native:network:VirtualNetwork", vnet))
        throw azureError(
          "PUT",
          id,
          404,
          "ResourceNotFound",
          `The Resource 'Microsoft.Network/virtualNetworks/${str(ctx.inputs.virtualNetworkName)}' under resource group '${str(ctx.inputs.resourceGroupName)}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
        );
      requireRef(
        ctx,
        id,
        str(obj(ctx.inputs.networkSecurityGroup).id),
        "azure-native:network:NetworkSecurityGroup",
        "networkSecurityGroup",
      );
    },
  },
  {
    token: "azure-native:network:PublicIPAddress",
    nameProp: "publicIpAddressName",
    path: (sub, i) =>
      `${rgPath(sub, str(i.resourceGroupName) ?? "")}/providers/Microsoft.Network/publicIPAddresses/${str(i.publicIpAddressName)}`,
    parentRg: true,
    location: true,
    outputs: (ctx) => ({
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      type: "Microsoft.Network/publicIPAddresses",
      idleTimeoutInMinutes: 4,
      ...(ctx.inputs.publicIPAllocationMethod === "Static" ||
      obj(ctx.inputs.sku).name === "Standard"
        ? { ipAddress: publicIp(ctx.tx, "azure-native", "192.0.2") }
        : {}),
    }),
    validate: (i) =>
      // Azure: Standard SKU public IPs must use Static allocation.
      obj(i.sku).name === "Standard" && i.publicIPAllocationMethod === "Dynamic"
        ? [
            {
              property: "publicIPAllocationMethod",
              reason:
                "StandardSkuPublicIPAddressesMustBeStatic: Standard sku publicIp addresses must be created with allocation method Static.",
            },
          ]
        : [],
  },
  {
    token: "azure-native:network:NetworkInterface",
    previewOmit: ["ipConfigurations"],
    nameProp: "networkInterfaceName",
    path: (sub, i) =>
      `${rgPath(sub, str(i.resourceGroupName) ?? "")}/providers/Microsoft.Network/networkInterfaces/${str(i.networkInterfaceName)}`,
    parentRg: true,
    location: true,
    outputs: (ctx, id) => ({
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      type: "Microsoft.Network/networkInterfaces",
      macAddress: `00-0D-3A-${hex(2)}-${hex(2)}-${hex(2)}`.toUpperCase(),
      ipConfigurations: arr(ctx.inputs.ipConfigurations).map((c) => ({
        ...obj(c),
        id: `${id}/ipConfigurations/${str(obj(c).name)}`,
        privateIPAddress: privateIp(ctx.tx, "azure-native", "10.0"),
        privateIPAddressVersion: "IPv4",
        provisioningState: "Succeeded",
      })),
    }),
    check: (ctx, id) => {
      for (const c of arr(ctx.inputs.ipConfigurations)) {
        requireRef(ctx, id, str(obj(obj(c).subnet).id), "azure-native:network:Subnet", "subnet");
        requireRef(
          ctx,
          id,
          str(obj(obj(c).publicIPAddress).id),
          "azure-native:network:PublicIPAddress",
          "publicIPAddress",
        );
      }
    },
  },
  {
    token: "azure-native:compute:VirtualMachine",
    nameProp: "vmName",
    path: (sub, i) =>
      `${rgPath(sub, str(i.resourceGroupName) ?? "")}/providers/Microsoft.Compute/virtualMachines/${str(i.vmName)}`,
    parentRg: true,
    location: true,
    outputs: () => ({
      provisioningState: "Succeeded",
      vmId: randomUUID(),
      type: "Microsoft.Compute/virtualMachines",
      // Azure reports 7 fractional digits and an offset.
      timeCreated: new Date()
        .toISOString()
        .replace(
          /\.(\d{3})Z$/,
          `.$1${String(Math.floor(Math.random() * 9999)).padStart(4, "0")}+00:00`,
        ),
    }),
    validate: (i) => {
      const f: CheckFailure[] = [];
      if (!str(obj(i.hardwareProfile).vmSize)) f.push(missingAzure("hardwareProfile.vmSize"));
      return f;
    },
    check: (ctx, id) => {
      const i = ctx.inputs;
      const os = obj(i.osProfile);
      const linux = obj(os.linuxConfiguration);
      const admin = str(os.adminUsername) ?? "";
      const size = str(obj(i.hardwareProfile).vmSize) ?? "";
      if (!/^(Standard|Basic)_[A-Za-z0-9_]+$/.test(size))
        throw azureError(
          "PUT",
          id,
          400,
          "InvalidParameter",
          `The value ${size} provided for the VM size is not valid. The valid sizes in the current region are: Standard_B1s, Standard_B2s, Standard_D2s_v5, …`,
        );
      if (ADMIN_RESERVED.includes(admin.toLowerCase()))
        throw azureError(
          "PUT",
          id,
          400,
          "InvalidParameter",
          "The Admin Username specified is not allowed.",
        );
      const cn = str(os.computerName) ?? str(i.vmName) ?? "";
      // Linux computer names: at most 64 characters, no leading `_`/`-`, no trailing `.`/`-`.
      if (cn.length > 64 || /^[-_]|[.-]$|[^A-Za-z0-9.-]/.test(cn))
        throw azureError(
          "PUT",
          id,
          400,
          "InvalidParameter",
          "Linux host name cannot exceed 64 characters in length or contain the following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : ' \" , < > / ?.",
        );
      if (linux.disablePasswordAuthentication === true && !arr(obj(linux.ssh).publicKeys).length)
        throw azureError(
          "PUT",
          id,
          400,
          "InvalidParameter",
          "Authentication using either SSH or by user name and password must be enabled in Linux profile.",
        );
      for (const n of arr(obj(i.networkProfile).networkInterfaces))
        requireRef(
          ctx,
          id,
          str(obj(n).id),
          "azure-native:network:NetworkInterface",
          "networkInterfaces",
        );
    },
  },
];

/**
 * Azure refuses changes to these VM properties after creation (`PropertyChangeNotAllowed`);
 * azure-native sends the PUT and reports Azure's error.
 */
const AZ_VM_IMMUTABLE = [
  "osProfile.adminUsername",
  "osProfile.computerName",
  "osProfile.linuxConfiguration.ssh.publicKeys",
  "storageProfile.imageReference",
];

function azureSpec(k: AzureKind): TypeSpec {
  return {
    required: k.parentRg ? ["resourceGroupName"] : [],
    missing: missingAzure,
    previewOmit: k.previewOmit,
    autoName: {
      prop: k.nameProp,
      sep: "",
      rand: 8,
      max: k.nameProp === "resourceGroupName" ? 90 : 80,
    },
    // azure-native: the resource's name, its parents' names and `location` are part of the
    // resource id and force replacement (`replaceOnChanges` metadata); the rest is a PUT.
    replaceOn: [
      k.nameProp,
      ...(k.parentRg ? ["resourceGroupName"] : []),
      "location",
      "virtualNetworkName",
    ],
    validate: (i, config) => {
      const f = k.validate?.(i) ?? [];
      const name = str(i[k.nameProp]);
      if (k.nameProp !== "resourceGroupName" && name !== undefined && !AZ_NAME.test(name))
        f.push({
          property: k.nameProp,
          reason: `InvalidResourceName: Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
        });
      if (k.location && !azLocation(i, config)) f.push(missingAzure("location"));
      return f;
    },
    preview: (i, config) => ({
      name: str(i[k.nameProp]) ?? "",
      ...(k.location ? { location: azLocation(i, config) ?? "" } : {}),
      azureApiVersion: "2024-05-01",
    }),
    create: (ctx) => {
      const sub = azSub(ctx.config);
      const id = k.path(sub, ctx.inputs);
      if (k.parentRg) requireRg(ctx, id);
      k.check?.(ctx, id);
      // A PUT on an existing name would silently adopt it; azure-native refuses to create
      // over an existing resource ("resource … already exists; to be managed by Pulumi it
      // must be imported").
      if (ctx.tx.get("azure-native", k.token, id))
        throw new ProviderError(
          `resource "${id}" already exists; to be managed by Pulumi it must be imported into the stack. Alternatively, delete the existing resource or use a different name.`,
          "AlreadyExists",
        );
      const location = azLocation(ctx.inputs, ctx.config);
      return {
        id,
        name: str(ctx.inputs[k.nameProp]),
        outputs: {
          name: str(ctx.inputs[k.nameProp]) ?? "",
          ...(k.location && location ? { location } : {}),
          azureApiVersion: "2024-05-01",
          ...k.outputs(ctx, id),
        },
      };
    },
    update: (ctx) => {
      if (k.token === "azure-native:compute:VirtualMachine")
        for (const p of AZ_VM_IMMUTABLE) {
          const segs = parsePath(p);
          if (!isDeepStrictEqual(getPath(ctx.olds, segs), getPath(ctx.inputs, segs)))
            throw azureError(
              "PUT",
              ctx.id,
              409,
              "PropertyChangeNotAllowed",
              `Changing property '${p.replace(/^osProfile\.|^storageProfile\./, "")}' is not allowed.`,
            );
        }
      k.check?.(ctx, ctx.id);
      const out = k.outputs(ctx, ctx.id);
      // What Azure assigned at creation stays.
      for (const keep of ["vmId", "timeCreated", "ipAddress", "resourceGuid", "macAddress"])
        if (ctx.oldOutputs[keep] !== undefined) out[keep] = ctx.oldOutputs[keep];
      return out;
    },
    notFound: (id) =>
      azureError("PUT", id, 404, "ResourceNotFound", `The Resource '${id}' was not found.`),
  };
}

const AZURE_SPECS: Record<string, TypeSpec> = Object.fromEntries(
  AZURE_KINDS.map((k) => [k.token, azureSpec(k)]),
);

// ---- GCP (terraform-provider-google via pulumi-gcp 9) -----------------------------------------

const GCE_NAME = /^(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$/;

function gcpProject(i: JsonObject, config: JsonObject): string | undefined {
  return str(i.project) ?? str(config.project);
}

function needProject(i: JsonObject, config: JsonObject): string {
  const p = gcpProject(i, config);
  // terraform-provider-google `tpgresource.GetProject`.
  if (!p) throw new ProviderError("project: required field is not set", "ProjectNotSet");
  return p;
}

function gceNameFailure(prop: string, name: string | undefined): CheckFailure[] {
  // terraform-provider-google `verify.ValidateGCEName`.
  return name !== undefined && !GCE_NAME.test(name)
    ? [
        {
          property: prop,
          reason: `Error: "${prop}" ("${name}") doesn't match regexp "^(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$"`,
        },
      ]
    : [];
}

/** `default`, a name, a `projects/…` path or a self link → the network's name. */
function networkName(ref: string): string {
  return ref.replace(/^.*\/networks\//, "");
}

function requireNetwork(
  tx: CloudTransaction,
  project: string,
  ref: string | undefined,
  action: string,
): string {
  const name = networkName(ref ?? "default");
  const id = `projects/${project}/global/networks/${name}`;
  // Every project starts with the auto-mode `default` network.
  if (name !== "default" && !tx.get("gcp", "gcp:compute/network:Network", id))
    throw gcpError(action, 404, `The resource '${id}' was not found`, "notFound");
  return `https://www.googleapis.com/compute/v1/${id}`;
}

function gcpTimestamp(): string {
  // GCE reports RFC 3339 in Pacific time, e.g. 2026-01-02T03:04:05.678-08:00.
  const d = new Date(Date.now() - 8 * 3600 * 1000);
  return d.toISOString().replace("Z", "-08:00");
}

function zoneRegion(zone: string): string {
  return zone.replace(/-[a-z]$/, "");
}

const ALLOW_STOPPING_MSG =
  'Changing the machine_type, min_cpu_platform, service_account, enable_display, shielded_instance_config, scheduling.node_affinities or network_interface.[#d].(network/subnetwork/subnetwork_project) or advanced_machine_features on a started instance requires stopping it. To acknowledge this, please set allow_stopping_for_update = true in your config. You can also stop it by setting desired_status = "TERMINATED", but the instance will not update until it is stopped.';

const GCP_SPECS: Record<string, TypeSpec> = {
  "gcp:compute/instance:Instance": {
    required: ["bootDisk", "machineType", "networkInterfaces"],
    previewOmit: ["networkInterfaces"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63, lower: true },
    // terraform-provider-google google_compute_instance: name, zone, project, boot_disk,
    // scratch_disk and network_interface.*.access_config nat_ip… are ForceNew; machine_type,
    // metadata, labels, tags, shielded_instance_config update (machine_type and shielded config
    // need allow_stopping_for_update).
    replaceOn: ["name", "zone", "project", "bootDisk", "scratchDisks", "hostname"],
    validate: (i, config) => {
      const f = gceNameFailure("name", str(i.name));
      if (!str(i.zone) && !str(config.zone))
        f.push({
          property: "zone",
          reason: "Cannot determine zone: set in this resource, or set provider-level zone.",
        });
      return f;
    },
    preview: (i, config) => ({
      zone: str(i.zone) ?? str(config.zone) ?? "",
      ...(gcpProject(i, config) ? { project: gcpProject(i, config) as string } : {}),
    }),
    create: ({ tx, inputs, config }) => {
      const project = needProject(inputs, config);
      const zone = str(inputs.zone) ?? str(config.zone) ?? "";
      const name = str(inputs.name) ?? "";
      const id = `projects/${project}/zones/${zone}/instances/${name}`;
      const act = "creating instance";
      if (!GCE_NAME.test(name))
        throw gcpError(
          act,
          400,
          `Invalid value for field 'resource.name': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
          "invalid",
        );
      if (tx.get("gcp", "gcp:compute/instance:Instance", id))
        throw gcpError(act, 409, `The resource '${id}' already exists`, "alreadyExists");
      if (!/^[a-z0-9]+-[a-z0-9-]+$/.test(str(inputs.machineType) ?? ""))
        throw gcpError(
          act,
          400,
          `Invalid value for field 'resource.machineType': 'zones/${zone}/machineTypes/${str(inputs.machineType)}'. Machine type with name '${str(inputs.machineType)}' does not exist in zone '${zone}'.`,
          "invalid",
        );
      const nics = arr(inputs.networkInterfaces).map((n, idx) => {
        const nic = obj(n);
        const network = requireNetwork(tx, project, str(nic.network), act);
        return {
          ...nic,
          name: `nic${idx}`,
          network,
          subnetwork: `https://www.googleapis.com/compute/v1/projects/${project}/regions/${zoneRegion(zone)}/subnetworks/${networkName(str(nic.network) ?? "default")}`,
          networkIp: privateIp(tx, "gcp", "10.128"),
          stackType: "IPV4_ONLY",
          accessConfigs: arr(nic.accessConfigs).map((a) => ({
            ...obj(a),
            natIp: str(obj(a).natIp) ?? publicIp(tx, "gcp", "198.51.100"),
            networkTier: str(obj(a).networkTier) ?? "PREMIUM",
          })),
        };
      });
      const labels = obj(inputs.labels);
      return {
        id,
        name,
        outputs: {
          project,
          zone,
          instanceId: String(BigInt(`0x${hex(15)}`)),
          selfLink: `https://www.googleapis.com/compute/v1/${id}`,
          creationTimestamp: gcpTimestamp(),
          currentStatus: "RUNNING",
          cpuPlatform: "Intel Broadwell",
          networkInterfaces: nics,
          labelFingerprint: hex(11),
          metadataFingerprint: hex(11),
          tagsFingerprint: hex(11),
          effectiveLabels: { ...labels, "goog-pulumi-provisioned": "true" },
          pulumiLabels: { ...labels, "goog-pulumi-provisioned": "true" },
        },
      };
    },
    update: ({ inputs, olds, oldOutputs }) => {
      const stopping =
        !isDeepStrictEqual(inputs.machineType, olds.machineType) ||
        !isDeepStrictEqual(inputs.shieldedInstanceConfig, olds.shieldedInstanceConfig);
      if (stopping && inputs.allowStoppingForUpdate !== true)
        throw new ProviderError(ALLOW_STOPPING_MSG, "RequiresStopping");
      const labels = obj(inputs.labels);
      return {
        currentStatus: "RUNNING",
        networkInterfaces: oldOutputs.networkInterfaces ?? [],
        effectiveLabels: { ...labels, "goog-pulumi-provisioned": "true" },
        pulumiLabels: { ...labels, "goog-pulumi-provisioned": "true" },
      };
    },
    notFound: (id) =>
      gcpError("updating instance", 404, `The resource '${id}' was not found`, "notFound"),
  },
  "gcp:compute/firewall:Firewall": {
    required: ["network"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63, lower: true },
    // google_compute_firewall: name, network, direction, project ForceNew; rules, ranges,
    // tags, priority, description update in place.
    replaceOn: ["name", "network", "direction", "project"],
    validate: (i) => {
      const f = gceNameFailure("name", str(i.name));
      // google_compute_firewall: ExactlyOneOf allow / deny.
      if (!arr(i.allows).length && !arr(i.denies).length)
        f.push({ property: "allows", reason: '"allow": one of `allow,deny` must be specified' });
      const d = str(i.direction);
      if (d !== undefined && !["INGRESS", "EGRESS"].includes(d))
        f.push({
          property: "direction",
          reason: `expected direction to be one of ["INGRESS" "EGRESS"], got ${d}`,
        });
      return f;
    },
    preview: (i) => ({ direction: str(i.direction) ?? "INGRESS", priority: i.priority ?? 1000 }),
    create: ({ tx, inputs, config }) => {
      const project = needProject(inputs, config);
      const name = str(inputs.name) ?? "";
      const id = `projects/${project}/global/firewalls/${name}`;
      const network = requireNetwork(tx, project, str(inputs.network), "creating Firewall");
      if (tx.get("gcp", "gcp:compute/firewall:Firewall", id))
        throw gcpError(
          "creating Firewall",
          409,
          `The resource '${id}' already exists`,
          "alreadyExists",
        );
      const ranges = arr(inputs.sourceRanges).map(String);
      // GCE: one rule holds IPv4 or IPv6 ranges, never both.
      if (ranges.some((r) => r.includes(":")) && ranges.some((r) => !r.includes(":")))
        throw gcpError(
          "creating Firewall",
          400,
          "Invalid value for field 'resource.sourceRanges': ''. Cannot mix IPv4 and IPv6 ranges in the same rule.",
          "invalid",
        );
      return {
        id,
        name,
        outputs: {
          project,
          network,
          selfLink: `https://www.googleapis.com/compute/v1/${id}`,
          creationTimestamp: gcpTimestamp(),
          direction: str(inputs.direction) ?? "INGRESS",
          priority: inputs.priority ?? 1000,
          disabled: inputs.disabled ?? false,
        },
      };
    },
    notFound: (id) =>
      gcpError("updating Firewall", 404, `The resource '${id}' was not found`, "notFound"),
  },
  "gcp:compute/network:Network": {
    required: [],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63, lower: true },
    // google_compute_network: name, auto_create_subnetworks, project ForceNew.
    replaceOn: ["name", "autoCreateSubnetworks", "project", "internalIpv6Range"],
    validate: (i) => gceNameFailure("name", str(i.name)),
    preview: (i) => ({ autoCreateSubnetworks: i.autoCreateSubnetworks ?? true }),
    create: ({ tx, inputs, config }) => {
      const project = needProject(inputs, config);
      const name = str(inputs.name) ?? "";
      const id = `projects/${project}/global/networks/${name}`;
      if (name === "default" || tx.get("gcp", "gcp:compute/network:Network", id))
        throw gcpError(
          "creating Network",
          409,
          `The resource '${id}' already exists`,
          "alreadyExists",
        );
      return {
        id,
        name,
        outputs: {
          project,
          selfLink: `https://www.googleapis.com/compute/v1/${id}`,
          numericId: String(BigInt(`0x${hex(15)}`)),
          autoCreateSubnetworks: inputs.autoCreateSubnetworks ?? true,
          routingMode: str(inputs.routingMode) ?? "REGIONAL",
          gatewayIpv4: "",
        },
      };
    },
    notFound: (id) =>
      gcpError("updating Network", 404, `The resource '${id}' was not found`, "notFound"),
  },
  "gcp:compute/subnetwork:Subnetwork": {
    required: ["network"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63, lower: true },
    // google_compute_subnetwork: name, network, region, project ForceNew; ip_cidr_range may
    // only be expanded in place.
    replaceOn: ["name", "network", "region", "project"],
    validate: (i, config) => {
      const f = gceNameFailure("name", str(i.name));
      if (!str(i.region) && !str(config.region))
        f.push({
          property: "region",
          reason:
            "Cannot determine region: set in this resource, or set provider-level 'region' or 'zone'.",
        });
      const cidr = str(i.ipCidrRange);
      if (cidr !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr))
        f.push({
          property: "ipCidrRange",
          reason: `expected ip_cidr_range to contain a valid CIDR, got: ${cidr}`,
        });
      return f;
    },
    preview: (i, config) => ({ region: str(i.region) ?? str(config.region) ?? "" }),
    create: ({ tx, inputs, config }) => {
      const project = needProject(inputs, config);
      const region = str(inputs.region) ?? str(config.region) ?? "";
      const name = str(inputs.name) ?? "";
      const id = `projects/${project}/regions/${region}/subnetworks/${name}`;
      const network = requireNetwork(tx, project, str(inputs.network), "creating Subnetwork");
      if (tx.get("gcp", "gcp:compute/subnetwork:Subnetwork", id))
        throw gcpError(
          "creating Subnetwork",
          409,
          `The resource '${id}' already exists`,
          "alreadyExists",
        );
      const cidr = str(inputs.ipCidrRange) ?? "10.0.0.0/24";
      return {
        id,
        name,
        outputs: {
          project,
          region,
          network,
          selfLink: `https://www.googleapis.com/compute/v1/${id}`,
          creationTimestamp: gcpTimestamp(),
          gatewayAddress: cidr.replace(/\.\d+\/\d+$/, ".1"),
          ipCidrRange: cidr,
          stackType: "IPV4_ONLY",
        },
      };
    },
    update: ({ inputs, olds }) => {
      const before = str(olds.ipCidrRange);
      const after = str(inputs.ipCidrRange);
      // GCE: a subnetwork's range can only grow (its prefix length shrink).
      if (
        before &&
        after &&
        before !== after &&
        Number(after.split("/")[1]) >= Number(before.split("/")[1])
      )
        throw gcpError(
          "updating Subnetwork",
          400,
          `Invalid IPCidrRange: ${after} conflicts with existing subnetwork range ${before}: the range can only be expanded.`,
          "invalid",
        );
      return {};
    },
    notFound: (id) =>
      gcpError("updating Subnetwork", 404, `The resource '${id}' was not found`, "notFound"),
  },
};

// ---- Hetzner (terraform-provider-hcloud via pulumi-hcloud) ------------------------------------

const HCLOUD_LOCATIONS = ["fsn1", "nbg1", "hel1", "ash", "hil", "sin"];

/** Hetzner labels: keys and values at most 63 of `[a-z0-9A-Z._-]`, alphanumeric at both ends (API docs "Labels"). */
function hcloudLabelFailures(labels: Json | undefined): CheckFailure[] {
  const re = /^([a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?)?$/;
  const out: CheckFailure[] = [];
  for (const [k, v] of Object.entries(obj(labels))) {
    const key = k.includes("/") ? k.slice(k.lastIndexOf("/") + 1) : k;
    if (!key || !re.test(key) || (typeof v === "string" && !re.test(v)))
      out.push({
        property: `labels["${k}"]`,
        reason: `label key or value is invalid: ${k}=${String(v)}`,
      });
  }
  return out;
}

function hcloudNameUsed(
  tx: CloudTransaction,
  type: string,
  name: string,
  except?: string,
): boolean {
  return tx.list({ provider: "hcloud", type, name }).some((o) => o.id !== except);
}

const HCLOUD_SPECS: Record<string, TypeSpec> = {
  "hcloud:index/server:Server": {
    required: ["serverType"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63 },
    // terraform-provider-hcloud hcloud_server: image, location, datacenter, ssh_keys,
    // user_data, placement_group… ForceNew; name, server_type (resize), labels, firewall_ids,
    // backups update in place.
    replaceOn: ["image", "location", "datacenter", "sshKeys", "userData"],
    validate: (i) => {
      const f = hcloudLabelFailures(i.labels);
      const name = str(i.name);
      // Server names must be valid hostnames (RFC 1123), at most 63 characters.
      if (name !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9-.]{0,61}[a-zA-Z0-9])?$/.test(name))
        f.push({
          property: "name",
          reason: `invalid server name ${JSON.stringify(name)}: must be a valid hostname`,
        });
      return f;
    },
    preview: (i) => ({ status: "running", ...(i.location ? { location: i.location } : {}) }),
    create: ({ tx, inputs }) => {
      const name = str(inputs.name) ?? "";
      if (hcloudNameUsed(tx, "hcloud:index/server:Server", name))
        throw hcloudError("server name is already used", "uniqueness_error");
      const location = str(inputs.location) ?? "fsn1";
      if (!HCLOUD_LOCATIONS.includes(location))
        throw hcloudError(`location not found`, "invalid_input");
      const type = str(inputs.serverType) ?? "";
      if (!/^(cx|cpx|cax|ccx)\d+$/.test(type))
        throw new ProviderError(`server type ${type} not found`, "not_found");
      if (inputs.image === undefined)
        throw hcloudError("invalid input in field 'image'", "invalid_input");
      for (const k of arr(inputs.sshKeys)) {
        const found = tx
          .list({ provider: "hcloud", type: "hcloud:index/sshKey:SshKey" })
          .some((o) => o.id === String(k) || o.name === String(k));
        if (!found) throw new ProviderError(`ssh key not found: ${String(k)}`, "not_found");
      }
      for (const fw of arr(inputs.firewallIds))
        if (!tx.get("hcloud", "hcloud:index/firewall:Firewall", String(fw)))
          throw hcloudError(`firewall with ID ${String(fw)} not found`, "not_found");
      const id = String(50000000 + nextCounter(tx, "hcloud:server") * 3 + 1);
      const v4 = arr(inputs.publicNets).every((n) => obj(n).ipv4Enabled !== false);
      const v6 =
        arr(inputs.publicNets).some((n) => obj(n).ipv6Enabled === true) ||
        !arr(inputs.publicNets).length;
      return {
        id,
        name,
        outputs: {
          status: "running",
          location,
          datacenter: `${location}-dc14`,
          ipv4Address: v4 ? publicIp(tx, "hcloud", "203.0.113") : "",
          ipv6Address: v6 ? `2001:db8:${hex(4)}::1` : "",
          ipv6Network: v6 ? `2001:db8:${hex(4)}::/64` : "<nil>",
          backupWindow: "",
          primaryDiskSize: 40,
          rebuildProtection: false,
          deleteProtection: false,
          labels: obj(inputs.labels),
        },
      };
    },
    update: ({ tx, inputs, id }) => {
      const name = str(inputs.name) ?? "";
      if (hcloudNameUsed(tx, "hcloud:index/server:Server", name, id))
        throw hcloudError("server name is already used", "uniqueness_error");
      for (const fw of arr(inputs.firewallIds))
        if (!tx.get("hcloud", "hcloud:index/firewall:Firewall", String(fw)))
          throw hcloudError(`firewall with ID ${String(fw)} not found`, "not_found");
      return { labels: obj(inputs.labels), status: "running" };
    },
    notFound: (id) => hcloudError(`server with ID ${id} not found`, "not_found"),
  },
  "hcloud:index/sshKey:SshKey": {
    required: ["publicKey"],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63 },
    // hcloud_ssh_key: public_key ForceNew; name, labels update.
    replaceOn: ["publicKey"],
    validate: (i) => hcloudLabelFailures(i.labels),
    preview: (i): JsonObject =>
      typeof i.publicKey === "string" ? { fingerprint: md5Fingerprint(i.publicKey) } : {},
    create: ({ tx, inputs }) => {
      const name = str(inputs.name) ?? "";
      const publicKey = str(inputs.publicKey) ?? "";
      if (!validSshKey(publicKey))
        throw hcloudError("invalid input in field 'public_key'", "invalid_input");
      const fingerprint = md5Fingerprint(publicKey);
      const keys = tx.list({ provider: "hcloud", type: "hcloud:index/sshKey:SshKey" });
      if (keys.some((k) => k.outputs.fingerprint === fingerprint))
        throw hcloudError("SSH key with the same fingerprint already exists", "uniqueness_error");
      if (keys.some((k) => k.name === name))
        throw hcloudError("SSH key with the same name already exists", "uniqueness_error");
      return {
        id: String(9000000 + nextCounter(tx, "hcloud:sshkey")),
        name,
        outputs: { fingerprint, labels: obj(inputs.labels) },
      };
    },
    update: ({ tx, inputs, id }) => {
      if (hcloudNameUsed(tx, "hcloud:index/sshKey:SshKey", str(inputs.name) ?? "", id))
        throw hcloudError("SSH key with the same name already exists", "uniqueness_error");
      return { labels: obj(inputs.labels) };
    },
    notFound: (id) => hcloudError(`SSH key with ID ${id} not found`, "not_found"),
  },
  "hcloud:index/firewall:Firewall": {
    required: [],
    missing: missingTf,
    autoName: { prop: "name", sep: "-", rand: 7, max: 63 },
    // hcloud_firewall: every argument updates in place.
    replaceOn: [],
    validate: (i) => {
      const f = hcloudLabelFailures(i.labels);
      arr(i.rules).forEach((r, n) => {
        const rule = obj(r);
        if (!["in", "out"].includes(str(rule.direction) ?? ""))
          f.push({
            property: `rules[${n}].direction`,
            reason: `expected rules.${n}.direction to be one of ["in" "out"], got ${String(rule.direction)}`,
          });
        if (!["tcp", "udp", "icmp", "esp", "gre"].includes(str(rule.protocol) ?? ""))
          f.push({
            property: `rules[${n}].protocol`,
            reason: `expected rules.${n}.protocol to be one of ["tcp" "udp" "icmp" "gre" "esp"], got ${String(rule.protocol)}`,
          });
      });
      return f;
    },
    create: ({ tx, inputs }) => {
      const name = str(inputs.name) ?? "";
      if (hcloudNameUsed(tx, "hcloud:index/firewall:Firewall", name))
        throw hcloudError("name is already used", "uniqueness_error");
      for (const r of arr(inputs.rules)) {
        const rule = obj(r);
        // Hetzner API: inbound rules need source_ips, tcp/udp rules a port.
        if (rule.direction === "in" && !arr(rule.sourceIps).length)
          throw hcloudError(
            "invalid input in field 'rules' (source_ips is required for direction in)",
            "invalid_input",
          );
        if (["tcp", "udp"].includes(str(rule.protocol) ?? "") && !str(rule.port))
          throw hcloudError(
            "invalid input in field 'rules' (port is required for tcp and udp)",
            "invalid_input",
          );
      }
      return {
        id: String(1200000 + nextCounter(tx, "hcloud:firewall")),
        name,
        outputs: { labels: obj(inputs.labels), applyTos: [] },
      };
    },
    update: ({ tx, inputs, id }) => {
      if (hcloudNameUsed(tx, "hcloud:index/firewall:Firewall", str(inputs.name) ?? "", id))
        throw hcloudError("name is already used", "uniqueness_error");
      return { labels: obj(inputs.labels) };
    },
    notFound: (id) => hcloudError(`Firewall with ID ${id} not found`, "not_found"),
  },
};

const SPECS: Record<string, Record<string, TypeSpec>> = {
  digitalocean: DO_SPECS,
  aws: AWS_SPECS,
  "azure-native": AZURE_SPECS,
  gcp: GCP_SPECS,
  hcloud: HCLOUD_SPECS,
};

/** Every resource type each simulated package supports (provider resources excluded). */
export function supportedTypes(pkg: string): string[] {
  return Object.keys(SPECS[pkg] ?? {});
}

// ---- provider configuration -------------------------------------------------------------------

/** Provider config defaults from the environment, as each real provider reads them. */
function envConfig(pkg: string, env: NodeJS.ProcessEnv): JsonObject {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v) ?? undefined;
  const out: JsonObject = {};
  const set = (k: string, v: string | undefined) => {
    if (v) out[k] = v;
  };
  if (pkg === "aws") set("region", pick("AWS_REGION", "AWS_DEFAULT_REGION"));
  if (pkg === "gcp") {
    set(
      "project",
      pick("GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"),
    );
    set("zone", pick("GOOGLE_ZONE", "CLOUDSDK_COMPUTE_ZONE"));
    set("region", pick("GOOGLE_REGION", "CLOUDSDK_COMPUTE_REGION"));
  }
  if (pkg === "azure-native") {
    set("location", pick("ARM_LOCATION"));
    set("subscriptionId", pick("ARM_SUBSCRIPTION_ID"));
  }
  return out;
}

/** AWS region names: `us-east-1`, `eu-central-2`, `ap-southeast-4`, `us-gov-west-1`, … */
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

function checkProviderConfig(pkg: string, config: JsonObject): CheckFailure[] {
  const f: CheckFailure[] = [];
  if (pkg === "aws") {
    const region = str(config.region);
    if (region !== undefined && !AWS_REGION.test(region))
      // terraform-provider-aws `verify.ValidRegionName`.
      f.push({ property: "region", reason: `invalid AWS Region: ${region}` });
  }
  if (pkg === "gcp") {
    const zone = str(config.zone);
    if (zone !== undefined && !/^[a-z]+-[a-z]+\d+-[a-z]$/.test(zone))
      f.push({ property: "zone", reason: `invalid zone ${zone}` });
  }
  if (pkg === "digitalocean") {
    const token = config.token;
    if (token !== undefined && typeof token !== "string")
      f.push({ property: "token", reason: "token must be a string" });
  }
  return f;
}

// ---------------------------------------------------------------------------------------------

function typeSpec(pkg: string, type: string): TypeSpec {
  const spec = SPECS[pkg]?.[type];
  if (!spec)
    throw new Error(
      `the pulumi double does not simulate ${type} (package ${pkg}); simulated types: ${supportedTypes(pkg).join(", ")}`,
    );
  return spec;
}

function valueAt(v: JsonObject, p: string): Json | undefined {
  return getPath(v, parsePath(p));
}

/**
 * The simulated provider for `pkg` over `cloud`, or undefined when `pkg` is not one of
 * `SIMULATED_PACKAGES` (the engine then looks for a real plugin or fails).
 */
export function simulatedProvider(
  pkg: string,
  cloud: SimulatedCloud,
): SimulatedProvider | undefined {
  if (!(SIMULATED_PACKAGES as readonly string[]).includes(pkg)) return undefined;
  let config: JsonObject = envConfig(pkg, process.env);
  const providerType = `pulumi:providers:${pkg}`;

  const provider: SimulatedProvider = {
    pkg,
    configure(c) {
      config = { ...envConfig(pkg, process.env), ...stripDefaults(c) };
      const failures = checkProviderConfig(pkg, config);
      if (failures.length)
        throw new ProviderError(
          failures.map((x) => `${x.property}: ${x.reason}`).join("; "),
          "InvalidConfig",
        );
    },

    check(type, news, olds, urn, randomSeed) {
      if (type === providerType) {
        return { inputs: clone(news), failures: checkProviderConfig(pkg, news) };
      }
      const spec = typeSpec(pkg, type);
      const inputs = stripDefaults(news);
      const defaults: string[] = [];
      const an = spec.autoName;
      if (an && inputs[an.prop] === undefined) {
        const old = olds?.[an.prop];
        inputs[an.prop] =
          typeof old === "string"
            ? old
            : autoName(logicalName(urn), an.sep, an.rand, an.max, randomSeed, an.lower);
        defaults.push(an.prop);
      }
      const failures: CheckFailure[] = [];
      for (const r of spec.required)
        if (inputs[r] === undefined || inputs[r] === null) failures.push(spec.missing(r));
      failures.push(...(spec.validate?.(inputs, config) ?? []));
      inputs[DEFAULTS] = defaults;
      return { inputs, failures };
    },

    diff(type, olds, news, _oldOutputs, ignoreChanges) {
      const o = stripDefaults(olds);
      const n = applyIgnoreChanges(o, stripDefaults(news), ignoreChanges);
      const keys = [...new Set([...Object.keys(o), ...Object.keys(n)])].sort();
      const diffs = keys.filter((k) => !isDeepStrictEqual(o[k], n[k]));
      if (type === providerType) {
        // A provider whose region/project/location changes replaces its resources' provider:
        // the engine then replaces every resource it manages (pulumi-terraform-bridge
        // `DiffConfig`: fields that are not updatable force replacement).
        const replaceKeys = ["region", "project", "zone", "location", "subscriptionId"];
        const replaces = diffs.filter((k) => replaceKeys.includes(k));
        return { changes: diffs.length > 0, replaces, deleteBeforeReplace: false, diffs };
      }
      const spec = typeSpec(pkg, type);
      const replaceOn = [...spec.replaceOn];
      // aws_instance user_data: ForceNew only with user_data_replace_on_change.
      if (type === "aws:ec2/instance:Instance" && n.userDataReplaceOnChange === true)
        replaceOn.push("userData", "userDataBase64");
      const replaces = [
        ...new Set(
          replaceOn
            .filter((p) => !isDeepStrictEqual(valueAt(o, p), valueAt(n, p)))
            .map((p) => parsePath(p)[0] as string),
        ),
      ].filter((k) => diffs.includes(k));
      // pulumi-terraform-bridge `nameRequiresDeleteBeforeReplace`: when the user set the
      // auto-nameable property, the replacement would reuse the name, so delete first.
      const an = spec.autoName;
      const userNamed =
        an !== undefined &&
        n[an.prop] !== undefined &&
        !arr(news[DEFAULTS]).includes(an.prop) &&
        isDeepStrictEqual(o[an.prop], n[an.prop]);
      return {
        changes: diffs.length > 0,
        replaces,
        deleteBeforeReplace: replaces.length > 0 && userNamed,
        diffs,
      };
    },

    async create(type, urn, inputs, preview) {
      if (type === providerType) return { id: preview ? "" : randomUUID(), outputs: clone(inputs) };
      const spec = typeSpec(pkg, type);
      const plain = stripDefaults(inputs);
      if (preview) {
        const outputs: JsonObject = { ...plain, ...(spec.preview?.(plain, config) ?? {}) };
        for (const k of spec.previewOmit ?? []) delete outputs[k];
        return { id: "", outputs };
      }
      return cloud.transact((tx) => {
        const made = spec.create({ pkg, config, tx, type, urn, inputs: plain });
        const outputs: JsonObject = { ...plain, ...made.outputs };
        const obj: CloudObject = {
          provider: pkg,
          type,
          id: made.id,
          inputs: plain,
          outputs,
          createdAt: now(),
        };
        if (made.name !== undefined) obj.name = made.name;
        tx.put(obj);
        return { id: made.id, outputs };
      });
    },

    async read(type, id, oldOutputs) {
      if (type === providerType) return { id, outputs: clone(oldOutputs) };
      typeSpec(pkg, type);
      const found = await cloud.get(pkg, type, id);
      return found ? { id, outputs: found.outputs } : undefined;
    },

    async update(type, id, olds, news, oldOutputs, preview) {
      if (type === providerType) return clone(news);
      const spec = typeSpec(pkg, type);
      const o = stripDefaults(olds);
      const n = stripDefaults(news);
      if (preview) {
        const outputs: JsonObject = { ...clone(oldOutputs), ...n };
        for (const k of Object.keys(o)) if (!(k in n)) delete outputs[k];
        for (const k of spec.previewOmit ?? [])
          if (isDeepStrictEqual(o[k], n[k]) && oldOutputs[k] !== undefined)
            outputs[k] = clone(oldOutputs[k]);
          else delete outputs[k];
        return outputs;
      }
      return cloud.transact((tx) => {
        const existing = tx.get(pkg, type, id);
        if (!existing) throw spec.notFound(id);
        const changed =
          spec.update?.({
            pkg,
            config,
            tx,
            type,
            urn: "",
            inputs: n,
            id,
            olds: o,
            oldOutputs,
            existing,
          }) ?? {};
        const outputs: JsonObject = { ...existing.outputs, ...n, ...changed };
        // Inputs removed by the program are gone from the outputs too.
        for (const k of Object.keys(o)) if (!(k in n) && !(k in changed)) delete outputs[k];
        const an = spec.autoName;
        tx.put({
          ...existing,
          inputs: n,
          outputs,
          ...(an && typeof n[an.prop] === "string" ? { name: n[an.prop] as string } : {}),
        });
        return outputs;
      });
    },

    async delete(type, id) {
      if (type === providerType) return;
      typeSpec(pkg, type);
      await cloud.transact((tx) => {
        // Azure refuses to delete a resource group's dependencies out of order, and a
        // resource group takes its contents with it (ARM semantics).
        if (type === "azure-native:resources:ResourceGroup")
          for (const o of tx.list({ provider: "azure-native" }))
            if (o.id.startsWith(`${id}/`)) tx.remove(o.provider, o.type, o.id);
        tx.remove(pkg, type, id);
      });
    },

    async outputKeys(type, urn, inputs) {
      if (type === providerType) return [];
      const spec = typeSpec(pkg, type);
      const plain = stripDefaults(inputs);
      return cloud.transact((tx) => {
        const dry: CloudTransaction = { ...tx, put: () => undefined, remove: () => false };
        try {
          const made = spec.create({ pkg, config, tx: dry, type, urn, inputs: plain });
          return Object.keys({ ...plain, ...made.outputs });
        } catch {
          return [];
        }
      });
    },

    async invoke(token, args) {
      if (pkg === "aws" && token === "aws:ec2/getAmi:getAmi") return getAmi(args, config);
      throw new Error(`the pulumi double does not simulate the function ${token} (package ${pkg})`);
    },
  };
  return provider;
}
