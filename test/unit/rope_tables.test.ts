import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ropeInvFreq, ropeTables, type RopeScaling } from '../../kernel/model/rope_tables.js';
import { assertClose } from './helpers/compare.js';

interface ReferenceTables {
  head_dim: number;
  theta_base: number;
  context_length: number;
  tables: { llama32: { rope_freq: { factor: number; low_freq_factor: number; high_freq_factor: number; original_context_length: number }; cos: number[][]; sin: number[][] } };
}

const LLAMA31: RopeScaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };

test('RoPE tables match the PyTorch reference (Llama 3.2 scaling) within 1e-5', () => {
  const ref = JSON.parse(fs.readFileSync(new URL('../fixtures/rope_tables_llama32.json', import.meta.url), 'utf8')) as ReferenceTables;
  const rf = ref.tables.llama32.rope_freq;
  const scaling = { factor: rf.factor, lowFreqFactor: rf.low_freq_factor, highFreqFactor: rf.high_freq_factor, originalContext: rf.original_context_length };
  const half = ref.head_dim / 2;
  const { cos, sin } = ropeTables(ref.head_dim, ref.theta_base, scaling, ref.context_length);
  for (const [got, want, name] of [[cos, ref.tables.llama32.cos, 'cos'], [sin, ref.tables.llama32.sin, 'sin']] as const) {
    assert.equal(want.length, ref.context_length);
    for (let p = 0; p < ref.context_length; p++) {
      // The reference repeats the D/2 frequencies for both halves of the head: columns j and j + D/2.
      const row = got.subarray(p * half, (p + 1) * half);
      assertClose(row, want[p].slice(0, half), { atol: 1e-5, rtol: 0, what: `${name} row ${p} (first half)` });
      assertClose(row, want[p].slice(half), { atol: 1e-5, rtol: 0, what: `${name} row ${p} (second half)` });
    }
  }
});

test('without scaling the inverse frequencies are theta^(-2j/D) for several head dims', () => {
  for (const [headDim, theta] of [[128, 500000], [96, 10000], [64, 500000], [16, 10000], [2, 10000]]) {
    const got = ropeInvFreq(headDim, theta, null);
    assert.equal(got.length, headDim / 2);
    const want = Array.from({ length: headDim / 2 }, (_, j) => theta ** (-2 * j / headDim));
    for (let j = 0; j < want.length; j++) {
      assert.ok(Math.abs(got[j] - want[j]) <= 3e-7 * want[j], `D=${headDim} j=${j}: ${got[j]} vs ${want[j]}`);
    }
  }
});

test('Llama 3.1 scaling keeps high frequencies, divides low ones by the factor and blends the middle band', () => {
  const headDim = 128;
  const theta = 500000;
  const got = ropeInvFreq(headDim, theta, LLAMA31);
  const branches = new Set<string>();
  for (let j = 0; j < headDim / 2; j++) {
    const base = theta ** (-2 * j / headDim);
    const wavelen = (2 * Math.PI) / base;
    let want: number;
    if (wavelen < LLAMA31.originalContext / LLAMA31.highFreqFactor) { want = base; branches.add('high'); }
    else if (wavelen > LLAMA31.originalContext / LLAMA31.lowFreqFactor) { want = base / LLAMA31.factor; branches.add('low'); }
    else {
      const smooth = (LLAMA31.originalContext / wavelen - LLAMA31.lowFreqFactor) / (LLAMA31.highFreqFactor - LLAMA31.lowFreqFactor);
      want = (1 - smooth) * (base / LLAMA31.factor) + smooth * base;
      branches.add('medium');
    }
    assert.ok(Math.abs(got[j] - want) <= 1e-6 * want, `j=${j}: ${got[j]} vs ${want}`);
  }
  assert.deepEqual([...branches].sort(), ['high', 'low', 'medium']);
});

test('tables from a start position equal the same rows of a table from 0', () => {
  const full = ropeTables(32, 500000, LLAMA31, 40);
  const tail = ropeTables(32, 500000, LLAMA31, 7, 33);
  assert.deepEqual(tail.cos, full.cos.subarray(33 * 16));
  assert.deepEqual(tail.sin, full.sin.subarray(33 * 16));
});

test('tables stay accurate at long positions (around 131072)', () => {
  const headDim = 128;
  const start = 131072 - 5;
  const positions = 10;
  const invFreq = ropeInvFreq(headDim, 500000, LLAMA31);
  const { cos, sin } = ropeTables(headDim, 500000, LLAMA31, positions, start);
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < headDim / 2; j++) {
      const angle = (start + p) * invFreq[j];
      // The f32 angle is off by at most half an f32 ulp of the angle, and cos/sin are rounded to f32.
      const tol = angle * 2 ** -24 + 2 ** -24;
      const k = p * (headDim / 2) + j;
      assert.ok(Math.abs(cos[k] - Math.cos(angle)) <= tol, `cos at position ${start + p}, j=${j}: ${cos[k]} vs ${Math.cos(angle)}`);
      assert.ok(Math.abs(sin[k] - Math.sin(angle)) <= tol, `sin at position ${start + p}, j=${j}: ${sin[k]} vs ${Math.sin(angle)}`);
      assert.ok(Math.abs(cos[k] ** 2 + sin[k] ** 2 - 1) <= 3e-7, `cos^2 + sin^2 at ${start + p}, j=${j}`);
    }
  }
});

test('invalid RoPE configs raise ConfigError', () => {
  assert.throws(() => ropeInvFreq(15, 10000, null), { name: 'ConfigError' });
  assert.throws(() => ropeInvFreq(16, 10000, { ...LLAMA31, highFreqFactor: 1 }), { name: 'ConfigError' });
  assert.throws(() => ropeTables(16, 10000, null, 4, -1), { name: 'ConfigError' });
});
