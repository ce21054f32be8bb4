// The matmul autotune: every candidate passes the correctness check on this adapter, the fastest measured one is
// chosen and routes linear's products, the choice is cached on disk per adapter and read back by a new device,
// a cache written for other kernels (a changed hash) or a damaged file is measured again, and devices that cannot
// hold the timing operands (or LLMNB_AUTOTUNE=off) keep the default rule.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Gpu } from '../../kernel/gpu/context.js';
import { deviceText } from '../../kernel/magics/device.js';
import { autotuneCacheFile, checkVariant, firstMismatch, tuneMatmuls } from '../../kernel/ops/matmul/autotune.js';
import { candidateVariants, matmulClassKey, matmulVariantFor, tunedVariant, type MatmulClass } from '../../kernel/ops/matmul/variants.js';

// Decode classes: their timing product is a GEMV, quick even on SwiftShader.
const CLASSES: MatmulClass[] = [{ op: 'fwd', bDtype: 'bf16', rows: 'one' }, { op: 'dx', bDtype: 'f32', rows: 'one' }];
const previousDir = process.env.LLMNB_CACHE_DIR;
let dir = '';
const devices: Gpu[] = [];

async function device(): Promise<Gpu> {
  const gpu = await Gpu.open();
  devices.push(gpu);
  return gpu;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmnb-autotune-'));
  process.env.LLMNB_CACHE_DIR = dir;
});

after(() => {
  for (const g of devices) g.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
  if (previousDir === undefined) delete process.env.LLMNB_CACHE_DIR;
  else process.env.LLMNB_CACHE_DIR = previousDir;
});

test('every candidate variant computes every class like float64 on this adapter', async () => {
  const gpu = await device();
  const classes: MatmulClass[] = [
    ...CLASSES, { op: 'fwd', bDtype: 'f32', rows: 'many' }, { op: 'dx', bDtype: 'bf16', rows: 'many' }, { op: 'dw', bDtype: 'f32', rows: 'many' },
  ];
  for (const c of classes) {
    for (const v of candidateVariants(gpu, c)) assert.equal(await checkVariant(gpu, c, v), null, `${v} ${matmulClassKey(c)}`);
  }
});

test('the correctness check rejects results off by more than f32 accumulation error', () => {
  const ref = { value: Float64Array.from([1.5, -2, 0]), magnitude: Float64Array.from([3, 4, 1]) };
  assert.equal(firstMismatch(Float32Array.from([1.5 + 1e-6, -2, 0]), ref), null);
  assert.match(firstMismatch(Float32Array.from([1.5, -2.001, 0]), ref)!, /element 1 is -2.00/);
  assert.match(firstMismatch(Float32Array.from([1.5, -2, NaN]), ref)!, /element 2 is NaN/);
  assert.match(firstMismatch(Float32Array.from([1.5, -2]), ref)!, /2 elements, expected 3/);
});

test('first use measures every candidate, picks the fastest, tells the user and caches the choice', async () => {
  const gpu = await device();
  const notices: string[] = [];
  gpu.onNotice = (t) => notices.push(t);
  assert.match(deviceText(gpu), /matmul kernels +not tuned yet/);
  const report = await tuneMatmuls(gpu, CLASSES);
  assert.equal(report.cached.length, 0);
  assert.equal(report.measured.length, CLASSES.length);
  for (const t of report.measured) {
    const candidates = candidateVariants(gpu, t.class);
    assert.deepEqual(Object.keys(t.ms).sort(), [...candidates].sort(), 'every candidate timed, none rejected');
    const fastest = Object.entries(t.ms).sort((a, b) => a[1]! - b[1]!)[0][0];
    assert.equal(t.variant, fastest);
    assert.equal(tunedVariant(gpu, t.class), t.variant);
    // A product of the class big enough to matter takes the tuned variant.
    assert.equal(matmulVariantFor(gpu, { ...t.class, bf16Elements: false, macs: 2 ** 24 }), t.variant);
  }
  const described = deviceText(gpu);
  for (const t of report.measured) assert.ok(described.includes(`${matmulClassKey(t.class)} ${t.variant}`), `%device lists the choice: ${described}`);
  assert.equal(notices.length, 2, 'one notice when measuring starts, one with the results');
  assert.match(notices[0], /^Tuning matmul kernels for this adapter \(first use only/);
  assert.match(notices[1], /Tuned matmul kernels for this adapter/);
  for (const c of CLASSES) assert.ok(notices[1].includes(matmulClassKey(c)), notices[1]);
  const file = JSON.parse(fs.readFileSync(autotuneCacheFile(), 'utf8'));
  const entries = Object.values(file.adapters as Record<string, Record<string, { variant: string }>>);
  assert.equal(entries.length, 1, 'one adapter');
  for (const t of report.measured) assert.equal(entries[0][matmulClassKey(t.class)].variant, t.variant);

  // Done once per device: a second call measures nothing.
  const again = await tuneMatmuls(gpu, CLASSES);
  assert.deepEqual([again.measured.length, again.cached.length], [0, 0]);
});

test('a new device reads the choices back; changed kernels or a damaged file are measured again', async () => {
  const first = await device();
  await tuneMatmuls(first, CLASSES);
  const chosen = CLASSES.map((c) => tunedVariant(first, c));

  const second = await device();
  const notices: string[] = [];
  second.onNotice = (t) => notices.push(t);
  const report = await tuneMatmuls(second, CLASSES);
  assert.deepEqual([report.measured.length, report.cached.length], [0, CLASSES.length]);
  assert.deepEqual(CLASSES.map((c) => tunedVariant(second, c)), chosen);
  assert.deepEqual(notices, [], 'nothing to tell when nothing was measured');

  // An entry measured for other kernels does not hold.
  const file = autotuneCacheFile();
  const cache = JSON.parse(fs.readFileSync(file, 'utf8'));
  const entries = Object.values(cache.adapters as Record<string, Record<string, { kernels: string }>>)[0];
  entries[matmulClassKey(CLASSES[0])].kernels = 'another kernel';
  fs.writeFileSync(file, JSON.stringify(cache));
  const third = await tuneMatmuls(await device(), CLASSES);
  assert.deepEqual(third.measured.map((t) => matmulClassKey(t.class)), [matmulClassKey(CLASSES[0])]);
  assert.equal(third.cached.length, CLASSES.length - 1);

  fs.writeFileSync(file, '{"format": 1, "adapters": ');
  const fourth = await tuneMatmuls(await device(), CLASSES);
  assert.equal(fourth.measured.length, CLASSES.length);
  assert.doesNotThrow(() => JSON.parse(fs.readFileSync(file, 'utf8')), 'rewritten whole');
});

test('LLMNB_AUTOTUNE=off keeps the default rule without measuring', async () => {
  const gpu = await device();
  process.env.LLMNB_AUTOTUNE = 'off';
  try {
    const report = await tuneMatmuls(gpu, CLASSES);
    assert.deepEqual([report.measured.length, report.cached.length], [0, 0]);
    for (const c of CLASSES) assert.equal(tunedVariant(gpu, c), undefined);
  } finally {
    delete process.env.LLMNB_AUTOTUNE;
  }
});

test('a device whose buffers cannot hold the timing operands keeps the default rule', async () => {
  const gpu = await Gpu.open({ maxBufferBytes: 4096 });
  devices.push(gpu);
  const report = await tuneMatmuls(gpu, CLASSES);
  assert.deepEqual([report.measured.length, report.cached.length], [0, 0]);
  for (const c of CLASSES) assert.equal(tunedVariant(gpu, c), undefined);
});
