// The per-cell output writer: what cell code (console, display) and magics write through. It batches stream
// text (flushed every `streamFlushMs`, before any other output, and at the end of the cell) and caps a cell's
// stream text so that a runaway print loop cannot flood the host.
import type { CellOutput } from '../notebook/format.js';
import type { StreamName } from '../protocol.js';
import { displayOutput } from './display.js';
import { Progress, type ProgressOptions } from './progress.js';
import type { OutputSink } from './sink.js';
import { tableOutput, type TableInput, type TableTextOptions } from './table.js';
import { textOutput } from './text.js';

export interface WriterOptions {
  streamFlushMs?: number;
  /** Characters of stream text per cell before the rest is dropped with a notice (default 1 MiB). */
  maxStreamChars?: number;
}

export class CellWriter implements OutputSink {
  private pending: { name: StreamName; text: string } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private streamChars = 0;
  private droppedChars = 0;
  private progressCount = 0;
  private closed = false;

  constructor(private readonly sink: OutputSink, private readonly opts: WriterOptions = {}) {}

  output(output: CellOutput, key?: string): void {
    if (this.closed) return;
    this.flush();
    this.sink.output(output, key);
  }

  stream(name: StreamName, text: string): void {
    if (this.closed || !text) return;
    const max = this.opts.maxStreamChars ?? 1 << 20;
    const room = max - this.streamChars;
    if (room <= 0) { this.droppedChars += text.length; return; }
    if (text.length > room) { this.droppedChars += text.length - room; text = text.slice(0, room); }
    this.streamChars += text.length;
    if (this.pending && this.pending.name !== name) this.flush();
    if (this.pending) this.pending.text += text;
    else this.pending = { name, text };
    this.timer ??= setTimeout(() => this.flush(), this.opts.streamFlushMs ?? 50);
  }

  text(text: string): void {
    this.output(textOutput(text));
  }

  table(input: TableInput, opts?: TableTextOptions): void {
    this.output(tableOutput(input, opts));
  }

  /** Shows a value like a cell's final expression does (nothing for undefined). */
  display(value: unknown): void {
    const out = displayOutput(value);
    if (out) this.output(out);
  }

  /** A progress line for this cell, updated in place. */
  progress(opts: ProgressOptions): Progress {
    return new Progress(this, `progress-${++this.progressCount}`, opts);
  }

  /** Sends buffered stream text now. */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.pending) return;
    const { name, text } = this.pending;
    this.pending = null;
    this.sink.stream(name, text);
  }

  /** Flushes, reports dropped text, and ignores anything written later (e.g. by a timer the cell left behind). */
  close(): void {
    this.flush();
    if (this.droppedChars > 0) {
      this.sink.stream('stderr', `\n[${this.droppedChars} more characters of output were dropped; write large results to a file]\n`);
    }
    this.closed = true;
  }
}
