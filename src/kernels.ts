// One kernel process per notebook (kernel/client.ts), started on the first execution. Reports what the user must
// know: a kernel that died (with a Restart action), a kernel without a GPU device. Kernel logs go to the "llmnb"
// output channel. Tells the rest of the extension when a kernel is ready or gone (memory watch, context keys),
// which cell runs in it (the load command's Cancel), and when a cell asks for a view (`%memory --panel`).
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { KernelClient, type KernelExit } from '../kernel/client.js';
import type { CellOutput } from '../kernel/notebook/format.js';
import type { HostView, ReadyEvent } from '../kernel/protocol.js';

export interface KernelStarted { notebook: vscode.NotebookDocument; client: KernelClient; ready: ReadyEvent }

export class KernelManager implements vscode.Disposable {
  private readonly kernels = new Map<string, KernelClient>();
  private readonly runningCells = new Map<string, vscode.NotebookCell>();
  private readonly cellsInFlight = new Map<string, Set<vscode.NotebookCell>>();
  private readonly started = new vscode.EventEmitter<KernelStarted>();
  private readonly stopped = new vscode.EventEmitter<vscode.NotebookDocument>();
  private readonly runningCellChanged = new vscode.EventEmitter<vscode.NotebookDocument>();
  private readonly viewRequested = new vscode.EventEmitter<{ notebook: vscode.NotebookDocument; view: HostView }>();
  private readonly cellOutput = new vscode.EventEmitter<{ cell: vscode.NotebookCell; output: CellOutput }>();
  /** Every notification shown, newest last (the test API exposes it). */
  readonly notifications: string[] = [];
  /** A notebook's kernel said `ready` (a first start or a restart). */
  readonly onDidStart = this.started.event;
  /** A notebook's kernel process is gone (exit, crash, restart, shutdown). */
  readonly onDidStop = this.stopped.event;
  /** A notebook's running cell, or its cells queued or running, changed. */
  readonly onDidChangeRunningCell = this.runningCellChanged.event;
  readonly onDidRequestView = this.viewRequested.event;
  /** Every output a running cell receives from the kernel, as it arrives (progress lines included). */
  readonly onDidReceiveOutput = this.cellOutput.event;

  constructor(private readonly kernelPath: string, private readonly log: vscode.LogOutputChannel) {}

  /** The notebook's kernel, started (a fresh process if the last one died). Rejects if it cannot start. */
  async ensureStarted(nb: vscode.NotebookDocument): Promise<KernelClient> {
    const client = this.client(nb);
    const wasReady = client.ready !== null;
    const ready = await client.start();
    if (!wasReady) {
      this.log.info(`kernel for ${nb.uri.fsPath}: pid ${ready.pid}, node ${ready.node}, device ${ready.device?.adapter ?? 'none'}`);
      if (ready.device?.notice) this.log.warn(ready.device.notice);
      if (ready.deviceError) {
        this.notify('warning', `llmnb: no WebGPU device: ${ready.deviceError.message}. ${ready.deviceError.hint}`.trim());
      }
      this.started.fire({ notebook: nb, client, ready });
    }
    return client;
  }

  /** The cell the notebook's kernel is running now (set by the execution of cells, src/execution.ts). */
  runningCell(nb: vscode.NotebookDocument): vscode.NotebookCell | undefined {
    return this.runningCells.get(nb.uri.toString());
  }

  setRunningCell(nb: vscode.NotebookDocument, cell: vscode.NotebookCell | undefined): void {
    if (cell) this.runningCells.set(nb.uri.toString(), cell);
    else this.runningCells.delete(nb.uri.toString());
    this.runningCellChanged.fire(nb);
  }

  /** Called by src/execution.ts for each output the kernel sends to a cell. */
  receivedOutput(cell: vscode.NotebookCell, output: CellOutput): void {
    this.cellOutput.fire({ cell, output });
  }

