// Loading a checkpoint in place: every header is read and checked against the live model first (names, shapes,
// dtypes, offsets), so a bad file leaves the model untouched. Then tensors stream from disk one at a time
// through one bounded staging buffer into the model's own buffers (allocated just in time when missing), so peak
// GPU bytes stay at model size + one staging chunk and host memory at one chunk, whatever the model size.
import { CancelledError, DtypeMismatchError, LlmnbError, MissingTensorError, ShapeMismatchError, listSome } from '../errors.js';
import { fmtShape, type DType } from '../gpu/tensor.js';
import { openCheckpoint, type Checkpoint, type FileDtype, type TensorEntry } from '../io/checkpoint.js';
import { canonicalName } from '../io/names.js';
import { StagingArea } from '../io/upload.js';
import type { LlamaModel } from './llama.js';
import type { Parameter } from './parameter.js';

export const DEFAULT_CHUNK_BYTES = 64 << 20;

/** Progress of a checkpoint transfer (load or save), tensor by tensor. */
export interface TransferProgress {
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  seconds: number;
  /** The tensor being transferred ('' when done). */
  current: string;
}

export interface LoadOptions {
  /** Tensors the checkpoint lacks keep their current values instead of being an error. */
  partial?: boolean;
  /** Convert file dtypes to the model's (F32 -> bf16 rounds to nearest even) instead of refusing. */
  dtypeCast?: boolean;
  chunkBytes?: number;
  onProgress?: (p: TransferProgress) => void;
  /** Awaited between tensors; throwing CancelledError stops the load with every tensor fully old or fully new. */
  checkpoint?: () => void | Promise<void>;
}

export interface LoadReport {
  path: string;
  format: string;
  /** Parameters written, in load order. */
  loaded: string[];
  /** Model parameters the checkpoint did not have (only with `partial`). */
  kept: string[];
  /** Checkpoint tensors skipped on purpose (a tied head stored twice). */
  ignored: string[];
  /** Conversions done (with `dtypeCast`), as "name: F32 -> bf16". */
  cast: string[];
  bytes: number;
  seconds: number;
}

interface PlanItem { param: Parameter; entry: TensorEntry; cast: boolean }

const MODEL_DTYPE_OF: Record<FileDtype, DType | null> = { BF16: 'bf16', F32: 'f32', F16: null };

/** Matches checkpoint tensors to parameters. Throws one error that lists every problem; writes nothing. */
export function planLoad(model: LlamaModel, ckpt: Checkpoint, opts: Pick<LoadOptions, 'partial' | 'dtypeCast'>): { items: PlanItem[]; ignored: string[]; kept: string[] } {
  const items: PlanItem[] = [];
  const ignored: string[] = [];
  const unexpected: string[] = [];
  const shapeProblems: string[] = [];
  const dtypeProblems: string[] = [];
  const claimed = new Map<string, string>();
  const tied = model.config.tieWordEmbeddings;
  for (const entry of ckpt.tensors.values()) {
    let name = canonicalName(entry.name);
    // LLMs-from-scratch calls the LM head `out_head` too; a [vocab, D] out_head is the LM head.
    if (name === 'out_head.weight' && entry.shape[0] === model.config.vocabSize && model.head.kind === 'lm') name = 'lm_head.weight';
    if (name === 'lm_head.weight' && tied) { ignored.push(entry.name); continue; }
    const param = name ? model.parameter(name) : undefined;
    if (!param) {
      if (name?.startsWith('out_head.') && model.head.kind === 'lm') {
        shapeProblems.push(`${entry.name} ${fmtShape(entry.shape)} is a classification head but the model has a language-model head: run %replace_head --classes ${entry.shape[0]} first`);
      } else {
        unexpected.push(entry.name);
      }
      continue;
    }
    const other = claimed.get(param.name);
    if (other) { shapeProblems.push(`${entry.name} and ${other} both map to ${param.name}`); continue; }
    claimed.set(param.name, entry.name);
    if (entry.shape.length !== param.shape.length || entry.shape.some((d, i) => d !== param.shape[i])) {
      shapeProblems.push(`${entry.name}: checkpoint ${fmtShape(entry.shape)} vs model ${fmtShape(param.shape)}`);
      continue;
    }
    const same = MODEL_DTYPE_OF[entry.dtype] === param.dtype;
    if (!same && !opts.dtypeCast) dtypeProblems.push(`${entry.name}: checkpoint ${entry.dtype} vs model ${param.dtype}`);
    items.push({ param, entry, cast: !same });
  }
  const kept = model.parameters().filter((p) => !claimed.has(p.name)).map((p) => p.name);
  const missing = opts.partial ? [] : kept;
  if (shapeProblems.length) {
    const extra = [...(missing.length ? [`missing: ${listSome(missing)}`] : []), ...(unexpected.length ? [`unexpected: ${listSome(unexpected)}`] : []), ...dtypeProblems];
    throw new ShapeMismatchError(`${ckpt.path} does not fit the model: ${[...shapeProblems, ...extra].join('; ')}`,
      'Check that the checkpoint was saved from a model with this config (and this head). Nothing was loaded.');
  }
  if (missing.length || unexpected.length) {
    // A head tied to the embedding is not stored: when it is all that is missing, the config most likely lacks
    // tie_word_embeddings (loading the rest with --partial would leave the head at its initial values).
    const hint = missing.length === 1 && missing[0] === 'lm_head.weight' && !unexpected.length
      ? 'The checkpoint has no separate LM head: if the model ties it to the embedding (as Llama 3.2 1B and 3B do), set "tie_word_embeddings": true in config.json.'
      : MissingTensorError.DEFAULT_HINT;
    throw new MissingTensorError(missing, unexpected,
      `${hint}${dtypeProblems.length ? ` Also: ${dtypeProblems.join('; ')}.` : ''} Nothing was loaded.`);
  }
  if (dtypeProblems.length) {
    throw new DtypeMismatchError(`${ckpt.path}: dtypes differ from the model's (${listSome(dtypeProblems, 4)})`,
      'Load with --dtype-cast to convert while loading, or create the model in the checkpoint\'s dtype (%load_model --dtype). Nothing was loaded.');
  }
  // Read in file order: sequential disk access.
  items.sort((a, b) => a.entry.file.localeCompare(b.entry.file) || a.entry.offset - b.entry.offset);
  return { items, ignored, kept };
}

