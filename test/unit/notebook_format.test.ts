// The .llmnb format: canonical files round-trip to identical bytes; random valid notebooks round-trip; random
// byte mutations either fail with NotebookFormatError or parse to a notebook that keeps every value of the input
// (nothing silently dropped) and re-serializes to a stable canonical form.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import {
  CELL_LANGUAGE, NotebookFormatError, binaryItem, parseNotebook, serializeNotebook, textItem,
  type CellOutput, type JsonObject, type JsonValue, type NotebookCell, type NotebookFile,
} from '../../kernel/notebook/format.js';
import { rng } from './helpers/random.js';

const FIXTURES = ['test/integration/workspace/outputs.llmnb', 'test/integration/workspace/scratch.llmnb'];

test('canonical fixture files round-trip to identical bytes', () => {
  for (const file of FIXTURES) {
    const bytes = fs.readFileSync(file);
    assert.equal(serializeNotebook(parseNotebook(bytes, file)), bytes.toString('utf8'), file);
  }
});

test('the documented example parses and serializes with 2-space indent, fixed key order and a trailing newline', () => {
  const nb: NotebookFile = {
    llmnb: 1, metadata: {}, cells: [
      { kind: 'markdown', source: '# Spam classifier' },
      { kind: 'code', source: '%load_model ./model', execution: { order: 1, success: true, durationMs: 812 },
        outputs: [{ items: [{ mime: 'text/plain', data: 'Loaded ...' }] }] },
    ],
  };
  const text = serializeNotebook(nb);
  assert.ok(text.endsWith('}\n'));
  assert.match(text, /^\{\n {2}"llmnb": 1,\n {2}"metadata": \{\},\n {2}"cells": \[\n/);
  assert.ok(text.indexOf('"kind"') < text.indexOf('"source"') && text.indexOf('"execution"') < text.indexOf('"outputs"'));
  assert.deepEqual(parseNotebook(text), nb);
});

// ---- random notebooks ----

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const CHARS = ['a', 'Z', ' ', '\n', '\t', '"', '\\', '%', '{', '}', 'é', '漢', '😀', '\u0000', '\u2028', '\r'];

function randomText(r: Rand, max = 12): string {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += pick(r, CHARS);
  return s;
}

function randomJson(r: Rand, depth = 0): JsonValue {
  const k = Math.floor(r() * (depth > 2 ? 4 : 6));
  if (k === 0) return null;
  if (k === 1) return r() < 0.5;
  if (k === 2) return Math.round((r() - 0.5) * 1e6) / 100;
  if (k === 3) return randomText(r);
  if (k === 4) return Array.from({ length: Math.floor(r() * 3) }, () => randomJson(r, depth + 1));
  return randomObject(r, depth + 1);
}

function randomObject(r: Rand, depth = 0, minKeys = 0): JsonObject {
  const o: JsonObject = {};
  const n = minKeys + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) o[`k${i}${randomText(r, 3)}`] = randomJson(r, depth);
  return o;
}

function randomOutput(r: Rand): CellOutput {
  const items = [textItem('text/plain', randomText(r, 30))];
  if (r() < 0.3) items.unshift(binaryItem(pick(r, ['application/vnd.apache.arrow.file', 'image/png']), Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256))));
  if (r() < 0.2) items.push(textItem('application/json', JSON.stringify(randomJson(r))));
  const out: CellOutput = { items };
  if (r() < 0.3) out.metadata = r() < 0.5 ? { stream: pick(r, ['stdout', 'stderr']) } : randomObject(r, 0, 1);
  return out;
}

function randomNotebook(r: Rand): NotebookFile {
  const cells: NotebookCell[] = Array.from({ length: Math.floor(r() * 5) }, () => {
    const metadata = r() < 0.3 ? { metadata: randomObject(r, 0, 1) } : {};
    if (r() < 0.3) return { kind: 'markdown', source: randomText(r, 40), ...metadata };
    const cell: NotebookCell = { kind: 'code', source: randomText(r, 40), ...metadata };
    if (r() < 0.2) cell.language = pick(r, ['javascript', 'markdown']);
    if (r() < 0.6) {
      cell.execution = { order: 1 + Math.floor(r() * 50), success: r() < 0.7, durationMs: Math.floor(r() * 1e5) };
      if (r() < 0.2) delete cell.execution.success;
    }
    if (r() < 0.6) cell.outputs = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomOutput(r));
    return cell;
  });
  return { llmnb: 1, metadata: r() < 0.5 ? {} : randomObject(r, 0, 1), cells };
}

test('random valid notebooks round-trip: parse(serialize(nb)) equals nb, serialize is stable', () => {
  const r = rng(7);
  for (let i = 0; i < 300; i++) {
    const nb = randomNotebook(r);
    const text = serializeNotebook(nb);
    const back = parseNotebook(new TextEncoder().encode(text));
    assert.deepEqual(back, nb, `notebook ${i}`);
    assert.equal(serializeNotebook(back), text, `notebook ${i}`);
  }
});

// ---- mutations ----

