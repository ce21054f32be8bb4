// Hovers in llmnb code cells: the hovered name, member chain or parameter name is sent to the notebook's kernel
// (inspect: property access only, never a call), which answers between the steps of a running cell too. A kernel
// that is not running shows nothing; one that does not answer within HOVER_TIMEOUT_MS shows nothing, and moving
// the mouse away cancels the wait, so a hover never holds the editor.
import * as vscode from 'vscode';
import { CELL_LANGUAGE } from '../../kernel/notebook/format.js';
import type { KernelManager } from '../kernels.js';
import { NOTEBOOK_TYPE } from '../serializer.js';
import { hoverTarget } from './target.js';
import { hoverMarkdown } from './text.js';

export const HOVER_TIMEOUT_MS = 1500;

export function registerHover(kernels: KernelManager): vscode.Disposable {
  return vscode.languages.registerHoverProvider({ language: CELL_LANGUAGE, notebookType: NOTEBOOK_TYPE }, {
    async provideHover(doc, position, token) {
      const nb = vscode.workspace.notebookDocuments.find((n) => n.getCells().some((c) => c.document === doc));
      const client = nb && kernels.find(nb.uri);
      if (!client?.alive || !client.ready) return undefined;
      const target = hoverTarget(doc.lineAt(position.line).text, position.character);
      if (!target) return undefined;
      let listener: vscode.Disposable | undefined;
      const cancelled = new Promise<null>((resolve) => { listener = token.onCancellationRequested(() => resolve(null)); });
      const result = await Promise.race([client.inspect(target.text, HOVER_TIMEOUT_MS, target.kind), cancelled])
        .finally(() => listener?.dispose());
      const markdown = result && !token.isCancellationRequested ? hoverMarkdown(result) : null;
      if (!markdown) return undefined;
      const range = new vscode.Range(position.line, target.start, position.line, target.end);
      return new vscode.Hover(new vscode.MarkdownString(markdown), range);
    },
  });
}
