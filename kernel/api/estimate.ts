// llmnb.estimate / %estimate: what the bound model needs in GPU memory, per layer and kind, against the limit.
// Works on an empty model (computed from shapes). Other planners add their parts (a training plan's grads,
// optimizer state and activations) as MemoryEstimates in `extra`.
import type { Table } from 'apache-arrow';
import { MEMORY_KINDS } from '../gpu/allocator.js';
import { formatBytes } from '../gpu/format.js';
import { estimateTotal, mergeEstimates, weightsEstimate, type MemoryEstimate } from '../model/estimate.js';
import { boundModel, type ApiContext } from './context.js';
import { tableWithNotes, withDisplay } from './display.js';
import { layerKindTable } from './layer_table.js';

export interface EstimateReport {
  estimate: MemoryEstimate;
  table: Table;
  totalBytes: number;
  limitBytes: number | null;
  /** Null when the limit is unknown. */
  fits: boolean | null;
  /** Bytes the model's tensors occupy now (resident ones). */
  residentBytes: number;
}

export async function sessionEstimate(ctx: ApiContext, extra: MemoryEstimate[] = []): Promise<EstimateReport> {
  const model = boundModel(ctx);
  const limitBytes = (await ctx.session.gpu()).allocator.limitBytes;
  const estimate = mergeEstimates(weightsEstimate(model), ...extra);
  const kinds = MEMORY_KINDS.filter((k) => k === 'weights' || estimate.layers.some((l) => l.bytes[k] > 0));
  const { table, format } = layerKindTable(estimate.layers, kinds);
  const totalBytes = estimateTotal(estimate);
  const residentBytes = model.parameters().reduce((s, p) => s + (p.resident ? p.allocatedBytes : 0), 0);
  const report: EstimateReport = { estimate, table, totalBytes, limitBytes, fits: limitBytes === null ? null : totalBytes <= limitBytes, residentBytes };
  return withDisplay(report, (r) => tableWithNotes(r.table, estimateNotes(r), format));
}

function estimateNotes(r: EstimateReport): string[] {
  const need = `needs ${formatBytes(r.totalBytes)}`;
  const verdict = r.limitBytes === null ? `${need}; the memory limit is unknown (set it with %device --memory-limit SIZE to check)`
    : r.fits ? `${need} of the ${formatBytes(r.limitBytes)} limit: fits (${formatBytes(r.limitBytes - r.totalBytes)} to spare)`
      : `${need} but the limit is ${formatBytes(r.limitBytes)}: does NOT fit (${formatBytes(r.totalBytes - r.limitBytes)} over)`;
  return [verdict, `resident now: ${formatBytes(r.residentBytes)} of the model's weights`, ...r.estimate.notes];
}
