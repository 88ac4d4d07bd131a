/**
 * IP addresses as text, parsed to bytes, and the ranges an outbound request of ours must never
 * reach (webhook deliveries): this machine, the private networks around it, link-local and the
 * cloud metadata service, CGNAT, multicast, and everything not routable on the internet.
 */

/** 4 bytes for IPv4, 16 for IPv6; null for anything else (a zone id such as %eth0 included). */
export function parseIpAddress(text: string): Uint8Array | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

export function isIpAddress(text: string): boolean {
  return parseIpAddress(text) !== null;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    // Decimal only, no leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  // An IPv4 address in the last 32 bits (::ffff:1.2.3.4) becomes its two groups.
  let hex = text;
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return null;
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return null;
    hex = text.slice(0, lastColon + 1) + ((v4[0] << 8) | v4[1]).toString(16) + ":" +
      ((v4[2] << 8) | v4[3]).toString(16);
  }
  const halves = hex.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  if (![...left, ...right].every((group) => /^[0-9a-fA-F]{1,4}$/.test(group))) return null;
  const given = left.length + right.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const words = [
    ...left.map((group) => parseInt(group, 16)),
    ...Array(8 - given).fill(0),
    ...right.map((group) => parseInt(group, 16)),
  ];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 255;
  });
  return bytes;
}

/** `[first address, prefix length, what it is]`, checked in order (the named ones first). */
type Range = [string, number, string];

const ipv4Refused: Range[] = [
  ["169.254.169.254", 32, "the cloud metadata service"],
  ["0.0.0.0", 8, "unspecified ('this network')"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared address space (CGNAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "6to4 relay anycast"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved (broadcast included)"],
];

const ipv6Refused: Range[] = [
  ["fd00:ec2::254", 128, "the cloud metadata service"],
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["64:ff9b:1::", 48, "local-use NAT64"],
  ["100::", 64, "discard-only"],
  ["2001::", 32, "Teredo"],
  ["2001:db8::", 32, "documentation"],
  ["fc00::", 7, "unique local (private)"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local"],
  ["ff00::", 8, "multicast"],
];

function inRange(bytes: Uint8Array, [first, prefix]: Range): boolean {
  const base = parseIpAddress(first)!;
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((bytes[bit >> 3] & mask) !== (base[bit >> 3] & mask)) return false;
  }
  return true;
}

/**
 * Why an address may not be reached (`"private"`, `"loopback"`, …), or null for a public one.
 * IPv6 that carries an IPv4 address (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16)
 * is judged by that address; any other IPv6 outside global unicast (2000::/3) is refused.
 * Text that is no address at all is refused as such.
 */
export function refusedAddressRange(address: string): string | null {
  const bytes = parseIpAddress(address);
  if (!bytes) return "not an IP address";
  if (bytes.length === 4) {
    return ipv4Refused.find((range) => inRange(bytes, range))?.[2] ?? null;
  }
  const embedded = inRange(bytes, ["::ffff:0:0", 96, ""]) || inRange(bytes, ["64:ff9b::", 96, ""])
    ? bytes.slice(12)
    : inRange(bytes, ["2002::", 16, ""])
    ? bytes.slice(2, 6)
    : null;
  if (embedded) return refusedAddressRange(embedded.join("."));
  const named = ipv6Refused.find((range) => inRange(bytes, range));
  if (named) return named[2];
  return inRange(bytes, ["2000::", 3, ""]) ? null : "reserved (not global unicast)";
}
