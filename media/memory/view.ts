// The memory panel's DOM: a summary line, a timeline of live bytes (SVG), one stacked bar per layer (by kind) with a
// peak mark, and a real <table> with the same numbers for screen readers (the charts are aria-hidden). Colors come
// from the VS Code theme through CSS classes (memory.css); nothing here sets inline handlers or inline styles
// through markup, so the Content Security Policy can forbid them.
import { MEMORY_KINDS } from '../../kernel/gpu/allocator.js';
import { formatBytes } from '../../kernel/gpu/format.js';
import type { RenderedTable } from './messages.js';
import type { PanelData, TimelinePoint } from './model.js';

const SVG = 'http://www.w3.org/2000/svg';
/** The timeline's drawing box; stretched to the panel's width (lines keep their width: non-scaling strokes). */
const W = 1000;
const H = 160;

export interface PanelState {
  notebook: string | null;
  /** 'running': a kernel with a device; 'stopped': none yet (or it exited); 'no-device': it has no GPU. */
  kernel: 'running' | 'stopped' | 'no-device';
  data: PanelData | null;
  points: TimelinePoint[];
}

/** Bytes as %memory's table shows them: '-' for none, else binary units. */
export function cellBytes(v: number): string {
  return v === 0 ? '-' : formatBytes(v);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, cls?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (cls) e.setAttribute('class', cls);
  return e;
}

export function render(root: HTMLElement, s: PanelState): void {
  const title = root.querySelector('#title')!;
  const summary = root.querySelector('#summary')!;
  const body = root.querySelector('#body')!;
  title.textContent = s.notebook ? `GPU memory: ${s.notebook}` : 'GPU memory';
  if (!s.notebook) return showEmpty(summary, body, 'Open an .llmnb notebook to see its kernel\'s GPU memory.');
  if (s.kernel === 'no-device') return showEmpty(summary, body, 'This notebook\'s kernel has no WebGPU device, so it holds no GPU memory.');
  if (s.kernel === 'stopped' || !s.data) return showEmpty(summary, body, 'No kernel runs for this notebook yet: run a cell to start one.');
  const d = s.data;
  summary.textContent = `live ${formatBytes(d.liveBytes)}, peak ${formatBytes(d.peakBytes)}, limit ${limitText(d)}`;
  body.replaceChildren(timeline(s.points, d), bars(d), table(s.notebook, d));
}

function showEmpty(summary: Element, body: Element, message: string): void {
  summary.textContent = message;
  body.replaceChildren();
}

function limitText(d: PanelData): string {
  if (d.limitBytes === null) return 'unknown';
  return `${formatBytes(d.limitBytes)} (${((100 * d.liveBytes) / d.limitBytes).toFixed(1)}% in use)`;
}

function timeline(points: TimelinePoint[], d: PanelData): HTMLElement {
  const section = el('section', 'timeline');
  section.setAttribute('aria-hidden', 'true');
  section.append(el('h2', undefined, 'Live bytes over time'));
  if (points.length === 0) return section;
  const t0 = points[0].t;
  const t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const top = Math.max(1, d.peakBytes, ...points.map((p) => p.max)) * 1.1;
  const x = (t: number) => ((t - t0) / (t1 - t0)) * W;
  const y = (b: number) => H - (b / top) * H;
  // Live bytes hold from one point to the next (a step area). A point's `max` (the most live at once since the
  // previous point, at most one push interval before it) is a spike drawn at the point.
  let live = `M0 ${H}`;
  let spikes = '';
  points.forEach((p, i) => {
    live += ` L${x(p.t)} ${y(i === 0 ? p.live : points[i - 1].live)} L${x(p.t)} ${y(p.live)}`;
    if (p.max > p.live) spikes += ` M${x(p.t)} ${y(Math.min(p.live, i === 0 ? p.live : points[i - 1].live))} L${x(p.t)} ${y(p.max)}`;
  });
  live += ` L${W} ${y(points[points.length - 1].live)} L${W} ${H} Z`;
  const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' }, 'plot');
  plot.append(svg('path', { d: live }, 'live-area'), svg('path', { d: spikes, 'vector-effect': 'non-scaling-stroke' }, 'max-line'),
    svg('line', { x1: 0, x2: W, y1: y(d.peakBytes), y2: y(d.peakBytes), 'vector-effect': 'non-scaling-stroke' }, 'peak-line'));
  if (d.limitBytes !== null && d.limitBytes <= top) {
    plot.append(svg('line', { x1: 0, x2: W, y1: y(d.limitBytes), y2: y(d.limitBytes), 'vector-effect': 'non-scaling-stroke' }, 'limit-line'));
  }
  const frame = el('div', 'plot-frame');
  const peakLabel = el('span', 'plot-label peak-label', `peak ${formatBytes(d.peakBytes)}`);
  peakLabel.style.top = `${(y(d.peakBytes) / H) * 100}%`;
  frame.append(plot, peakLabel);
  // The highest point shown, when it is not the allocator's peak (that one may predate the timeline).
  const highest = points.reduce((a, b) => (b.max > a.max ? b : a));
  if (highest.max < d.peakBytes) {
    const highLabel = el('span', 'plot-label high-label', `${formatBytes(highest.max)} at ${clock(highest.t)}`);
    highLabel.style.left = `${Math.min(75, (x(highest.t) / W) * 100)}%`;
    highLabel.style.top = `${(y(highest.max) / H) * 100}%`;
    frame.append(highLabel);
  }
  const axis = el('div', 'axis');
  axis.append(el('span', undefined, clock(t0)), el('span', undefined, `${((t1 - t0) / 1000).toFixed(1)} s`), el('span', undefined, clock(t1)));
  section.append(frame, axis);
  return section;
}