/** Streams the checkpoint at `path` into the live model. See the file comment for the guarantees. */
export async function loadWeightsInPlace(model: LlamaModel, path: string, opts: LoadOptions = {}): Promise<LoadReport> {
  const ckpt = await openCheckpoint(path);
  try {
    return await loadFromCheckpoint(model, ckpt, opts);
  } finally {
    ckpt.close();
  }
}

export async function loadFromCheckpoint(model: LlamaModel, ckpt: Checkpoint, opts: LoadOptions = {}): Promise<LoadReport> {
  const { items, ignored, kept } = planLoad(model, ckpt, opts);
  const bytesTotal = items.reduce((s, it) => s + it.entry.bytes, 0);
  const t0 = performance.now();
  const report: LoadReport = { path: ckpt.path, format: ckpt.format, loaded: [], kept, ignored, cast: [], bytes: 0, seconds: 0 };
  // No bigger than the largest tensor (in its file or GPU dtype, whichever is wider): small models stay small.
  const largest = items.reduce((m, it) => Math.max(m, it.entry.bytes, it.param.allocatedBytes), 0);
  const staging = new StagingArea(model.gpu, Math.min(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, Math.max(8, Math.ceil(largest / 8) * 8)));
  try {
    for (const { param, entry, cast } of items) {
      try {
        await opts.checkpoint?.();
      } catch (e) {
        if (e instanceof CancelledError) {
          throw new CancelledError(`load interrupted after ${report.loaded.length} of ${items.length} tensors; ` +
            `${report.loaded.length ? `replaced: ${listSome(report.loaded)}` : 'nothing was replaced'}; all others keep their previous values`);
        }
        throw e;
      }
      const progress = (bytesInTensor: number) => opts.onProgress?.({
        tensorsDone: report.loaded.length, tensorsTotal: items.length, bytesDone: report.bytes + bytesInTensor, bytesTotal,
        seconds: (performance.now() - t0) / 1000, current: param.name,
      });
      progress(0);
      try {
        await staging.upload(entry, param.allocate(), { cast, onBytes: progress });
      } catch (e) {
        if (e instanceof LlmnbError) throw e;
        throw new LlmnbError(`reading ${entry.name} from ${entry.file} failed: ${(e as Error).message}; ${param.name} may be partially written`,
          `Load the checkpoint again. Tensors already replaced: ${report.loaded.length}.`);
      }
      report.loaded.push(param.name);
      report.bytes += entry.bytes;
      if (cast) report.cast.push(`${entry.name}: ${entry.dtype} -> ${param.dtype}`);
    }
    await model.gpu.sync();
  } finally {
    staging.dispose();
  }
  report.seconds = (performance.now() - t0) / 1000;
  opts.onProgress?.({ tensorsDone: items.length, tensorsTotal: items.length, bytesDone: bytesTotal, bytesTotal, seconds: report.seconds, current: '' });
  return report;
}
