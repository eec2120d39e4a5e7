import { ValidationError, type FieldError } from '@payhub/core';

/** A merchant's look of the payment page. Every field is optional; missing ones take the defaults. */
export interface Theme {
  logo_url?: string;
  colors?: { primary?: string; background?: string; text?: string; error?: string };
  font_stack?: string;
  radius?: number;
  custom_css?: string;
  frame_ancestors?: string[];
}

export const DEFAULT_COLORS = Object.freeze({ primary: '#1a56db', background: '#f4f5f7', text: '#1f2328', error: '#b42318' });
export const DEFAULT_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
export const DEFAULT_RADIUS = 8;
export const MAX_CUSTOM_CSS = 10 * 1024;
const MAX_LOGO = 64 * 1024;
const KEYS = new Set(['logo_url', 'colors', 'font_stack', 'radius', 'custom_css', 'frame_ancestors', 'template']);
const COLOR_KEYS = ['primary', 'background', 'text', 'error'] as const;
const HEX = /^#[0-9a-fA-F]{6}$/;
const FONT = /^[A-Za-z0-9 ,'"\-]{1,200}$/;
const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/;

function isHttpsUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && !/["'()\\\s<>]/.test(v);
  } catch {
    return false;
  }
}

/** Problems of a custom stylesheet, or none. The CSS is refused, never rewritten. */
export function cssProblems(css: string): string[] {
  const out: string[] = [];
  if (Buffer.byteLength(css, 'utf8') > MAX_CUSTOM_CSS) out.push(`must be at most ${MAX_CUSTOM_CSS} bytes`);
  if (css.includes('<')) out.push('must not contain "<"');
  // Escapes could spell a forbidden word in a way the checks below do not see.
  if (css.includes('\\')) out.push('must not contain backslash escapes');
  const flat = css.replace(/\/\*[\s\S]*?\*\//g, ' ').toLowerCase();
  if (/\/\*/.test(flat)) out.push('has an unterminated comment');
  if (/@import/.test(flat)) out.push('must not use @import');
  if (/expression\s*\(/.test(flat)) out.push('must not use expression()');
  if (/behaviou?r\s*:/.test(flat) || /-moz-binding/.test(flat)) out.push('must not use behavior or -moz-binding');
  if (/javascript:|vbscript:/.test(flat)) out.push('must not contain javascript: URLs');
  if (/@namespace|@charset/.test(flat)) out.push('must not use @namespace or @charset');
  const urlRe = /url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/g;
  let count = 0;
  for (let m = urlRe.exec(flat); m; m = urlRe.exec(flat)) {
    count++;
    const target = m[2]!.trim();
    if (!(target.startsWith('https://') || /^data:image\/(png|jpeg|gif|webp|svg\+xml)[;,]/.test(target))) {
      out.push('url() may only point to https: or data:image');
      break;
    }
  }
  if ((flat.match(/url\s*\(/g) ?? []).length !== count) out.push('url() must be written url("https://…")');
  if (/image-set\s*\(|\bsrc\s*\(/.test(flat)) out.push('must not use image-set() or src(); use url()');
  return [...new Set(out)];
}

/** Validates a theme body (PUT /v1/checkout-theme or a preview); throws ValidationError naming the fields. */
export function parseTheme(raw: unknown): Theme {
  const errors: FieldError[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError([{ field: '(body)', message: 'must be a JSON object' }]);
  const b = raw as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!KEYS.has(k)) errors.push({ field: k, message: 'unknown field' });
  if (b.template !== undefined && b.template !== null) {
    errors.push({ field: 'template', message: 'template overrides are not supported; use colors, font_stack, radius, logo_url and custom_css' });
  }
  const t: Theme = {};
  if (b.logo_url !== undefined && b.logo_url !== null) {
    const v = b.logo_url;
    if (typeof v !== 'string' || v.length > MAX_LOGO || !(isHttpsUrl(v) || DATA_IMAGE.test(v))) {
      errors.push({ field: 'logo_url', message: `must be an https URL or a base64 data:image URL of at most ${MAX_LOGO} characters` });
    } else t.logo_url = v;
  }
  if (b.colors !== undefined && b.colors !== null) {
    const c = b.colors;
    if (typeof c !== 'object' || Array.isArray(c)) errors.push({ field: 'colors', message: 'must be an object' });
    else {
      const colors: NonNullable<Theme['colors']> = {};
      for (const k of Object.keys(c)) {
        if (!(COLOR_KEYS as readonly string[]).includes(k)) errors.push({ field: `colors.${k}`, message: 'unknown colour' });
      }
      for (const k of COLOR_KEYS) {
        const v = (c as Record<string, unknown>)[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string' || !HEX.test(v)) errors.push({ field: `colors.${k}`, message: 'must be a colour as #rrggbb' });
        else colors[k] = v.toLowerCase();
      }
      t.colors = colors;
    }
  }
  if (b.font_stack !== undefined && b.font_stack !== null) {
    const v = b.font_stack;
    if (typeof v !== 'string' || !FONT.test(v)) errors.push({ field: 'font_stack', message: 'must be 1 to 200 characters of letters, digits, spaces, commas, quotes and dashes' });
    else t.font_stack = v;
  }
  if (b.radius !== undefined && b.radius !== null) {
    const v = b.radius;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 32) errors.push({ field: 'radius', message: 'must be a whole number of pixels from 0 to 32' });
    else t.radius = v;
  }
  if (b.custom_css !== undefined && b.custom_css !== null) {
    const v = b.custom_css;
    if (typeof v !== 'string') errors.push({ field: 'custom_css', message: 'must be a string' });
    else {
      for (const p of cssProblems(v)) errors.push({ field: 'custom_css', message: p });
      t.custom_css = v;
    }
  }
  if (b.frame_ancestors !== undefined && b.frame_ancestors !== null) {
    const v = b.frame_ancestors;
    if (!Array.isArray(v) || v.length > 10) errors.push({ field: 'frame_ancestors', message: 'must be a list of at most 10 https origins' });
    else {
      const list: string[] = [];
      v.forEach((o, i) => {
        let ok = false;
        if (typeof o === 'string') {
          try {
            const u = new URL(o);
            ok = u.protocol === 'https:' && u.origin === o.replace(/\/$/, '') && !o.includes('*');
          } catch {
            ok = false;
          }
        }
        if (!ok) errors.push({ field: `frame_ancestors.${i}`, message: 'must be an https origin such as https://shop.example' });
        else list.push(new URL(o as string).origin);
      });
      t.frame_ancestors = list;
    }
  }
  if (errors.length) throw new ValidationError(errors);
  return t;
}

/** The stylesheet of a theme: CSS custom properties read by checkout.css, then the merchant's own CSS. */
export function themeCss(theme: Theme | null): string {
  const c = { ...DEFAULT_COLORS, ...(theme?.colors ?? {}) };
  const lines = [
    ':root {',
    `  --ph-primary: ${c.primary};`,
    `  --ph-background: ${c.background};`,
    `  --ph-text: ${c.text};`,
    `  --ph-error: ${c.error};`,
    `  --ph-font: ${theme?.font_stack ?? DEFAULT_FONT};`,
    `  --ph-radius: ${theme?.radius ?? DEFAULT_RADIUS}px;`,
    '}',
  ];
  if (theme?.custom_css) lines.push('/* merchant CSS */', theme.custom_css);
  return lines.join('\n') + '\n';
}

/** frame-ancestors directive value. */
export function frameAncestors(theme: Theme | null): string {
  return theme?.frame_ancestors?.length ? theme.frame_ancestors.join(' ') : "'none'";
}

export function decodePreviewTheme(b64: unknown): Theme {
  if (typeof b64 !== 'string' || b64.length === 0 || b64.length > 40_000 || !/^[A-Za-z0-9_-]+={0,2}$/.test(b64)) {
    throw new ValidationError([{ field: 'theme', message: 'must be base64url-encoded JSON' }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError([{ field: 'theme', message: 'must be base64url-encoded JSON' }]);
  }
  return parseTheme(parsed);
}
