/**
 * Passphrase secrets exactly as the Pulumi CLI does them, and the checkpoint serialization of
 * secret property values.
 *
 * - Key: PBKDF2-HMAC-SHA256(passphrase, salt, 1,000,000 iterations, 32 bytes)
 *   (`sdk/go/common/resource/config/crypt.go`, `NewSymmetricCrypterFromPassphrase`).
 * - Cipher: AES-256-GCM with a random 12-byte nonce, no additional data; the value is written
 *   `v1:<base64 nonce>:<base64 ciphertext+tag>` (`crypt.go`, `EncryptValue`/`DecryptValue`).
 * - Passphrase state: `v1:<base64 8-byte salt>:<encryption of "pulumi">`, kept as
 *   `encryptionsalt` in `Pulumi.<stack>.yaml` and as `secrets_providers.state.salt` in the
 *   checkpoint (`pkg/secrets/passphrase/manager.go`).
 * - Secret property values in checkpoints: `{"4dabf18193072939515e22adb298388d":
 *   "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:…"}`, where the encrypted text is the
 *   Go `json.Marshal` of the serialized inner value (`pkg/resource/stack/deployment.go`,
 *   `SerializePropertyValue`); `--show-secrets` writes `plaintext` instead of `ciphertext`.
 *
 * The engine hands plain JS values to `serializePropertyValue`, marking secrets with the
 * {@link Secret} wrapper: `new Secret("s3cr3t")` or `{ secret: true, value: "s3cr3t" }` (any
 * object whose own keys are exactly `secret: true` and `value`).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CliError } from "./cli/context";

/** PBKDF2 iterations (`crypt.go`: "1,000,000 iterations was chosen because …"). */
export const PBKDF2_ITERATIONS = 1_000_000;
/** AES-256 key size (`crypt.go`, `SymmetricCrypterKeyBytes`). */
export const KEY_BYTES = 32;
/** The signature key of special property values (`sdk/go/common/resource/sig`, `SigKey`). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** The signature of a secret value (`sig.Secret`). */
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** What the engine writes for an unknown (computed) value (`deployment.go`, `computedValuePlaceholder`). */
export const COMPUTED_PLACEHOLDER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** `manager.go`: `ErrIncorrectPassphrase`. */
export const INCORRECT_PASSPHRASE = "incorrect passphrase";
/** `manager.go`, `readPassphrase`: no passphrase in a non-interactive session. */
export const MISSING_PASSPHRASE =
  "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables";
/** `manager.go`, `errorCrypter.DecryptValue`: state secrets with the wrong passphrase. */
export const FAILED_TO_DECRYPT =
  "failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the " +
  "correct passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase";
/** `manager.go`, `errorCrypter.EncryptValue`. */
export const FAILED_TO_ENCRYPT =
  "failed to encrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the " +
  "correct passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase";

/** Encrypts and decrypts single values (Go `config.Crypter`). */
export interface Crypter {
  /** Plaintext → `v1:<nonce>:<ciphertext>`. */
  encryptValue(plaintext: string): string;
  /** `v1:<nonce>:<ciphertext>` → plaintext; throws CliError on a bad value or wrong key. */
  decryptValue(ciphertext: string): string;
}

const keyCache = new Map<string, Buffer>();

/**
 * Derives the AES key from a passphrase and salt (PBKDF2-SHA256, 1,000,000 iterations), cached
 * per (passphrase, salt) for the life of the process because the derivation takes about a second.
 */
