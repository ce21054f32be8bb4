// llmnb.evaluate / %eval: accuracy, loss and the confusion matrix of the bound classifier on a dataset.
import { Int32, Table, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import { evaluate, type EvalResult } from '../train/evaluate.js';
import { boundModel, boundTokenizer, type ApiContext } from './context.js';
import { tableWithNotes, withDisplay } from './display.js';
import { classifierData, padId, type DataColumns } from './train_data.js';

export interface EvalApiOptions extends DataColumns {
  data: string;
  batch?: number;
}

export interface EvalApiResult extends EvalResult {
  /** Rows: true label; columns: predicted label. */
  table: Table;
}

export async function sessionEvaluate(ctx: ApiContext, o: EvalApiOptions): Promise<EvalApiResult> {
  const model = boundModel(ctx);
  const data = await classifierData(model, boundTokenizer(ctx), o.data, o);
  const r = await evaluate(model, data, { batchSize: o.batch ?? 8, padId: padId(model), checkpoint: () => ctx.step() });
  const labels = model.head.kind === 'classifier' ? model.head.labels : r.labels;
  const columns: Record<string, Vector> = { 'true \\ predicted': vectorFromArray(labels, new Utf8()) };
  labels.forEach((l, j) => { columns[l] = vectorFromArray(r.confusion.map((row) => row[j]), new Int32()); });
  const result: EvalApiResult = { ...r, labels, table: new Table(columns) };
  const notes = [`accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.confusion.reduce((s, row, i) => s + row[i], 0)} of ${r.rows}), loss ${r.loss.toFixed(4)}` +
    `${data.truncated ? `; ${data.truncated} texts truncated to ${data.maxLength} tokens` : ''}`];
  return withDisplay(result, (v) => tableWithNotes(v.table, notes));
}
