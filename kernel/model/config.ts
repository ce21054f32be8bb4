// Llama 3 configuration: read from an HF `config.json` (LlamaConfig) or an LLMs-from-scratch style config dict,
// validated so that a mismatched or malformed config fails with one clear line before anything is allocated.
import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import type { DType } from '../gpu/tensor.js';
import type { RopeScaling } from './rope_tables.js';

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  contextLength: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieWordEmbeddings: boolean;
  /** Storage dtype of the weights. */
  dtype: DType;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function num(obj: Json, keys: string[], what: string, opts: { int?: boolean; min?: number; optional?: boolean } = {}): number | undefined {
  for (const k of keys) {
    if (obj[k] === undefined || obj[k] === null) continue;
    const v = obj[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || v < (opts.min ?? -Infinity)) {
      throw new ConfigError(`config: ${k} must be ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}, got ${JSON.stringify(v)}`,
        `Fix ${k} in config.json (${what}).`);
    }
    return v;
  }
  if (opts.optional) return undefined;
  throw new ConfigError(`config: missing ${keys.join(' / ')} (${what})`, 'Use an HF LlamaConfig config.json or a preset name.');
}

function dtypeFrom(v: unknown): DType {
  if (v === undefined || v === null) return 'bf16';
  const s = String(v).replace(/^torch\./, '');
  if (s === 'bfloat16' || s === 'bf16') return 'bf16';
  if (s === 'float32' || s === 'f32' || s === 'float') return 'f32';
  // float16 checkpoints are widened to bf16's range-safe storage; bf16 keeps f16's memory footprint.
  if (s === 'float16' || s === 'f16' || s === 'half') return 'bf16';
  throw new ConfigError(`config: unsupported dtype ${JSON.stringify(v)}`, 'Use bfloat16, float16 or float32.');
}

/**
 * The RoPE settings: transformers 4 writes `rope_theta` and `rope_scaling`, transformers 5 one `rope_parameters`
 * object holding both (`rope_type` "default" is unscaled), LLMs-from-scratch `rope_base` and `rope_freq`.
 */
function ropeFrom(o: Json): Pick<LlamaConfig, 'ropeTheta' | 'ropeScaling'> {
  const params = o.rope_parameters;
  if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params))) {
    throw new ConfigError('config: rope_parameters must be an object', 'Fix rope_parameters in config.json.');
  }
  const ropeTheta = num(o, ['rope_theta', 'rope_base'], 'RoPE base', { min: 1, optional: true })
    ?? (params ? num(params as Json, ['rope_theta'], 'RoPE base', { min: 1, optional: true }) : undefined)
    ?? 500000;
  const key = o.rope_scaling != null ? 'rope_scaling' : params ? 'rope_parameters' : 'rope_freq';
  return { ropeTheta, ropeScaling: scalingFrom(o[key], key) };
}

/** Llama 3 frequency scaling from `o[key]`, or null when it is absent or unscaled ("default"). */
function scalingFrom(v: unknown, key: string): RopeScaling | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object') throw new ConfigError(`config: ${key} must be an object`, 'Remove it or use the Llama 3.1 form.');
  const o = v as Json;
  const type = o.rope_type ?? o.type;
  // rope_parameters always carries rope_theta; without a type or a factor it only sets the base.
  if (type === 'default' || (key === 'rope_parameters' && type === undefined && o.factor === undefined)) return null;
  if (type !== undefined && type !== 'llama3') {
    throw new ConfigError(`config: ${key} type ${JSON.stringify(type)} is not supported`, 'Only Llama 3 ("llama3") frequency scaling is implemented.');
  }
  return {
    factor: num(o, ['factor'], key, { min: 1 })!,
    lowFreqFactor: num(o, ['low_freq_factor'], key, { min: 0 })!,
    highFreqFactor: num(o, ['high_freq_factor'], key, { min: 0 })!,
    originalContext: num(o, ['original_max_position_embeddings', 'original_context_length'], key, { int: true, min: 1 })!,
  };
}

function ids(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => Number.isInteger(x) && x >= 0)) throw new ConfigError(`config: eos_token_id must be integers, got ${JSON.stringify(v)}`, 'Fix eos_token_id in config.json.');
  return list as number[];
}

