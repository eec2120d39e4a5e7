import { z } from 'zod';

export const personalAccountOptions = z.object({
  /** Port of the mutual-TLS listener (0 = any free port, null = no listener). */
  mtlsPort: z.number().int().min(0).max(65535).nullable().default(8443),
  mtlsHost: z.string().min(1).default('0.0.0.0'),
  /** Public origin of the mutual-TLS listener, e.g. https://pay.example.com:8443 (default: the hub's host and mtlsPort). */
  mtlsPublicUrl: z.url({ protocol: /^https$/ }).optional(),
  /** Host names / IPs in the listener's certificate when it is issued by our CA. */
  mtlsHostnames: z.array(z.string().min(1)).min(1).default(['localhost', '127.0.0.1']),
  /** A TLS server certificate and key for the listener instead of one issued by our CA (PEM). */
  serverCertPem: z.string().optional(),
  serverKeyPem: z.string().optional(),
  /** Import this CA (PEM) on first start instead of generating one. The key is then stored encrypted. */
  caCertPem: z.string().optional(),
  caKeyPem: z.string().optional(),
  caCommonName: z.string().min(1).max(64).default('Payhub Personal Accounts CA'),
  caKeyBits: z.union([z.literal(3072), z.literal(4096)]).default(3072),
  caLifetimeDays: z.number().int().min(30).max(36500).default(3650),
  /** Lifetime of an issued client certificate (a request may ask for less). */
  certLifetimeDays: z.number().int().min(1).max(3650).default(365),
  /** Key size of key pairs the hub generates for PKCS#12 bundles. */
  generatedKeyBits: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]).default(2048),
  /** PBKDF2 iterations of the PKCS#12 key encryption and MAC (OWASP: ≥ 600,000 for PBKDF2-HMAC-SHA256). */
  p12Iterations: z.number().int().min(100_000).max(10_000_000).default(600_000),
  /** How old a signed request may be, in seconds (future skew allowed: 60 s). */
  signatureMaxAgeSeconds: z.number().int().min(30).max(3600).default(300),
  /** How long the next CRL is announced for (nextUpdate), in seconds. */
  crlValiditySeconds: z.number().int().min(60).max(30 * 86400).default(86400),
}).refine((o) => !!o.caCertPem === !!o.caKeyPem, { message: 'caCertPem and caKeyPem go together', path: ['caKeyPem'] })
  .refine((o) => !!o.serverCertPem === !!o.serverKeyPem, { message: 'serverCertPem and serverKeyPem go together', path: ['serverKeyPem'] });

export type PersonalAccountOptions = z.output<typeof personalAccountOptions>;
