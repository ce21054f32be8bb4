// The parameters of a Llama 3 model: HF names (canonical), shapes, and the layer each belongs to (the memory
// panel's rows). Order is the order of a forward pass, which is also the order checkpoints are streamed in.
import type { LlamaConfig } from './config.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** 'embeddings', 'block.N', 'final_norm' or 'head'. */
  layer: string;
}

export function blockParamSpecs(c: LlamaConfig, i: number): ParamSpec[] {
  const p = `model.layers.${i}.`;
  const layer = `block.${i}`;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const D = c.hiddenSize;
  const F = c.intermediateSize;
  return [
    { name: `${p}input_layernorm.weight`, shape: [D], layer },
    { name: `${p}self_attn.q_proj.weight`, shape: [q, D], layer },
    { name: `${p}self_attn.k_proj.weight`, shape: [kv, D], layer },
    { name: `${p}self_attn.v_proj.weight`, shape: [kv, D], layer },
    { name: `${p}self_attn.o_proj.weight`, shape: [D, q], layer },
    { name: `${p}post_attention_layernorm.weight`, shape: [D], layer },
    { name: `${p}mlp.gate_proj.weight`, shape: [F, D], layer },
    { name: `${p}mlp.up_proj.weight`, shape: [F, D], layer },
    { name: `${p}mlp.down_proj.weight`, shape: [D, F], layer },
  ];
}

/** Every parameter of the causal LM. A tied model has no `lm_head.weight`: the head reads the embedding. */
export function llamaParamSpecs(c: LlamaConfig): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.hiddenSize], layer: 'embeddings' }];
  for (let i = 0; i < c.numLayers; i++) specs.push(...blockParamSpecs(c, i));
  specs.push({ name: 'model.norm.weight', shape: [c.hiddenSize], layer: 'final_norm' });
  if (!c.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.hiddenSize], layer: 'head' });
  return specs;
}

/** A classification head (LLMs-from-scratch chapter 6): Linear(hidden, classes), bias optional. */
export function classifierParamSpecs(c: LlamaConfig, classes: number, bias: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: 'out_head.weight', shape: [classes, c.hiddenSize], layer: 'head' }];
  if (bias) specs.push({ name: 'out_head.bias', shape: [classes], layer: 'head' });
  return specs;
}

/** Layer order for display: embeddings, block.0..N-1, final_norm, head, then anything else. */
export function layerOrder(layer: string): number {
  if (layer === 'embeddings') return -1;
  const m = /^block\.(\d+)$/.exec(layer);
  if (m) return Number(m[1]);
  if (layer === 'final_norm') return 1e9;
  if (layer === 'head') return 1e9 + 1;
  return 1e9 + 2;
}
