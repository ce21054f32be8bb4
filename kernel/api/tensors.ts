// llmnb.tensors / %tensors: the model's parameters as a table (name, dtype, shape, bytes, kind, layer, trainable,
// resident), optionally filtered by a glob over HF names (`*` any characters, `?` one) that also matches the
// LLMs-from-scratch spelling of each name (`trf_blocks.0.att.*`).
import { Bool, Field, Float64, Int32, List, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { UsageError } from '../errors.js';
import { formatBytes } from '../gpu/format.js';
import { fromScratchName } from '../io/names.js';
import type { ParameterInfo } from '../model/parameter.js';
import { boundModel, type ApiContext } from './context.js';
import { tableWithNotes, withDisplay } from './display.js';

export interface TensorList {
  rows: ParameterInfo[];
  table: Table;
  /** Bytes of the listed tensors, and of those resident on the GPU. */
  bytes: number;
  residentBytes: number;
}

export function sessionTensors(ctx: ApiContext, glob?: string): TensorList {
  const model = boundModel(ctx);
  const match = glob === undefined ? () => true : globMatcher(glob);
  const rows = model.parameters().filter((p) => match(p.name) || match(fromScratchName(p.name) ?? '')).map((p) => p.info());
  if (!rows.length) {
    throw new UsageError(`no tensor matches ${glob}`,
      'Names are HF names such as model.layers.0.self_attn.q_proj.weight (or from-scratch names such as trf_blocks.0.att.W_query.weight); * matches any characters, ? one.');
  }
  const table = new Table({
    name: vectorFromArray(rows.map((r) => r.name), new Utf8()),
    dtype: vectorFromArray(rows.map((r) => r.dtype), new Utf8()),
    shape: vectorFromArray(rows.map((r) => r.shape), new List(new Field('dim', new Int32(), false))),
    bytes: vectorFromArray(rows.map((r) => r.bytes), new Float64()),
    kind: vectorFromArray(rows.map((r) => r.kind), new Utf8()),
    layer: vectorFromArray(rows.map((r) => r.layer), new Utf8()),
    trainable: vectorFromArray(rows.map((r) => r.trainable), new Bool()),
    resident: vectorFromArray(rows.map((r) => r.resident), new Bool()),
  });
  const bytes = rows.reduce((s, r) => s + r.bytes, 0);
  const residentBytes = rows.reduce((s, r) => s + (r.resident ? r.bytes : 0), 0);
  const result: TensorList = { rows, table, bytes, residentBytes };
  return withDisplay(result, (r) => tableWithNotes(r.table, [
    `${r.rows.length} tensors, ${formatBytes(r.bytes)}; resident on the GPU: ${formatBytes(r.residentBytes)}; ` +
    `trainable: ${r.rows.filter((x) => x.trainable).length}`,
  ], { maxRows: 1000 }));
}

/** `*` matches any run of characters (dots included), `?` one character; everything else is literal. */
export function globMatcher(glob: string): (name: string) => boolean {
  const re = new RegExp(`^${glob.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
  return (name) => re.test(name);
}
