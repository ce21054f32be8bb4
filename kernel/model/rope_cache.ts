// RoPE cos/sin tables on the GPU for positions [0, P), grown (doubling) as longer sequences arrive, never past the
// model's context. Computed on the CPU in f32 exactly as the reference (rope_tables.ts).
import type { Gpu } from '../gpu/context.js';
import { Tensor } from '../gpu/tensor.js';
import type { LlamaConfig } from './config.js';
import { ropeTables } from './rope_tables.js';

export class RopeCache {
  private tables: { cos: Tensor; sin: Tensor } | null = null;
  private positions = 0;

  constructor(private readonly gpu: Gpu, private readonly config: LlamaConfig) {}

  /** cos, sin: [P, headDim/2] f32 with P >= `positions`. */
  get(positions: number): { cos: Tensor; sin: Tensor } {
    if (this.tables && positions <= this.positions) return this.tables;
    const c = this.config;
    const p = Math.min(c.contextLength, Math.max(positions, 2 * this.positions, 256));
    const { cos, sin } = ropeTables(c.headDim, c.ropeTheta, c.ropeScaling, p);
    this.dispose();
    const tag = (t: string) => ({ layer: 'runtime', tensor: `rope ${t}`, kind: 'other' as const });
    const cosT = Tensor.alloc(this.gpu, [p, c.headDim / 2], 'f32', tag('cos'));
    const sinT = Tensor.alloc(this.gpu, [p, c.headDim / 2], 'f32', tag('sin'));
    cosT.write(cos);
    sinT.write(sin);
    this.tables = { cos: cosT, sin: sinT };
    this.positions = p;
    return this.tables;
  }

  dispose(): void {
    this.tables?.cos.dispose();
    this.tables?.sin.dispose();
    this.tables = null;
    this.positions = 0;
  }
}
