import { z } from "zod";
import { parseIpAddress } from "../ground/ip_addresses.ts";
import type { AppContext } from "../http/context.ts";
import { clientIp } from "../http/request.ts";

/**
 * A key's network limits: the client networks (CIDR) and browser origins it may be used from.
 * The key check (SQL, `latchkey.key_network_refusal`) decides; this module shapes what goes in
 * and says where a use comes from.
 */

export const maxAllowedNetworks = 64;
export const maxAllowedOrigins = 32;

/**
 * Where a key is used from, checked against its limits: the client's address and the Origin it
 * presented. Null: not known (a limited key is then refused).
 */
export interface KeyUse {
  clientAddress: string | null;
  origin: string | null;
}

/**
 * An address as PostgreSQL's `inet` reads it: IPv4 dotted, an IPv4-mapped IPv6 address
 * (::ffff:192.0.2.1, what a dual-stack socket reports) as its IPv4 address, other IPv6 as eight
 * groups; null for anything else (a zone id, a port, a name, garbage from a header).
 */
export function canonicalIpAddress(text: string | null | undefined): string | null {
  if (!text) return null;
  const bytes = parseIpAddress(text.trim());
  if (!bytes) return null;
  const mapped = bytes.length === 16 && bytes.slice(0, 10).every((byte) => byte === 0) &&
    bytes[10] === 0xff && bytes[11] === 0xff;
  if (bytes.length === 4 || mapped) return [...bytes.slice(-4)].join(".");
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  return groups.map((group) => group.toString(16)).join(":");
}

/** An Origin as compared with a key's list: lower case, at most 300 characters; else null. */
function presentedOrigin(text: string | null | undefined): string | null {
  const origin = text?.trim().toLowerCase();
  return origin ? origin.slice(0, 300) : null;
}

/** Where a request using a key directly on Latchkey's routes comes from. */
export function keyUseOf(c: AppContext): KeyUse {
  return {
    clientAddress: canonicalIpAddress(clientIp(c)),
    origin: presentedOrigin(c.req.header("origin")),
  };
}

/** What a team's server passes to POST /keys/verify about its own client. */
export function keyUseFrom(body: { clientAddress?: string; origin?: string }): KeyUse {
  return {
    clientAddress: canonicalIpAddress(body.clientAddress),
    origin: presentedOrigin(body.origin),
  };
}

/** `a.b.c.d/n` or `x:y::/n` (or an address alone: /32, /128), the host bits zero. */
function cidrProblem(text: string): string | null {
  const [address, prefix, ...rest] = text.split("/");
  const bytes = parseIpAddress(address);
  if (!bytes || rest.length > 0) {
    return "Not a network: give an address and a prefix length, as 203.0.113.0/24 or " +
      "2001:db8::/32.";
  }
  const bits = bytes.length * 8;
  if (prefix === undefined) return null;
  if (!/^(0|[1-9]\d{0,2})$/.test(prefix) || Number(prefix) > bits) {
    return `The prefix length must be 0 to ${bits}.`;
  }
  const length = Number(prefix);
  const network = bytes.map((byte, i) => {
    const kept = Math.min(8, Math.max(0, length - i * 8));
    return byte & (0xff << (8 - kept)) & 0xff;
  });
  if (network.some((byte, i) => byte !== bytes[i])) {
    const shown = canonicalIpAddress(
      bytes.length === 4
        ? network.join(".")
        : Array.from({ length: 8 }, (_, i) => ((network[2 * i] << 8) | network[2 * i + 1]))
          .map((group) => group.toString(16)).join(":"),
    );
    return `Bits are set after the prefix: the network is ${shown}/${length}.`;
  }
  return null;
}

/** Client networks, in CIDR notation (PostgreSQL's `cidr` stores them); empty: any address. */
export const allowedNetworksSchema = z.array(
  z.string().max(64).superRefine((text, context) => {
    const problem = cidrProblem(text);
    if (problem) context.addIssue({ code: "custom", message: problem });
  }),
).max(maxAllowedNetworks, `At most ${maxAllowedNetworks} networks.`).meta({
  description: "Client networks the key may be used from (CIDR, IPv4 or IPv6; an address alone " +
    "is one host). Empty or absent: any address.",
  examples: [["203.0.113.0/24", "2001:db8::/32"]],
});

const defaultPorts: Record<string, string> = { "http:": "80", "https:": "443" };

/**
 * An origin as browsers send it: `scheme://host[:port]`, no path, query or user; lower case and
 * a default port left out, so it compares equal to a browser's Origin header.
 */
function normalOrigin(text: string): string | null {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i
    .exec(text.trim());
  if (!match) return null;
  const scheme = match[1].toLowerCase();
  const host = match[2].toLowerCase();
  if (host.startsWith(".") || host.endsWith(".") || host.includes("..")) return null;
  const port = match[3];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535 || port.startsWith("0"))) {
    return null;
  }
  const shownPort = port === undefined || defaultPorts[`${scheme}:`] === port ? "" : `:${port}`;
  return `${scheme}://${host}${shownPort}`;
}

/** Browser origins; empty: any (or none). */
export const allowedOriginsSchema = z.array(
  z.string().max(300).transform((text, context) => {
    const origin = normalOrigin(text);
    if (origin === null) {
      context.addIssue({
        code: "custom",
        message: "Not an origin: give scheme://host[:port] with no path, as " +
          "https://app.example.com.",
      });
      return z.NEVER;
    }
    return origin;
  }),
).max(maxAllowedOrigins, `At most ${maxAllowedOrigins} origins.`).meta({
  description: "Browser origins the key may be used from (scheme://host[:port]). When set, " +
    "every use must present one of them as its Origin: a request without an Origin header " +
    "(a server's) is refused. Empty or absent: any origin, or none.",
  examples: [["https://app.example.com"]],
});

/** The two lists as a key's create or change body takes them. */
export const networkLimitFields = {
  allowedNetworks: allowedNetworksSchema.optional(),
  allowedOrigins: allowedOriginsSchema.optional(),
};

/** Why a key check refused a use: the SQL's `network_refusal`. */
export type NetworkRefusal =
  | "address_not_allowed"
  | "origin_not_allowed"
  | "address_missing"
  | "origin_missing";

/**
 * What a refused use is told. `fields` names what was missing as the request gives it: the
 * verify body's fields, or (a key used directly) the request's own address and Origin header.
 */
export function networkRefusalMessage(
  refusal: string | null,
  use: KeyUse,
  fields: "verify" | "request",
): string {
  switch (refusal as NetworkRefusal) {
    case "address_missing":
      return fields === "verify"
        ? "This key may be used only from certain networks: send the client's address as " +
          "`clientAddress`."
        : "This key may be used only from certain networks, and this request's address " +
          "could not be read.";
    case "origin_missing":
      return fields === "verify"
        ? "This key may be used only from certain browser origins: send the client's Origin " +
          "header as `origin`."
        : "This key may be used only from certain browser origins: the request must carry " +
          "one of them as its Origin header.";
    case "origin_not_allowed":
      return `This key may not be used from the origin ${use.origin}.`;
    default:
      return `This key may not be used from ${use.clientAddress ?? "this address"}.`;
  }
}
