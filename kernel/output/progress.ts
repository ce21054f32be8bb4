// A progress line that updates in place: each update replaces the previous output with the same key, at most
// every `intervalMs`, so a loop of a million steps produces a handful of messages, not a million lines. Each output
// also carries its state as metadata {"progress": {label, done, total?, detail, finished}} for hosts that show
// progress elsewhere (VS Code's notification of "Load Weights in Place").
import type { CellOutput } from '../notebook/format.js';
import type { OutputSink } from './sink.js';
import { textOutput } from './text.js';

export interface ProgressOptions {
  label: string;
  /** Steps in all; omit when unknown (then no bar or percentage). */
  total?: number;
  /** Minimum time between two emitted updates (default 200 ms). The first and the final update always go out. */
  intervalMs?: number;
}

const BAR_WIDTH = 24;

export class Progress {
  private readonly start = Date.now();
  private lastEmit = -Infinity;
  private done = 0;
  private detail = '';
  private finished = false;

  constructor(private readonly sink: OutputSink, readonly key: string, private readonly opts: ProgressOptions) {
    this.emit();
  }

  /** Records `done` steps (and a short detail such as "loss 2.31"); emits if the interval has passed. */
  update(done: number, detail = ''): void {
    if (this.finished) return;
    this.done = done;
    this.detail = detail;
    if (Date.now() - this.lastEmit >= (this.opts.intervalMs ?? 200)) this.emit();
  }

  /** Emits the final state; later updates are ignored. */
  finish(detail?: string): void {
    if (this.finished) return;
    if (this.opts.total !== undefined) this.done = this.opts.total;
    if (detail !== undefined) this.detail = detail;
    this.finished = true;
    this.emit();
  }

  text(): string {
    const { label, total } = this.opts;
    const seconds = ((Date.now() - this.start) / 1000).toFixed(1);
    const parts = [label];
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, Math.max(0, this.done / total));
      const filled = Math.round(frac * BAR_WIDTH);
      parts.push(`${String(Math.round(frac * 100)).padStart(3)}%`, `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`, `${this.done}/${total}`);
    } else {
      parts.push(String(this.done));
    }
    if (this.detail) parts.push(this.detail);
    parts.push(`(${seconds} s)`);
    return parts.join('  ');
  }

  private emit(): void {
    this.lastEmit = Date.now();
    const { label, total } = this.opts;
    const state: ProgressState = { label, done: this.done, ...(total !== undefined ? { total } : {}), detail: this.detail, finished: this.finished };
    this.sink.output({ ...textOutput(this.text()), metadata: { progress: { ...state } } }, this.key);
  }
}

/** What a progress output's metadata.progress holds. */
export interface ProgressState {
  label: string;
  done: number;
  total?: number;
  /** The text after the counts (e.g. "1.2 MiB / 4 MiB  12.3 MB/s  model.norm.weight"). */
  detail: string;
  finished: boolean;
}

/** The progress state an output carries, if it is a progress line. */
export function progressOf(output: CellOutput): ProgressState | undefined {
  const p = output.metadata?.progress;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return undefined;
  const { label, done, total, detail, finished } = p;
  if (typeof label !== 'string' || typeof done !== 'number' || typeof detail !== 'string' || typeof finished !== 'boolean') return undefined;
  return { label, done, ...(typeof total === 'number' ? { total } : {}), detail, finished };
}
