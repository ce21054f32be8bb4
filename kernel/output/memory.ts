// The allocator's state as an Arrow table, one row per tag: what `%memory`, the memory panel and the protocol's
// memory messages carry. Columns: layer, tensor, kind (utf8); liveBytes, peakBytes (float64, exact below 2^53);
// buffers (int32). Schema metadata holds the totals: liveBytes, peakBytes, limitBytes ('' when unknown),
// maxBufferBytes.
import { Float64, Int32, makeVector, RecordBatch, Schema, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import type { MemorySnapshot } from '../gpu/allocator.js';
import { bytesToBase64 } from '../notebook/format.js';
import type { MemorySnapshotMessage } from '../protocol.js';

export function memoryTable(s: MemorySnapshot): Table {
  const rows = s.rows;
  const table = new Table({
    layer: vectorFromArray(rows.map((r) => r.layer), new Utf8()),
    tensor: vectorFromArray(rows.map((r) => r.tensor), new Utf8()),
    kind: vectorFromArray(rows.map((r) => r.kind), new Utf8()),
    liveBytes: makeVector({ type: new Float64(), data: Float64Array.from(rows, (r) => r.liveBytes) }),
    peakBytes: makeVector({ type: new Float64(), data: Float64Array.from(rows, (r) => r.peakBytes) }),
    buffers: makeVector({ type: new Int32(), data: Int32Array.from(rows, (r) => r.buffers) }),
  });
  const metadata = new Map([
    ['liveBytes', String(s.liveBytes)], ['peakBytes', String(s.peakBytes)],
    ['limitBytes', s.limitBytes === null ? '' : String(s.limitBytes)], ['maxBufferBytes', String(s.maxBufferBytes)],
  ]);
  const schema = new Schema(table.schema.fields, metadata);
  return new Table(schema, table.batches.map((b) => new RecordBatch(schema, b.data)));
}

/** The snapshot as the protocol carries it; `intervalPeakBytes`: the most live at once since the previous message. */
export function memorySnapshotMessage(s: MemorySnapshot, intervalPeakBytes = s.liveBytes): MemorySnapshotMessage {
  return {
    arrowBase64: bytesToBase64(tableToIPC(memoryTable(s), 'file')),
    time: Date.now(),
    liveBytes: s.liveBytes,
    peakBytes: s.peakBytes,
    intervalPeakBytes: Math.max(intervalPeakBytes, s.liveBytes),
    limitBytes: s.limitBytes,
    kinds: s.kinds,
    layers: s.layers,
  };
}
