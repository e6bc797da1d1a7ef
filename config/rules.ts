/**
 * Pure validation rules shared by the Pulumi program, CloudContext and the `fleet` command.
 * Nothing here touches Pulumi or a cloud: every function is tested without mocks.
 */
import * as crypto from "node:crypto";
import * as net from "node:net";
import { FleetConfigError, looksLikeCredential } from "./errors";

import { CLOUDS, type CloudName } from "../strategies/registry";

export { CLOUDS, type CloudName };

/**
 * The most workers one `createWorkers(count)` call (`fleet create --count`) may ask for. Here,
 * with the other pure rules, so `fleet --help` and its argument parser can name it without
 * loading the Pulumi SDK.
 */
export const MAX_COUNT = 10_000;

/** The cloud a stack uses when `fleet:cloud` is not set: the embedded default needs no account. */
export const DEFAULT_CLOUD: CloudName = "local";

export function isCloudName(value: unknown): value is CloudName {
  return typeof value === "string" && (CLOUDS as readonly string[]).includes(value);
}

export function parseCloud(key: string, value: unknown): CloudName {
  if (isCloudName(value)) return value;
  throw new FleetConfigError(key, value, `known clouds: ${CLOUDS.join(", ")}`, "unknown cloud:");
}

/** Letters, digits, `-` and `.`; starts with a letter or digit; at most 63 characters. */
export const WORKER_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
export const WORKER_NAME_RULE =
  "a worker name uses letters, digits, '-' and '.', starts with a letter or digit, and has at most 63 characters";

export function validateWorkerName(key: string, value: unknown): string {
  if (typeof value !== "string" || !WORKER_NAME.test(value)) {
    throw new FleetConfigError(key, value, WORKER_NAME_RULE, "invalid worker name:");
  }
  return value;
}

/**
 * A Pulumi stack name: `stack`, `org/stack` or `org/project/stack`, each part of letters,
 * digits, `-`, `_` and `.` (never `.` or `..` alone: fleet keeps per-stack files under it).
 */
export const STACK_NAME = /^(?:[A-Za-z0-9_.-]{1,100}\/){0,2}[A-Za-z0-9_.-]{1,100}$/;

export function validateStackName(key: string, value: unknown): string {
  if (
    typeof value !== "string" ||
    !STACK_NAME.test(value) ||
    value.split("/").some((part) => part === "." || part === "..") ||
    looksLikeCredential(value) // it would be printed in progress lines and paths
  ) {
    throw new FleetConfigError(
      key,
      value,
      "a stack name is `stack`, `org/stack` or `org/project/stack`, each part of letters, digits, '-', '_' and '.' (at most 100 characters)",
      "invalid stack name:",
    );
  }
  return value;
}

/** Abstract sizes, accepted wherever a size is, mapped per cloud in `config/<cloud>.yaml`. */
export const ABSTRACT_SIZES = ["small", "medium", "large"] as const;
export type AbstractSize = (typeof ABSTRACT_SIZES)[number];

export function isAbstractSize(value: string): value is AbstractSize {
  return (ABSTRACT_SIZES as readonly string[]).includes(value);
}

/** Provider size, region and image identifiers: no spaces or control characters, at most 128 chars. */
export const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:/*+@-]{0,127}$/;

export function validateIdentifier(key: string, value: unknown, what: string): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    throw new FleetConfigError(
      key,
      value,
      `a ${what} is a provider identifier: letters, digits and . _ : / * + @ -, at most 128 characters`,
      `invalid ${what}:`,
    );
  }
  return value;
}

/**
 * Validates a CIDR block (IPv4 `203.0.113.0/24` or IPv6 `2001:db8::/32`) and returns it
 * normalised (trimmed). A bare address is refused so nobody opens more than they meant to.
 */
export function validateCidr(key: string, value: unknown): string {
  const allowed = "a CIDR block such as 203.0.113.7/32 or 2001:db8::/48";
  if (typeof value !== "string") throw new FleetConfigError(key, value, allowed, "invalid CIDR:");
  const match = /^([^/\s]+)\/(\d{1,3})$/.exec(value.trim());
  if (!match) throw new FleetConfigError(key, value, allowed, "invalid CIDR:");
  // net.isIP accepts an IPv6 zone index (`fe80::1%eth0`), which no cloud's firewall does.
  const family = match[1].includes("%") ? 0 : net.isIP(match[1]);
  const prefix = Number(match[2]);
  const max = family === 4 ? 32 : 128;
  if (
    family === 0 ||
    prefix > max ||
    (family === 4 && match[1].split(".").some((o) => /^0\d/.test(o)))
  ) {
    throw new FleetConfigError(key, value, allowed, "invalid CIDR:");
  }
  return value.trim();
}

/** An OpenSSH public key line: type, base64 body, optional comment. */
const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]{0,256})?$/;

export function validateSshPublicKey(key: string, value: unknown): string {
  if (typeof value !== "string" || !SSH_PUBLIC_KEY.test(value.trim())) {
    throw new FleetConfigError(
      key,
      value,
      "an OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nz… me@laptop' (the .pub file, never the private key)",
      "invalid SSH public key:",
    );
  }
  return value.trim();
}

/** Tag keys and values: safe for every cloud's tag rules. */
export const TAG_PART = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/;

export function validateTag(key: string, tagKey: string, tagValue: unknown): [string, string] {
  const allowed =
    "tag keys and values use letters, digits and _ . : -, start with a letter or digit, at most 63 characters";
  if (!TAG_PART.test(tagKey)) throw new FleetConfigError(key, tagKey, allowed, "invalid tag key:");
  if (typeof tagValue !== "string" || !TAG_PART.test(tagValue)) {
    throw new FleetConfigError(`${key}.${tagKey}`, tagValue, allowed, "invalid tag value:");
  }
  return [tagKey, tagValue];
}

const NAME_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * A random worker name of 10 characters from A–Z and 0–9, as the seed makes them; uniform,
 * from a cryptographic source unless a test passes its own.
 */
export function randomWorkerName(randomInt: (max: number) => number = crypto.randomInt): string {
  let name = "";
  for (let i = 0; i < 10; i++) name += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return name;
}
