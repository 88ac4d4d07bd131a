import type { Config } from "../config/config.ts";
import type { Runtime } from "../db/runtime.ts";
import { parseIpAddress, refusedAddressRange } from "../ground/ip_addresses.ts";

/**
 * Where a webhook may go. A URL is checked when it is registered and again before every
 * delivery: https:// (http:// too outside production), a host name with a dot or an IP
 * address, and every address the name resolves to public. The delivery then connects to the
 * address it checked (outbound_http.ts), never to a second lookup's answer, so a name that
 * resolves to a public address when checked and to 127.0.0.1 a moment later (DNS rebinding)
 * still reaches only the address that was checked.
 */

export interface WebhookDestination {
  url: URL;
  /** The host as the URL names it, without IPv6 brackets: the Host header's and TLS's name. */
  host: string;
  port: number;
  tls: boolean;
}

/** Why this URL cannot be an endpoint (before any lookup), or its parts. */
export function webhookDestination(
  config: Config,
  text: string,
): { destination: WebhookDestination } | { problem: string } {
  if (!URL.canParse(text)) return { problem: "Not a URL." };
  const url = new URL(text);
  const production = config.LATCHKEY_ENV === "production";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && !production)) {
    return {
      problem: production
        ? "Use an https:// URL: deliveries carry audit data."
        : "Use an https:// URL (http:// only outside production).",
    };
  }
  if (url.username || url.password) {
    return { problem: "No user name or password in the URL: the signature authenticates us." };
  }
  if (url.hash) return { problem: "No #fragment: it is never sent." };
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!parseIpAddress(host) && !host.includes(".")) {
    return { problem: "Use a fully qualified host name (with a dot) or an IP address." };
  }
  return {
    destination: {
      url,
      host,
      port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
      tls: url.protocol === "https:",
    },
  };
}

/** Names that are never public (RFC 6761, 2606, 6762, 8375, and ICANN's .internal). */
function reservedName(host: string): "loopback" | "unresolvable" | null {
  const name = host.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return "loopback";
  const reservedSuffixes = [".test", ".invalid", ".example", ".local", ".internal", ".home.arpa"];
  const documentation = ["example.com", "example.net", "example.org"];
  if (
    reservedSuffixes.some((suffix) => name.endsWith(suffix)) ||
    documentation.some((domain) => name === domain || name.endsWith(`.${domain}`))
  ) {
    return "unresolvable";
  }
  return null;
}

/**
 * The system's resolver: A and AAAA records (Deno.resolveDns, which the edge runtime has too).
 * The documentation and special-use domains are answered (nothing) without asking anyone, so no
 * example or typo sends a query.
 */
async function systemResolve(host: string): Promise<string[]> {
  if (reservedName(host) === "unresolvable") return [];
  const answers = await Promise.allSettled([
    Deno.resolveDns(host, "A"),
    Deno.resolveDns(host, "AAAA"),
  ]);
  return answers.flatMap((answer) => answer.status === "fulfilled" ? answer.value : []);
}

/** Gives up after `ms` (a resolver that never answers must not hold a delivery). */
async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** An address the configuration lets tests reach although its range is refused. */
function allowedByConfig(config: Config, address: string): boolean {
  const bytes = parseIpAddress(address);
  return config.LATCHKEY_WEBHOOK_ALLOW_ADDRESSES.some((allowed) => {
    const other = parseIpAddress(allowed);
    return other !== null && bytes !== null && other.length === bytes.length &&
      other.every((byte, i) => byte === bytes[i]);
  });
}

/**
 * The addresses to connect to, every one checked; or why not. A name with any refused address
 * is refused whole: its owner controls which one a client would pick.
 */
export async function checkedAddresses(
  runtime: Pick<Runtime, "config" | "network">,
  destination: WebhookDestination,
  timeoutMs = 2000,
): Promise<{ addresses: string[] } | { problem: string }> {
  // localhost is loopback by definition (RFC 6761), whatever a resolver would say.
  const literal = parseIpAddress(destination.host)
    ? [destination.host]
    : reservedName(destination.host) === "loopback"
    ? ["127.0.0.1", "::1"]
    : null;
  let addresses: string[];
  try {
    addresses = literal ?? await within(
      (runtime.network?.resolve ?? systemResolve)(destination.host),
      timeoutMs,
      "resolving the host",
    );
  } catch (error) {
    return { problem: `The host could not be resolved: ${(error as Error).message}.` };
  }
  if (addresses.length === 0) return { problem: "The host does not resolve to any address." };
  for (const address of addresses) {
    const refused = refusedAddressRange(address);
    if (refused && !allowedByConfig(runtime.config, address)) {
      return {
        problem: `The host resolves to ${address} (${refused}), which webhooks may not reach.`,
      };
    }
  }
  return { addresses };
}
