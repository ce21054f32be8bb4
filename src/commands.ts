// The command palette and toolbar commands. Each acts on the notebook passed by a toolbar or a test (a Uri or
// { notebookEditor: { notebookUri } }), else on the active notebook editor:
// "llmnb: Restart Kernel", "llmnb: Interrupt Kernel", "llmnb: Show Memory Panel", "llmnb: Load Weights in Place"
// (its second argument, a checkpoint Uri, skips the file dialog).
import * as vscode from 'vscode';
import type { KernelManager } from './kernels.js';
import { loadWeightsInPlace } from './load_inplace.js';
import type { MemoryPanel } from './memory/panel.js';
import { NOTEBOOK_TYPE } from './serializer.js';

export function registerCommands(kernels: KernelManager, panel: MemoryPanel, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('llmnb.restartKernel', async (arg?: unknown) => {
      const nb = targetNotebook(arg);
      if (!nb) return;
      await kernels.restart(nb);
      vscode.window.setStatusBarMessage('llmnb: kernel restarted', 3000);
    }),
    vscode.commands.registerCommand('llmnb.interruptKernel', (arg?: unknown) => {
      const nb = targetNotebook(arg);
      if (nb) kernels.interrupt(nb);
    }),
    vscode.commands.registerCommand('llmnb.showMemoryPanel', (arg?: unknown) => {
      panel.show(arg === undefined ? undefined : targetNotebook(arg));
    }),
    vscode.commands.registerCommand('llmnb.loadWeightsInPlace', (arg?: unknown, checkpoint?: unknown) => {
      const nb = targetNotebook(arg);
      if (!nb) return undefined;
      return loadWeightsInPlace(kernels, log, nb, checkpoint instanceof vscode.Uri ? checkpoint : undefined);
    }),
  ];
}

function targetNotebook(arg: unknown): vscode.NotebookDocument | undefined {
  let uri: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) uri = arg;
  else if (arg && typeof arg === 'object' && 'notebookEditor' in arg) uri = (arg as { notebookEditor: { notebookUri: vscode.Uri } }).notebookEditor.notebookUri;
  const nb = uri
    ? vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === uri.toString())
    : vscode.window.activeNotebookEditor?.notebook;
  if (!nb || nb.notebookType !== NOTEBOOK_TYPE) {
    void vscode.window.showInformationMessage('llmnb: open an .llmnb notebook first.');
    return undefined;
  }
  return nb;
}
