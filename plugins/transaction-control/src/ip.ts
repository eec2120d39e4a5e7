import net from 'node:net';

/**
 * IP helpers. Addresses are compared as 128-bit numbers written as 32 lower-case hex digits, IPv4 mapped into
 * ::ffff:0:0/96, so a range lookup is a plain string comparison in SQL on both SQLite and PostgreSQL.
 */

/** '::ffff:1.2.3.4' → '1.2.3.4'; other addresses unchanged (trimmed); null when not an IP address. */
export function normalizeIp(ip: string | undefined | null): string | null {
  if (!ip) return null;
  let s = ip.trim();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped) s = mapped[1]!;
  return net.isIP(s) ? s.toLowerCase() : null;
}

function v4ToBig(ip: string): bigint {
  return ip.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function v6ToBig(ip: string): bigint {
  let s = ip;
  // Embedded IPv4 tail (e.g. ::ffff:1.2.3.4, 64:ff9b::1.2.3.4).
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (tail) {
    const v = v4ToBig(tail[1]!);
    s = s.slice(0, -tail[1]!.length) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

const V4_MAPPED = 0xffffn << 32n;

/** The 128-bit number of an address (IPv4 mapped). */
export function ipToBig(ip: string): bigint {
  const n = normalizeIp(ip);
  if (!n) throw new RangeError('not an IP address');
  return net.isIPv4(n) ? V4_MAPPED | v4ToBig(n) : v6ToBig(n);
}

export const hex128 = (v: bigint): string => v.toString(16).padStart(32, '0');

export function ipHex(ip: string): string | null {
  const n = normalizeIp(ip);
  return n ? hex128(ipToBig(n)) : null;
}

export interface Cidr { address: string; prefix: number; family: 'ipv4' | 'ipv6' }

/** Parses '10.0.0.0/8', '2001:db8::/32' or a single address (a /32 or /128); null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const [addr, len, extra] = text.trim().split('/');
  if (extra !== undefined || !addr) return null;
  const a = normalizeIp(addr);
  if (!a) return null;
  const family = net.isIPv4(a) ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address: a, prefix, family };
}

/** First and last address of a CIDR range as 32-hex-digit strings. */
export function cidrRange(c: Cidr): { start: string; end: string } {
  const bits = c.family === 'ipv4' ? 96 + c.prefix : c.prefix;
  const hostBits = BigInt(128 - bits);
  const all = (1n << 128n) - 1n;
  const hostMask = (1n << hostBits) - 1n;
  const v = ipToBig(c.address);
  const start = v & (all ^ hostMask);
  return { start: hex128(start), end: hex128(start | hostMask) };
}

/** A node:net BlockList over CIDR texts (already validated). */
export function blockListOf(cidrs: readonly string[]): net.BlockList {
  const bl = new net.BlockList();
  for (const t of cidrs) {
    const c = parseCidr(t);
    if (c) bl.addSubnet(c.address, c.prefix, c.family);
  }
  return bl;
}

export function inBlockList(bl: net.BlockList, ip: string): boolean {
  const n = normalizeIp(ip);
  if (!n) return false;
  return bl.check(n, net.isIPv4(n) ? 'ipv4' : 'ipv6');
}
