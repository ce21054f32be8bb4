// .llmnb files <-> VS Code notebooks. A file that cannot be read throws (NotebookFormatError), so VS Code shows
// the error instead of opening an empty notebook that would overwrite the file on save.
import * as vscode from 'vscode';
import {
  CELL_LANGUAGE, encodeNotebook, parseNotebook, type CellExecution, type JsonObject, type NotebookCell, type NotebookFile,
} from '../kernel/notebook/format.js';
import { fromVsOutput, toVsOutput } from './outputs.js';

export const NOTEBOOK_TYPE = 'llmnb';

export class LlmnbSerializer implements vscode.NotebookSerializer {
  deserializeNotebook(content: Uint8Array): vscode.NotebookData {
    const nb = parseNotebook(content, 'this .llmnb file');
    const data = new vscode.NotebookData(nb.cells.map(toCellData));
    data.metadata = nb.metadata;
    return data;
  }

  serializeNotebook(data: vscode.NotebookData): Uint8Array {
    const nb: NotebookFile = { llmnb: 1, metadata: (data.metadata ?? {}) as JsonObject, cells: data.cells.map(fromCellData) };
    return encodeNotebook(nb);
  }
}

function toCellData(cell: NotebookCell): vscode.NotebookCellData {
  if (cell.kind === 'markdown') {
    const md = new vscode.NotebookCellData(vscode.NotebookCellKind.Markup, cell.source, 'markdown');
    if (cell.metadata) md.metadata = cell.metadata;
    return md;
  }
  const code = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, cell.source, cell.language ?? CELL_LANGUAGE);
  if (cell.metadata) code.metadata = cell.metadata;
  if (cell.outputs) code.outputs = cell.outputs.map(toVsOutput);
  const e = cell.execution;
  if (e) {
    code.executionSummary = {
      ...(e.order !== undefined ? { executionOrder: e.order } : {}),
      ...(e.success !== undefined ? { success: e.success } : {}),
      // The file keeps the duration only; VS Code shows end - start.
      ...(e.durationMs !== undefined ? { timing: { startTime: 0, endTime: e.durationMs } } : {}),
    };
  }
  return code;
}

function fromCellData(c: vscode.NotebookCellData): NotebookCell {
  const metadata = c.metadata && Object.keys(c.metadata).length ? { metadata: c.metadata as JsonObject } : {};
  if (c.kind === vscode.NotebookCellKind.Markup) return { kind: 'markdown', source: c.value, ...metadata };
  const s = c.executionSummary;
  const execution: CellExecution = {
    ...(s?.executionOrder !== undefined ? { order: s.executionOrder } : {}),
    ...(s?.success !== undefined ? { success: s.success } : {}),
    ...(s?.timing ? { durationMs: s.timing.endTime - s.timing.startTime } : {}),
  };
  return {
    kind: 'code',
    source: c.value,
    ...(c.languageId !== CELL_LANGUAGE ? { language: c.languageId } : {}),
    ...metadata,
    ...(Object.keys(execution).length ? { execution } : {}),
    ...(c.outputs?.length ? { outputs: c.outputs.map(fromVsOutput) } : {}),
  };
}
