// llmnb.loadInplace / %load_inplace: streams a checkpoint into the bound model's own buffers (every header checked
// first, so a bad file leaves the model untouched), with progress, cancellation between tensors, and a report of
// the GPU memory peak during the load next to the model's size.
import { formatBytes } from '../gpu/format.js';
import { listSome } from '../errors.js';
import { resolvePath } from '../magics/parse.js';
import { DEFAULT_CHUNK_BYTES, loadWeightsInPlace, type LoadReport } from '../model/load_weights.js';
import { textOutput } from '../output/text.js';
import { boundModel, type ApiContext } from './context.js';
import { withDisplay } from './display.js';
import { throughput, transferProgress } from './transfer_progress.js';

export interface LoadInplaceOptions {
  /** Tensors the file lacks keep their values (otherwise a MissingTensorError, nothing loaded). */
  partial?: boolean;
  /** Convert file dtypes to the model's (F32 -> bf16 rounds to nearest even). */
  dtypeCast?: boolean;
  /** Staging chunk (default 64 MiB). */
  chunkBytes?: number;
}

export interface InplaceReport extends LoadReport {
  /** Bytes of the model's weights after the load. */
  modelBytes: number;
  /** Allocator bytes live before the load and at their highest during it. */
  liveBeforeBytes: number;
  peakBytes: number;
  /** Of the bytes live before: the model's resident weights, and everything else (caches, other tensors). */
  otherBytes: number;
  stagingBytes: number;
}

export async function sessionLoadInplace(ctx: ApiContext, file: string, opts: LoadInplaceOptions = {}): Promise<InplaceReport> {
  const model = boundModel(ctx);
  const allocator = model.gpu.allocator;
  const liveBeforeBytes = allocator.liveBytes;
  const otherBytes = liveBeforeBytes - model.parameters().reduce((s, p) => s + (p.resident ? p.allocatedBytes : 0), 0);
  let peakBytes = liveBeforeBytes;
  const stopWatching = allocator.onChange(() => { peakBytes = Math.max(peakBytes, allocator.liveBytes); });
  const progress = transferProgress(ctx.out, 'load_inplace');
  const chunkBytes = Math.min(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, model.gpu.maxBufferBytes);
  let report: LoadReport;
  try {
    report = await loadWeightsInPlace(model, resolvePath(file, ctx.session.cwd), {
      partial: opts.partial, dtypeCast: opts.dtypeCast, chunkBytes, onProgress: (p) => progress.update(p), checkpoint: () => ctx.step(),
    });
  } finally {
    stopWatching();
  }
  progress.finish();
  const result: InplaceReport = { ...report, modelBytes: model.weightBytes, liveBeforeBytes, peakBytes, otherBytes, stagingBytes: chunkBytes };
  return withDisplay(result, (r) => textOutput(inplaceSummary(r)));
}

export function inplaceSummary(r: InplaceReport): string {
  const lines = [
    `Loaded ${r.loaded.length} tensors (${formatBytes(r.bytes)}) from ${r.path} (${r.format}) into the live model in ${r.seconds.toFixed(2)} s (${throughput(r.bytes, r.seconds)}).`,
    `kept (not in the file): ${r.kept.length ? listSome(r.kept) : 'none'}`,
    `ignored (in the file, not used): ${r.ignored.length ? listSome(r.ignored) : 'none'}`,
    `converted: ${r.cast.length ? listSome(r.cast, 4) : 'none'}`,
    `GPU memory: peak ${formatBytes(r.peakBytes)} during the load; model weights ${formatBytes(r.modelBytes)}, staging chunk ${formatBytes(r.stagingBytes)}, ` +
      `other buffers live before ${formatBytes(r.otherBytes)}.`,
  ];
  return lines.join('\n');
}