/** The input as JSON, with what the canonical form leaves out (empty optional containers, the default language). */
function withoutEmptyOptionals(raw: unknown): unknown {
  const v = structuredClone(raw) as { cells?: Record<string, unknown>[] };
  for (const c of v.cells ?? []) {
    const cell = c as Record<string, unknown> & { outputs?: Record<string, unknown>[] };
    if (cell.language === CELL_LANGUAGE) delete cell.language;
    for (const key of ['metadata', 'execution'] as const) {
      if (cell[key] && Object.keys(cell[key] as object).length === 0) delete cell[key];
    }
    if (Array.isArray(cell.outputs) && cell.outputs.length === 0) delete cell.outputs;
    for (const o of cell.outputs ?? []) if (o.metadata && Object.keys(o.metadata).length === 0) delete o.metadata;
  }
  return v;
}

/** JSON text with object keys sorted, so that two values compare without regard to key order. */
function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

function mutate(bytes: Uint8Array, r: Rand): Uint8Array {
  const b = Array.from(bytes);
  const at = Math.floor(r() * b.length);
  switch (Math.floor(r() * 5)) {
    case 0: b[at] = Math.floor(r() * 256); break;
    case 1: b.splice(at, 1); break;
    case 2: b.splice(at, 0, pick(r, [0x22, 0x2c, 0x7b, 0x7d, 0x5b, 0x5d, 0x30, 0x20, 0x0a, 0x5c, 0xff])); break;
    case 3: { const len = 1 + Math.floor(r() * 20); b.splice(at, 0, ...b.slice(at, at + len)); break; }
    default: b.splice(at, Math.floor(r() * 20)); break;
  }
  return Uint8Array.from(b);
}

test('random byte mutations: a typed error, or every input value kept and a stable canonical form', () => {
  const r = rng(11);
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < 150; i++) {
    const original = new TextEncoder().encode(serializeNotebook(randomNotebook(r)));
    for (let j = 0; j < 30; j++) {
      const bytes = mutate(original, r);
      let nb: NotebookFile;
      try {
        nb = parseNotebook(bytes);
      } catch (e) {
        assert.ok(e instanceof NotebookFormatError, `notebook ${i} mutation ${j}: ${(e as Error).stack}`);
        rejected++;
        continue;
      }
      parsed++;
      const text = serializeNotebook(nb);
      assert.equal(serializeNotebook(parseNotebook(text)), text, 'the canonical form is stable');
      const input = new TextDecoder().decode(bytes);
      if (input.trim() === '') continue;
      assert.equal(sortedJson(JSON.parse(text)), sortedJson(withoutEmptyOptionals(JSON.parse(input))), `notebook ${i} mutation ${j} lost content`);
    }
  }
  // Both branches must be exercised for the property to mean something.
  assert.ok(parsed > 100 && rejected > 100, `parsed ${parsed}, rejected ${rejected}`);
});

// ---- errors a user sees ----

function rejects(content: string, pattern: RegExp): void {
  assert.throws(() => parseNotebook(content, 'x.llmnb'), (e: unknown) => e instanceof NotebookFormatError && pattern.test(e.message));
}

const wrap = (cells: unknown[]) => JSON.stringify({ llmnb: 1, metadata: {}, cells });

test('unreadable files fail with a message that names the file and the problem', () => {
  rejects('{"llmnb": 1, "metadata": {}, "cells": [', /^x\.llmnb: not valid JSON/);
  rejects('{"llmnb": 2, "metadata": {}, "cells": []}', /version 2 is not supported/);
  rejects('{"cells": []}', /not an llmnb notebook/);
  rejects(wrap([{ kind: 'code', source: 'x', output: [] }]), /cells\[0\] has an unknown key "output"/);
  rejects(wrap([{ kind: 'python', source: 'x' }]), /cells\[0\]\.kind must be "code" or "markdown"/);
  rejects(wrap([{ kind: 'code', source: 'x', execution: { order: -1 } }]), /execution\.order must be a non-negative integer/);
  rejects(wrap([{ kind: 'code', source: 'x', outputs: [{ items: [{ mime: 'image/png', data: 'AAA=', encoding: 'base64' }] }] }]), /has no text\/plain item/);
  rejects(wrap([{ kind: 'code', source: 'x', outputs: [{ items: [{ mime: 'text/plain', data: 'a' }, { mime: 'image/png', data: 'not base64!', encoding: 'base64' }] }] }]), /not canonical base64/);
  rejects(wrap([{ kind: 'code', source: 'x', outputs: [{ items: [{ mime: 'text/plain', data: 'aGk=', encoding: 'base64' }] }] }]), /UTF-8 text is stored as text/);
  rejects(wrap([{ kind: 'code', source: 'x', outputs: [{ items: [{ mime: 'text/plain', data: 'a' }, { mime: 'image/png', data: 'PNG' }] }] }]), /must be "base64": image\/png is binary/);
  assert.throws(() => parseNotebook(Uint8Array.of(0x7b, 0xff, 0x7d)), /not valid UTF-8/);
});

test('an empty file is an empty notebook; empty optional containers are dropped', () => {
  assert.deepEqual(parseNotebook(new Uint8Array(0)), { llmnb: 1, metadata: {}, cells: [] });
  const nb = parseNotebook(wrap([{ kind: 'code', source: 'x', language: 'llmnb', metadata: {}, execution: {}, outputs: [] }]));
  assert.deepEqual(nb.cells, [{ kind: 'code', source: 'x' }]);
});
