// The host side of a kernel process: starts kernel/main (child_process.fork with an IPC channel), sends typed
// requests, routes events, and notices when the process dies. Plain Node: used by the VS Code extension and by
// `llmnb run`; imports neither `vscode` nor `webgpu`.
import { fork, type ChildProcess } from 'node:child_process';
import { LlmnbError } from './errors.js';
import type { CellOutput } from './notebook/format.js';
import {
  PROTOCOL_VERSION, type DoneEvent, type HostMessage, type HostView, type InspectResult, type InspectTarget, type KernelMessage,
  type LogEvent, type MemorySnapshotMessage, type ReadyEvent, type StartedEvent, type StreamName,
} from './protocol.js';

/** The kernel process is gone: it crashed, was killed, or was restarted while a request waited. */
export class KernelExitedError extends LlmnbError {}

export interface KernelClientOptions {
  /** The kernel entry: out/kernel/main.mjs (or kernel/main.ts with execArgv ['--import', 'tsx']). */
  kernelPath: string;
  /** The kernel's working folder: the notebook's folder. */
  cwd: string;
  /** Node binary; default: this process's (in VS Code's Electron host, run as Node via ELECTRON_RUN_AS_NODE). */
  nodePath?: string;
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** How long to wait for `ready` (default 60 s). */
  readyTimeoutMs?: number;
}

export interface ExecuteHandlers {
  onStarted?(event: StartedEvent): void;
  onOutput?(output: CellOutput, key: string | undefined): void;
  onStream?(name: StreamName, text: string): void;
}

export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** false: nobody asked it to stop (a crash, a kill from outside, a lost device that took the process down). */
  expected: boolean;
  /** The end of what the process wrote to stderr (native crash messages land here). */
  stderrTail: string;
}

type Listener<T> = (value: T) => void;

const STDERR_TAIL = 4096;

export class KernelClient {
  private child: ChildProcess | null = null;
  private readyInfo: ReadyEvent | null = null;
  private starting: Promise<ReadyEvent> | null = null;
  private stopping = false;
  private seq = 0;
  private stderrTail = '';
  private readonly executions = new Map<string, { handlers: ExecuteHandlers; resolve: (d: DoneEvent) => void; reject: (e: Error) => void }>();
  private readonly requests = new Map<string, { resolve: (m: KernelMessage) => void; reject: (e: Error) => void }>();
  private readonly listeners = {
    exit: new Set<Listener<KernelExit>>(),
    memory: new Set<Listener<MemorySnapshotMessage | null>>(),
    log: new Set<Listener<LogEvent>>(),
    showView: new Set<Listener<HostView>>(),
    stderr: new Set<Listener<string>>(),
  };

  constructor(private readonly opts: KernelClientOptions) {}

  get pid(): number | undefined { return this.child?.pid; }
  get alive(): boolean { return this.child !== null; }
  /** The last `ready` message (device info), once started. */
  get ready(): ReadyEvent | null { return this.readyInfo; }

  /** Starts the process (if not running) and waits for `ready`. */
  start(): Promise<ReadyEvent> {
    if (this.readyInfo && this.child) return Promise.resolve(this.readyInfo);
    this.starting ??= this.spawn().finally(() => { this.starting = null; });
    return this.starting;
  }

  /** Runs a cell; resolves when it is done (also when it failed). Rejects with KernelExitedError if the process dies. */
  async execute(source: string, handlers: ExecuteHandlers = {}): Promise<DoneEvent> {
    await this.start();
    const id = this.nextId('x');
    return new Promise<DoneEvent>((resolve, reject) => {
      this.executions.set(id, { handlers, resolve, reject });
      this.post({ type: 'execute', id, source });
    });
  }

  /** Stops the running cell at its next step boundary and drops the queued ones. */
  interrupt(): void {
    // Before `ready` the kernel has no SIGINT handler yet, and the signal would end it.
    if (!this.child || !this.readyInfo) return;
    this.post({ type: 'interrupt' });
    // SIGINT also stops a cell stuck in a synchronous loop (it cannot read IPC). Windows has no such signal.
    if (process.platform !== 'win32') this.child.kill('SIGINT');
  }

  /** What an expression (or, with target 'tensor-name', a parameter name or glob) names, for hovers; null when it
   *  names nothing, the kernel is not ready, or it does not answer within the timeout. */
  async inspect(expression: string, timeoutMs = 1000, target: InspectTarget = 'expression'): Promise<InspectResult | null> {
    if (!this.readyInfo) return null;
    const reply = await this.request({ type: 'inspect', id: this.nextId('i'), expression, target }, timeoutMs).catch(() => null);
    return reply?.type === 'inspect-result' ? reply.result : null;
  }

  /** One memory snapshot; null when the kernel has no device. */
  async memory(timeoutMs = 5000): Promise<MemorySnapshotMessage | null> {
    await this.start();
    const reply = await this.request({ type: 'memory', id: this.nextId('m') }, timeoutMs);
    return reply.type === 'memory' ? reply.snapshot : null;
  }

  /** Pushed snapshots (see onMemory) at most every intervalMs while the allocator changes; null stops them. */
  watchMemory(intervalMs: number | null): void {
    if (this.child) this.post({ type: 'watch-memory', intervalMs });
  }