export function deriveKey(passphrase: string, salt: Buffer): Buffer {
  const cacheKey = `${salt.toString("base64")}\0${passphrase}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = crypto.pbkdf2Sync(
      Buffer.from(passphrase, "utf8"),
      salt,
      PBKDF2_ITERATIONS,
      KEY_BYTES,
      "sha256",
    );
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** AES-256-GCM crypter (`crypt.go`, `symmetricCrypter`). */
export class SymmetricCrypter implements Crypter {
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error("AES-256-GCM needs a 32 byte key");
  }

  /** `crypt.go` `EncryptValue`: random 12-byte nonce; Go appends the 16-byte tag to the ciphertext. */
  encryptValue(plaintext: string): string {
    const nonce = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.key, nonce);
    const body = Buffer.concat([
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `v1:${nonce.toString("base64")}:${body.toString("base64")}`;
  }

  /** `crypt.go` `DecryptValue`, with its error texts. */
  decryptValue(value: string): string {
    const vals = value.split(":");
    if (vals.length !== 3) throw new CliError("bad value");
    if (vals[0] !== "v1") throw new CliError("unknown value version");
    const nonce = strictBase64(vals[1]);
    const body = strictBase64(vals[2]);
    if (nonce.length !== 12) throw new CliError("bad value: nonce size is incorrect");
    if (body.length < 16) throw new CliError("cipher: message authentication failed");
    const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, nonce);
    decipher.setAuthTag(body.subarray(body.length - 16));
    try {
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - 16)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      // Go's crypto/cipher: `errOpen = errors.New("cipher: message authentication failed")`.
      throw new CliError("cipher: message authentication failed");
    }
  }
}

/** Go's `base64.StdEncoding.DecodeString` rejects what Node would silently skip. */
function strictBase64(s: string): Buffer {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
    throw new CliError(`bad value: illegal base64 data at input byte ${firstBadBase64(s)}`);
  }
  return Buffer.from(s, "base64");
}

function firstBadBase64(s: string): number {
  const i = [...s].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
  return i < 0 ? s.length : i;
}

/** A crypter that always fails like the "locked" passphrase manager (`manager.go`, `errorCrypter`). */
export class LockedCrypter implements Crypter {
  encryptValue(): string {
    throw new CliError(FAILED_TO_ENCRYPT);
  }
  decryptValue(): string {
    throw new CliError(FAILED_TO_DECRYPT);
  }
}

/**
 * Opens the passphrase state (`v1:<salt>:<check>`): derives the key and checks that it decrypts
 * the stored "pulumi" (`manager.go`, `symmetricCrypterFromPhraseAndState`). Throws CliError
 * "incorrect passphrase" for a wrong passphrase.
 */
export function crypterFromState(passphrase: string, state: string): SymmetricCrypter {
  const splits = splitN(state, ":", 3);
  if (splits.length !== 3) throw new CliError("malformed state value");
  if (splits[0] !== "v1") throw new CliError("unknown state version");
  const salt = strictBase64(splits[1]);
  const crypter = new SymmetricCrypter(deriveKey(passphrase, salt));
  let check: string | undefined;
  try {
    check = crypter.decryptValue(splits[2]);
  } catch {
    check = undefined;
  }
  if (check !== "pulumi") throw new CliError(INCORRECT_PASSPHRASE);
  return crypter;
}

function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/**
 * A new passphrase state: random 8-byte salt and the encrypted check word "pulumi"
 * (`manager.go`, `NewPassphraseSecretsManager`).
 */
export function newPassphraseState(passphrase: string): {
  state: string;
  crypter: SymmetricCrypter;
} {
  const salt = crypto.randomBytes(8);
  const crypter = new SymmetricCrypter(deriveKey(passphrase, salt));
  const state = `v1:${salt.toString("base64")}:${crypter.encryptValue("pulumi")}`;
  return { state, crypter };
}

/**
 * The passphrase from the environment, as `manager.go` `readPassphrase` reads it in a
 * non-interactive session: `PULUMI_CONFIG_PASSPHRASE` (even empty), else the trimmed content of
 * `PULUMI_CONFIG_PASSPHRASE_FILE` (when non-empty), else CliError {@link MISSING_PASSPHRASE}.
 */
export function passphraseFromEnv(env: NodeJS.ProcessEnv, cwd: string): string {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return env.PULUMI_CONFIG_PASSPHRASE;
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (file !== undefined && file !== "") {
    try {
      return fs.readFileSync(path.resolve(cwd, file), "utf8").trim();
    } catch (e) {
      throw new CliError(`unable to read PULUMI_CONFIG_PASSPHRASE_FILE: ${(e as Error).message}`);
    }
  }
  throw new CliError(MISSING_PASSPHRASE);
}

/** The checkpoint's `secrets_providers` entry for the passphrase manager (`apitype.SecretsProvidersV1`). */
export interface SecretsProviders {
  type: string;
  state?: { salt: string } | Record<string, unknown>;
}

/** `secrets_providers` for a passphrase state (`manager.go`: `localSecretsManagerState{Salt}`). */
export function passphraseSecretsProviders(state: string): SecretsProviders {
  return { type: "passphrase", state: { salt: state } };
}

/**
 * Marks a secret value for {@link serializePropertyValue}. Plain objects shaped
 * `{ secret: true, value }` are accepted too (see {@link isSecret}).
 */
export class Secret<T = PropertyValue> {
  /** Always true: lets `{ secret: true, value }` literals and instances be told apart from data. */
  readonly secret = true as const;
  constructor(public readonly value: T) {}
}

/** A property value as the engine hands it over: JSON data with {@link Secret}s anywhere. */
export type PropertyValue =
  | null
  | boolean
  | number
  | string
  | PropertyValue[]
  | Secret
  | { [key: string]: PropertyValue };

/** True for a {@link Secret} or an object whose own keys are exactly `secret: true` and `value`. */
export function isSecret(v: unknown): v is Secret {
  if (v instanceof Secret) return true;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return (
    keys.length === 2 &&
    (v as Record<string, unknown>).secret === true &&
    Object.prototype.hasOwnProperty.call(v, "value")
  );
}

/**
 * Go's `json.Marshal`: map keys sorted, and `<`, `>`, `&`, U+2028, U+2029 escaped (HTML-safe).
 * Used for the plaintext inside a secret, which `deployment.go` marshals with `json.Marshal`.
 */
export function goJsonMarshal(v: unknown): string {
  return JSON.stringify(sortKeys(v))
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Sorts object keys recursively, as Go marshals `map[string]any`. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** JSON as stored in a checkpoint. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * Serializes a property value for a checkpoint (`deployment.go`, `SerializePropertyValue`):
 * secrets become `{sig, ciphertext}` (or `{sig, plaintext}` with `showSecrets`), everything
 * else is copied with object keys sorted. `undefined` object members are dropped.
 */
export function serializePropertyValue(
  v: PropertyValue | undefined,
  enc: Crypter,
  showSecrets = false,
): JsonValue {
  if (v === null || v === undefined) return null;
  if (isSecret(v)) {
    // The inner value is serialized without encryption, then `json.Marshal`ed.
    const inner = serializePropertyValue(v.value, NOP_CRYPTER, showSecrets);
    const plaintext = goJsonMarshal(inner);
    return showSecrets
      ? { [SIG_KEY]: SECRET_SIG, plaintext }
      : { [SIG_KEY]: SECRET_SIG, ciphertext: enc.encryptValue(plaintext) };
  }
  if (Array.isArray(v)) return v.map((e) => serializePropertyValue(e, enc, showSecrets));
  if (typeof v === "object") return serializeProperties(v, enc, showSecrets);
  if (typeof v === "number" && !Number.isFinite(v)) {
    throw new Error("the pulumi double does not serialize NaN/Inf property values");
  }
  return v;
}

/** Serializes a property map (`deployment.go`, `SerializeProperties`; keys in stable order). */
export function serializeProperties(
  props: { [key: string]: PropertyValue | undefined },
  enc: Crypter,
  showSecrets = false,
): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const k of Object.keys(props).sort()) {
    const pv = props[k];
    if (pv === undefined) continue;
    out[k] = serializePropertyValue(pv, enc, showSecrets);
  }
  return out;
}

/**
 * Reverses {@link serializePropertyValue} (`deployment.go`, `DeserializePropertyValue`): secret
 * objects become {@link Secret}s holding the decrypted, parsed value.
 */
export function deserializePropertyValue(v: JsonValue | undefined, dec: Crypter): PropertyValue {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map((e) => deserializePropertyValue(e, dec));
  if (typeof v === "object") {
    if (v[SIG_KEY] === SECRET_SIG) {
      let text: string;
      if (typeof v.ciphertext === "string" && v.ciphertext !== "")
        text = dec.decryptValue(v.ciphertext);
      else if (typeof v.plaintext === "string") text = v.plaintext;
      else
        throw new CliError(
          "malformed secret value: one of `ciphertext` or `plaintext` must be supplied",
        );
      return new Secret(deserializePropertyValue(JSON.parse(text) as JsonValue, dec));
    }
    return deserializeProperties(v, dec);
  }
  return v;
}

/** Deserializes a property map. */
export function deserializeProperties(
  props: { [key: string]: JsonValue },
  dec: Crypter,
): { [key: string]: PropertyValue } {
  const out: { [key: string]: PropertyValue } = {};
  for (const [k, pv] of Object.entries(props)) out[k] = deserializePropertyValue(pv, dec);
  return out;
}

/** Removes {@link Secret} markers (for `--show-secrets` style display). */
export function revealSecrets(v: PropertyValue): JsonValue {
  if (isSecret(v)) return revealSecrets(v.value);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(revealSecrets);
  const out: { [key: string]: JsonValue } = {};
  for (const [k, e] of Object.entries(v)) out[k] = revealSecrets(e);
  return out;
}

/** The crypter that passes values through (`crypt.go`, `NopEncrypter`). */
export const NOP_CRYPTER: Crypter = {
  encryptValue: (s) => s,
  decryptValue: (s) => s,
};

/** Shows `[secret]` for every secret (`crypt.go`, `NewBlindingDecrypter`). */
export const BLINDING_CRYPTER: Crypter = {
  encryptValue: (s) => s,
  decryptValue: () => "[secret]",
};
