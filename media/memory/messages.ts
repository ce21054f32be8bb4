// Messages between the extension (src/memory/panel.ts) and the memory panel's webview (media/memory/main.ts).
import type { MemorySnapshotMessage } from '../../kernel/protocol.js';
import type { TimelinePoint } from './model.js';

export type KernelState = 'running' | 'stopped' | 'no-device';

export type ToPanel =
  /** The panel now follows this notebook: its kernel state, the timeline so far and the latest snapshot. */
  | { type: 'notebook'; name: string | null; kernel: KernelState; history: TimelinePoint[]; snapshot: MemorySnapshotMessage | null }
  /** A new snapshot of the followed notebook's kernel (also a new timeline point). */
  | { type: 'snapshot'; snapshot: MemorySnapshotMessage };

export type FromPanel =
  /** The script has loaded (first load, or again after the panel was hidden and shown): send the state. */
  | { type: 'ready' }
  /** What the table shows after a render (the extension's API hands it to tests). */
  | { type: 'rendered'; table: RenderedTable | null };

export interface RenderedTable {
  notebook: string | null;
  /** Column headings: layer, the six kinds, total, peak. */
  header: string[];
  /** Layer rows, then the total row and the per-kind peak row: each cell's text and exact bytes (null: a label). */
  rows: { cells: string[]; bytes: (number | null)[] }[];
}
