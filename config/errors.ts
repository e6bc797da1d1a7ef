/**
 * The one error type for bad input. Every refusal names the key, the value that was given and
 * what is allowed, so a person can fix it without reading code.
 */
export class FleetConfigError extends Error {
  /** The config key or location, e.g. `fleet:workers[2].name` or `config/aws.yaml: region`. */
  public readonly key: string;
  /** The rejected value, already made safe to print (never a secret). */
  public readonly value: string;
  /** What would have been accepted. */
  public readonly allowed: string;

  constructor(key: string, value: unknown, allowed: string, detail?: string) {
    const shown = describeValue(value);
    // Keys and paths can come from input too: keep them short, and never print a credential.
    const where = looksLikeCredential(key)
      ? "(a key that looks like a credential)"
      : clip(/[\u0000-\u001f\u007f\u2028\u2029]/.test(key) ? JSON.stringify(key) : key, 120);
    const rule = clip(escapeControl(allowed), 600);
    const what = detail ? `${clip(escapeControl(detail), 300)} ` : "";
    super(`${where}: ${what}got ${shown}; ${rule}`);
    this.name = "FleetConfigError";
    this.key = where;
    this.value = shown;
    this.allowed = rule;
  }
}

/** Collects several errors so a person sees every problem at once, not one per run. */
export class FleetConfigErrors extends FleetConfigError {
  public readonly errors: readonly FleetConfigError[];

  constructor(errors: readonly FleetConfigError[]) {
    super(errors[0].key, errors[0].value, errors[0].allowed);
    // The first error's value is already rendered; rendering it again would quote it twice.
    (this as { value: string }).value = errors[0].value;
    this.errors = errors;
    this.name = "FleetConfigError";
    this.message =
      errors.length === 1
        ? errors[0].message
        : `${errors.length} problems in fleet's configuration:\n${errors.map((e) => `  - ${e.message}`).join("\n")}`;
  }
}

const MAX_SHOWN = 80;

/** `text` with control characters (newlines, …) written as escapes: a message stays one line. */
function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** `text`, cut to `max` characters with a note of its length. */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/**
 * Renders a value for an error message: JSON-ish, truncated, and with credential-looking
 * strings masked so an error message never leaks a secret.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  if (typeof value === "string") {
    text = looksLikeCredential(value) ? "a credential-like value (hidden)" : JSON.stringify(value);
  } else {
    let json: string | undefined;
    try {
      json = JSON.stringify(value, (_k, v: unknown) =>
        typeof v === "string" && looksLikeCredential(v) ? "(hidden)" : v,
      );
    } catch {
      json = undefined; // too deeply nested, cyclic, or holding a BigInt
    }
    text = json ?? plainText(value);
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…(${text.length} chars)` : text;
}

/** `String(value)`, or a description when even that fails (deep nesting, no prototype). */
function plainText(value: unknown): string {
  try {
    const text = String(value);
    return looksLikeCredential(text) ? "a credential-like value (hidden)" : text;
  } catch {
    return Array.isArray(value) ? "a list too deeply nested to show" : `a ${typeof value} value`;
  }
}

/** Patterns of real credentials: a DigitalOcean token, AWS access key ids, private keys, and the like. */
const CREDENTIAL_PATTERNS: readonly RegExp[] = [
  /\bdo[opr]_v1_[a-f0-9]{32,}/i, // DigitalOcean personal/OAuth/refresh tokens
  /\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/, // AWS access key ids
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/, // any PEM private key
  /\bghp_[A-Za-z0-9]{36}\b/, // GitHub tokens, often pasted by mistake
  /\bpul-[a-f0-9]{40}\b/, // Pulumi access tokens
  /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9]{64}$/, // Hetzner-style 64-char API tokens
];

/** True when a string looks like a credential that must never be stored in plain text. */
export function looksLikeCredential(value: string): boolean {
  return CREDENTIAL_PATTERNS.some((p) => p.test(value));
}

/**
 * `text` with every credential-looking part replaced by `(hidden)`: for text fleet prints but
 * did not write itself (argument parser errors, provider messages).
 */
export function maskCredentials(text: string): string {
  return text
    .replace(
      /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
      "(hidden)",
    )
    .replace(/[^\s'"`,;=:()[\]{}<>]+/g, (word) => (looksLikeCredential(word) ? "(hidden)" : word));
}

/** Key names that announce a credential, whatever their value. */
const CREDENTIAL_KEY =
  /(token|secret|password|passwd|passphrase|access[_-]?key|api[_-]?key|credential|private[_-]?key)/i;

/** True when a key name says it holds a credential (`token`, `secretAccessKey`, `password`, …). */
export function isCredentialKey(key: string): boolean {
  return CREDENTIAL_KEY.test(key);
}
