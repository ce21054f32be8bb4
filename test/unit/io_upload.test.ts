// Streaming checkpoint tensors into GPU tensors through one staging buffer, and back out: bytes equal the file,
// split destinations (a tiny maxBufferBytes device), casts equal kernel/gpu/bf16.ts, odd bf16 counts, progress,
// and the staging buffer being the only extra allocation.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { DtypeMismatchError, ShapeMismatchError } from '../../kernel/errors.js';
import { bf16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ToBf16Bits } from '../../kernel/gpu/bf16.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor, type DType } from '../../kernel/gpu/tensor.js';
import { openCheckpoint, type TensorEntry } from '../../kernel/io/checkpoint.js';
import type { FileDtype } from '../../kernel/io/entry.js';
import { writeSafetensors } from '../../kernel/io/safetensors_writer.js';
import { StagingArea } from '../../kernel/io/upload.js';
import { testGpu } from './helpers/gpu.js';
import { entryBytes, PTH_DIR, REFERENCE_DIR, REFERENCE_MODEL, tempDir } from './helpers/io.js';
import { randomArray } from './helpers/random.js';

const TAG = { layer: 'test', tensor: 'upload target', kind: 'weights' } as const;
const model = await openCheckpoint(REFERENCE_MODEL);
const finetuned = await openCheckpoint(path.join(REFERENCE_DIR, 'finetuned_f32_lr5e-5.safetensors'));
const f16 = await openCheckpoint(path.join(PTH_DIR, 'tiny_f16_subset.pth'));
after(() => { for (const c of [model, finetuned, f16]) c.close(); });

/** A GPU that splits any tensor over 4 KiB into parts. */
let tiny: Promise<Gpu> | null = null;
const tinyGpu = () => (tiny ??= Gpu.open({ maxBufferBytes: 4096 }));

