// `llmnb run` end to end (kernel/cli.ts through tsx, so the sources are tested, not a build): outputs printed
// and written with execution info, stop at the first failing cell, --timeout, and exit codes 0 / 1 / 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { outputText, parseNotebook, serializeNotebook, type CodeCell, type NotebookFile } from '../../kernel/notebook/format.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmnb-run-'));
const cli = `const m = await import(${JSON.stringify(path.resolve('kernel/cli.ts'))}); process.exitCode = await m.main(process.argv.slice(1));`;

function llmnb(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function notebook(name: string, sources: string[]): string {
  const nb: NotebookFile = { llmnb: 1, metadata: {}, cells: [{ kind: 'markdown', source: '# test' }, ...sources.map((source) => ({ kind: 'code' as const, source }))] };
  const file = path.join(dir, name);
  fs.writeFileSync(file, serializeNotebook(nb));
  return file;
}

const codeCells = (file: string) => parseNotebook(fs.readFileSync(file)).cells.filter((c): c is CodeCell => c.kind === 'code');

test('all cells succeed: outputs printed as they come, written to --out with execution info; exit 0', () => {
  // The kernel runs in the notebook's folder: relative paths are the notebook's.
  const file = notebook('ok.llmnb', ["const n = 6\nconsole.log('printed')\nn * 7", "require('node:fs').readFileSync('data.txt', 'utf8')"]);
  fs.writeFileSync(path.join(dir, 'data.txt'), 'next to the notebook');
  const before = fs.readFileSync(file, 'utf8');
  const out = path.join(dir, 'ok.out.llmnb');
  const r = llmnb('run', file, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[1\] const n = 6\nprinted\n42\n/);
  assert.match(r.stdout, /'next to the notebook'/);
  assert.equal(fs.readFileSync(file, 'utf8'), before, 'the notebook itself is untouched with --out');
  const cells = codeCells(out);
  assert.deepEqual(cells.map((c) => c.execution?.order), [1, 2]);
  assert.deepEqual(cells.map((c) => c.execution?.success), [true, true]);
  assert.deepEqual(cells[0].outputs?.map(outputText), ['printed\n', '42']);
  assert.deepEqual(cells[0].outputs?.[0].metadata, { stream: 'stdout' });
});

test('a failing cell stops the run, its error goes to stderr and into the notebook; exit 1', () => {
  const file = notebook('fail.llmnb', ['1', "throw new llmnb.errors.UsageError('bad input', 'Fix it.')", "'never runs'"]);
  const r = llmnb('run', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /UsageError: bad input\nhint: Fix it\./);
  assert.doesNotMatch(r.stdout, /never runs/);
  const cells = codeCells(file);
  assert.deepEqual(cells.map((c) => c.execution?.success), [true, false, undefined]);
  assert.equal(cells[2].outputs, undefined);
});

test('--timeout stops a cell that runs too long; exit 1', () => {
  const file = notebook('slow.llmnb', ['for (;;) await llmnb.step()']);
  const r = llmnb('run', file, '--timeout', '0.5');
  assert.equal(r.code, 1);
  const [cell] = codeCells(file);
  assert.equal(cell.execution?.success, false);
  assert.match(outputText(cell.outputs?.at(-1) ?? { items: [] }), /TimeoutError: cell 1 ran longer than --timeout 0\.5 s/);
});

test('usage errors exit 2 without a stack; an unreadable notebook exits 1', () => {
  const missing = llmnb('run');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: llmnb run: missing NOTEBOOK/);
  const flag = llmnb('run', 'x.llmnb', '--tmeout', '3');
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown flag --tmeout \(did you mean --timeout\?\)\nhint: Valid flags: --out, --timeout/);
  assert.equal(llmnb('run', path.join(dir, 'absent.llmnb')).code, 2);
  assert.equal(llmnb('nosuch').code, 2);
  const broken = path.join(dir, 'broken.llmnb');
  fs.writeFileSync(broken, '{"llmnb": 1, "cells": [');
  const r = llmnb('run', broken);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*broken\.llmnb: not valid JSON/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
