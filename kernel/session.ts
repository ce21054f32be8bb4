// A notebook's kernel state: one persistent vm context in which cells run, the magics, the GPU, and the
// cancellation flag that interrupts set and long operations poll at step boundaries.
//
// Cells are JavaScript (see session/rewrite.ts for top-level await, persistent declarations and the final value)
// with line magics (`%name ...`) mixed in, or a cell magic (`%%name ...` first line, the rest is its body). Cells
// see `llmnb` (session/api.ts), `model` and `tokenizer` (bound by magics through `session.bind`), `console`
// (captured into the cell's output), `require` (from the notebook's folder, then the kernel's), and Node's timers,
// Buffer, URL, TextEncoder/TextDecoder, fetch, process.
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import * as arrow from 'apache-arrow';
import { CancelledError, UsageError } from './errors.js';
import type { Gpu } from './gpu/context.js';
import type { LlamaModel } from './model/llama.js';
import type { LlamaTokenizer } from './model/tokenizer.js';
import { parseArgs, tokenize } from './magics/parse.js';
import { MAGICS } from './magics/registry.js';
import type { Magic } from './magics/types.js';
import { errorInfo, errorOutput } from './output/error.js';
import type { OutputSink } from './output/sink.js';
import { outputText } from './notebook/format.js';
import { CellWriter, type WriterOptions } from './output/writer.js';
import type { ErrorInfo, HostView, InspectResult, InspectTarget } from './protocol.js';
import { createCellApi } from './session/api.js';
import { cellConsole } from './session/console.js';
import { inspectExpression, inspectTensorName } from './session/inspect.js';
import { isCellMagic, MAGIC_CALL, rewriteCell } from './session/rewrite.js';

/**
 * Names the runtime binds in the cells' scope. Magics set them with `session.bind('model', m)`; the runtime's
 * owners narrow these types here when their modules land.
 */
export interface SessionBindings {
  model: LlamaModel | undefined;
  tokenizer: LlamaTokenizer | undefined;
}

export interface SessionOptions {
  /** The notebook's folder: relative paths in magics and `require` resolve from here. */
  cwd: string;
  /** Opens the device the first time something needs it. */
  openGpu: () => Promise<Gpu>;
  /** Default: every magic in magics/registry.ts. */
  magics?: readonly Magic[];
  writer?: WriterOptions;
  /** Receives output written while no cell runs (e.g. by a timer a cell left behind). Default: stderr. */
  idleSink?: OutputSink;
  /** Asks the host to show a view (VS Code: the memory panel). Absent: the host has no views. */
  showView?: (view: HostView) => void;
}

export interface CellResult {
  success: boolean;
  /** Execution counter of this cell, from 1. */
  order: number;
  durationMs: number;
  error?: ErrorInfo;
}

const stderrSink: OutputSink = {
  output: (o) => process.stderr.write(`${outputText(o)}\n`),
  stream: (_name, text) => process.stderr.write(text),
};

export class Session {
  readonly cwd: string;
  private readonly context: vm.Context;
  private readonly magics: Map<string, Magic>;
  private readonly openGpu: () => Promise<Gpu>;
  private readonly writerOptions: WriterOptions;
  private readonly idleWriter: CellWriter;
  private readonly showViewInHost: ((view: HostView) => void) | null;
  private gpuPromise: Promise<Gpu> | null = null;
  private openedGpu: Gpu | null = null;
  private cellWriter: CellWriter | null = null;
  private cancelRequested = false;
  private count = 0;

  constructor(opts: SessionOptions) {
    this.cwd = opts.cwd;
    this.openGpu = opts.openGpu;
    this.magics = new Map((opts.magics ?? MAGICS).map((m) => [m.name, m]));
    this.writerOptions = opts.writer ?? {};
    this.idleWriter = new CellWriter(opts.idleSink ?? stderrSink, this.writerOptions);
    this.showViewInHost = opts.showView ?? null;
    const scope: Record<string, unknown> = {
      llmnb: createCellApi(this),
      model: undefined,
      tokenizer: undefined,
      console: cellConsole((name, text) => this.writer().stream(name, text)),
      require: cellRequire(this.cwd),
      process, Buffer, URL, URLSearchParams, TextEncoder, TextDecoder, AbortController, AbortSignal, Event, EventTarget,
      setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, queueMicrotask,
      structuredClone, performance, fetch, atob, btoa,
    };
    Object.defineProperty(scope, MAGIC_CALL, { value: (line: string) => this.runMagic(line), enumerable: false });
    this.context = vm.createContext(scope, { name: 'llmnb cells' });
  }

  /** Cells executed so far (the last cell's execution order). */
  get executionCount(): number { return this.count; }
  get running(): boolean { return this.cellWriter !== null; }

  /** Runs one cell. Never throws: an error becomes the cell's error output and `error` in the result. */
  async execute(source: string, sink: OutputSink): Promise<CellResult> {
    const order = ++this.count;
    const writer = new CellWriter(sink, this.writerOptions);
    this.cellWriter = writer;
    this.cancelRequested = false;
    const start = performance.now();
    const finish = (error?: ErrorInfo): CellResult => ({ success: !error, order, durationMs: performance.now() - start, ...(error ? { error } : {}) });
    try {
      if (isCellMagic(source)) {
        await this.runCellMagic(source.trimStart().slice(2), writer);
      } else {
        const cell = rewriteCell(source, `cell ${order}`);
        const script = new vm.Script(cell.code, {
          filename: `cell ${order}`, lineOffset: cell.lineOffset,
          importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
        });
        // breakOnSigint: a synchronous endless loop is stopped by the SIGINT that an interrupt also sends.
        const completion = script.runInContext(this.context, { breakOnSigint: true }) as Promise<{ value: unknown } | undefined>;
        const result = await completion;
        if (result) writer.display(result.value);
      }
      return finish();
    } catch (e) {
      const info = errorInfo(asCancelled(e));
      writer.output(errorOutput(info));
      return finish(info);
    } finally {
      writer.close();
      this.cellWriter = null;
      this.cancelRequested = false;
    }
  }