function clock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour12: false });
}

function bars(d: PanelData): HTMLElement {
  const section = el('section', 'layers');
  section.setAttribute('aria-hidden', 'true');
  section.append(el('h2', undefined, 'Per layer'), legend(d));
  // Scaled to the largest live layer, so that one layer's old peak (a load's staging chunk) does not flatten the
  // others; a peak beyond the scale sits at the end of its bar.
  const scale = Math.max(...d.layers.map((r) => r.total)) || Math.max(1, ...d.layers.map((r) => r.peak));
  const list = el('div', 'bars');
  for (const r of d.layers) {
    const bar = el('div', 'bar');
    for (const k of MEMORY_KINDS) {
      if (r.bytes[k] === 0) continue;
      const seg = el('span', `seg kind-${k}`);
      seg.style.width = `${(r.bytes[k] / scale) * 100}%`;
      seg.title = `${k}: ${formatBytes(r.bytes[k])} (${r.bytes[k]} bytes)`;
      bar.append(seg);
    }
    const mark = el('span', r.peak > scale ? 'peak-mark beyond' : 'peak-mark');
    mark.style.left = `${Math.min(1, r.peak / scale) * 100}%`;
    mark.title = `peak ${formatBytes(r.peak)}`;
    bar.append(mark);
    list.append(el('span', 'bar-label', r.layer), bar, el('span', 'bar-value', `${cellBytes(r.total)} / peak ${cellBytes(r.peak)}`));
  }
  section.append(list);
  return section;
}

function legend(d: PanelData): HTMLElement {
  const box = el('div', 'legend');
  for (const k of MEMORY_KINDS) {
    const item = el('span', 'legend-item');
    const { liveBytes, peakBytes } = d.kinds[k];
    item.append(el('span', `swatch kind-${k}`), el('span', undefined, peakBytes ? `${k} ${cellBytes(liveBytes)}, peak ${formatBytes(peakBytes)}` : `${k} -`));
    box.append(item);
  }
  return box;
}

function table(notebook: string, d: PanelData): HTMLElement {
  const scroller = el('div', 'table-scroller');
  const t = el('table', 'numbers');
  scroller.append(t);
  t.id = 'memory-table';
  t.append(el('caption', undefined, `GPU memory of ${notebook} per layer and kind: live bytes, and each layer's peak. Limit: ${limitText(d)}.`));
  const head = el('thead');
  const hr = el('tr');
  for (const h of ['layer', ...MEMORY_KINDS, 'total', 'peak']) {
    const th = el('th', undefined, h);
    th.scope = 'col';
    hr.append(th);
  }
  head.append(hr);
  const bodyRows = el('tbody');
  for (const r of d.layers) bodyRows.append(row(r.layer, MEMORY_KINDS.map((k) => r.bytes[k]), r.total, r.peak));
  const foot = el('tfoot');
  foot.append(
    row('total', MEMORY_KINDS.map((k) => d.totals[k]), d.liveBytes, d.peakBytes),
    row('peak by kind', MEMORY_KINDS.map((k) => d.kinds[k].peakBytes), d.peakBytes, null),
  );
  t.append(head, bodyRows, foot);
  return scroller;
}

function row(label: string, kinds: number[], total: number, peak: number | null): HTMLTableRowElement {
  const tr = el('tr');
  const th = el('th', undefined, label);
  th.scope = 'row';
  tr.append(th);
  for (const v of [...kinds, total, ...(peak === null ? [] : [peak])]) {
    const td = el('td', undefined, cellBytes(v));
    td.dataset.bytes = String(v);
    td.title = `${v} bytes`;
    tr.append(td);
  }
  if (peak === null) tr.append(el('td', undefined, ''));
  return tr;
}

/** The table as rendered (texts and exact bytes), for the host: tests compare it with %memory byte for byte. */
export function readTable(root: HTMLElement, notebook: string | null): RenderedTable | null {
  const t = root.querySelector<HTMLTableElement>('#memory-table');
  if (!t) return null;
  const header = Array.from(t.querySelectorAll('thead th')).map((th) => th.textContent ?? '');
  const rows = Array.from(t.querySelectorAll('tbody tr, tfoot tr')).map((tr) => {
    const cells = Array.from(tr.children) as HTMLElement[];
    return { cells: cells.map((c) => c.textContent ?? ''), bytes: cells.map((c) => (c.dataset.bytes === undefined ? null : Number(c.dataset.bytes))) };
  });
  return { notebook, header, rows };
}

