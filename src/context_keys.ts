// Context keys for when-clauses: `llmnb.kernelRunning` is true while the active llmnb notebook has a kernel process
// (Interrupt and Load Weights in Place make sense only then).
import * as vscode from 'vscode';
import type { KernelManager } from './kernels.js';
import { NOTEBOOK_TYPE } from './serializer.js';

export function trackContextKeys(kernels: KernelManager): vscode.Disposable[] {
  const update = () => {
    const nb = vscode.window.activeNotebookEditor?.notebook;
    const running = nb?.notebookType === NOTEBOOK_TYPE && (kernels.find(nb.uri)?.alive ?? false);
    void vscode.commands.executeCommand('setContext', 'llmnb.kernelRunning', running);
  };
  update();
  return [
    vscode.window.onDidChangeActiveNotebookEditor(update),
    kernels.onDidStart(update),
    kernels.onDidStop(update),
  ];
}
