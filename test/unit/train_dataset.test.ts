import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Dictionary, Int32, Int64, List, Field, Table, Utf8, makeBuilder, tableToIPC, vectorFromArray } from 'apache-arrow';
import { loadDatasetTable, loadExamples } from '../../kernel/train/dataset.js';
import { tempDir } from './helpers/io.js';

const dir = tempDir();
function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

test('CSV in the LLMs-from-scratch ch06 layout: Label,Text with integer labels, quoted multi-line text', async () => {
  const file = write('train.csv', 'Label,Text\n0,"Hi, are we still on for lunch?"\n1,"WINNER!! Claim your ""free"" prize\nnow"\n\n0,ok\n');
  const ex = await loadExamples(file);
  assert.equal(ex.rows, 3);
  assert.equal(ex.textColumn, 'Text');
  assert.equal(ex.labelColumn, 'Label');
  assert.deepEqual(ex.texts, ['Hi, are we still on for lunch?', 'WINNER!! Claim your "free" prize\nnow', 'ok']);
  assert.deepEqual([...ex.labels], [0, 1, 0]);
  assert.deepEqual(ex.labelNames, ['0', '1']);
  assert.equal(ex.inputIds, null);
  // Integer labels with class names: index i is names[i].
  const named = await loadExamples(file, { labels: ['ham', 'spam'] });
  assert.deepEqual([...named.labels], [0, 1, 0]);
  assert.deepEqual(named.labelNames, ['ham', 'spam']);
  const data = await loadDatasetTable(file);
  assert.equal(data.format, 'csv');
  assert.deepEqual([...(data.lines ?? [])], [2, 4, 6], 'line where each record ends');
});

test('string labels: sorted distinct values, or the order of a given label list', async () => {
  const file = write('strings.csv', '\uFEFFtext,label,extra\nbuy now,spam,x\nsee you,ham,y\ncheap pills,spam,z\n');
  const sorted = await loadExamples(file);
  assert.deepEqual(sorted.labelNames, ['ham', 'spam']);
  assert.deepEqual([...sorted.labels], [1, 0, 1]);
  const given = await loadExamples(file, { labels: ['spam', 'ham', 'unused'] });
  assert.deepEqual([...given.labels], [0, 1, 0]);
  assert.deepEqual(given.labelNames, ['spam', 'ham', 'unused']);
  // Digit strings that are the given class names map by name, not as indices.
  const digits = write('digits.csv', 'text,label\na,2\nb,1\n');
  assert.deepEqual([...(await loadExamples(digits, { labels: ['1', '2'] })).labels], [1, 0]);
  assert.deepEqual([...(await loadExamples(digits)).labels], [2, 1]);
  // Chosen columns.
  const custom = await loadExamples(file, { textColumn: 'extra', labelColumn: 'TEXT' });
  assert.deepEqual(custom.texts, ['x', 'y', 'z']);
  assert.deepEqual(custom.labelNames, ['buy now', 'cheap pills', 'see you']);
});

test('JSONL: typed columns, pre-tokenized input_ids, blank lines, columns that appear late', async () => {
  const file = write('data.jsonl', [
    '{"text": "hello", "label": "ham", "score": 1}',
    '',
    '{"text": "win", "label": "spam", "score": "high", "meta": {"a": 1}}',
    '{"text": "bye", "label": "ham"}',
  ].join('\n') + '\n');
  const data = await loadDatasetTable(file);
  assert.equal(data.format, 'jsonl');
  assert.deepEqual(data.table.schema.fields.map((f) => `${f.name}:${f.type}`), ['text:Utf8', 'label:Utf8', 'score:Utf8', 'meta:Utf8']);
  assert.deepEqual(data.table.getChild('meta')?.toArray(), [null, '{"a":1}', null]);
  assert.deepEqual([...(data.lines ?? [])], [1, 3, 4]);
  const ex = await loadExamples(file);
  assert.deepEqual(ex.texts, ['hello', 'win', 'bye']);
  assert.deepEqual([...ex.labels], [0, 1, 0]);

  const ids = write('ids.jsonl', '{"input_ids": [128000, 9906, 1917], "label": 1}\n{"input_ids": [128000], "label": 0}\n');
  const tok = await loadExamples(ids);
  assert.equal(tok.texts, null);
  assert.equal(tok.textColumn, 'input_ids');
  assert.deepEqual(tok.inputIds?.map((a) => [...a]), [[128000, 9906, 1917], [128000]]);
  assert.deepEqual([...tok.labels], [1, 0]);
  assert.deepEqual(tok.labelNames, ['0', '1']);
});

