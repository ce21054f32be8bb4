// "llmnb: Load Weights in Place": picks a checkpoint (a file, or a folder of shards), appends a cell
// `%load_inplace PATH` to the notebook and runs it, so the load is recorded in the notebook like any other step and
// its report stays in the cell. A progress notification shows tensors and bytes done (from the cell's progress
// line) with a Cancel button that interrupts the load between tensors; the cell then says which tensors were
// replaced. The outcome is also a notification and a line in the llmnb output channel.
import path from 'node:path';
import * as vscode from 'vscode';
import { CELL_LANGUAGE } from '../kernel/notebook/format.js';
import { progressOf } from '../kernel/output/progress.js';
import type { KernelManager } from './kernels.js';

export interface LoadOutcome {
  /** Index of the cell that ran the load. */
  cell: number;
  /** true: loaded; false: failed or cancelled while loading; undefined: the cell never ran (cancelled before it
   *  started, or an earlier cell failed). */
  success: boolean | undefined;
  /** The first line of the cell's report, or the error's name and message. */
  message: string;
}

const ERROR_MIME = 'application/vnd.code.notebook.error';

/** Runs the command on `nb`; `checkpoint` skips the file dialog. Undefined when the user picked nothing. */
export async function loadWeightsInPlace(kernels: KernelManager, log: vscode.LogOutputChannel, nb: vscode.NotebookDocument,
  checkpoint?: vscode.Uri): Promise<LoadOutcome | undefined> {
  if (!kernels.find(nb.uri)?.alive) {
    void kernels.notify('info', 'llmnb: the notebook has no kernel running. Run a cell that loads a model first (%load_model PATH), then load weights into it.');
    return undefined;
  }
  const file = checkpoint ?? await pickCheckpoint(nb);
  if (!file) return undefined;
  const index = await appendCell(nb, `%load_inplace ${magicArgument(cellPath(nb, file.fsPath))}`);
  const cell = nb.cellAt(index);
  await vscode.window.visibleNotebookEditors.find((e) => e.notebook === nb)?.revealRange(new vscode.NotebookRange(index, index + 1));
  const name = path.basename(file.fsPath);
  const end = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `llmnb: loading ${name} in place`, cancellable: true },
    (progress, token) => runWithProgress(kernels, nb, cell, progress, token));
  if (end === 'cancelled-before-start') {
    const message = 'cancelled before it started: nothing was loaded (the %load_inplace cell is left unrun)';
    log.info(`load in place of ${file.fsPath} into ${path.basename(nb.uri.path)}: ${message}`);
    void kernels.notify('warning', `llmnb: load ${message}`);
    return { cell: index, success: undefined, message };
  }
  const outcome = outcomeOf(cell);
  log.info(`load in place of ${file.fsPath} into ${path.basename(nb.uri.path)}: ${outcome.message}`);
  if (outcome.success) void kernels.notify('info', `llmnb: ${outcome.message}`);
  else if (outcome.success === false) {
    const cancelled = outcome.message.startsWith('CancelledError');
    void kernels.notify(cancelled ? 'warning' : 'error', `llmnb: ${cancelled ? 'load cancelled' : 'load in place failed'}: ${outcome.message}`);
  }
  return { ...outcome, cell: index };
}

function pickCheckpoint(nb: vscode.NotebookDocument): Thenable<vscode.Uri | undefined> {
  return vscode.window.showOpenDialog({
    title: 'Checkpoint to stream into the loaded model (a file, or a folder of safetensors shards)',
    openLabel: 'Load in Place',
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    ...(nb.uri.scheme === 'file' ? { defaultUri: vscode.Uri.file(path.dirname(nb.uri.fsPath)) } : {}),
    filters: { 'Checkpoints': ['safetensors', 'pth', 'pt', 'bin', 'json'], 'All files': ['*'] },
  }).then((picked) => picked?.[0]);
}

