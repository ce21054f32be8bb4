// `llmnb run NOTEBOOK [--out FILE] [--timeout SECONDS]`: runs every code cell in order in a fresh kernel process,
// prints each cell's text output as it arrives, and writes outputs and execution info into FILE (default: the
// notebook itself). Stops at the first failing cell. Exit code: 0 all cells succeeded, 1 a cell failed (or the
// notebook could not be read or the kernel died), 2 usage error.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelClient } from '../client.js';
import { UsageError } from '../errors.js';
import { parseArgs, usageLine } from '../magics/parse.js';
import { encodeNotebook, outputText, parseNotebook, type CellOutput, type CodeCell } from '../notebook/format.js';
import { OutputAccumulator } from '../output/accumulate.js';
import { ERROR_MIME, errorInfo, errorOutput } from '../output/error.js';
import type { ErrorInfo } from '../protocol.js';

export const summary = 'Run a notebook\'s code cells in a fresh kernel and save their outputs';

const params = {
  notebook: { type: 'path', positional: true, required: true, summary: 'the .llmnb file to run' },
  out: { type: 'path', summary: 'where to write the notebook with its outputs (default: the notebook itself)' },
  timeout: { type: 'float', min: 0.001, summary: 'limit per cell in seconds; a cell that runs longer is interrupted and fails' },
} as const;

export const usage = usageLine('llmnb run', params);

/** Milliseconds between an interrupt for a timeout and killing the kernel. */
const INTERRUPT_GRACE_MS = 5000;

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(params, argv.map((text) => ({ text, quoted: false })), { command: 'llmnb run', cwd: process.cwd() });
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(args.notebook);
  } catch (e) {
    throw new UsageError(`llmnb run: cannot read ${args.notebook}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `usage: ${usage}`);
  }
  const nb = parseNotebook(bytes, args.notebook);
  const outFile = args.out ?? args.notebook;
  const client = new KernelClient({ ...kernelEntry(), cwd: path.dirname(args.notebook) });
  client.onStderr((text) => { if (process.env.LLMNB_DEBUG === '1') process.stderr.write(text); });
  let interrupts = 0;
  const onSigint = () => {
    // The kernel hears Ctrl+C itself (same process group); a second Ctrl+C stops everything.
    if (++interrupts > 1) void client.kill('stopped with Ctrl+C');
  };
  process.on('SIGINT', onSigint);
  try {
    const ready = await client.start();
    if (ready.device) process.stderr.write(`[llmnb] device: ${ready.device.adapter}${ready.device.software ? ' (software)' : ''}\n`);
    else if (ready.deviceError) process.stderr.write(`[llmnb] no device: ${ready.deviceError.message}\n`);
    const codeCells = nb.cells.filter((c): c is CodeCell => c.kind === 'code');
    let ok = true;
    for (const [i, cell] of codeCells.entries()) {
      ok = await runCell(client, cell, i + 1, args.timeout);
      if (!ok) break;
    }
    writeAtomically(outFile, encodeNotebook(nb));
    process.stderr.write(`[llmnb] ${ok ? 'all cells ran' : 'stopped at a failing cell'}; wrote ${outFile}\n`);
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await client.shutdown();
  }
}

async function runCell(client: KernelClient, cell: CodeCell, index: number, timeoutS: number | undefined): Promise<boolean> {
  const firstLine = cell.source.split('\n', 1)[0];
  process.stdout.write(`\n[${index}] ${firstLine.length > 70 ? `${firstLine.slice(0, 67)}...` : firstLine}\n`);
  const acc = new OutputAccumulator();
  const progress = new ProgressPrinter();
  let order: number | undefined;
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timer = timeoutS === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    client.interrupt();
    killTimer = setTimeout(() => void client.kill(`cell ${index} did not stop within ${INTERRUPT_GRACE_MS / 1000} s of being interrupted`), INTERRUPT_GRACE_MS);
  }, timeoutS * 1000);
  let success: boolean;
  let durationMs = 0;
  try {
    const done = await client.execute(cell.source, {
      onStarted: (e) => { order = e.order; },
      onStream: (name, text) => {
        progress.end();
        acc.stream(name, text);
        (name === 'stderr' ? process.stderr : process.stdout).write(text);
      },
      onOutput: (output, key) => {
        acc.output(output, key);
        if (key !== undefined) progress.show(key, outputText(output));
        else printOutput(output, progress);
      },
    });
    durationMs = done.durationMs;
    // A cell past its limit fails even if it ignored the interrupt and finished.
    success = done.success && !timedOut;
    if (timedOut) replaceLastError(acc, timeoutError(index, timeoutS));
  } catch (e) {
    // The kernel process died (or was killed after a timeout): the cell gets the reason as its error output.
    success = false;
    const info = timedOut ? timeoutError(index, timeoutS) : errorInfo(e);
    const out = errorOutput(info);
    acc.output(out);
    printOutput(out, progress);
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    progress.end();
  }
  cell.outputs = acc.outputs;
  cell.execution = { ...(order !== undefined ? { order } : {}), success, durationMs: Math.round(durationMs) };
  return success;
}

function timeoutError(index: number, timeoutS: number | undefined): ErrorInfo {
  return { name: 'TimeoutError', message: `cell ${index} ran longer than --timeout ${timeoutS} s and was stopped`, hint: 'Raise --timeout, or make the cell do less.' };
}

/** Replaces the kernel's CancelledError output, if any, by `info`. */
function replaceLastError(acc: OutputAccumulator, info: ErrorInfo): void {
  const last = acc.outputs[acc.outputs.length - 1];
  if (last?.items.some((i) => i.mime === ERROR_MIME)) acc.outputs.pop();
  printOutput(errorOutput(info), null);
  acc.output(errorOutput(info));
}

function printOutput(output: CellOutput, progress: ProgressPrinter | null): void {
  progress?.end();
  const isError = output.items.some((i) => i.mime === ERROR_MIME);
  (isError ? process.stderr : process.stdout).write(`${outputText(output)}\n`);
}

/** Progress lines: redrawn in place on a terminal; elsewhere only their last state is printed. */
class ProgressPrinter {
  private key: string | null = null;
  private text = '';

  show(key: string, text: string): void {
    if (this.key !== null && this.key !== key) this.end();
    this.key = key;
    this.text = text;
    if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${text}`);
  }

  end(): void {
    if (this.key === null) return;
    process.stdout.write(process.stdout.isTTY ? '\n' : `${this.text}\n`);
    this.key = null;
  }
}

function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/** The kernel entry next to this module: out/kernel/main.mjs when bundled, kernel/main.ts (through tsx) in tests. */
function kernelEntry(): { kernelPath: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  // tsx by URL: the kernel runs in the notebook's folder, where `--import tsx` would not resolve.
  return here.endsWith('.ts')
    ? { kernelPath: path.join(path.dirname(here), '..', 'main.ts'), execArgv: ['--import', import.meta.resolve('tsx')] }
    : { kernelPath: path.join(path.dirname(here), 'main.mjs'), execArgv: [] };
}
