// The PyTorch reference outputs (copied from ../shared/reference into test/fixtures/reference) and the
// tolerance rules of its README.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { argmax } from '../../../kernel/model/sampling.js';
import { maxAbs, maxAbsDiff } from './compare.js';
import { REFERENCE_DIR } from './io.js';


export interface ForwardReference {
  inputs: { seq0: number[]; seq1: number[] };
  variants: Record<'f32' | 'bf16', { logits: { seq0: number[][]; seq1: number[][] } }>;
  rope_tables: unknown;
}

export function forwardReference(): ForwardReference {
  return JSON.parse(fs.readFileSync(`${REFERENCE_DIR}/forward_reference.json`, 'utf8'));
}

function top2Margin(row: ArrayLike<number>): number {
  let a = -Infinity;
  let b = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v > a) { b = a; a = v; } else if (v > b) b = v;
  }
  return a - b;
}

/** f32 rule: max abs <= 2e-4 * max|ref| and the same argmax wherever the reference's top-2 margin >= 2x that bound. */
export function assertF32Logits(got: ArrayLike<number>[], want: number[][], what: string): void {
  const bound = 2e-4 * Math.max(...want.map(maxAbs));
  want.forEach((row, t) => {
    const { max, at } = maxAbsDiff(got[t], row);
    assert.ok(max <= bound, `${what} position ${t}: max |diff| ${max.toExponential(3)} at ${at} > ${bound.toExponential(3)}`);
    if (top2Margin(row) >= 2 * bound) assert.equal(argmax(got[t]), argmax(row), `${what} position ${t}: argmax`);
  });
}

/** bf16 rule: max abs <= 0.10 max|ref|, mean abs <= 0.03 rms(ref), argmax agreement >= 0.90. */
export function assertBf16Logits(got: ArrayLike<number>[], want: number[][], what: string): void {
  const flatWant = want.flat();
  const flatGot = got.flatMap((r) => Array.from(r));
  const { max } = maxAbsDiff(flatGot, flatWant);
  const mean = flatGot.reduce((s, v, i) => s + Math.abs(v - flatWant[i]), 0) / flatWant.length;
  const rms = Math.sqrt(flatWant.reduce((s, v) => s + v * v, 0) / flatWant.length);
  assert.ok(max <= 0.1 * maxAbs(flatWant), `${what}: max |diff| ${max} > ${0.1 * maxAbs(flatWant)}`);
  assert.ok(mean <= 0.03 * rms, `${what}: mean |diff| ${mean} > ${0.03 * rms}`);
  const agree = want.filter((row, t) => argmax(row) === argmax(got[t])).length / want.length;
  assert.ok(agree >= 0.9, `${what}: argmax agreement ${agree}`);
}