/** A safetensors file of random tensors with the given shapes (odd element counts included). */
async function randomCheckpoint(specs: { name: string; dtype: FileDtype; shape: number[] }[]): Promise<Map<string, TensorEntry>> {
  const file = path.join(tempDir(), 'random.safetensors');
  await writeSafetensors(file, specs, async (spec, w) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = randomArray(n, n, 2);
    const bytes = spec.dtype === 'F32' ? values : f32ArrayToBf16(values);
    await w.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  const c = await openCheckpoint(file);
  after(() => c.close());
  return c.tensors;
}

async function uploadInto(gpu: Gpu, entry: TensorEntry, dtype: DType, chunkBytes: number, cast = false): Promise<Tensor> {
  const t = Tensor.alloc(gpu, entry.shape, dtype, TAG);
  const area = new StagingArea(gpu, chunkBytes);
  await area.upload(entry, t, { cast });
  area.dispose();
  return t;
}

function u16(b: Uint8Array): Uint16Array {
  return new Uint16Array(new Uint8Array(b).buffer);
}

test('bf16 upload equals the file bytes, whole and split into parts, for chunk sizes that do not divide the tensor', async () => {
  const entry = model.tensors.get('model.embed_tokens.weight')!; // [512, 64] bf16, 64 KiB
  const want = u16(await entryBytes(entry));
  for (const [gpu, chunk] of [[await testGpu(), 1000], [await tinyGpu(), 3000], [await tinyGpu(), 8]] as const) {
    const t = await uploadInto(gpu, entry, 'bf16', chunk);
    if (gpu !== (await testGpu())) assert.ok(t.parts.length >= 16, `split into ${t.parts.length} parts`);
    assert.deepEqual(await t.readRaw(), want);
    t.dispose();
  }
});

test('odd bf16 element counts, also across part boundaries; download returns exactly the file bytes', async () => {
  const entries = await randomCheckpoint([
    { name: 'odd', dtype: 'BF16', shape: [3, 5] }, { name: 'one', dtype: 'BF16', shape: [1] },
    { name: 'odd rows split', dtype: 'BF16', shape: [901, 3] }, { name: 'f32 split', dtype: 'F32', shape: [300, 7] },
  ]);
  for (const gpu of [await testGpu(), await tinyGpu()]) {
    for (const entry of entries.values()) {
      const dtype = entry.dtype === 'F32' ? 'f32' : 'bf16';
      const t = await uploadInto(gpu, entry, dtype, 1024);
      const file = await entryBytes(entry);
      assert.deepEqual(Buffer.from((await t.readRaw()).buffer), file, `${entry.name} upload`);
      const area = new StagingArea(gpu, 64);
      const chunks: Buffer[] = [];
      await area.download(t, (chunk) => { chunks.push(Buffer.from(chunk)); });
      area.dispose();
      assert.ok(chunks.every((c) => c.length <= 64));
      assert.ok(Buffer.concat(chunks).equals(file), `${entry.name} download`);
      t.dispose();
    }
  }
});

test('casts: F32 -> bf16 rounds like kernel/gpu/bf16.ts, BF16/F16 -> f32 exact, F16 -> bf16 via f32', async () => {
  const gpu = await tinyGpu();
  const down = finetuned.tensors.get('model.layers.2.mlp.down_proj.weight')!; // [64, 192] F32: split on this device
  const f32Values = new Float32Array(new Uint8Array(await entryBytes(down)).buffer);
  const rounded = await uploadInto(gpu, down, 'bf16', 4000, true);
  assert.deepEqual(await rounded.readRaw(), f32ArrayToBf16(f32Values));
  rounded.dispose();

  const norm = model.tensors.get('model.layers.1.input_layernorm.weight')!;
  const widened = await uploadInto(gpu, norm, 'f32', 40, true);
  assert.deepEqual(await widened.read(), bf16ArrayToF32(u16(await entryBytes(norm))));
  widened.dispose();

  const q = f16.tensors.get('trf_blocks.0.att.W_query.weight')!;
  const half = u16(await entryBytes(q));
  const asF32 = await uploadInto(gpu, q, 'f32', 1000, true);
  assert.deepEqual(await asF32.read(), Float32Array.from(half, f16BitsToF32));
  asF32.dispose();
  const asBf16 = await uploadInto(gpu, q, 'bf16', 1000, true);
  assert.deepEqual(await asBf16.readRaw(), Uint16Array.from(half, (h) => f32ToBf16Bits(f16BitsToF32(h))));
  asBf16.dispose();
});

test('a dtype or shape that does not match is refused before anything is written', async () => {
  const gpu = await testGpu();
  const down = finetuned.tensors.get('model.layers.2.mlp.down_proj.weight')!;
  const t = Tensor.alloc(gpu, down.shape, 'bf16', TAG);
  const area = new StagingArea(gpu, 1024);
  await assert.rejects(area.upload(down, t, { cast: false }), (e: unknown) =>
    e instanceof DtypeMismatchError && /F32/.test(e.message) && /bf16/.test(e.message) && /--dtype-cast/.test(e.hint));
  const wrongShape = Tensor.alloc(gpu, [192, 64], 'f32', TAG);
  await assert.rejects(area.upload(down, wrongShape, { cast: false }), ShapeMismatchError);
  const ids = Tensor.alloc(gpu, down.shape, 'u32', TAG);
  await assert.rejects(area.upload(down, ids, { cast: true }), DtypeMismatchError);
  assert.ok((await t.readRaw()).every((x) => x === 0));
  for (const x of [t, wrongShape, ids]) x.dispose();
  area.dispose();
});

test('progress reports file bytes done; the staging chunk is the only extra GPU allocation', async () => {
  const gpu = await testGpu();
  const entry = finetuned.tensors.get('model.layers.2.mlp.gate_proj.weight')!; // F32 [192, 64] = 48 KiB
  const t = Tensor.alloc(gpu, entry.shape, 'bf16', TAG);
  await gpu.sync();
  gpu.allocator.resetPeak();
  const before = gpu.allocator.liveBytes;
  const area = new StagingArea(gpu, 4096);
  const progress: number[] = [];
  await area.upload(entry, t, { cast: true, onBytes: (n) => progress.push(n) });
  assert.equal(gpu.allocator.peakBytes - before, 4096);
  const staging = gpu.allocator.snapshot().rows.filter((r) => r.kind === 'staging' && r.peakBytes > 0);
  assert.deepEqual(staging.map((r) => [r.tensor, r.peakBytes]), [['staging chunk (upload)', 4096]]);
  area.dispose();
  assert.equal(gpu.allocator.liveBytes, before);
  assert.equal(progress.length, Math.ceil(entry.bytes / 4096));
  assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
  assert.equal(progress.at(-1), entry.bytes);
  t.dispose();
});

test('GPU -> safetensors -> GPU round trip through the streaming writer', async () => {
  const gpu = await tinyGpu();
  const names = ['model.embed_tokens.weight', 'model.norm.weight', 'model.layers.0.self_attn.k_proj.weight'];
  const tensors = await Promise.all(names.map((n) => uploadInto(gpu, model.tensors.get(n)!, 'bf16', 2048)));
  const file = path.join(tempDir(), 'saved.safetensors');
  const area = new StagingArea(gpu, 2048);
  await writeSafetensors(file, names.map((name, i) => ({ name, dtype: 'BF16' as const, shape: [...tensors[i].shape] })),
    async (spec, w) => area.download(tensors[names.indexOf(spec.name)], (chunk) => w.write(chunk)));
  area.dispose();
  const saved = await openCheckpoint(file);
  for (const n of names) assert.ok((await entryBytes(saved.tensors.get(n)!)).equals(await entryBytes(model.tensors.get(n)!)), n);
  saved.close();
  for (const t of tensors) t.dispose();
});
