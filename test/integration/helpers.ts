// Helpers for tests in a real VS Code extension host: open a fixture notebook with the llmnb kernel selected,
// append and run cells, read outputs, wait for conditions. Each test file bundles its own copy.
import * as vscode from 'vscode';
import type { LlmnbApi } from '../../src/api.js';

export const EXTENSION_ID = 'llmnb.llmnb';
export const CONTROLLER_ID = 'llmnb-webgpu';

export async function extensionApi(): Promise<LlmnbApi> {
  const ext = vscode.extensions.getExtension<LlmnbApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

export function fixtureUri(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the tests need the fixture workspace (test/integration/workspace) open');
  return vscode.Uri.joinPath(folder.uri, name);
}

/** Opens a notebook from the fixture workspace in an editor, with the llmnb kernel selected. */
export async function openNotebook(name: string): Promise<vscode.NotebookDocument> {
  const nb = await vscode.workspace.openNotebookDocument(fixtureUri(name));
  await vscode.window.showNotebookDocument(nb);
  await vscode.commands.executeCommand('notebook.selectKernel', { id: CONTROLLER_ID, extension: EXTENSION_ID });
  return nb;
}

/** Appends a code cell and returns its index. */
export async function appendCell(nb: vscode.NotebookDocument, source: string): Promise<number> {
  const index = nb.cellCount;
  const edit = new vscode.WorkspaceEdit();
  edit.set(nb.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, source, 'llmnb')])]);
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error('could not add a cell');
  return index;
}

/** Starts running cell `index`; the promise settles when VS Code's execute command returns (the cell is done). */
export function executeCell(nb: vscode.NotebookDocument, index: number): Thenable<unknown> {
  return vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: index, end: index + 1 }], document: nb.uri });
}

/** Appends a cell with `source`, runs it and waits until it has finished. */
export async function runCell(nb: vscode.NotebookDocument, source: string, timeoutMs = 60_000): Promise<vscode.NotebookCell> {
  const index = await appendCell(nb, source);
  await executeCell(nb, index);
  const cell = nb.cellAt(index);
  await waitFor(`cell ${index} to finish`, () => finished(cell), timeoutMs);
  return cell;
}

export function finished(cell: vscode.NotebookCell): boolean {
  return cell.executionSummary?.success !== undefined && cell.executionSummary.timing !== undefined;
}

/** Every output item of the cell as text (stdout chunks, text/plain, error JSON), one per line. */
export function cellText(cell: vscode.NotebookCell): string {
  return cell.outputs.flatMap((o) => o.items.map((i) => new TextDecoder().decode(i.data))).join('\n');
}

export function mimes(cell: vscode.NotebookCell): string[] {
  return cell.outputs.flatMap((o) => o.items.map((i) => i.mime));
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
