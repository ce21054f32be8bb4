// Builds a cell's output list from kernel events, the same way on every host: keyed outputs replace the earlier
// output with that key; stream text joins the last output when it is the same stream. `llmnb run` keeps the
// result; the VS Code controller applies the same decisions to its cell (see src/execution.ts).
import type { CellOutput } from '../notebook/format.js';
import type { StreamName } from '../protocol.js';
import { streamOf, streamOutput } from './text.js';

/** What changed: a new output at `index`, or the output at `index` was replaced / extended. */
export interface OutputChange { index: number; change: 'added' | 'replaced' | 'extended' }

export class OutputAccumulator {
  readonly outputs: CellOutput[] = [];
  private readonly keyed = new Map<string, number>();

  output(output: CellOutput, key?: string): OutputChange {
    const known = key === undefined ? undefined : this.keyed.get(key);
    if (known !== undefined) {
      this.outputs[known] = output;
      return { index: known, change: 'replaced' };
    }
    this.outputs.push(output);
    if (key !== undefined) this.keyed.set(key, this.outputs.length - 1);
    return { index: this.outputs.length - 1, change: 'added' };
  }

  stream(name: StreamName, text: string): OutputChange {
    const last = this.outputs.length - 1;
    if (last >= 0 && streamOf(this.outputs[last]) === name) {
      const prev = this.outputs[last];
      this.outputs[last] = streamOutput(name, prev.items[0].data + text);
      return { index: last, change: 'extended' };
    }
    this.outputs.push(streamOutput(name, text));
    return { index: this.outputs.length - 1, change: 'added' };
  }
}