/** Relative to the notebook's folder when inside it (the cell stays valid if the folder moves), else absolute. */
function cellPath(nb: vscode.NotebookDocument, file: string): string {
  if (nb.uri.scheme !== 'file') return file;
  const rel = path.relative(path.dirname(nb.uri.fsPath), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** A magic argument: bare when it has no spaces or quotes, else double-quoted with escapes. */
function magicArgument(text: string): string {
  return /^[^\s'"\\]+$/.test(text) ? text : JSON.stringify(text);
}

async function appendCell(nb: vscode.NotebookDocument, source: string): Promise<number> {
  const index = nb.cellCount;
  const edit = new vscode.WorkspaceEdit();
  edit.set(nb.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, source, CELL_LANGUAGE)])]);
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error('llmnb: could not add the %load_inplace cell to the notebook');
  return index;
}

/** How a run ended: the cell ran (whatever its result), or Cancel came before it was sent to the kernel. */
type RunEnd = 'ran' | 'cancelled-before-start';

async function runWithProgress(kernels: KernelManager, nb: vscode.NotebookDocument, cell: vscode.NotebookCell,
  progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken): Promise<RunEnd> {
  // Other cells first: the load is sent when the kernel is idle, so that Cancel before then means "never ran".
  if (kernels.busy(nb)) {
    progress.report({ message: 'waiting for the running cells to finish' });
    if (!(await idleOrCancelled(kernels, nb, token))) return 'cancelled-before-start';
  }
  progress.report({ message: 'starting' });
  let reported = 0;
  const onOutputs = kernels.onDidReceiveOutput((e) => {
    const state = e.cell === cell ? progressOf(e.output) : undefined;
    if (!state?.total) return;
    const percent = (100 * state.done) / state.total;
    progress.report({ message: `${state.done}/${state.total} tensors  ${state.detail}`.trim(), increment: percent - reported });
    reported = percent;
  });
  // Cancel interrupts the kernel while this cell runs (the loader stops between tensors and says which it
  // replaced); in the moment between sending it and its start, as soon as it starts.
  let cancelRequested = false;
  const interruptIfRunning = () => {
    if (cancelRequested && kernels.runningCell(nb) === cell) kernels.interrupt(nb);
  };
  const onRunning = kernels.onDidChangeRunningCell((changed) => { if (changed === nb) interruptIfRunning(); });
  const onCancel = token.onCancellationRequested(() => {
    cancelRequested = true;
    interruptIfRunning();
  });
  try {
    await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: cell.index, end: cell.index + 1 }], document: nb.uri });
    // The execution summary reaches this document just after the command returns.
    await waitUntil(() => cell.executionSummary?.timing !== undefined || cell.executionSummary?.success !== undefined, 5000);
  } finally {
    for (const d of [onOutputs, onRunning, onCancel]) d.dispose();
  }
  return 'ran';
}

/** Resolves true once no cell of the notebook is queued or running, false if the user cancels first. */
function idleOrCancelled(kernels: KernelManager, nb: vscode.NotebookDocument, token: vscode.CancellationToken): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (idle: boolean) => {
      for (const d of subscriptions) d.dispose();
      resolve(idle);
    };
    const subscriptions = [
      kernels.onDidChangeRunningCell((changed) => { if (changed === nb && !kernels.busy(nb)) finish(true); }),
      token.onCancellationRequested(() => finish(false)),
    ];
    if (!kernels.busy(nb)) finish(true);
  });
}

function outcomeOf(cell: vscode.NotebookCell): Omit<LoadOutcome, 'cell'> {
  const items = cell.outputs.flatMap((o) => o.items);
  const error = items.find((i) => i.mime === ERROR_MIME);
  if (error) {
    const e = JSON.parse(new TextDecoder().decode(error.data)) as { name: string; message: string };
    return { success: false, message: `${e.name}: ${e.message}` };
  }
  const success = cell.executionSummary?.success;
  if (success === undefined) return { success, message: 'not run (the cell before it failed or the kernel was interrupted)' };
  const report = cell.outputs.filter((o) => !progressOf({ items: [], metadata: o.metadata ?? {} }))
    .flatMap((o) => o.items).find((i) => i.mime === 'text/plain');
  return { success, message: report ? new TextDecoder().decode(report.data).split('\n')[0] : 'done' };
}

async function waitUntil(probe: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!probe() && Date.now() - start < timeoutMs) await new Promise((r) => setTimeout(r, 25));
}
