/**
 * Passphrase secrets of the pulumi double against the Go implementation: known answers from
 * pulumi/pulumi's own tests, the value format, the CLI's error texts, and the checkpoint
 * serialization of secret property values.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  crypterFromState,
  deriveKey,
  deserializePropertyValue,
  goJsonMarshal,
  LockedCrypter,
  MISSING_PASSPHRASE,
  newPassphraseState,
  passphraseFromEnv,
  Secret,
  SECRET_SIG,
  serializeProperties,
  serializePropertyValue,
  SIG_KEY,
  SymmetricCrypter,
  type JsonValue,
} from "./secrets";
import { droplet, engineProject } from "./harness";

// pkg/secrets/passphrase/manager_test.go: `state` opened with PULUMI_CONFIG_PASSPHRASE=password.
const GO_STATE = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==";
// tests/roundtrip/roundtrip_test.go (TestConfigRoundtripComments): salt and a `secure:` value
// written by the Go CLI with the passphrase "TestConfigRoundtripComments".
const RT_STATE = "v1:ThS5UPxP9qc=:v1:UZYAXF+ylaJ0rGhv:9OTvBnOEDFgxs7btjzSu+LZ470vLpg==";
const RT_SECURE = "v1:T1ftqhY0hqr+EJK6:+jvd5PMecFx80tcavzuZY4tLatgIfoe/xR72GA==";

describe("engine double: passphrase secrets", function () {
  this.timeout(30000);

  it("opens a passphrase state written by the Go implementation (known answer)", () => {
    const c = crypterFromState("password", GO_STATE);
    expect(c.decryptValue(GO_STATE.split(":").slice(2).join(":"))).to.equal("pulumi");
  });

  it("decrypts a config value written by the Go CLI (known answer)", () => {
    const c = crypterFromState("TestConfigRoundtripComments", RT_STATE);
    expect(c.decryptValue(RT_SECURE)).to.equal("secret-value");
  });

  it("refuses a wrong passphrase with the CLI's text", () => {
    // The CLI's own text (pkg/secrets/passphrase), not the constant the double defines for it.
    expect(() => crypterFromState("not-the-password", GO_STATE)).to.throw("incorrect passphrase");
  });

  it("checks the state's shape as manager.go does", () => {
    expect(() => crypterFromState("password", "v1:abc")).to.throw("malformed state value");
    expect(() => crypterFromState("password", "v2:a:b:c")).to.throw("unknown state version");
  });

  it("round-trips values in the v1:<nonce>:<ciphertext> form with a fresh nonce each time", () => {
    const { state, crypter } = newPassphraseState("correct horse");
    expect(state).to.match(/^v1:[A-Za-z0-9+/]{11}=:v1:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/=]+$/);
    const a = crypter.encryptValue("s3cr3t ✓");
    const b = crypter.encryptValue("s3cr3t ✓");
    expect(a).to.match(/^v1:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/=]+$/);
    expect(a).to.not.equal(b);
    // Ciphertext is the plaintext's length plus the 16-byte GCM tag, as Go's Seal appends it.
    expect(Buffer.from(a.split(":")[2], "base64").length).to.equal(
      Buffer.byteLength("s3cr3t ✓") + 16,
    );
    expect(crypter.decryptValue(a)).to.equal("s3cr3t ✓");
    // A second crypter from the same state decrypts it too.
    expect(crypterFromState("correct horse", state).decryptValue(b)).to.equal("s3cr3t ✓");
  });

  it("fails on tampered or malformed values with Go's messages", () => {
    const c = new SymmetricCrypter(Buffer.alloc(32, 7));
    const v = c.encryptValue("x");
    const parts = v.split(":");
    const body = Buffer.from(parts[2], "base64");
    body[0] ^= 1;
    expect(() => c.decryptValue(`${parts[0]}:${parts[1]}:${body.toString("base64")}`)).to.throw(
      "cipher: message authentication failed",
    );
    expect(() => c.decryptValue("v1:abc")).to.throw("bad value");
    expect(() => c.decryptValue("v2:a:b")).to.throw("unknown value version");
    expect(() => c.decryptValue(`v1:${Buffer.alloc(8).toString("base64")}:${parts[2]}`)).to.throw(
      "bad value: nonce size is incorrect",
    );
  });

  it("caches the derived key per passphrase and salt", () => {
    const salt = Buffer.from("saltsalt");
    const k1 = deriveKey("cache-me", salt);
    const t = Date.now();
    const k2 = deriveKey("cache-me", salt);
    expect(Date.now() - t).to.be.lessThan(20);
    expect(k2).to.equal(k1);
    expect(deriveKey("other", salt).equals(k1)).to.equal(false);
  });

  it("reads the passphrase as the CLI does in non-interactive use", () => {
    expect(passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE: "" }, "/")).to.equal("");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pp-"));
    fs.writeFileSync(path.join(dir, "pp"), "  from-file\n");
    expect(passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE_FILE: "pp" }, dir)).to.equal("from-file");
    expect(() => passphraseFromEnv({}, "/")).to.throw(MISSING_PASSPHRASE);
    expect(() => passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE_FILE: "" }, "/")).to.throw(
      "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables",
    );
    expect(() => new LockedCrypter().decryptValue()).to.throw(
      /^failed to decrypt: incorrect passphrase/,
    );
  });

  it("serializes secrets in checkpoints as deployment.go does", () => {
    const c = new SymmetricCrypter(Buffer.alloc(32, 1));
    const out = serializeProperties(
      { b: new Secret({ y: 1, x: "<&>" }), a: [1, "two", null] },
      c,
    ) as Record<string, JsonValue>;
    expect(Object.keys(out)).to.deep.equal(["a", "b"]);
    const s = out.b as Record<string, string>;
    // The signature key and value of a secret in the engine's own format (sdk/go/common/resource/sig).
    expect(s).to.have.keys(["4dabf18193072939515e22adb298388d", "ciphertext"]);
    expect(Object.keys(s)[0]).to.equal("4dabf18193072939515e22adb298388d");
    expect(s["4dabf18193072939515e22adb298388d"]).to.equal("1b47061264138c4ac30d75fd1eb44270");
    // The encrypted text is Go's json.Marshal of the value: sorted keys, HTML-escaped.
    expect(c.decryptValue(s.ciphertext)).to.equal('{"x":"\\u003c\\u0026\\u003e","y":1}');
    const back = deserializePropertyValue(out.b, c);
    expect(back).to.be.instanceOf(Secret);
    expect((back as Secret).value).to.deep.equal({ x: "<&>", y: 1 });
  });

  it("writes plaintext secrets with showSecrets and accepts `{secret: true, value}` literals", () => {
    const v = serializePropertyValue({ secret: true, value: "tok" }, new LockedCrypter(), true);
    expect(v).to.deep.equal({ [SIG_KEY]: SECRET_SIG, plaintext: '"tok"' });
    expect(goJsonMarshal({ b: 1, a: "\u2028" })).to.equal('{"a":"\\u2028","b":1}');
  });
});

describe("engine double: secret provider config in the checkpoint", function () {
  this.timeout(120_000);

  it("a secure `<pkg>:` config value is a secret input of the default provider (target.go GetPackageConfig), never plain text", () => {
    const p = engineProject();
    const token = "dop_v1_" + "7".repeat(64);
    const set = p.pulumi([
      "config",
      "set",
      "--secret",
      "digitalocean:token",
      token,
      "--stack",
      "dev",
    ]);
    expect(set.status, set.stderr).to.equal(0);
    p.setResources([droplet("w1")]);
    const { run } = p.up();
    expect(run.status, run.stderr).to.equal(0);
    const text = fs.readFileSync(
      path.join(p.dir, "state", ".pulumi", "stacks", "fixture", "dev.json"),
      "utf8",
    );
    expect(text).not.to.contain(token);
    const provider = p
      .checkpoint()
      .resources.find((r) => r.type === "pulumi:providers:digitalocean");
    expect(provider?.inputs?.token).to.have.property(SIG_KEY, SECRET_SIG);
  });
});
