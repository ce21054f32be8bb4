import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchesPerEpoch, epochBatches, epochOrder, makeBatch, tokenizeExamples, trainingBatches, trainingSteps, type BatchOptions,
} from '../../kernel/train/batches.js';
import type { Examples } from '../../kernel/train/dataset.js';
import { LlamaTokenizer } from '../../kernel/model/tokenizer.js';

const BOS = 1;
const PAD = 0;

/** One token per word, plus BOS; counts calls. */
class WordTokenizer {
  calls = 0;
  encode(text: string): number[] {
    this.calls++;
    return [BOS, ...text.split(' ').filter(Boolean).map((w) => 100 + w.length)];
  }
}

function examples(texts: string[], labels: number[]): Examples {
  return { file: 'mem.csv', rows: texts.length, texts, inputIds: null, labels: Uint32Array.from(labels), labelNames: ['ham', 'spam'], textColumn: 'text', labelColumn: 'label' };
}

const TEXTS = ['a bb ccc', 'dddd', 'e f g h i j k', '', 'll mm', 'n', 'oo pp qq', 'rrr', 'ss', 't u v w'];
const LABELS = [0, 1, 1, 0, 0, 1, 0, 1, 1, 0];
const OPTS: BatchOptions = { batchSize: 4, padId: PAD, shuffle: false, seed: 0, dropLast: true };

test('tokenizeExamples tokenizes once and truncates to max length, keeping the first tokens', () => {
  const tok = new WordTokenizer();
  const data = tokenizeExamples(examples(TEXTS, LABELS), tok, { maxLength: 5 });
  assert.equal(tok.calls, TEXTS.length);
  assert.deepEqual([...data.ids[0]], [BOS, 101, 102, 103]);
  assert.deepEqual([...data.ids[2]], [BOS, 101, 101, 101, 101], 'e f g h i j k cut to its first 5 tokens');
  assert.deepEqual([...data.ids[3]], [BOS], 'empty text is BOS alone');
  assert.equal(data.truncated, 1);
  assert.equal(data.longest, 5);
  // Epochs reuse the cached ids.
  [...trainingBatches(data, { ...OPTS, epochs: 3 })];
  assert.equal(tok.calls, TEXTS.length);
});

test('makeBatch: right padding to the longest sequence (or max length), last real token index, labels, token count', () => {
  const data = tokenizeExamples(examples(TEXTS, LABELS), new WordTokenizer(), { maxLength: 6 });
  const b = makeBatch(data, [1, 0, 3], PAD);
  assert.equal(b.batch, 3);
  assert.equal(b.seqLen, 4);
  assert.deepEqual([...b.ids], [BOS, 104, PAD, PAD, BOS, 101, 102, 103, BOS, PAD, PAD, PAD]);
  assert.deepEqual([...b.lastIndex], [1, 4 + 3, 8 + 0]);
  assert.deepEqual([...b.labels], [1, 0, 0]);
  assert.equal(b.tokens, 2 + 4 + 1);
  assert.deepEqual([...b.rows], [1, 0, 3]);
  const full = makeBatch(data, [1, 0], PAD, 'max-length');
  assert.equal(full.seqLen, 6);
  assert.deepEqual([...full.lastIndex], [1, 6 + 3]);
  // Every last index points at a real token, and everything after it in the row is padding.
  for (let r = 0; r < b.batch; r++) {
    const row = b.ids.subarray(r * b.seqLen, (r + 1) * b.seqLen);
    const last: number = b.lastIndex[r] - r * b.seqLen;
    assert.deepEqual([...row.subarray(0, last + 1)], [...data.ids[b.rows[r]]]);
    assert.ok(row.subarray(last + 1).every((x) => x === PAD));
  }
});

