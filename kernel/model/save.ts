// Saving a model as safetensors: HF names (a classifier head as out_head.weight / out_head.bias), every tensor in
// its stored dtype (BF16 or F32), streamed GPU -> disk through ONE staging download buffer, so host memory stays
// at one chunk whatever the model size. The file is written under a temporary name and renamed into place when
// complete (io/safetensors_writer.ts): a failed or cancelled save leaves nothing under the final name. A folder
// target also gets config.json (with the classifier head as `llmnb_head`), so %load_model recreates the model.
import fs from 'node:fs';
import path from 'node:path';
import { CancelledError, UsageError, listSome } from '../errors.js';
import type { DType } from '../gpu/tensor.js';
import type { FileDtype } from '../io/entry.js';
import { writeSafetensors, type TensorSpec } from '../io/safetensors_writer.js';
import { StagingArea } from '../io/upload.js';
import { toHfConfig } from './config.js';
import { HEAD_METADATA_KEY, headDeclaration } from './head_metadata.js';
import type { LlamaModel } from './llama.js';
import { DEFAULT_CHUNK_BYTES, type TransferProgress } from './load_weights.js';

export interface SaveOptions {
  /** Only the parameters marked trainable (a fine-tuned delta to load later with %load_inplace --partial). */
  trainableOnly?: boolean;
  /** Staging buffer size (default 64 MiB). */
  chunkBytes?: number;
  onProgress?: (p: TransferProgress) => void;
  /** Awaited between tensors; throwing (CancelledError) stops the save and removes the temporary file. */
  checkpoint?: () => void | Promise<void>;
}

export interface SaveReport {
  /** The safetensors file written. */
  file: string;
  /** config.json written next to it (folder targets of whole models), or null. */
  configFile: string | null;
  /** Tensor names in file order. */
  tensors: string[];
  /** Only the trainable parameters were written. */
  trainableOnly: boolean;
  /** Tensor data bytes (the file adds a header). */
  bytes: number;
  seconds: number;
}

const FILE_DTYPE: Record<DType, FileDtype> = { bf16: 'BF16', f32: 'F32' };

/**
 * Where a save goes. A path ending in .safetensors is the file itself; anything else is a folder (as HF's
 * save_pretrained) that gets `model.safetensors` + `config.json`, or `trainable.safetensors` alone with
 * `trainableOnly` (a partial checkpoint that %load_model could not load by itself).
 */
export function saveTarget(target: string, trainableOnly: boolean): { file: string; configFile: string | null } {
  if (/\.(pth|pt|bin)$/i.test(target)) {
    throw new UsageError(`%save writes safetensors, not a PyTorch file: ${target}`,
      'Name the file *.safetensors, or give a folder (it gets model.safetensors and config.json).');
  }
  if (/\.safetensors$/i.test(target) && !(fs.existsSync(target) && fs.statSync(target).isDirectory())) return { file: target, configFile: null };
  return trainableOnly ? { file: path.join(target, 'trainable.safetensors'), configFile: null }
    : { file: path.join(target, 'model.safetensors'), configFile: path.join(target, 'config.json') };
}

/** Writes the model's parameters to `target` (see saveTarget). Nothing appears under a final name unless complete. */
export async function saveModel(model: LlamaModel, target: string, opts: SaveOptions = {}): Promise<SaveReport> {
  const { file, configFile } = saveTarget(target, opts.trainableOnly ?? false);
  const params = model.parameters().filter((p) => !opts.trainableOnly || p.trainable);
  if (!params.length) {
    throw new UsageError('no parameter is trainable, so --trainable-only has nothing to save',
      'Mark parameters trainable first (%train does), or save the whole model without --trainable-only.');
  }
  const notLoaded = params.filter((p) => !p.resident).map((p) => p.name);
  if (notLoaded.length) {
    throw new UsageError(`${notLoaded.length} of ${params.length} tensors hold no values (an empty model): ${listSome(notLoaded)}`,
      'Load weights first (%load_inplace PATH, or %load_model without --empty).');
  }
  const dir = path.dirname(path.resolve(file));
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`cannot save into ${dir}: a file has that name`, 'Choose another folder name, or name the file *.safetensors.');
  }
  fs.mkdirSync(dir, { recursive: true });
  const specs: TensorSpec[] = params.map((p) => ({ name: p.name, dtype: FILE_DTYPE[p.dtype], shape: p.shape }));
  const head = headDeclaration(model.head);
  const metadata: Record<string, string> = { format: 'pt', ...(head ? { [HEAD_METADATA_KEY]: JSON.stringify(head) } : {}) };
  const bytesTotal = params.reduce((s, p) => s + p.bytes, 0);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  let done = 0;
  let bytesDone = 0;
  const largest = params.reduce((m, p) => Math.max(m, p.allocatedBytes), 0);
  const staging = new StagingArea(model.gpu, Math.min(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, Math.max(8, Math.ceil(largest / 8) * 8)));
  try {
    await writeSafetensors(file, specs, async (spec, writer) => {
      try {
        await opts.checkpoint?.();
      } catch (e) {
        if (e instanceof CancelledError) throw new CancelledError(`save interrupted after ${done} of ${params.length} tensors; nothing was written to ${file}`);
        throw e;
      }
      const param = params[done];
      await staging.download(param.tensor, async (chunk) => {
        await writer.write(chunk);
        bytesDone += chunk.length;
        opts.onProgress?.({ tensorsDone: done, tensorsTotal: params.length, bytesDone, bytesTotal, seconds: seconds(), current: spec.name });
      });
      done++;
    }, metadata);
  } finally {
    staging.dispose();
  }
  if (configFile) {
    const json = { ...toHfConfig(model.config), ...(head ? { [HEAD_METADATA_KEY]: head } : {}) };
    writeFileAtomic(configFile, `${JSON.stringify(json, null, 2)}\n`);
  }
  opts.onProgress?.({ tensorsDone: params.length, tensorsTotal: params.length, bytesDone, bytesTotal, seconds: seconds(), current: '' });
  return { file, configFile, tensors: specs.map((s) => s.name), trainableOnly: opts.trainableOnly ?? false, bytes: bytesTotal, seconds: seconds() };
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
