// GPU memory of every notebook's kernel over time. Each kernel with a device pushes allocator snapshots while its
// memory changes (kernel/main.ts, throttled): every FOLLOWED_INTERVAL_MS for the notebook the memory panel shows,
// every BACKGROUND_INTERVAL_MS for the others. Each snapshot carries the most bytes live at once since the previous
// one, so the timeline kept here shows every peak (a load's staging spike, a training step) even from the slow
// background rate, and the panel can show a load that happened before it was opened.
import * as vscode from 'vscode';
import type { KernelClient } from '../../kernel/client.js';
import type { MemorySnapshotMessage } from '../../kernel/protocol.js';
import type { KernelState } from '../../media/memory/messages.js';
import { timelinePoint, type TimelinePoint } from '../../media/memory/model.js';
import type { KernelManager } from '../kernels.js';

/** At most 10 updates a second for the followed notebook; 1 a second for the others. */
export const FOLLOWED_INTERVAL_MS = 100;
export const BACKGROUND_INTERVAL_MS = 1000;
/** Timeline points kept per kernel (the webview keeps as many). */
export const MAX_POINTS = 3000;

export interface KernelMemory {
  kernel: KernelState;
  history: TimelinePoint[];
  last: MemorySnapshotMessage | null;
}

interface Watched extends KernelMemory { client: KernelClient }

export class MemoryWatch implements vscode.Disposable {
  private readonly watched = new Map<string, Watched>();
  private readonly subscribed = new WeakSet<KernelClient>();
  private readonly updated = new vscode.EventEmitter<{ notebook: vscode.Uri; snapshot: MemorySnapshotMessage }>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly disposables: vscode.Disposable[] = [];
  private followed: string | null = null;
  /** A new snapshot of a notebook's kernel. */
  readonly onDidUpdate = this.updated.event;
  /** A notebook's kernel started or stopped (its timeline starts over). */
  readonly onDidChangeKernel = this.changed.event;

  constructor(kernels: KernelManager) {
    this.disposables.push(
      kernels.onDidStart(({ notebook, client, ready }) => this.started(notebook.uri, client, ready.device !== null)),
      kernels.onDidStop((nb) => this.stopped(nb.uri)),
      this.updated, this.changed,
    );
  }

  /** What is known about the notebook's kernel memory. */
  memory(notebook: vscode.Uri): KernelMemory {
    const w = this.watched.get(notebook.toString());
    return w ? { kernel: w.kernel, history: [...w.history], last: w.last } : { kernel: 'stopped', history: [], last: null };
  }

  /** The notebook whose kernel pushes at the fast rate (the one the visible panel shows), or null. */
  follow(notebook: vscode.Uri | null): void {
    const key = notebook?.toString() ?? null;
    if (key === this.followed) return;
    const previous = this.followed;
    this.followed = key;
    for (const k of [previous, key]) {
      const w = k ? this.watched.get(k) : undefined;
      if (w?.kernel === 'running') w.client.watchMemory(this.interval(k!));
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private interval(key: string): number {
    return key === this.followed ? FOLLOWED_INTERVAL_MS : BACKGROUND_INTERVAL_MS;
  }

  private started(uri: vscode.Uri, client: KernelClient, hasDevice: boolean): void {
    const key = uri.toString();
    const w: Watched = { client, kernel: hasDevice ? 'running' : 'no-device', history: [], last: null };
    this.watched.set(key, w);
    if (!this.subscribed.has(client)) {
      this.subscribed.add(client);
      // The client outlives its processes (restarts): route by the notebook's current entry.
      client.onMemory((snapshot) => {
        const current = this.watched.get(key);
        if (!snapshot || current?.client !== client) return;
        current.last = snapshot;
        current.history.push(timelinePoint(snapshot));
        if (current.history.length > MAX_POINTS) current.history.splice(0, current.history.length - MAX_POINTS);
        this.updated.fire({ notebook: uri, snapshot });
      });
    }
    if (hasDevice) client.watchMemory(this.interval(key));
    this.changed.fire(uri);
  }

  private stopped(uri: vscode.Uri): void {
    const w = this.watched.get(uri.toString());
    if (!w) return;
    w.kernel = 'stopped';
    w.last = null;
    w.history = [];
    this.changed.fire(uri);
  }
}
