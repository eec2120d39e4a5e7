/** Reading provider form posts exactly as they travelled (raw body, no re-formatting). */

/**
 * Parses an application/x-www-form-urlencoded body into single string values.
 * Returns null when a key repeats (an ambiguous message is never trusted).
 */
export function parseForm(raw: string): Record<string, string> | null {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(raw)) {
    if (Object.prototype.hasOwnProperty.call(out, k)) return null;
    out[k] = v;
  }
  return out;
}

/** The form fields of a koa request: the raw body when the core kept it, else the parsed flat body. */
export function formOf(request: unknown): Record<string, string> | null {
  const r = request as { rawBody?: unknown; body?: unknown };
  if (typeof r.rawBody === 'string') return parseForm(r.rawBody);
  if (r.body && typeof r.body === 'object') {
    const out: Record<string, string> = Object.create(null);
    for (const [k, v] of Object.entries(r.body as Record<string, unknown>)) {
      if (typeof v !== 'string') return null;
      out[k] = v;
    }
    return out;
  }
  return null;
}