test('epochs: file order without shuffle; seeded shuffles are permutations, repeatable, different per epoch and seed', () => {
  assert.deepEqual([...epochOrder(5, 0, { shuffle: false, seed: 1 })], [0, 1, 2, 3, 4]);
  const a0 = epochOrder(50, 0, { shuffle: true, seed: 123 });
  assert.deepEqual([...a0].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(a0, epochOrder(50, 0, { shuffle: true, seed: 123 }));
  assert.notDeepEqual(a0, epochOrder(50, 1, { shuffle: true, seed: 123 }));
  assert.notDeepEqual(a0, epochOrder(50, 0, { shuffle: true, seed: 124 }));
  assert.notDeepEqual([...a0], Array.from({ length: 50 }, (_, i) => i));
});

test('the last incomplete batch is dropped for training (ch06 drop_last) and kept for evaluation', () => {
  const data = tokenizeExamples(examples(TEXTS, LABELS), new WordTokenizer(), { maxLength: 8 });
  assert.equal(batchesPerEpoch(10, 4, true), 2);
  assert.equal(batchesPerEpoch(10, 4, false), 3);
  const train = [...epochBatches(data, 0, OPTS)];
  assert.deepEqual(train.map((b) => [...b.rows]), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  const evalBatches = [...epochBatches(data, 0, { ...OPTS, dropLast: false })];
  assert.deepEqual(evalBatches.map((b) => b.batch), [4, 4, 2]);
  assert.deepEqual(evalBatches.map((b) => [...b.labels]).flat(), LABELS);
  // A shuffled epoch covers batchSize * batches distinct rows.
  const shuffled = [...epochBatches(data, 0, { ...OPTS, shuffle: true, seed: 7 })].flatMap((b) => [...b.rows]);
  assert.equal(new Set(shuffled).size, 8);
});

test('training length: epochs, or a fixed step count spanning reshuffled epochs', () => {
  const data = tokenizeExamples(examples(TEXTS, LABELS), new WordTokenizer(), { maxLength: 8 });
  const byEpochs = [...trainingBatches(data, { ...OPTS, shuffle: true, seed: 3, epochs: 3 })];
  assert.equal(trainingSteps(10, { ...OPTS, epochs: 3 }), 6);
  assert.deepEqual(byEpochs.map((b) => [b.epoch, b.step]), [[0, 0], [0, 1], [1, 2], [1, 3], [2, 4], [2, 5]]);
  const bySteps = [...trainingBatches(data, { ...OPTS, shuffle: true, seed: 3, steps: 5 })];
  assert.deepEqual(bySteps.map((b) => [b.epoch, b.step]), [[0, 0], [0, 1], [1, 2], [1, 3], [2, 4]]);
  assert.deepEqual(bySteps.map((b) => [...b.rows]), byEpochs.slice(0, 5).map((b) => [...b.rows]), 'same seed, same batches');
});

test('batching errors: a batch larger than the dataset when dropping, bad sizes, ids outside the vocabulary, no tokenizer', () => {
  const data = tokenizeExamples(examples(TEXTS, LABELS), new WordTokenizer(), { maxLength: 8 });
  assert.throws(() => trainingSteps(10, { ...OPTS, batchSize: 11, epochs: 1 }), /the dataset has 10 rows, fewer than one batch of 11/);
  assert.throws(() => [...trainingBatches(data, { ...OPTS, batchSize: 0, epochs: 1 })], { name: 'UsageError' });
  assert.throws(() => trainingSteps(10, { ...OPTS, steps: 0 }), /steps must be an integer >= 1/);
  assert.throws(() => tokenizeExamples(examples(TEXTS, LABELS), new WordTokenizer(), { maxLength: 0 }), /max length/);
  assert.throws(() => tokenizeExamples(examples(TEXTS, LABELS), null, { maxLength: 8 }), /no tokenizer is loaded/);
  const pre: Examples = { ...examples([], []), texts: null, inputIds: [Uint32Array.of(1, 2), Uint32Array.of(1, 600)], labels: Uint32Array.of(0, 1), textColumn: 'input_ids' };
  assert.throws(() => tokenizeExamples(pre, null, { maxLength: 8, vocabSize: 512 }), /row 1 of column "input_ids" has token id 600 \(item 1\), outside the vocabulary of 512/);
  assert.deepEqual(tokenizeExamples(pre, null, { maxLength: 1 }).ids.map((a) => [...a]), [[1], [1]]);
  const silent = { encode: () => [] };
  assert.throws(() => tokenizeExamples(examples(['x'], [0]), silent, { maxLength: 8 }), /row 0 has no tokens/);
});

test('with the Llama 3 tokenizer, BOS comes first and the last index is the last text token', async () => {
  const tok = await LlamaTokenizer.llama3();
  const data = tokenizeExamples(examples(['Hello world', 'Win a free cruise now!'], [0, 1]), tok, { maxLength: 64 });
  const b = makeBatch(data, [0, 1], 128004);
  assert.equal(b.ids[0], tok.bosId);
  assert.equal(b.ids[b.seqLen], tok.bosId);
  assert.equal(tok.decode([b.ids[b.lastIndex[0]]]), ' world');
  assert.equal(tok.decode([b.ids[b.lastIndex[1]]]), '!');
});
