// Replacing the output head with a classifier (LLMs-from-scratch chapter 6): Linear(hidden, classes) with bias by
// default, created in the MODEL's dtype (a float32 head on a bf16 model is the bug users hit), named
// out_head.weight / out_head.bias. The old LM head's memory is freed (a tied head shares the embedding, which stays).
import { DtypeMismatchError, UsageError } from '../errors.js';
import { formatBytes } from '../gpu/format.js';
import type { DType } from '../gpu/tensor.js';
import { openCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { canonicalName } from '../io/names.js';
import { fillUniform } from '../ops/init.js';
import type { LlamaModel } from './llama.js';
import { loadFromCheckpoint } from './load_weights.js';
import type { Parameter } from './parameter.js';
import { classifierParamSpecs } from './param_specs.js';

export interface ReplaceHeadOptions {
  classes: number;
  /** Names of the classes, in index order; default '0'..'N-1'. */
  labels?: string[];
  /** Default true, as chapter 6's nn.Linear. */
  bias?: boolean;
  /** Only to check: must equal the model's dtype. */
  dtype?: DType;
  /** A safetensors or .pth file holding out_head.weight (and .bias): initial values. Otherwise nn.Linear's
   *  default, uniform(-1/sqrt(hidden), 1/sqrt(hidden)), from `seed`. */
  init?: string;
  seed?: number;
}

export interface ReplaceHeadReport {
  /** What was removed, e.g. "lm_head.weight [128256,4096] bf16". */
  removed: string;
  freedBytes: number;
  headBytes: number;
  /** Set when --init values were converted to the model's dtype. */
  castFrom?: string;
}

export async function replaceHead(model: LlamaModel, o: ReplaceHeadOptions): Promise<ReplaceHeadReport> {
  if (!Number.isInteger(o.classes) || o.classes < 1) throw new UsageError(`--classes must be a positive integer, got ${o.classes}`, 'e.g. --classes 2');
  if (o.dtype && o.dtype !== model.dtype) {
    throw new DtypeMismatchError(`the head would be ${o.dtype} but the model is ${model.dtype}`,
      `Omit --dtype: the head is created in the model's dtype (${model.dtype}). To train in ${o.dtype}, load the model with --dtype ${o.dtype}.`);
  }
  const labels = o.labels ?? Array.from({ length: o.classes }, (_, i) => String(i));
  if (labels.length !== o.classes || new Set(labels).size !== labels.length) {
    throw new UsageError(`--labels must name ${o.classes} distinct classes, got ${JSON.stringify(labels)}`, 'e.g. --classes 2 --labels ham,spam');
  }
  const bias = o.bias ?? true;
  const initFile = o.init ? await openHeadInit(o.init) : null;
  try {
    const { removed, freedBytes, weight, bias: biasParam } = installClassifierHead(model, o.classes, labels, bias);
    const report: ReplaceHeadReport = { removed, freedBytes, headBytes: weight.allocatedBytes + (biasParam?.allocatedBytes ?? 0) };
    if (initFile) {
      const loaded = await loadFromCheckpoint(model, initFile, { partial: true, dtypeCast: true });
      if (!loaded.loaded.includes('out_head.weight') || (biasParam && !loaded.loaded.includes('out_head.bias'))) {
        throw new UsageError(`${o.init} has no ${biasParam ? 'out_head.bias' : 'out_head.weight'}`, 'Use a file saved from a head of this shape, or drop --no-bias/--bias to match it.');
      }
      if (loaded.cast.length) report.castFrom = loaded.cast.join(', ');
    } else {
      const bound = 1 / Math.sqrt(model.config.hiddenSize);
      fillUniform(model.gpu, weight.allocate(), bound, o.seed ?? 0);
      if (biasParam) fillUniform(model.gpu, biasParam.allocate(), bound, (o.seed ?? 0) + 1);
    }
    return report;
  } finally {
    initFile?.close();
  }
}

/**
 * Swaps the head for a classifier whose tensors are not allocated yet (load or initialize them next): the old
 * head's tensors are removed and their memory freed.
 */
export function installClassifierHead(model: LlamaModel, classes: number, labels: string[], bias: boolean):
  { removed: string; freedBytes: number; weight: Parameter; bias?: Parameter } {
  const old = model.headWeights().weight;
  const tiedOld = old === model.embed_tokens.weight;
  const removed = tiedOld ? `the language-model head (tied to ${old.name}, which stays as the embedding)`
    : `${old.name} ${JSON.stringify(old.shape)} ${old.dtype}`;
  const freedBefore = model.gpu.allocator.liveBytes;
  for (const name of ['lm_head.weight', 'out_head.weight', 'out_head.bias']) if (!(tiedOld && name === 'lm_head.weight')) model.removeParameter(name);
  model.lm_head = null;
  const [weightSpec, biasSpec] = classifierParamSpecs(model.config, classes, bias);
  const weight = model.addParameter(weightSpec);
  const biasParam = biasSpec ? model.addParameter(biasSpec) : undefined;
  model.out_head = biasParam ? { weight, bias: biasParam } : { weight };
  model.head = { kind: 'classifier', classes, labels, bias };
  return { removed, freedBytes: freedBefore - model.gpu.allocator.liveBytes, weight, ...(biasParam ? { bias: biasParam } : {}) };
}

/** Opens an init file and keeps only its head tensors (a whole chapter-6 checkpoint is fine). */
async function openHeadInit(file: string): Promise<Checkpoint> {
  const ckpt = await openCheckpoint(file);
  const head = new Map([...ckpt.tensors].filter(([name]) => canonicalName(name)?.startsWith('out_head.')));
  if (!head.size) {
    ckpt.close();
    throw new UsageError(`${file} has no classification head tensors (out_head.weight / out_head.bias, or score.weight)`, 'Give a file saved from a replaced head, e.g. by %save --trainable-only.');
  }
  return { path: ckpt.path, format: ckpt.format, metadata: ckpt.metadata, tensors: head, close: () => ckpt.close() };
}

export function describeHead(model: LlamaModel): string {
  const h = model.head;
  if (h.kind === 'lm') return `language-model head (${model.config.tieWordEmbeddings ? 'tied to the embedding' : 'lm_head.weight'})`;
  const w = model.headWeights().weight;
  return `classifier Linear(${model.config.hiddenSize} -> ${h.classes}${h.bias ? ', bias' : ''}) in ${w.dtype} ` +
    `(${formatBytes(w.allocatedBytes + (model.out_head?.bias?.allocatedBytes ?? 0))}); labels: ${h.labels.join(', ')}`;
}
