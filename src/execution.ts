// Runs cells through a notebook's kernel: one NotebookCellExecution per cell, outputs streamed into the cell as
// the kernel sends them (keyed outputs such as progress lines replaced in place, stream text appended), timing
// and execution order from the kernel. A failed cell ends the batch; the cells after it end without running.
import * as vscode from 'vscode';
import type { KernelClient } from '../kernel/client.js';
import type { CellOutput } from '../kernel/notebook/format.js';
import { OutputAccumulator } from '../kernel/output/accumulate.js';
import { errorInfo, errorOutput } from '../kernel/output/error.js';
import type { StreamName } from '../kernel/protocol.js';
import type { KernelManager } from './kernels.js';
import { streamItem, toVsOutput } from './outputs.js';

export async function executeCells(cells: readonly vscode.NotebookCell[], nb: vscode.NotebookDocument,
  controller: vscode.NotebookController, kernels: KernelManager): Promise<void> {
  // All executions up front, so that queued cells show as pending.
  const executions = cells.map((cell) => controller.createNotebookCellExecution(cell));
  kernels.setInFlight(nb, cells, true);
  try {
    let ok = true;
    for (const exec of executions) {
      if (ok) ok = await runCell(exec, nb, kernels);
      else exec.end(undefined);
      kernels.setInFlight(nb, [exec.cell], false);
    }
  } finally {
    kernels.setInFlight(nb, cells, false);
  }
}

async function runCell(exec: vscode.NotebookCellExecution, nb: vscode.NotebookDocument, kernels: KernelManager): Promise<boolean> {
  try {
    return await runInKernel(exec, nb, kernels);
  } finally {
    if (kernels.runningCell(nb) === exec.cell) kernels.setRunningCell(nb, undefined);
  }
}

async function runInKernel(exec: vscode.NotebookCellExecution, nb: vscode.NotebookDocument, kernels: KernelManager): Promise<boolean> {
  const outputs = new CellOutputs(exec);
  let startTime: number | null = null;
  const begin = (order: number | undefined, time: number) => {
    if (order !== undefined) exec.executionOrder = order;
    exec.start(time);
    startTime = time;
    outputs.clear();
    kernels.setRunningCell(nb, exec.cell);
  };
  try {
    const kernel: KernelClient = await kernels.ensureStarted(nb);
    const done = await kernel.execute(exec.cell.document.getText(), {
      onStarted: (e) => begin(e.order, e.startTime),
      onOutput: (output, key) => {
        outputs.output(output, key);
        kernels.receivedOutput(exec.cell, output);
      },
      onStream: (name, text) => outputs.stream(name, text),
    });
    await outputs.settled();
    if (done.aborted || startTime === null) {
      exec.end(undefined);
      return false;
    }
    exec.end(done.success, startTime + done.durationMs);
    return done.success;
  } catch (e) {
    // The kernel died or could not start: say so in the cell (the manager also shows a notification).
    if (startTime === null) begin(undefined, Date.now());
    outputs.output(errorOutput(errorInfo(e)));
    await outputs.settled();
    exec.end(false, Date.now());
    return false;
  }
}

/** Applies kernel output events to the cell in order (VS Code's edits are asynchronous). */
class CellOutputs {
  private readonly acc = new OutputAccumulator();
  private readonly shown: vscode.NotebookCellOutput[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly exec: vscode.NotebookCellExecution) {}

  clear(): void {
    this.enqueue(() => this.exec.clearOutput());
  }

  output(output: CellOutput, key?: string): void {
    const { index, change } = this.acc.output(output, key);
    const vs = toVsOutput(output);
    if (change === 'added') {
      this.shown[index] = vs;
      this.enqueue(() => this.exec.appendOutput(vs));
    } else {
      const target = this.shown[index];
      this.enqueue(() => this.exec.replaceOutputItems(vs.items, target));
    }
  }

  stream(name: StreamName, text: string): void {
    const { index, change } = this.acc.stream(name, text);
    if (change === 'added') {
      const vs = toVsOutput(this.acc.outputs[index]);
      this.shown[index] = vs;
      this.enqueue(() => this.exec.appendOutput(vs));
    } else {
      const target = this.shown[index];
      this.enqueue(() => this.exec.appendOutputItems(streamItem(name, text), target));
    }
  }

  settled(): Promise<void> {
    return this.chain;
  }

  private enqueue(edit: () => Thenable<void>): void {
    this.chain = this.chain.then(edit).then(undefined, (e: unknown) => console.error('llmnb: output edit failed', e));
  }
}