test('Arrow IPC file and stream: dictionary text, int64 labels, list input_ids; format sniffed without an extension', async () => {
  const text = vectorFromArray(['a b', 'c', 'a b'], new Dictionary(new Utf8(), new Int32()));
  const label = vectorFromArray([2n, 0n, 1n], new Int64());
  const idsB = makeBuilder({ type: new List(new Field('item', new Int32(), true)) });
  for (const row of [[1, 2], [3], [4, 5, 6]]) idsB.append(row);
  const table = new Table({ text, label, input_ids: idsB.finish().toVector() });
  for (const [name, kind] of [['t.arrow', 'file'], ['t.arrows', 'stream'], ['t.bin', 'stream']] as const) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, tableToIPC(table, kind));
    const data = await loadDatasetTable(file);
    assert.equal(data.format, 'arrow', name);
    assert.equal(data.lines, null);
    const ex = await loadExamples(file);
    assert.deepEqual(ex.texts, ['a b', 'c', 'a b'], name);
    assert.deepEqual([...ex.labels], [2, 0, 1], name);
    assert.deepEqual(ex.labelNames, ['0', '1', '2'], name);
    const tok = await loadExamples(file, { textColumn: 'input_ids' });
    assert.deepEqual(tok.inputIds?.map((a) => [...a]), [[1, 2], [3], [4, 5, 6]], name);
  }
  assert.equal((await loadDatasetTable(write('sniff.txt', '{"text": "x", "label": 0}\n'))).format, 'jsonl');
  assert.equal((await loadDatasetTable(write('sniff.dat', 'text,label\nx,0\n'))).format, 'csv');
});

test('pre-tokenized ids written as text in a CSV', async () => {
  const file = write('ids.csv', 'input_ids,label\n"[1, 2, 3]",0\n4 5,1\n');
  const ex = await loadExamples(file);
  assert.deepEqual(ex.inputIds?.map((a) => [...a]), [[1, 2, 3], [4, 5]]);
});

test('clear errors: file, line or row, column', async () => {
  const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => {
    assert.equal(e.name, 'UsageError');
    assert.match(e.message, re);
    return true;
  });
  await rejects(loadExamples(path.join(dir, 'nope.csv')), /dataset file not found: .*nope\.csv/);
  await rejects(loadExamples(write('cols.csv', 'body,Label\nx,0\n')), /cols\.csv: no column "text" or "input_ids" \(columns: body, Label\)/);
  await rejects(loadExamples(write('cols2.csv', 'text,y\nx,0\n')), /no column "label" \(columns: text, y\)/);
  await rejects(loadExamples(write('cols3.csv', 'text,label\nx,0\n'), { textColumn: 'body' }), /no column "body" \(columns: text, label\)/);
  await rejects(loadExamples(write('header-only.csv', 'text,label\n')), /header-only\.csv: the dataset has no rows/);
  await rejects(loadExamples(write('empty.csv', '')), /empty\.csv: the file is empty/);
  await rejects(loadExamples(write('unknown.csv', 'text,label\na,ham\nb,spma\n'), { labels: ['ham', 'spam'] }),
    /unknown\.csv line 3: label "spma" in column "label" is not one of the classes \(ham, spam\)/);
  await rejects(loadExamples(write('range.csv', 'text,label\na,0\nb,2\n'), { labels: ['ham', 'spam'] }), /range\.csv line 3: label 2 .* not below the number of classes \(2/);
  await rejects(loadExamples(write('neg.jsonl', '{"text": "a", "label": 0.5}\n')), /neg\.jsonl line 1: label 0\.5 in column "label" is not a class index/);
  await rejects(loadExamples(write('nolabel.csv', 'text,label\na,\n')), /nolabel\.csv line 2: column "label" is empty/);
  await rejects(loadExamples(write('badid.jsonl', '{"input_ids": [1, 2.5], "label": 0}\n')), /badid\.jsonl line 1: column "input_ids" item 1 is not a token id: 2\.5/);
  await rejects(loadExamples(write('badid.csv', 'input_ids,label\n"[1, x]",0\n')), /badid\.csv line 2: column "input_ids" item 1 is not a token id: x/);
  await rejects(loadExamples(write('emptyids.jsonl', '{"input_ids": [], "label": 0}\n')), /empty list/);
  await rejects(loadExamples(write('quote.csv', 'text,label\n"unterminated,0\n')), /quote\.csv line \d+: malformed CSV/);
  await rejects(loadExamples(write('fields.csv', 'text,label\na,0\nb,1,extra\n')), /fields\.csv line 3: malformed CSV/);
  await rejects(loadExamples(write('dup.csv', 'text,text\na,b\n')), /duplicate column "text"/);
  await rejects(loadExamples(write('bad.jsonl', '{"text": "a", "label": 0}\n{"text": "b", label: 1}\n')), /bad\.jsonl line 2: malformed JSON/);
  await rejects(loadExamples(write('array.jsonl', '[1, 2]\n')), /array\.jsonl line 1: expected a JSON object, got an array/);
  await rejects(loadExamples(write('garbage.arrow', 'not arrow at all')), /garbage\.arrow: not a readable Arrow IPC/);
  await rejects(loadExamples(write('ambiguous.csv', 'Text,TEXT,label\na,b,0\n')), /column "text" is ambiguous: Text, TEXT/);
});

test('a larger CSV streams row by row', async () => {
  const rows = 10000;
  const body = Array.from({ length: rows }, (_, i) => `"row ${i}, with a comma",${i % 3}`).join('\n');
  const ex = await loadExamples(write('big.csv', `text,label\n${body}\n`));
  assert.equal(ex.rows, rows);
  assert.equal(ex.texts?.[rows - 1], `row ${rows - 1}, with a comma`);
  assert.deepEqual(ex.labelNames, ['0', '1', '2']);
  assert.equal(ex.labels[rows - 1], (rows - 1) % 3);
});
