// A Llama 3 model on the GPU: parameters by HF name, the module tree users navigate
// (`model.layers[0].self_attn.q_proj.weight`), the head (language-model or classifier), and the forward pass.
import type { Gpu } from '../gpu/context.js';
import { Tensor, type DType } from '../gpu/tensor.js';
import { UsageError } from '../errors.js';
import { embedding } from '../ops/embedding.js';
import { linear } from '../ops/linear.js';
import { matmulClassesFor, tuneMatmuls } from '../ops/matmul/autotune.js';
import { rmsnorm } from '../ops/rmsnorm.js';
import { gatherRows } from '../ops/rows.js';
import { canonicalName } from '../io/names.js';
import { blockForward, type BlockWeights } from './block.js';
import type { LlamaConfig } from './config.js';
import type { KvCache } from './kv_cache.js';
import { Parameter } from './parameter.js';
import { llamaParamSpecs, type ParamSpec } from './param_specs.js';
import { RopeCache } from './rope_cache.js';

export type HeadInfo =
  | { kind: 'lm' }
  | { kind: 'classifier'; classes: number; labels: string[]; bias: boolean };

/** The HF module tree of one block, as users address it. */
export interface BlockModules {
  input_layernorm: { weight: Parameter };
  self_attn: { q_proj: { weight: Parameter }; k_proj: { weight: Parameter }; v_proj: { weight: Parameter }; o_proj: { weight: Parameter } };
  post_attention_layernorm: { weight: Parameter };
  mlp: { gate_proj: { weight: Parameter }; up_proj: { weight: Parameter }; down_proj: { weight: Parameter } };
}

export interface ForwardOptions {
  /** Activation precision: 'f32' (default) or 'bf16' (every op's output rounded to bf16, as PyTorch bf16). */
  compute?: DType;
  /** Decode with a KV cache: tokens sit at positions cache.length.. and are appended to the cache. */
  cache?: KvCache | null;
}

export class LlamaModel {
  private readonly byName = new Map<string, Parameter>();
  readonly rope: RopeCache;
  head: HeadInfo = { kind: 'lm' };
  /** Where the weights came from (path, preset + init), for display. */
  source = '';

  // The module tree (HF names without the leading "model.").
  readonly embed_tokens: { weight: Parameter };
  readonly layers: BlockModules[] = [];
  readonly norm: { weight: Parameter };
  lm_head: { weight: Parameter } | null;
  out_head: { weight: Parameter; bias?: Parameter } | null = null;

  /** Creates the model's parameters without GPU storage ("empty"); allocate or load them afterwards. */
  constructor(readonly gpu: Gpu, readonly config: LlamaConfig) {
    for (const spec of llamaParamSpecs(config)) this.addParameter(spec);
    const p = (n: string) => this.byName.get(n)!;
    this.embed_tokens = { weight: p('model.embed_tokens.weight') };
    for (let i = 0; i < config.numLayers; i++) {
      const b = `model.layers.${i}.`;
      this.layers.push({
        input_layernorm: { weight: p(`${b}input_layernorm.weight`) },
        self_attn: {
          q_proj: { weight: p(`${b}self_attn.q_proj.weight`) }, k_proj: { weight: p(`${b}self_attn.k_proj.weight`) },
          v_proj: { weight: p(`${b}self_attn.v_proj.weight`) }, o_proj: { weight: p(`${b}self_attn.o_proj.weight`) },
        },
        post_attention_layernorm: { weight: p(`${b}post_attention_layernorm.weight`) },
        mlp: { gate_proj: { weight: p(`${b}mlp.gate_proj.weight`) }, up_proj: { weight: p(`${b}mlp.up_proj.weight`) }, down_proj: { weight: p(`${b}mlp.down_proj.weight`) } },
      });
    }
    this.norm = { weight: p('model.norm.weight') };
    this.lm_head = { weight: config.tieWordEmbeddings ? this.embed_tokens.weight : p('lm_head.weight') };
    this.rope = new RopeCache(gpu, config);
  }

  get dtype(): DType { return this.config.dtype; }

  /** Every parameter, in forward order (a tied head is listed once, as the embedding). */
  parameters(): Parameter[] {
    return [...this.byName.values()];
  }

  /** The parameter called `name` (HF or LLMs-from-scratch spelling), or undefined. */
  parameter(name: string): Parameter | undefined {
    return this.byName.get(name) ?? this.byName.get(canonicalName(name) ?? '');
  }

  addParameter(spec: ParamSpec): Parameter {
    const param = new Parameter(this.gpu, spec.name, spec.shape, this.config.dtype, spec.layer);
    this.byName.set(spec.name, param);
    return param;
  }

  removeParameter(name: string): void {
    this.byName.get(name)?.free();
    this.byName.delete(name);
  }

  /** Bytes the weights take once all are resident. */
  get weightBytes(): number {
    return this.parameters().reduce((s, p) => s + p.allocatedBytes, 0);
  }

  blockWeights(i: number): BlockWeights {
    const l = this.layers[i];
    return {
      inputNorm: l.input_layernorm.weight, q: l.self_attn.q_proj.weight, k: l.self_attn.k_proj.weight,
      v: l.self_attn.v_proj.weight, o: l.self_attn.o_proj.weight, postNorm: l.post_attention_layernorm.weight,
      gate: l.mlp.gate_proj.weight, up: l.mlp.up_proj.weight, down: l.mlp.down_proj.weight,
    };
  }

