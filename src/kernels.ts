// One kernel process per notebook (kernel/client.ts), started on the first execution. Reports what the user must
// know: a kernel that died (with a Restart action), a kernel without a GPU device. Kernel logs go to the "llmnb"
// output channel.
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { KernelClient, type KernelExit } from '../kernel/client.js';

export class KernelManager implements vscode.Disposable {
  private readonly kernels = new Map<string, KernelClient>();
  /** Every notification shown, newest last (the test API exposes it). */
  readonly notifications: string[] = [];

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
    }
    return client;
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
    this.kernels.set(key, client);
    return client;
  }

  private exited(nb: vscode.NotebookDocument, exit: KernelExit): void {
    const name = path.basename(nb.uri.path);
    if (exit.expected) {
      this.log.info(`[${name}] kernel stopped`);
      return;
    }
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    this.log.error(`[${name}] kernel ${how}; last stderr:\n${exit.stderrTail}`);
    void this.notify('error', `llmnb: the kernel of ${name} ${how}. Its variables and loaded model are gone.`, 'Restart Kernel')
      .then((choice) => { if (choice) void this.restart(nb); });
  }

  private notify(level: 'error' | 'warning', message: string, ...actions: string[]): Thenable<string | undefined> {
    this.notifications.push(message);
    return level === 'error' ? vscode.window.showErrorMessage(message, ...actions) : vscode.window.showWarningMessage(message, ...actions);
  }
}

/** Relative paths in cells resolve from the notebook's folder (or the workspace for an untitled notebook). */
function notebookFolder(nb: vscode.NotebookDocument): string {
  if (nb.uri.scheme === 'file') return path.dirname(nb.uri.fsPath);
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
}