/** Parses an HF LlamaConfig (or an LLMs-from-scratch config dict) and checks that the shapes are consistent. */
export function parseConfig(json: unknown): LlamaConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError('config: expected a JSON object', 'Use an HF LlamaConfig config.json.');
  const o = json as Json;
  if (o.model_type !== undefined && o.model_type !== 'llama') {
    throw new ConfigError(`config: model_type ${JSON.stringify(o.model_type)} is not a Llama model`, 'llmnb runs Llama 3 architecture models only.');
  }
  // Llama 3 has no biases in its linears and a SiLU gate; a config that says otherwise describes another model.
  for (const k of ['attention_bias', 'mlp_bias']) {
    if (o[k] === true) throw new ConfigError(`config: ${k} is true`, 'llmnb runs Llama 3, whose linear layers have no bias.');
  }
  if (o.hidden_act !== undefined && o.hidden_act !== 'silu') {
    throw new ConfigError(`config: hidden_act ${JSON.stringify(o.hidden_act)} is not supported`, 'llmnb runs Llama 3, whose MLP gate is SiLU ("silu").');
  }
  const hiddenSize = num(o, ['hidden_size', 'emb_dim'], 'model width', { int: true, min: 1 })!;
  const numHeads = num(o, ['num_attention_heads', 'n_heads'], 'attention heads', { int: true, min: 1 })!;
  const numKvHeads = num(o, ['num_key_value_heads', 'n_kv_groups'], 'KV heads', { int: true, min: 1, optional: true }) ?? numHeads;
  const headDim = num(o, ['head_dim'], 'head size', { int: true, min: 2, optional: true }) ?? hiddenSize / numHeads;
  const cfg: LlamaConfig = {
    vocabSize: num(o, ['vocab_size'], 'vocabulary', { int: true, min: 1 })!,
    hiddenSize,
    intermediateSize: num(o, ['intermediate_size', 'hidden_dim'], 'MLP width', { int: true, min: 1 })!,
    numLayers: num(o, ['num_hidden_layers', 'n_layers'], 'blocks', { int: true, min: 1 })!,
    numHeads,
    numKvHeads,
    headDim,
    contextLength: num(o, ['max_position_embeddings', 'context_length'], 'context length', { int: true, min: 1 })!,
    rmsNormEps: num(o, ['rms_norm_eps'], 'RMSNorm epsilon', { min: 0, optional: true }) ?? 1e-5,
    ...ropeFrom(o),
    tieWordEmbeddings: o.tie_word_embeddings === true,
    dtype: dtypeFrom(o.torch_dtype ?? o.dtype),
    bosTokenId: num(o, ['bos_token_id'], 'BOS id', { int: true, min: 0, optional: true }) ?? null,
    eosTokenIds: ids(o.eos_token_id),
  };
  validateConfig(cfg);
  return cfg;
}

export function validateConfig(c: LlamaConfig): void {
  const bad = (m: string) => { throw new ConfigError(`config: ${m}`, 'Fix config.json so that the shapes agree.'); };
  if (!Number.isInteger(c.headDim) || c.headDim % 2 !== 0) bad(`head_dim ${c.headDim} must be an even integer (RoPE rotates halves)`);
  if (c.numHeads % c.numKvHeads !== 0) bad(`num_attention_heads ${c.numHeads} is not a multiple of num_key_value_heads ${c.numKvHeads}`);
  if (c.hiddenSize % 2 !== 0) bad(`hidden_size ${c.hiddenSize} must be even`);
  if (c.eosTokenIds.some((id) => id >= c.vocabSize)) bad(`eos_token_id ${c.eosTokenIds} outside the vocabulary (${c.vocabSize})`);
  if (c.bosTokenId !== null && c.bosTokenId >= c.vocabSize) bad(`bos_token_id ${c.bosTokenId} outside the vocabulary (${c.vocabSize})`);
}

export function readConfigFile(path: string): LlamaConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'Point --model at a directory with config.json and safetensors, or at a safetensors file next to a config.json.');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`, 'Fix or re-download config.json.');
  }
  try {
    return parseConfig(json);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: ${e.message.replace(/^config: /, '')}`, e.hint);
    throw e;
  }
}

/** The HF config.json written next to a saved checkpoint, so the folder loads again. */
export function toHfConfig(c: LlamaConfig): Json {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.contextLength,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling && {
      factor: c.ropeScaling.factor,
      low_freq_factor: c.ropeScaling.lowFreqFactor,
      high_freq_factor: c.ropeScaling.highFreqFactor,
      original_max_position_embeddings: c.ropeScaling.originalContext,
      rope_type: 'llama3',
    },
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: c.dtype === 'bf16' ? 'bfloat16' : 'float32',
    ...(c.bosTokenId !== null ? { bos_token_id: c.bosTokenId } : {}),
    ...(c.eosTokenIds.length ? { eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds } : {}),
  };
}
