import { PolicyResult } from './simulate';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A small hand-written SVG scatter chart: cost relative to all on-demand (x) against availability (y),
 * one labelled point per policy. No dependency.
 */
export function renderCostAvailabilityChart(results: readonly PolicyResult[], title = 'Cost vs availability'): string {
  const W = 640;
  const H = 400;
  const m = { left: 70, right: 30, top: 40, bottom: 50 };
  const minA = Math.min(0.9, ...results.map((r) => r.availability));
  const yLo = Math.max(0, Math.floor(minA * 20) / 20);
  const x = (c: number): number => m.left + (Math.min(Math.max(c, 0), 1.1) / 1.1) * (W - m.left - m.right);
  const y = (a: number): number => m.top + (1 - (a - yLo) / (1 - yLo)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (let i = 0; i <= 11; i++) {
    const c = i / 10;
    parts.push(`<line x1="${x(c)}" y1="${m.top}" x2="${x(c)}" y2="${H - m.bottom}" stroke="#eee"/>`);
    if (i % 2 === 0) parts.push(`<text x="${x(c)}" y="${H - m.bottom + 16}" text-anchor="middle">${c.toFixed(1)}</text>`);
  }
  const steps = 5;
  for (let i = 0; i <= steps; i++) {
    const a = yLo + ((1 - yLo) * i) / steps;
    parts.push(`<line x1="${m.left}" y1="${y(a)}" x2="${W - m.right}" y2="${y(a)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y(a) + 4}" text-anchor="end">${a.toFixed(3)}</text>`);
  }
  parts.push(`<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="black"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="black"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 12}" text-anchor="middle">cost relative to all on-demand (lower is better)</text>`);
  parts.push(`<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">availability (higher is better)</text>`);
  const colors = ['#444', '#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd'];
  results.forEach((r, i) => {
    const cx = x(r.relativeCost);
    const cy = y(Math.max(r.availability, yLo));
    parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="6" fill="${colors[i % colors.length]}"><title>${esc(`${r.policy}: cost ${r.relativeCost.toFixed(3)}, availability ${r.availability.toFixed(4)}`)}</title></circle>`);
    // legend in the lower right (high cost, low availability: where no sensible policy sits)
    const ly = H - m.bottom - 14 - (results.length - 1 - i) * 16;
    const lx = W - m.right - 190;
    parts.push(`<circle cx="${lx}" cy="${ly - 4}" r="5" fill="${colors[i % colors.length]}"/>`);
    parts.push(`<text x="${lx + 10}" y="${ly}">${esc(`${r.policy}: ${r.relativeCost.toFixed(3)} / ${r.availability.toFixed(4)}`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