  /** The head's weight and bias (LM head or classifier). */
  headWeights(): { weight: Parameter; bias: Parameter | null } {
    if (this.out_head) return { weight: this.out_head.weight, bias: this.out_head.bias ?? null };
    if (this.lm_head) return { weight: this.lm_head.weight, bias: null };
    throw new Error('model has no head');
  }

  /** Checks token ids against the vocabulary and a length against the context. */
  checkInput(ids: ArrayLike<number>, positions: number): void {
    if (positions > this.config.contextLength) {
      throw new UsageError(`${positions} positions exceed the model's context length (${this.config.contextLength})`,
        'Shorten the input (e.g. --max-length) or generate fewer tokens.');
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new UsageError(`token id ${id} at index ${i} is outside the vocabulary (0..${this.config.vocabSize - 1})`,
          'Use ids from this model\'s tokenizer.');
      }
    }
  }

  /**
   * Runs the blocks and the final norm. ids: B sequences of T tokens, row-major ([B*T]).
   * Returns hidden: [B*T, D] f32 after the final RMSNorm. With a cache, appends to it.
   */
  hidden(ids: Uint32Array, batch: number, opts: ForwardOptions = {}): Tensor {
    const c = this.config;
    const T = ids.length / batch;
    if (!Number.isInteger(T) || T < 1) throw new UsageError(`${ids.length} ids do not form ${batch} sequences of equal length`, 'Pad the sequences to one length.');
    const cache = opts.cache ?? null;
    const posOffset = cache ? cache.length : 0;
    if (cache && (cache.batch !== batch || posOffset + T > cache.capacity)) {
      throw new UsageError(`KV cache holds ${cache.batch} sequences of up to ${cache.capacity} positions; got ${batch} x ${posOffset + T}`, 'Create a cache large enough for prompt + new tokens.');
    }
    this.checkInput(ids, posOffset + T);
    const compute = opts.compute ?? 'f32';
    const gpu = this.gpu;
    const { cos, sin } = this.rope.get(posOffset + T);
    const idsT = Tensor.scratch(gpu, [batch * T], gpu.activationTag('token ids'), 'u32');
    idsT.write(ids);
    gpu.activationLayer = 'embeddings';
    let x = embedding(gpu, this.embed_tokens.weight.tensor, idsT, compute);
    idsT.dispose();
    for (let i = 0; i < c.numLayers; i++) {
      gpu.activationLayer = `block.${i}`;
      const next = blockForward(gpu, c, this.blockWeights(i), i, x, { batch, seqLen: T, posOffset, cos, sin, compute, cache });
      x.dispose();
      x = next;
    }
    if (cache) cache.length += T;
    gpu.activationLayer = 'final_norm';
    const h = rmsnorm(gpu, x, this.norm.weight.tensor, c.rmsNormEps, compute);
    x.dispose();
    gpu.activationLayer = 'runtime';
    return h;
  }

  /** logits: [rows.length, V or classes] f32 for the chosen rows of `hidden` ([N, D]); all rows when omitted. */
  logits(hidden: Tensor, rows?: ArrayLike<number>, compute: DType = 'f32'): Tensor {
    const gpu = this.gpu;
    gpu.activationLayer = 'head';
    let x = hidden;
    if (rows) {
      const n = hidden.numel / hidden.shape[hidden.shape.length - 1];
      const bad = Array.from(rows).find((r) => !Number.isInteger(r) || r < 0 || r >= n);
      if (bad !== undefined) throw new UsageError(`logits: row ${bad} is not a row of the hidden states (0..${n - 1})`, 'Pass row indices of hidden, e.g. the last position T - 1.');
      const idx = Tensor.scratch(gpu, [rows.length], gpu.activationTag('row ids'), 'u32');
      idx.write(Uint32Array.from(rows));
      x = gatherRows(gpu, hidden, idx);
      idx.dispose();
    }
    const { weight, bias } = this.headWeights();
    const out = linear(gpu, x, weight.tensor, bias?.tensor ?? null, compute);
    if (x !== hidden) x.dispose();
    gpu.activationLayer = 'runtime';
    return out;
  }

  /**
   * Chooses the matmul kernels this model's products run on this adapter (the autotune: measured once per
   * adapter, then read from the cache). Every async entry point that computes calls it first.
   */
  async prepareKernels(training = false): Promise<void> {
    await tuneMatmuls(this.gpu, matmulClassesFor(this.dtype, training));
  }

  /** Logits of every position of one sequence, read back as T rows; computed in row blocks so that a long
   *  sequence with a large vocabulary never needs a [T, V] buffer larger than 64 MiB. */
  async forwardLogits(ids: number[], opts: ForwardOptions = {}): Promise<Float32Array[]> {
    await this.prepareKernels();
    const h = this.hidden(Uint32Array.from(ids), 1, opts);
    const width = this.headWeights().weight.shape[0];
    const block = Math.max(1, Math.floor((64 << 20) / (width * 4)));
    const rows: Float32Array[] = [];
    try {
      for (let start = 0; start < ids.length; start += block) {
        const idx = Array.from({ length: Math.min(block, ids.length - start) }, (_, i) => start + i);
        const lg = this.logits(h, idx, opts.compute);
        const flat = await lg.read();
        lg.dispose();
        for (let r = 0; r < idx.length; r++) rows.push(flat.slice(r * width, (r + 1) * width));
      }
    } finally {
      h.dispose();
    }
    return rows;
  }

  /** Frees every GPU buffer the model holds. */
  dispose(): void {
    for (const p of this.parameters()) p.free();
    this.rope.dispose();
  }
}
