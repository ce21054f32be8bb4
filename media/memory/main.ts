// The memory panel's script (bundled by esbuild into out/media/memory.js, loaded with the page's CSP nonce). It
// keeps the followed notebook's timeline and latest snapshot, and re-renders at most once per animation frame
// however fast snapshots arrive (the kernel already throttles them).
import type { FromPanel, ToPanel } from './messages.js';
import { base64Bytes, panelData, timelinePoint, type TimelinePoint } from './model.js';
import { readTable, render, type PanelState } from './view.js';

/** Timeline points kept (the extension keeps the same number). */
const MAX_POINTS = 3000;

interface VsCodeApi { postMessage(message: FromPanel): void }
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const root = document.body;
const state: PanelState = { notebook: null, kernel: 'stopped', data: null, points: [] };
let scheduled = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render(root, state);
    vscode.postMessage({ type: 'rendered', table: readTable(root, state.notebook) });
  });
}

function addPoint(p: TimelinePoint): void {
  state.points.push(p);
  if (state.points.length > MAX_POINTS) state.points.splice(0, state.points.length - MAX_POINTS);
}

window.addEventListener('message', (event: MessageEvent<ToPanel>) => {
  const m = event.data;
  if (m.type === 'notebook') {
    state.notebook = m.name;
    state.kernel = m.kernel;
    state.points = [...m.history];
    state.data = m.snapshot ? panelData(m.snapshot, base64Bytes(m.snapshot.arrowBase64)) : null;
  } else {
    state.kernel = 'running';
    state.data = panelData(m.snapshot, base64Bytes(m.snapshot.arrowBase64));
    addPoint(timelinePoint(m.snapshot));
  }
  schedule();
});
window.addEventListener('resize', schedule);
vscode.postMessage({ type: 'ready' });
