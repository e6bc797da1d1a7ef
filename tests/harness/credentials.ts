/** Fake credentials in the real formats (never real ones), for refusal tests. */
export const FAKE = {
  doToken: `dop_v1_${"0123456789abcdef".repeat(4)}`,
  awsKeyId: "AKIAIOSFODNN7EXAMPLE",
  pem: "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
  github: `ghp_${"A1b2C3d4E5".repeat(3)}abcdef`,
  pulumi: `pul-${"0123456789abcdef".repeat(2)}01234567`,
  hetzner: `${"aB3dE5gH7j".repeat(6)}kL9m`,
} as const;