  onExit(l: Listener<KernelExit>): () => void { return this.listen('exit', l); }
  onMemory(l: Listener<MemorySnapshotMessage | null>): () => void { return this.listen('memory', l); }
  onLog(l: Listener<LogEvent>): () => void { return this.listen('log', l); }
  /** A cell asked the host to show a view (`%memory --panel`). */
  onShowView(l: Listener<HostView>): () => void { return this.listen('showView', l); }
  onStderr(l: Listener<string>): () => void { return this.listen('stderr', l); }

  /** Kills the process (freeing all its GPU memory) and starts a fresh one. */
  async restart(): Promise<ReadyEvent> {
    await this.kill('the kernel was restarted');
    return this.start();
  }

  /** Asks the kernel to exit; kills it if it has not exited within `graceMs`. */
  async shutdown(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.post({ type: 'shutdown' });
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the process now. Pending requests fail with KernelExitedError(reason). */
  async kill(reason = 'the kernel was stopped'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.failPending(new KernelExitedError(reason, ''));
    child.kill('SIGKILL');
    await exited;
  }

  private spawn(): Promise<ReadyEvent> {
    const o = this.opts;
    this.stopping = false;
    this.stderrTail = '';
    const child = fork(o.kernelPath, [], {
      cwd: o.cwd,
      execPath: o.nodePath ?? process.execPath,
      execArgv: o.execArgv ?? [],
      env: { ...(o.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    this.readyInfo = null;
    const capture = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL);
      for (const l of this.listeners.stderr) l(text);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    return new Promise<ReadyEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new KernelExitedError(`the kernel did not start within ${(o.readyTimeoutMs ?? 60000) / 1000} s`, 'See the kernel log for what it was doing; restart to try again.'));
        child.kill('SIGKILL');
      }, o.readyTimeoutMs ?? 60000);
      child.on('message', (m: KernelMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          if (m.protocol !== PROTOCOL_VERSION) {
            reject(new KernelExitedError(`the kernel speaks protocol ${m.protocol}, this host ${PROTOCOL_VERSION}`, 'Rebuild llmnb (npm run build) so that the extension and the kernel match.'));
            child.kill('SIGKILL');
            return;
          }
          this.readyInfo = m;
          resolve(m);
          return;
        }
        this.dispatch(m);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new KernelExitedError(`could not start the kernel: ${e.message}`, 'Check that Node.js 20 or newer is installed (setting llmnb.kernel.nodePath).'));
      });
      // 'close', not 'exit': by then stderr has been read to the end (a native crash message is in the tail).
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (this.child === child) this.child = null;
        const exit: KernelExit = { code, signal, expected: this.stopping, stderrTail: this.stderrTail };
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const err = this.readyInfo || exit.expected
          ? new KernelExitedError(`the kernel process ${how}${exit.expected ? '' : ' unexpectedly'}`,
            'Restart the kernel (its variables and loaded model are gone) and run the cells again.')
          : new KernelExitedError(`the kernel process ${how} before it was ready: ${lastLine(this.stderrTail)}`,
            'See the kernel log (VS Code: Output > llmnb; llmnb run: LLMNB_DEBUG=1) for the whole message.');
        this.readyInfo = null;
        reject(err); // no-op once ready
        this.failPending(err);
        for (const l of this.listeners.exit) l(exit);
      });
    });
  }

  private dispatch(m: KernelMessage): void {
    switch (m.type) {
      case 'started': this.executions.get(m.execId)?.handlers.onStarted?.(m); break;
      case 'output': this.executions.get(m.execId)?.handlers.onOutput?.(m.output, m.key); break;
      case 'stream': this.executions.get(m.execId)?.handlers.onStream?.(m.name, m.text); break;
      case 'done': {
        const e = this.executions.get(m.execId);
        this.executions.delete(m.execId);
        e?.resolve(m);
        break;
      }
      case 'memory':
        if (m.id !== undefined) this.answer(m.id, m);
        else for (const l of this.listeners.memory) l(m.snapshot);
        break;
      case 'inspect-result': this.answer(m.id, m); break;
      case 'log': for (const l of this.listeners.log) l(m); break;
      case 'show-view': for (const l of this.listeners.showView) l(m.view); break;
      case 'ready': break;
    }
  }

  private request(message: HostMessage & { id: string }, timeoutMs: number): Promise<KernelMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(message.id);
        reject(new KernelExitedError(`the kernel did not answer ${message.type} within ${timeoutMs} ms`, 'It may be busy in synchronous code; interrupt or restart it.'));
      }, timeoutMs);
      this.requests.set(message.id, {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.post(message);
    });
  }

  private answer(id: string, m: KernelMessage): void {
    const r = this.requests.get(id);
    this.requests.delete(id);
    r?.resolve(m);
  }

  private failPending(err: Error): void {
    for (const e of this.executions.values()) e.reject(err);
    this.executions.clear();
    for (const r of this.requests.values()) r.reject(err);
    this.requests.clear();
  }

  private post(message: HostMessage): void {
    if (this.child?.connected) this.child.send(message);
  }

  private nextId(prefix: string): string {
    return `${prefix}${++this.seq}`;
  }

  private listen<K extends keyof KernelClient['listeners']>(kind: K, l: KernelClient['listeners'][K] extends Set<infer F> ? F : never): () => void {
    const set = this.listeners[kind] as Set<typeof l>;
    set.add(l);
    return () => set.delete(l);
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter((l) => l.trim()).at(-1) ?? '(no output)';
}
