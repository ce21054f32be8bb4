// Commands "llmnb: Restart Kernel" and "llmnb: Interrupt Kernel". They act on the notebook passed by a toolbar
// or a test (a Uri or { notebookEditor: { notebookUri } }), else on the active notebook editor.
import * as vscode from 'vscode';
import type { KernelManager } from './kernels.js';
import { NOTEBOOK_TYPE } from './serializer.js';

export function registerCommands(kernels: KernelManager): vscode.Disposable[] {
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
