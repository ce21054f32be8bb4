// Where a running cell's outputs go: the kernel process sends them to the host as protocol events; tests collect
// them. Every producer (console capture, display, magics, progress) writes through this interface.
import type { CellOutput } from '../notebook/format.js';
import type { StreamName } from '../protocol.js';

export interface OutputSink {
  /** A new output, or, when `key` was used before in this cell, the replacement of that output. */
  output(output: CellOutput, key?: string): void;
  /** Text on stdout or stderr; consecutive chunks of one stream form one output. */
  stream(name: StreamName, text: string): void;
}
