import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadCloudDefaults, parseCloudDefaults } from "../../config/defaults";
import { defaultsDir } from "../../config/paths";
import { FAKE } from "../harness/credentials";
import { refusal } from "../harness/assertions";

const DO_HINT =
  "set the DIGITALOCEAN_TOKEN environment variable, or store the token as a secret with `pulumi config set --secret digitalocean:token <token>`";
const AWS_HINT =
  "AWS credentials come from the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or `aws sso login`; the AWS provider also needs a region: `pulumi config set aws:region <region>` or AWS_REGION (workers may still pick their own with fleet:region)";

const SIZES = "sizes: { small: s1, medium: s2, large: s3 }\n";
const DO_OK = `region: nyc3\nsize: s-1vcpu-1gb\nimage: ubuntu-24-04-x64\n${SIZES}`;

describe("config/defaults", () => {
  describe("the shipped config/<cloud>.yaml files", () => {
    it("digitalocean.yaml has exactly the documented defaults", () => {
      expect(loadCloudDefaults("digitalocean")).to.deep.equal({
        region: "nyc3",
        size: "s-1vcpu-1gb",
        image: "ubuntu-24-04-x64",
        sizes: { small: "s-1vcpu-2gb", medium: "s-2vcpu-4gb", large: "s-4vcpu-8gb" },
        extras: {},
      });
    });

    it("aws.yaml has exactly the documented defaults, Canonical as AMI owner", () => {
      expect(loadCloudDefaults("aws")).to.deep.equal({
        region: "us-east-1",
        size: "t3.micro",
        image: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        sizes: { small: "t3.small", medium: "t3.medium", large: "t3.xlarge" },
        extras: { imageOwner: "099720109477" },
      });
    });

    it("are found from the compiled code, in the package's own config/", () => {
      expect(fs.existsSync(path.join(defaultsDir(), "aws.yaml"))).to.equal(true);
      expect(path.basename(defaultsDir())).to.equal("config");
    });
  });

  describe("parseCloudDefaults", () => {
    it("returns the values and the cloud's extra keys", () => {
      expect(parseCloudDefaults("digitalocean", DO_OK, "config/digitalocean.yaml")).to.deep.equal({
        region: "nyc3",
        size: "s-1vcpu-1gb",
        image: "ubuntu-24-04-x64",
        sizes: { small: "s1", medium: "s2", large: "s3" },
        extras: {},
      });
      const aws = parseCloudDefaults(
        "aws",
        `region: eu-west-1\nsize: t3.micro\nimage: ami-0123456789abcdef0\nimageOwner: "123"\n${SIZES}`,
        "config/aws.yaml",
      );
      expect(aws.extras).to.deep.equal({ imageOwner: "123" });
      expect(aws.region).to.equal("eu-west-1");
    });

    it("refuses malformed YAML, naming the file", () => {
      const e = refusal(() =>
        parseCloudDefaults("digitalocean", "region: [nyc3\n", "config/d.yaml"),
      );
      expect(e.key).to.equal("config/d.yaml");
      expect(e.message).to.match(
        /^config\/d\.yaml: malformed YAML \(unexpected end of the stream within a flow collection/,
      );
      expect(e.message).to.match(/: got "\(unparsable YAML\)"; valid YAML$/);
    });

    it("refuses duplicated keys as malformed YAML", () => {
      const e = refusal(() =>
        parseCloudDefaults("digitalocean", `region: a\n${DO_OK}`, "config/d.yaml"),
      );
      expect(e.message).to.match(/^config\/d\.yaml: malformed YAML \(duplicated mapping key/);
    });

    it("names a misspelt key as a typo and lists the allowed keys", () => {
      const e = refusal(() =>
        parseCloudDefaults("digitalocean", DO_OK.replace("region:", "regoin:"), "config/d.yaml"),
      );
      expect(e.message).to.equal(
        'config/d.yaml: regoin: unknown key (a typo?): got "regoin"; allowed keys: region, size, image, sizes',
      );
    });

    it("lists the cloud's extra keys among the allowed ones", () => {
      const text = `region: r\nsize: s\nimage: i\nimageOwnr: "1"\n${SIZES}`;
      expect(refusal(() => parseCloudDefaults("aws", text, "config/aws.yaml")).message).to.equal(
        'config/aws.yaml: imageOwnr: unknown key (a typo?): got "imageOwnr"; allowed keys: region, size, image, sizes, imageOwner',
      );
    });

    it("refuses another cloud's extra key", () => {
      const e = refusal(() =>
        parseCloudDefaults("digitalocean", `${DO_OK}imageOwner: "1"\n`, "config/d.yaml"),
      );
      expect(e.message).to.equal(
        'config/d.yaml: imageOwner: unknown key (a typo?): got "imageOwner"; allowed keys: region, size, image, sizes',
      );
    });

    it("refuses an unknown abstract size, listing small, medium, large", () => {
      const text = DO_OK.replace("large: s3", "large: s3, huge: s4");
      expect(
        refusal(() => parseCloudDefaults("digitalocean", text, "config/d.yaml")).message,
      ).to.equal(
        'config/d.yaml: sizes.huge: unknown key (a typo?): got "huge"; allowed keys: small, medium, large',
      );
    });

    it("refuses a missing key and a non-string value", () => {
      expect(
        refusal(() =>
          parseCloudDefaults("digitalocean", DO_OK.replace("image: ubuntu-24-04-x64\n", ""), "f"),
        ).message,
      ).to.equal("f: image: got nothing; required; expected a string");
      // Unquoted, YAML reads the AMI owner as a number: the loader says so instead of coercing.
      const text = `region: r\nsize: s\nimage: i\nimageOwner: 99720109477\n${SIZES}`;
      expect(refusal(() => parseCloudDefaults("aws", text, "f")).message).to.equal(
        "f: imageOwner: got 99720109477; expected string, received number; expected a string",
      );
    });

    it("refuses a document that is not a mapping", () => {
      expect(refusal(() => parseCloudDefaults("digitalocean", "", "f")).message).to.equal(
        "f: got nothing; a mapping with the keys region, size, image, sizes",
      );
      expect(refusal(() => parseCloudDefaults("aws", "- a\n", "f")).message).to.equal(
        'f: got ["a"]; a mapping with the keys region, size, image, sizes, imageOwner',
      );
    });

    it("refuses values that are not provider identifiers", () => {
      expect(
        refusal(() => parseCloudDefaults("digitalocean", DO_OK.replace("nyc3", "'nyc 3'"), "f"))
          .message,
      ).to.equal(
        'f: region: invalid region: got "nyc 3"; a region is a provider identifier: letters, digits and . _ : / * + @ -, at most 128 characters',
      );
    });

    it("refuses a credential key, hiding its value and saying where DigitalOcean tokens belong", () => {
      const e = refusal(() =>
        parseCloudDefaults("digitalocean", `${DO_OK}token: not-even-a-real-one\n`, "config/d.yaml"),
      );
      expect(e.message).to.equal(
        `config/d.yaml: token: credential key found: got "(hidden)"; credentials never belong in config/d.yaml: ${DO_HINT}`,
      );
      expect(e.message).not.to.include("not-even-a-real-one");
    });

    it("refuses a credential key nested anywhere, before any schema check", () => {
      const e = refusal(() =>
        parseCloudDefaults("aws", "sizes:\n  aws_secret_access_key: x\n", "config/aws.yaml"),
      );
      expect(e.message).to.equal(
        `config/aws.yaml: sizes.aws_secret_access_key: credential key found: got "(hidden)"; credentials never belong in config/aws.yaml: ${AWS_HINT}`,
      );
    });

    it("refuses a credential value under an innocent key, pointing to the AWS chain", () => {
      const e = refusal(() =>
        parseCloudDefaults("aws", `region: ${FAKE.awsKeyId}\n`, "config/aws.yaml"),
      );
      expect(e.message).to.equal(
        `config/aws.yaml: region: credential found: got a credential-like value (hidden); credentials never belong in config/aws.yaml: ${AWS_HINT}`,
      );
      expect(e.message).not.to.include(FAKE.awsKeyId);
    });

    it("refuses a DigitalOcean token as a value", () => {
      const e = refusal(() =>
        parseCloudDefaults("digitalocean", `${DO_OK}# x\nimage2: ${FAKE.doToken}\n`, "f"),
      );
      expect(e.message).to.equal(
        `f: image2: credential found: got a credential-like value (hidden); credentials never belong in f: ${DO_HINT}`,
      );
    });
  });

  describe("loadCloudDefaults", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-defaults-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads <dir>/<cloud>.yaml, and reads it once", () => {
      fs.writeFileSync(path.join(dir, "digitalocean.yaml"), DO_OK);
      const first = loadCloudDefaults("digitalocean", dir);
      expect(first.region).to.equal("nyc3");
      fs.writeFileSync(path.join(dir, "digitalocean.yaml"), "broken: [");
      expect(loadCloudDefaults("digitalocean", dir)).to.equal(first);
    });

    it("names the file and the reason when it cannot be read", () => {
      const e = refusal(() => loadCloudDefaults("aws", dir));
      expect(e.message).to.equal(
        `config/aws.yaml: cannot read (ENOENT): got ${JSON.stringify(path.join(dir, "aws.yaml"))}; the per-cloud defaults file must exist and be readable`,
      );
    });

    it("names the file in validation errors", () => {
      fs.writeFileSync(path.join(dir, "digitalocean.yaml"), `${DO_OK}sizse: {}\n`);
      expect(refusal(() => loadCloudDefaults("digitalocean", dir)).message).to.equal(
        'config/digitalocean.yaml: sizse: unknown key (a typo?): got "sizse"; allowed keys: region, size, image, sizes',
      );
    });
  });
});
