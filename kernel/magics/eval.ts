// %eval --data FILE: llmnb.evaluate. Accuracy, loss and the confusion matrix of the bound classifier.
import { sessionEvaluate } from '../api/evaluate.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'eval',
  summary: 'Accuracy, loss and confusion matrix of the classifier on a dataset',
  params: {
    data: { type: 'path', required: true, summary: 'CSV, JSONL or Arrow IPC with text + label (or input_ids + label) columns' },
    textColumn: { type: 'string', summary: 'text column (default: text, or input_ids)' },
    labelColumn: { type: 'string', summary: 'label column (default: label)' },
    batch: { type: 'int', min: 1, default: 8, summary: 'sequences per batch' },
    maxLength: { type: 'int', min: 1, summary: 'tokens kept per text (default: the context length)' },
  },
  async run(args, ctx) {
    ctx.out.display(await sessionEvaluate(ctx, args));
  },
});
