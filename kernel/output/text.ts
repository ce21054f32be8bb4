// Text outputs. Stream text (console.log, stderr) is stored as text/plain with metadata {"stream": "stdout"} so
// the file stays readable; the VS Code side maps it to VS Code's stdout/stderr items and back.
import type { CellOutput } from '../notebook/format.js';
import type { StreamName } from '../protocol.js';

export const TEXT_MIME = 'text/plain';

export function textOutput(text: string): CellOutput {
  return { items: [{ mime: TEXT_MIME, data: text }] };
}

export function streamOutput(name: StreamName, text: string): CellOutput {
  return { items: [{ mime: TEXT_MIME, data: text }], metadata: { stream: name } };
}

/** The stream an output holds, if it is a stream output. */
export function streamOf(output: CellOutput): StreamName | undefined {
  const s = output.metadata?.stream;
  return s === 'stdout' || s === 'stderr' ? s : undefined;
}
