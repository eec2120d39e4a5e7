/** Server-rendered SVG bar charts (no script). Text is escaped here because the SVG is inserted unescaped. */
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface Bar { label: string; value: number | null; display: string }

export function barChart(o: { id: string; title: string; bars: Bar[]; max?: number; color?: string; empty: string }): string {
  const w = 700, h = 220, top = 20, bottom = 40, left = 10;
  const max = o.max ?? Math.max(1, ...o.bars.map((b) => b.value ?? 0));
  const slot = (w - left * 2) / Math.max(1, o.bars.length);
  const bw = Math.max(4, slot * 0.7);
  const hasData = o.bars.some((b) => b.value !== null && b.value > 0);
  const desc = o.bars.filter((b) => b.value !== null).map((b) => `${b.label}: ${b.display}`).join('; ') || o.empty;
  let body = '';
  o.bars.forEach((b, i) => {
    const x = left + i * slot + (slot - bw) / 2;
    const v = b.value ?? 0;
    const bh = Math.round(((h - top - bottom) * v) / max);
    const y = h - bottom - bh;
    body += `<g><title>${esc(`${b.label}: ${b.display}`)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${bw.toFixed(1)}" height="${bh}" fill="${o.color ?? '#2b6cb0'}"/>`;
    if (i % 2 === 0 || o.bars.length <= 7) body += `<text x="${(x + bw / 2).toFixed(1)}" y="${h - bottom + 16}" font-size="12" text-anchor="middle" fill="#333">${esc(b.label)}</text>`;
    body += '</g>';
  });
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-labelledby="${o.id}-t ${o.id}-d" xmlns="http://www.w3.org/2000/svg">`
    + `<title id="${o.id}-t">${esc(o.title)}</title><desc id="${o.id}-d">${esc(desc)}</desc>`
    + `<line x1="${left}" y1="${h - bottom}" x2="${w - left}" y2="${h - bottom}" stroke="#999"/>${body}`
    + (hasData ? '' : `<text x="${w / 2}" y="${h / 2}" text-anchor="middle" font-size="16" fill="#666">${esc(o.empty)}</text>`)
    + '</svg>';
}
