// Creating a model: from a checkpoint (a directory with config.json, or a checkpoint file next to one), or from a
// preset with random weights, or "empty" (shapes only). A checkpoint is always loaded the in-place way: the empty
// model is built first, then tensors stream into it, so loading never holds a second copy of the weights. A
// checkpoint with a classifier head (out_head.* of [classes, D], e.g. a folder written by %save) gets that head
// before streaming, with its labels from the saved head declaration (head_metadata.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { Gpu } from '../gpu/context.js';
import type { DType } from '../gpu/tensor.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { fillConstant, fillNormal } from '../ops/init.js';
import { readConfigFile, type LlamaConfig } from './config.js';
import { LlamaModel } from './llama.js';
import { installClassifierHead } from './head.js';
import { savedClassifierHead } from './head_metadata.js';
import { loadFromCheckpoint, type LoadOptions, type LoadReport } from './load_weights.js';
import { PRESETS, presetConfig } from './presets.js';
import { LlamaTokenizer } from './tokenizer.js';

export interface LoadModelOptions extends Pick<LoadOptions, 'onProgress' | 'checkpoint' | 'chunkBytes'> {
  /** Storage dtype; default: the config's (torch_dtype). Checkpoint tensors are converted to it. */
  dtype?: DType;
  /** 'random': normal(0, 0.02) weights and unit norms from `seed` (presets, or a config without weights). */
  init?: 'random';
  seed?: number;
  /** Shapes only: nothing is allocated until weights are loaded in place. */
  empty?: boolean;
  /** Folder that a relative model path resolves against. */
  cwd?: string;
}

export interface LoadedModel {
  model: LlamaModel;
  tokenizer: LlamaTokenizer;
  /** Present when weights came from a checkpoint. */
  report: LoadReport | null;
}

/** Where a model source points: a config and (maybe) a checkpoint. */
export function resolveModelSource(source: string, cwd = process.cwd()): { config: LlamaConfig; checkpoint: string | null; dir: string | null } {
  const file = path.resolve(cwd, source.startsWith('~/') ? path.join(os.homedir(), source.slice(2)) : source);
  if (fs.existsSync(file)) {
    const dir = fs.statSync(file).isDirectory() ? file : path.dirname(file);
    const configFile = path.join(dir, 'config.json');
    if (!fs.existsSync(configFile)) {
      throw new UsageError(`no config.json in ${dir}`, 'A model directory needs config.json next to its weights (HF layout).');
    }
    return { config: readConfigFile(configFile), checkpoint: file, dir };
  }
  if (PRESETS[source]) return { config: presetConfig(source), checkpoint: null, dir: null };
  throw new UsageError(`no such model file, directory or preset: ${source}`,
    `Give a directory with config.json and safetensors, or a preset (${Object.keys(PRESETS).join(', ')}).`);
}

export async function loadModel(gpu: Gpu, source: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const { config, checkpoint, dir } = resolveModelSource(source, opts.cwd);
  if (opts.init && opts.empty) throw new UsageError('--init and --empty exclude each other', 'Use one of them.');
  if (!checkpoint && !opts.init && !opts.empty) {
    throw new UsageError(`preset ${source} has no weights`, 'Add --init random (with --seed N) for random weights, or --empty to plan memory, or give a checkpoint path.');
  }
  const tokenizer = await LlamaTokenizer.forModelDir(dir);
  // Headers only: they say whether the checkpoint holds a classifier head, which the model must have before loading.
  const ckpt = checkpoint && !opts.init ? await openCheckpoint(checkpoint) : null;
  const model = new LlamaModel(gpu, { ...config, dtype: opts.dtype ?? config.dtype });
  let report: LoadReport | null = null;
  try {
    const head = ckpt ? savedClassifierHead(ckpt, config, dir && path.join(dir, 'config.json')) : null;
    if (head) installClassifierHead(model, head.classes, head.labels, head.bias);
    if (opts.init === 'random') {
      initRandom(model, opts.seed ?? 0);
      model.source = `${source} (random init, seed ${opts.seed ?? 0})`;
    } else if (ckpt && !opts.empty) {
      // Building the model in a dtype of the user's choice converts as it loads.
      report = await loadFromCheckpoint(model, ckpt, { ...opts, dtypeCast: true });
      model.source = checkpoint!;
    } else {
      model.source = `${source} (empty)`;
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    ckpt?.close();
  }
  return { model, tokenizer, report };
}

/** normal(0, 0.02) for matrices (HF's initializer_range), ones for norms; each tensor seeded by its index. */
export function initRandom(model: LlamaModel, seed: number): void {
  model.parameters().forEach((p, i) => {
    const t = p.allocate();
    if (p.shape.length === 1) fillConstant(model.gpu, t, p.name.endsWith('.bias') ? 0 : 1);
    else fillNormal(model.gpu, t, 0.02, (seed * 1000003 + i) >>> 0);
  });
}
