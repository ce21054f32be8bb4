// The kernel process: started by kernel/client.ts with an IPC channel (child_process.fork), one per notebook.
// It opens the device, says `ready`, then runs `execute` requests one at a time in arrival order. A failed or
// interrupted cell aborts the cells queued behind it. Errors in cells become cell errors; anything that escapes
// (a rejected promise a cell left behind) goes to the running cell's stderr or the log, never fatal. The process
// exits when the host goes away.
import { Gpu } from './gpu/context.js';
import { errorInfo } from './output/error.js';
import { memorySnapshotMessage } from './output/memory.js';
import type { OutputSink } from './output/sink.js';
import { PROTOCOL_VERSION, type ErrorInfo, type ExecuteRequest, type HostMessage, type KernelMessage } from './protocol.js';
import { Session } from './session.js';

function send(message: KernelMessage): void {
  if (process.connected) process.send?.(message);
}

function log(level: 'info' | 'warn' | 'error', message: string): void {
  send({ type: 'log', level, message });
}

if (!process.send) {
  console.error('kernel/main is started by the llmnb host (VS Code or `llmnb run`) over an IPC channel, not directly.');
  process.exit(2);
}

const logSink: OutputSink = {
  output: (o) => log('info', o.items.find((i) => i.mime === 'text/plain')?.data ?? ''),
  stream: (name, text) => log(name === 'stderr' ? 'warn' : 'info', text),
};
const session = new Session({
  cwd: process.cwd(), openGpu: () => Gpu.open(), idleSink: logSink, showView: (view) => send({ type: 'show-view', view }),
});
const queue: ExecuteRequest[] = [];
let draining = false;
let memoryWatch: { stop: () => void } | null = null;

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    for (let req = queue.shift(); req; req = queue.shift()) {
      const execId = req.id;
      send({ type: 'started', execId, order: session.executionCount + 1, startTime: Date.now() });
      const sink: OutputSink = {
        output: (output, key) => send({ type: 'output', execId, output, ...(key !== undefined ? { key } : {}) }),
        stream: (name, text) => send({ type: 'stream', execId, name, text }),
      };
      const result = await session.execute(req.source, sink);
      send({ type: 'done', execId, success: result.success, durationMs: Math.round(result.durationMs), ...(result.error ? { error: result.error } : {}) });
      if (!result.success) abortQueued(`not run: cell ${result.order} failed`);
    }
  } finally {
    draining = false;
  }
}

function abortQueued(why: string): void {
  const error: ErrorInfo = { name: 'Aborted', message: why, hint: '' };
  for (const req of queue.splice(0)) send({ type: 'done', execId: req.id, success: false, durationMs: 0, error, aborted: true });
}

function interrupt(): void {
  abortQueued('not run: the kernel was interrupted');
  session.interrupt();
}

function watchMemory(intervalMs: number | null): void {
  memoryWatch?.stop();
  memoryWatch = null;
  const gpu = session.gpuIfOpen;
  if (intervalMs === null || !gpu) return;
  const allocator = gpu.allocator;
  let timer: ReturnType<typeof setTimeout> | null = null;
  // The most bytes live at once since the last push: a spike between two pushes still reaches the timeline.
  let intervalPeak = allocator.liveBytes;
  const push = () => {
    timer = null;
    send({ type: 'memory', snapshot: memorySnapshotMessage(allocator.snapshot(), intervalPeak) });
    intervalPeak = allocator.liveBytes;
  };
  const off = allocator.onChange(() => {
    intervalPeak = Math.max(intervalPeak, allocator.liveBytes);
    timer ??= setTimeout(push, intervalMs);
  });
  push();
  memoryWatch = { stop: () => { off(); if (timer) clearTimeout(timer); } };
}

function handle(m: HostMessage): void {
  switch (m.type) {
    case 'execute':
      queue.push(m);
      void drain();
      break;
    case 'interrupt':
      interrupt();
      break;
    case 'inspect': {
      let result = null;
      try {
        result = session.inspect(m.expression, m.target);
      } catch (e) {
        log('warn', `inspect ${m.expression}: ${errorInfo(e).message}`);
      }
      send({ type: 'inspect-result', id: m.id, result });
      break;
    }
    case 'memory': {
      const gpu = session.gpuIfOpen;
      send({ type: 'memory', id: m.id, snapshot: gpu ? memorySnapshotMessage(gpu.allocator.snapshot()) : null });
      break;
    }
    case 'watch-memory':
      watchMemory(m.intervalMs);
      break;
    case 'shutdown':
      shutdown(0);
      break;
  }
}

function shutdown(code: number): never {
  memoryWatch?.stop();
  session.gpuIfOpen?.destroy();
  process.exit(code);
}

process.on('message', (m) => handle(m as HostMessage));
// An interrupt also arrives as SIGINT (it stops synchronous loops, see Session.execute); also Ctrl+C in a terminal.
process.on('SIGINT', interrupt);
process.on('disconnect', () => shutdown(0));
// A cell's forgotten promise or timer that throws: shown in the running cell's stderr (or logged), never fatal.
function stray(kind: string, e: unknown): void {
  const { name, message } = errorInfo(e);
  const text = `${kind}: ${name}: ${message}`;
  if (session.running) session.writer().stream('stderr', `${text}\n`);
  else log('error', text);
}
process.on('uncaughtException', (e) => stray('uncaught exception', e));
process.on('unhandledRejection', (e) => stray('unhandled promise rejection', e));

session.gpu().then(
  (gpu) => send({ type: 'ready', protocol: PROTOCOL_VERSION, pid: process.pid, node: process.version, device: gpu.describe(), deviceError: null }),
  (e: unknown) => send({ type: 'ready', protocol: PROTOCOL_VERSION, pid: process.pid, node: process.version, device: null, deviceError: errorInfo(e) }),
);