  /** Asks the running cell to stop at its next step boundary. No effect when no cell runs. */
  interrupt(): void {
    if (this.running) this.cancelRequested = true;
  }

  /** Throws CancelledError if the running cell was interrupted. */
  checkCancelled(): void {
    if (this.cancelRequested) throw new CancelledError();
  }

  /** A step boundary: lets pending messages (an interrupt) in, then checks for cancellation. */
  async step(): Promise<void> {
    this.checkCancelled();
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.checkCancelled();
  }

  /** The running cell's writer; output written while no cell runs goes to the idle sink. */
  writer(): CellWriter {
    return this.cellWriter ?? this.idleWriter;
  }

  /** The device, opened on first use. A failure (no adapter) is thrown again to every caller. */
  gpu(): Promise<Gpu> {
    this.gpuPromise ??= this.openGpu().then((g) => {
      g.onNotice = (text) => this.writer().text(text);
      return (this.openedGpu = g);
    });
    return this.gpuPromise;
  }

  /** The device if it is open, without opening it. */
  get gpuIfOpen(): Gpu | null { return this.openedGpu; }

  /** Makes `value` visible to cells as `name` (`model`, `tokenizer`). */
  bind<K extends keyof SessionBindings>(name: K, value: SessionBindings[K]): void {
    this.context[name] = value;
  }

  /** What cells currently see as `name` (a cell may have reassigned it). */
  bound<K extends keyof SessionBindings>(name: K): SessionBindings[K] {
    return this.context[name] as SessionBindings[K];
  }

  magicList(): Magic[] {
    return [...this.magics.values()];
  }

  /** Runs a line magic, `name args` without the %, writing to the running cell. */
  async runMagic(line: string): Promise<void> {
    const { magic, rest } = this.findMagic(line, 'line');
    await this.invoke(magic, rest, this.writer());
  }

  /** What `expression` names (hovers), read without running code; see session/inspect.ts. */
  inspect(expression: string, target: InspectTarget = 'expression'): InspectResult | null {
    return target === 'tensor-name' ? inspectTensorName(this.context, expression) : inspectExpression(this.context, expression);
  }

  /** Asks the host to show `view` (a host without views, such as `llmnb run`, ignores it). */
  showView(view: HostView): void {
    this.showViewInHost?.(view);
  }

  private async runCellMagic(text: string, writer: CellWriter): Promise<void> {
    const newline = text.indexOf('\n');
    const first = newline < 0 ? text : text.slice(0, newline);
    const body = newline < 0 ? '' : text.slice(newline + 1);
    const { magic, rest } = this.findMagic(first, 'cell');
    await this.invoke(magic, rest, writer, body);
  }

  private findMagic(line: string, form: 'line' | 'cell'): { magic: Magic; rest: string } {
    const m = /^([A-Za-z_]\w*)(.*)$/s.exec(line.trim());
    const prefix = form === 'cell' ? '%%' : '%';
    if (!m) throw new UsageError(`not a magic: ${prefix}${line.trim()}`, 'A magic is % followed by its name, e.g. %help.');
    const magic = this.magics.get(m[1]);
    if (!magic) {
      const names = [...this.magics.keys()].map((n) => `%${n}`).join(', ');
      throw new UsageError(`unknown magic ${prefix}${m[1]}`, `Magics: ${names}. %help NAME explains one.`);
    }
    if (form === 'line' && magic.form === 'cell') {
      throw new UsageError(`%${magic.name} is a cell magic`, `Start a cell with %%${magic.name}; the rest of the cell is its input.`);
    }
    if (form === 'cell' && magic.form === 'line') {
      throw new UsageError(`%${magic.name} is a line magic, not a cell magic`, `Write it with one %: %${magic.name} ...`);
    }
    return { magic, rest: m[2] };
  }

  private async invoke(magic: Magic, argText: string, out: CellWriter, body?: string): Promise<void> {
    const command = `%${magic.name}`;
    const args = parseArgs(magic.params, tokenize(argText, command), { command, cwd: this.cwd });
    await magic.run(args, { session: this, out, step: () => this.step(), ...(body !== undefined ? { body } : {}) });
  }
}

/** An interrupted synchronous loop (SIGINT during runInContext) is a cancellation like any other. */
function asCancelled(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED' ? new CancelledError('interrupted (the cell was stopped in synchronous code)') : e;
}

/**
 * `require` for cells: apache-arrow is the kernel's own instance (one Table class, so tables a cell builds are the
 * tables llmnb.table and the outputs take; and the packaged extension ships it inside the kernel bundle); other
 * modules come from next to the notebook first, then from the kernel's node_modules.
 */
function cellRequire(cwd: string): NodeJS.Require {
  const fromNotebook = createRequire(path.join(cwd, 'notebook.js'));
  const fromKernel = createRequire(import.meta.url);
  const req = ((id: string) => {
    if (id === 'apache-arrow') return arrow;
    try {
      return fromNotebook(id);
    } catch (e) {
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
      return fromKernel(id);
    }
  }) as NodeJS.Require;
  return Object.assign(req, { resolve: fromNotebook.resolve, cache: fromNotebook.cache, main: undefined, extensions: fromNotebook.extensions });
}
