// Datasets for the bound classifier: loaded as Arrow tables, labels mapped to the head's classes, texts tokenized
// with the model's tokenizer and truncated. A head created without --labels adopts the data's label names.
import { UsageError } from '../errors.js';
import type { LlamaModel } from '../model/llama.js';
import type { LlamaTokenizer } from '../model/tokenizer.js';
import { tokenizeExamples, type TokenizedExamples } from '../train/batches.js';
import { loadExamples } from '../train/dataset.js';

export interface DataColumns {
  textColumn?: string;
  labelColumn?: string;
  /** Tokens kept per text (the first ones); default: the model's context length. */
  maxLength?: number;
}

/** The head's labels are the defaults '0'..'N-1' (no --labels given). */
function defaultLabels(labels: readonly string[]): boolean {
  return labels.every((l, i) => l === String(i));
}

export async function classifierData(model: LlamaModel, tokenizer: LlamaTokenizer, file: string, cols: DataColumns): Promise<TokenizedExamples> {
  const head = model.head;
  if (head.kind !== 'classifier') {
    throw new UsageError('the model has its language-model head', 'Replace it with a classifier first, e.g. %replace_head --classes 2 --labels ham,spam');
  }
  const adopt = defaultLabels(head.labels);
  const ex = await loadExamples(file, { textColumn: cols.textColumn, labelColumn: cols.labelColumn, labels: adopt ? undefined : head.labels });
  if (ex.labelNames.length > head.classes) {
    throw new UsageError(`${file} has ${ex.labelNames.length} classes (${ex.labelNames.join(', ')}) but the head has ${head.classes}`,
      `Replace the head with --classes ${ex.labelNames.length}.`);
  }
  if (adopt && ex.texts && ex.labelNames.some((l, i) => l !== String(i))) head.labels = [...ex.labelNames, ...head.labels.slice(ex.labelNames.length)];
  const maxLength = Math.min(cols.maxLength ?? model.config.contextLength, model.config.contextLength);
  return tokenizeExamples(ex, tokenizer, { maxLength, vocabSize: model.config.vocabSize });
}

/** Padding after the last real token never reaches it (causal attention); any valid id works. */
export function padId(model: LlamaModel): number {
  return model.config.eosTokenIds[0] ?? 0;
}
