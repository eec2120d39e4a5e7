import pino, { type Logger, type DestinationStream } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'res.headers["set-cookie"]',
  'headers.authorization', 'authorization',
  '*.number', '*.card_number', '*.pan', '*.cvc', '*.cvv', '*.cvv2', '*.password', '*.secret', '*.secret_key',
  '*.token', '*.key', '*.api_key', '*.passphrase', '*.private_key',
  'card', '*.card', 'body.card', 'body.cvc', 'body.password',
];

/** Digit runs that look like card numbers (13–19 digits, optionally spaced) are masked in every message. */
const PAN_RE = /\b(?:\d[ -]?){12,18}\d\b/g;

export function scrubText(s: string): string {
  return s.replace(PAN_RE, (m) => {
    const d = m.replace(/\D/g, '');
    return d.length >= 13 ? `${d.slice(0, 6)}******${d.slice(-4)}` : m;
  }).replace(/\b(sk_(?:test|live)_)[A-Za-z0-9]+/g, '$1***').replace(/\b(whsec_)[A-Za-z0-9+/=]+/g, '$1***');
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({
    level,
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      logMethod(args, method) {
        // Scrub message strings (the object argument is covered by `redact`).
        const a = args.map((x) => (typeof x === 'string' ? scrubText(x) : x)) as Parameters<typeof method>;
        method.apply(this, a);
      },
    },
  }, destination);
}
