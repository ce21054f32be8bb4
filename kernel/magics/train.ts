// %train --data FILE ...: llmnb.train. Fine-tunes the bound classifier: chapter 6's recipe by default (last block,
// final norm and head trainable; last-token cross-entropy; AdamW with weight decay 0.1).
import { sessionTrain } from '../api/train.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'train',
  summary: 'Fine-tune the classifier head (and the last block + final norm by default) on a CSV, JSONL or Arrow dataset',
  params: {
    data: { type: 'path', required: true, summary: 'training data: CSV (header row), JSONL or Arrow IPC with text + label (or input_ids + label) columns' },
    textColumn: { type: 'string', summary: 'text column (default: text, or input_ids when pre-tokenized)' },
    labelColumn: { type: 'string', summary: 'label column (default: label)' },
    epochs: { type: 'int', min: 1, summary: 'passes over the data (default 1)' },
    steps: { type: 'int', min: 1, summary: 'optimizer steps instead of epochs' },
    batch: { type: 'int', min: 1, default: 8, summary: 'sequences per batch' },
    lr: { type: 'float', min: 0, default: 5e-5, summary: 'AdamW learning rate' },
    weightDecay: { type: 'float', min: 0, default: 0.1, summary: 'AdamW decoupled weight decay' },
    maxLength: { type: 'int', min: 1, summary: 'tokens kept per text (the first ones; default: the context length)' },
    trainable: { type: 'string', default: 'last-block', summary: 'last-block | all | head | layers=A..B (the head always trains)' },
    eval: { type: 'path', summary: 'validation data, evaluated after every epoch' },
    noShuffle: { type: 'bool', summary: 'keep the file order instead of a seeded shuffle per epoch' },
    seed: { type: 'int', min: 0, default: 123, summary: 'shuffle seed' },
    log: { type: 'path', summary: 'write one JSON line per step and per evaluation' },
    gradCheckpoint: { type: 'bool', summary: 'recompute trainable blocks\' activations in backward (less memory)' },
    gradAccum: { type: 'int', min: 1, default: 1, summary: 'batches per optimizer step' },
    clip: { type: 'float', min: 0, summary: 'clip the global gradient norm to this' },
    warmup: { type: 'int', min: 0, summary: 'linear warmup steps, then cosine decay to --min-lr' },
    minLr: { type: 'float', min: 0, summary: 'final learning rate of the cosine schedule (default lr/10)' },
  },
  details: 'Example: %replace_head --classes 2 --labels ham,spam, then %train --data train.csv --eval validation.csv --epochs 2 --batch 8 --lr 5e-5',
  async run(args, ctx) {
    const { noShuffle, ...rest } = args;
    ctx.out.display(await sessionTrain(ctx, { ...rest, shuffle: !noShuffle }));
  },
});