  /** Whether cells of the notebook are queued or running (their executions exist and have not ended). */
  busy(nb: vscode.NotebookDocument): boolean {
    return (this.cellsInFlight.get(nb.uri.toString())?.size ?? 0) > 0;
  }

  /** Marks cells queued (true) or ended (false); src/execution.ts calls it. */
  setInFlight(nb: vscode.NotebookDocument, cells: readonly vscode.NotebookCell[], inFlight: boolean): void {
    const key = nb.uri.toString();
    const set = this.cellsInFlight.get(key) ?? new Set<vscode.NotebookCell>();
    for (const c of cells) {
      if (inFlight) set.add(c);
      else set.delete(c);
    }
    if (set.size) this.cellsInFlight.set(key, set);
    else this.cellsInFlight.delete(key);
    this.runningCellChanged.fire(nb);
  }

  find(uri: vscode.Uri): KernelClient | undefined {
    return this.kernels.get(uri.toString());
  }

  interrupt(nb: vscode.NotebookDocument): void {
    this.find(nb.uri)?.interrupt();
  }

  /** Kills the process (freeing its GPU memory) and starts a fresh one. */
  async restart(nb: vscode.NotebookDocument): Promise<void> {
    const client = this.client(nb);
    await client.kill('the kernel was restarted');
    await this.ensureStarted(nb);
  }

  async shutdown(uri: vscode.Uri): Promise<void> {
    const client = this.find(uri);
    this.kernels.delete(uri.toString());
    await client?.shutdown();
  }

  dispose(): void {
    for (const client of this.kernels.values()) void client.kill('VS Code is closing the notebook');
    this.kernels.clear();
    for (const e of [this.started, this.stopped, this.runningCellChanged, this.viewRequested, this.cellOutput]) e.dispose();
  }

  private client(nb: vscode.NotebookDocument): KernelClient {
    const key = nb.uri.toString();
    let client = this.kernels.get(key);
    if (client) return client;
    const nodePath = vscode.workspace.getConfiguration('llmnb').get<string>('kernel.nodePath') || undefined;
    client = new KernelClient({ kernelPath: this.kernelPath, cwd: notebookFolder(nb), ...(nodePath ? { nodePath } : {}) });
    const name = path.basename(nb.uri.path);
    client.onLog((m) => this.log[m.level](`[${name}] ${m.message}`));
    client.onStderr((text) => this.log.trace(`[${name} stderr] ${text.trimEnd()}`));
    client.onExit((exit) => this.exited(nb, exit));
    client.onShowView((view) => this.viewRequested.fire({ notebook: nb, view }));
    this.kernels.set(key, client);
    return client;
  }

  private exited(nb: vscode.NotebookDocument, exit: KernelExit): void {
    const name = path.basename(nb.uri.path);
    this.stopped.fire(nb);
    if (exit.expected) {
      this.log.info(`[${name}] kernel stopped`);
      return;
    }
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    this.log.error(`[${name}] kernel ${how}; last stderr:\n${exit.stderrTail}`);
    void this.notify('error', `llmnb: the kernel of ${name} ${how}. Its variables and loaded model are gone.`, 'Restart Kernel')
      .then((choice) => { if (choice) void this.restart(nb); });
  }

  /** Shows a notification and records it (the test API reads `notifications`). */
  notify(level: 'error' | 'warning' | 'info', message: string, ...actions: string[]): Thenable<string | undefined> {
    this.notifications.push(message);
    if (level === 'error') return vscode.window.showErrorMessage(message, ...actions);
    return level === 'warning' ? vscode.window.showWarningMessage(message, ...actions) : vscode.window.showInformationMessage(message, ...actions);
  }
}

/** Relative paths in cells resolve from the notebook's folder (or the workspace for an untitled notebook). */
function notebookFolder(nb: vscode.NotebookDocument): string {
  if (nb.uri.scheme === 'file') return path.dirname(nb.uri.fsPath);
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
}
