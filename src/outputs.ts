// Cell outputs between the .llmnb format (kernel/notebook/format.ts) and VS Code. Stream outputs are text/plain
// with {"stream": "stdout"|"stderr"} metadata in the file and VS Code's stdout/stderr items in the editor; every
// other item keeps its mime and bytes. Mapping a file's outputs to VS Code and back gives the same outputs.
import * as vscode from 'vscode';
import { itemBytes, itemFromBytes, type CellOutput, type JsonObject, type OutputItem } from '../kernel/notebook/format.js';
import { streamOf, TEXT_MIME } from '../kernel/output/text.js';
import type { StreamName } from '../kernel/protocol.js';

const STREAM_MIME: Record<StreamName, string> = {
  stdout: 'application/vnd.code.notebook.stdout',
  stderr: 'application/vnd.code.notebook.stderr',
};

export function streamItem(name: StreamName, text: string): vscode.NotebookCellOutputItem {
  return name === 'stdout' ? vscode.NotebookCellOutputItem.stdout(text) : vscode.NotebookCellOutputItem.stderr(text);
}

export function toVsOutput(o: CellOutput): vscode.NotebookCellOutput {
  const stream = streamOf(o);
  const items = o.items.map((i) => (stream && i.mime === TEXT_MIME
    ? streamItem(stream, i.data)
    : new vscode.NotebookCellOutputItem(itemBytes(i), i.mime)));
  return new vscode.NotebookCellOutput(items, o.metadata);
}

export function fromVsOutput(o: vscode.NotebookCellOutput): CellOutput {
  const metadata = (o.metadata ?? {}) as JsonObject;
  const stream = streamOf({ items: [], metadata });
  const items: OutputItem[] = [];
  let streamText: string | null = null;
  for (const item of o.items) {
    // VS Code appends stream chunks as separate items of one output: they are one text.
    if (stream && item.mime === STREAM_MIME[stream]) {
      streamText = (streamText ?? '') + new TextDecoder().decode(item.data);
      continue;
    }
    items.push(itemFromBytes(item.mime, item.data));
  }
  if (streamText !== null) items.unshift({ mime: TEXT_MIME, data: streamText });
  if (!items.some((i) => i.mime === TEXT_MIME)) {
    // The format wants a text rendering of every output; outputs from elsewhere may lack one.
    items.push({ mime: TEXT_MIME, data: `[${items.map((i) => i.mime).join(', ')} output]` });
  }
  return Object.keys(metadata).length ? { items, metadata } : { items };
}
