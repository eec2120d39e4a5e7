import type { DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';
import { TOKENS, type DashboardPanel, type PanelData } from '@payhub/core';

/** A panel as the dashboard lists it: id, audience and the title in the page's language. */
export interface PanelLink { id: string; title: string; audience: 'merchant' | 'operator' }

const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
const QUERY_KEY = /^[a-z0-9_]{1,40}$/;
export const PANEL_LIMIT = 50;

const text = (v: unknown, max = 500): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v)).slice(0, max);

/**
 * The panels other plugins registered under TOKENS.DashboardPanel, resolved once (after every plugin registered).
 * Panels with an invalid id or audience, or a duplicate id, are left out (logged once).
 */
export class PanelRegistry {
  private list: DashboardPanel[] | null = null;

  constructor(private readonly container: DependencyContainer, private readonly logger: Logger) {}

  all(): DashboardPanel[] {
    if (this.list) return this.list;
    let found: DashboardPanel[] = [];
    try {
      found = this.container.isRegistered(TOKENS.DashboardPanel, true) ? this.container.resolveAll(TOKENS.DashboardPanel) : [];
    } catch (e) {
      this.logger.error({ err: (e as Error).message }, 'dashboard: the panels of other plugins could not be built');
    }
    const seen = new Set<string>();
    const ok: DashboardPanel[] = [];
    for (const p of found) {
      if (!p || typeof p.id !== 'string' || !ID.test(p.id) || (p.audience !== 'merchant' && p.audience !== 'operator') || typeof p.load !== 'function') {
        this.logger.warn({ panel: typeof p?.id === 'string' ? p.id.slice(0, 64) : null }, 'dashboard: a panel with an invalid id, audience or load() is left out');
        continue;
      }
      if (seen.has(p.id)) {
        this.logger.warn({ panel: p.id }, 'dashboard: a second panel with this id is left out');
        continue;
      }
      seen.add(p.id);
      ok.push(p);
    }
    this.list = ok;
    return ok;
  }

  /** The panels of one audience (merchant users see merchant panels, the operator operator panels). */
  forAudience(audience: 'merchant' | 'operator', lang: string): PanelLink[] {
    return this.all().filter((p) => p.audience === audience).map((p) => ({ id: p.id, audience: p.audience, title: titleOf(p, lang) }));
  }

  find(id: string, audience: 'merchant' | 'operator'): DashboardPanel | null {
    return this.all().find((p) => p.id === id && p.audience === audience) ?? null;
  }
}

export function titleOf(p: DashboardPanel, lang: string): string {
  const t = p.title ?? {};
  return text(t[lang] ?? t.en ?? Object.values(t)[0] ?? p.id, 200) || p.id;
}

/** The query a panel receives: string parameters with plain names, `lang` removed, values bounded. */
export function panelQuery(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(query)) {
    if (k === 'lang' || !QUERY_KEY.test(k) || typeof v !== 'string') continue;
    if (++n > 20) break;
    out[k] = v.trim().slice(0, 200);
  }
  return out;
}

/** What a panel returned, reduced to the documented shape (plain strings and numbers; bounded sizes). */
export function normalizePanelData(d: PanelData | null | undefined, limit: number): Required<Omit<PanelData, 'note'>> & { note: string | null } {
  const columns = (Array.isArray(d?.columns) ? d!.columns : []).slice(0, 30)
    .filter((c) => c && typeof c.key === 'string').map((c) => ({ key: c.key, label: text(c.label, 200) }));
  const rows = (Array.isArray(d?.rows) ? d!.rows : []).slice(0, limit).map((r) => {
    const row: Record<string, string | number | null> = {};
    for (const c of columns) {
      const v = r && typeof r === 'object' ? (r as Record<string, unknown>)[c.key] : null;
      row[c.key] = typeof v === 'number' && Number.isFinite(v) ? v : v === null || v === undefined ? null : text(v, 2000);
    }
    return row;
  });
  const summary = (Array.isArray(d?.summary) ? d!.summary : []).slice(0, 30).map((s) => ({ label: text(s?.label, 200), value: text(s?.value, 200) }));
  const filters = (Array.isArray(d?.filters) ? d!.filters : []).slice(0, 10)
    .filter((f) => f && typeof f.key === 'string' && QUERY_KEY.test(f.key) && Array.isArray(f.options))
    .map((f) => ({ key: f.key, label: text(f.label, 200), options: f.options.slice(0, 100).map((o) => ({ value: text(o?.value, 200), label: text(o?.label, 200) })) }));
  return { summary, columns, rows, filters, note: d?.note ? text(d.note, 2000) : null };
}
