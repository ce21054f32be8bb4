// Messages between a host (the VS Code extension or `llmnb run`) and a kernel process (kernel/main.ts), sent
// over Node's child-process IPC channel. This is the one module both sides import; it holds types only, plus
// the protocol version that both sides check when the kernel says it is ready.
import type { MemoryKind } from './gpu/allocator.js';
import type { DeviceDescription } from './gpu/context.js';
import type { CellOutput } from './notebook/format.js';

/** Bump when a message changes shape; the client refuses a kernel with another version. */
export const PROTOCOL_VERSION = 2;

// ---- host -> kernel ----

/** Runs `source` after the cells queued before it. */
export interface ExecuteRequest { type: 'execute'; id: string; source: string }
/** Stops the running cell at its next step boundary and drops the queued ones; the kernel's state stays. */
export interface InterruptRequest { type: 'interrupt' }
/**
 * Describes what `expression` names, for hovers, without running code: target 'expression' (default) resolves a
 * JavaScript name or member expression by property access only (never a call or a getter); 'tensor-name' looks a
 * parameter name or glob up in the bound model (`model.norm.weight`, `trf_blocks.0.att.*`).
 */
export interface InspectRequest { type: 'inspect'; id: string; expression: string; target?: InspectTarget }
export type InspectTarget = 'expression' | 'tensor-name';
/** Asks for one memory snapshot (answered with a `memory` message carrying the same id). */
export interface MemoryRequest { type: 'memory'; id: string }
/** Starts (intervalMs > 0) or stops (null) `memory` messages pushed while the allocator changes, throttled.
 *  Send it after `ready`: a kernel without a device has nothing to watch. */
export interface WatchMemoryRequest { type: 'watch-memory'; intervalMs: number | null }
/** Releases the device and exits at once (a running cell is abandoned). */
export interface ShutdownRequest { type: 'shutdown' }

export type HostMessage = ExecuteRequest | InterruptRequest | InspectRequest | MemoryRequest | WatchMemoryRequest | ShutdownRequest;

// ---- kernel -> host ----

/** What the host shows for a failed cell: a one-line cause and what to do. */
export interface ErrorInfo {
  name: string;
  message: string;
  /** One sentence: what the user can do. Empty when there is nothing specific to say. */
  hint: string;
  /** For errors in user code: `name: message` plus the first user-code frame (never kernel internals). */
  stack?: string;
}

/** First message of every kernel: the device it opened, or why it has none (cells that need no GPU still run). */
export interface ReadyEvent {
  type: 'ready';
  protocol: number;
  pid: number;
  node: string;
  device: DeviceDescription | null;
  deviceError: ErrorInfo | null;
}

/** A queued cell started running: its execution counter, and the kernel's clock in ms since the epoch. */
export interface StartedEvent { type: 'started'; execId: string; order: number; startTime: number }

/**
 * A new output of a running cell. An output with a `key` that was already sent replaces that earlier output in
 * place (progress lines); without a key it is appended.
 */
export interface OutputEvent { type: 'output'; execId: string; output: CellOutput; key?: string }

/** Text written to a cell's stdout or stderr; consecutive chunks of one stream belong in one output. */
export interface StreamEvent { type: 'stream'; execId: string; name: StreamName; text: string }
export type StreamName = 'stdout' | 'stderr';

/** A cell finished. `aborted`: it never ran because an earlier cell failed or the kernel was interrupted. */
export interface DoneEvent {
  type: 'done';
  execId: string;
  success: boolean;
  durationMs: number;
  error?: ErrorInfo;
  aborted?: boolean;
}

/** Allocator state: rows as an Arrow IPC file (base64), see kernel/output/memory.ts for the columns. */
export interface MemoryEvent {
  type: 'memory';
  /** The request's id, or absent for a pushed update. */
  id?: string;
  /** null when the kernel has no device. */
  snapshot: MemorySnapshotMessage | null;
}

export interface MemorySnapshotMessage {
  arrowBase64: string;
  /** The kernel's clock (ms since the epoch) when the snapshot was taken. */
  time: number;
  liveBytes: number;
  peakBytes: number;
  /** The most bytes live at one time since the previous pushed snapshot (equal to liveBytes for a requested one):
   *  a timeline drawn from throttled snapshots still shows every spike. */
  intervalPeakBytes: number;
  limitBytes: number | null;
  /** Live and peak bytes per kind and per layer (a peak is the most held at one time, not a sum of tag peaks). */
  kinds: Record<MemoryKind, { liveBytes: number; peakBytes: number }>;
  layers: Record<string, { liveBytes: number; peakBytes: number }>;
}

export interface InspectResultEvent { type: 'inspect-result'; id: string; result: InspectResult | null }

/** What a hover shows; null result: the expression names nothing the kernel can describe without running code. */
export interface InspectResult {
  expression: string;
  /** 'Parameter', 'Tensor', 'number', 'Array(3)', a class name, ... */
  type: string;
  /** Plain-text description, one fact per line. */
  text: string;
  /** A tensor, a model parameter, or an object with `shape` and `dtype`. */
  tensor?: TensorFacts;
  /** An object holding model parameters (the model, a block, `model.layers`) or a glob's matches: their sum. */
  parameters?: ParameterSummary;
}

export interface TensorFacts {
  dtype: string;
  shape: number[];
  /** Bytes of the elements. */
  bytes: number;
  /** For model parameters and GPU tensors: the HF name or the allocator's tensor label, its layer and memory kind. */
  name?: string;
  layer?: string;
  kind?: MemoryKind;
  /** Model parameters only. */
  trainable?: boolean;
  /** Whether its GPU storage exists (false: a parameter of an empty model, a disposed tensor). */
  resident?: boolean;
}

export interface ParameterSummary {
  count: number;
  bytes: number;
  residentBytes: number;
  trainable: number;
  dtypes: string[];
}

/** A cell asks the host to show one of its views (`%memory --panel`); a host without it ignores the request. */
export interface ShowViewEvent { type: 'show-view'; view: HostView }
export type HostView = 'memory';

/** Kernel-side diagnostics for the host's log (not cell output). */
export interface LogEvent { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }

export type KernelMessage =
  | ReadyEvent | StartedEvent | OutputEvent | StreamEvent | DoneEvent | MemoryEvent | InspectResultEvent | ShowViewEvent | LogEvent;
