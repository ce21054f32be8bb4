// The notebook controller "llmnb (WebGPU)": runs llmnb cells in the notebook's kernel process.
import * as vscode from 'vscode';
import { CELL_LANGUAGE } from '../kernel/notebook/format.js';
import { executeCells } from './execution.js';
import type { KernelManager } from './kernels.js';
import { NOTEBOOK_TYPE } from './serializer.js';

export const CONTROLLER_ID = 'llmnb-webgpu';

export function createController(kernels: KernelManager): vscode.Disposable[] {
  const controller = vscode.notebooks.createNotebookController(CONTROLLER_ID, NOTEBOOK_TYPE, 'llmnb (WebGPU)');
  controller.description = 'Llama 3 on WebGPU, in a kernel process per notebook';
  controller.supportedLanguages = [CELL_LANGUAGE];
  controller.supportsExecutionOrder = true;
  controller.executeHandler = (cells, nb, ctrl) => executeCells(cells, nb, ctrl, kernels);
  controller.interruptHandler = (nb) => kernels.interrupt(nb);
  const prefer = (nb: vscode.NotebookDocument) => {
    if (nb.notebookType === NOTEBOOK_TYPE) controller.updateNotebookAffinity(nb, vscode.NotebookControllerAffinity.Preferred);
  };
  vscode.workspace.notebookDocuments.forEach(prefer);
  return [controller, vscode.workspace.onDidOpenNotebookDocument(prefer)];
}
