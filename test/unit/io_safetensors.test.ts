import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CheckpointFormatError, UsageError } from '../../kernel/errors.js';
import { openCheckpoint, readChunks } from '../../kernel/io/checkpoint.js';
import { SafetensorsWriter, writeSafetensors } from '../../kernel/io/safetensors_writer.js';
import { entryBytes, REFERENCE_DIR, REFERENCE_MODEL, splitSafetensors, tempDir, writeRawSafetensors } from './helpers/io.js';

const config = JSON.parse(fs.readFileSync(path.join(REFERENCE_DIR, 'config.json'), 'utf8'));

/** The HF tensor names and shapes a Llama 3 config implies. */
function expectedShapes(): Map<string, number[]> {
  const h = config.hidden_size;
  const q = config.num_attention_heads * config.head_dim;
  const kv = config.num_key_value_heads * config.head_dim;
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [config.vocab_size, h]], ['model.norm.weight', [h]],
    ['lm_head.weight', [config.vocab_size, h]]]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}self_attn.q_proj.weight`, [q, h]).set(`${p}self_attn.k_proj.weight`, [kv, h]).set(`${p}self_attn.v_proj.weight`, [kv, h])
      .set(`${p}self_attn.o_proj.weight`, [h, q]).set(`${p}mlp.gate_proj.weight`, [config.intermediate_size, h])
      .set(`${p}mlp.up_proj.weight`, [config.intermediate_size, h]).set(`${p}mlp.down_proj.weight`, [h, config.intermediate_size])
      .set(`${p}input_layernorm.weight`, [h]).set(`${p}post_attention_layernorm.weight`, [h]);
  }
  return m;
}

test('reference safetensors: names, shapes and dtypes match config.json, bytes match the file', async () => {
  const ckpt = await openCheckpoint(REFERENCE_MODEL);
  try {
    assert.equal(ckpt.format, 'safetensors');
    assert.equal(ckpt.metadata.format, 'pt');
    const want = expectedShapes();
    assert.deepEqual([...ckpt.tensors.keys()].sort(), [...want.keys()].sort());
    const { header, data } = splitSafetensors(REFERENCE_MODEL);
    const dataStart = fs.statSync(REFERENCE_MODEL).size - data.length;
    for (const [name, t] of ckpt.tensors) {
      assert.deepEqual(t.shape, want.get(name), name);
      assert.equal(t.dtype, 'BF16');
      const [begin, end] = header[name].data_offsets;
      assert.equal(t.offset, dataStart + begin, name);
      assert.ok((await entryBytes(t, 1000)).equals(data.subarray(begin, end)), `${name} bytes`);
    }
  } finally {
    ckpt.close();
  }
});

test('readChunks reuses one buffer of at most chunkBytes and covers the tensor in order', async () => {
  const ckpt = await openCheckpoint(REFERENCE_MODEL);
  const entry = ckpt.tensors.get('model.embed_tokens.weight')!;
  const buffers = new Set<ArrayBufferLike>();
  let next = 0;
  await readChunks(entry, 3000, (chunk, at) => {
    assert.equal(at, next);
    assert.ok(chunk.length <= 3000);
    buffers.add(chunk.buffer);
    next += chunk.length;
  });
  assert.equal(next, entry.bytes);
  assert.equal(buffers.size, 1);
  ckpt.close();
  await assert.rejects(readChunks(entry, 3000, () => {}), /closed/);
});

// Malformed files: each variant of the reference is refused with the file, the tensor and the problem named.
const reference = splitSafetensors(REFERENCE_MODEL);
const NORM = 'model.norm.weight';

function variant(dir: string, name: string, edit: (h: Record<string, Record<string, unknown>>) => void): string {
  const header = structuredClone(reference.header) as unknown as Record<string, Record<string, unknown>>;
  edit(header);
  const file = path.join(dir, `${name}.safetensors`);
  writeRawSafetensors(file, header, reference.data);
  return file;
}

async function rejectsWith(file: string, ...parts: (string | RegExp)[]): Promise<void> {
  await assert.rejects(openCheckpoint(file), (e: unknown) => {
    assert.ok(e instanceof CheckpointFormatError, `expected CheckpointFormatError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    for (const p of parts) assert.match(e.message, typeof p === 'string' ? new RegExp(p.replace(/[.[\]]/g, '\\$&')) : p);
    return true;
  });
}

test('truncated file: names the tensor that runs past the end', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'truncated.safetensors');
  const bytes = fs.readFileSync(REFERENCE_MODEL);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
  await rejectsWith(file, NORM, 'truncated');
  fs.writeFileSync(file, bytes.subarray(0, 5));
  await rejectsWith(file, 'too short');
});

test('header length beyond the file, bad JSON, not an object', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'bad.safetensors');
  const bytes = Buffer.from(fs.readFileSync(REFERENCE_MODEL));
  bytes.writeBigUInt64LE(BigInt(bytes.length));
  fs.writeFileSync(file, bytes);
  await rejectsWith(file, 'header length', 'exceeds');
  writeRawSafetensors(file, null, reference.data, '{"a": [1, 2');
  await rejectsWith(file, 'not valid JSON');
  writeRawSafetensors(file, [1, 2], reference.data);
  await rejectsWith(file, 'not a JSON object');
  writeRawSafetensors(file, null, new Uint8Array(0), Buffer.concat([Buffer.from('{"\u00e9'), Buffer.from([0xff]), Buffer.from('": 1}')]));
  await rejectsWith(file, 'UTF-8');
});

test('offsets: overlapping, out of range, reversed, wrong byte count for dtype x shape', async () => {
  const dir = tempDir();
  await rejectsWith(variant(dir, 'overlap', (h) => { h[NORM].data_offsets = [0, 128]; }), 'overlap', 'lm_head.weight', NORM);
  const end = reference.data.length;
  await rejectsWith(variant(dir, 'range', (h) => { h[NORM].data_offsets = [end, end + 128]; }), NORM, 'past the end');
  await rejectsWith(variant(dir, 'reversed', (h) => { h[NORM].data_offsets = [128, 0]; }), NORM);
  await rejectsWith(variant(dir, 'count', (h) => { h[NORM].shape = [65]; }), NORM, 'needs 130');
  await rejectsWith(variant(dir, 'f32count', (h) => { h[NORM].dtype = 'F32'; }), NORM, 'needs 256');
  await rejectsWith(variant(dir, 'fraction', (h) => { h[NORM].data_offsets = [0.5, 128.5]; }), NORM, 'data_offsets');
});

test('dtypes other than BF16/F16/F32, bad shapes, extra fields and bad metadata are refused by name', async () => {
  const dir = tempDir();
  await rejectsWith(variant(dir, 'i64', (h) => { h[NORM].dtype = 'I64'; }), NORM, 'I64');
  await rejectsWith(variant(dir, 'f8', (h) => { h['lm_head.weight'].dtype = 'F8_E4M3'; }), 'lm_head.weight', 'F8_E4M3');
  await rejectsWith(variant(dir, 'negative', (h) => { h[NORM].shape = [-64]; }), NORM, 'shape');
  await rejectsWith(variant(dir, 'stringshape', (h) => { h[NORM].shape = '64'; }), NORM, 'shape');
  await rejectsWith(variant(dir, 'extra', (h) => { h[NORM].strides = [1]; }), NORM, 'strides');
  await rejectsWith(variant(dir, 'meta', (h) => { h.__metadata__ = { step: 3 } as unknown as Record<string, unknown>; }), '__metadata__.step');
});

test('writer: streamed round trip of the reference (any order, chunked), header padded, metadata kept', async () => {
  const dir = tempDir();
  const src = await openCheckpoint(REFERENCE_MODEL);
  const entries = [...src.tensors.values()].reverse();
  const out = path.join(dir, 'copy.safetensors');
  await writeSafetensors(out, entries, async (spec, writer) => {
    await readChunks(src.tensors.get(spec.name)!, 777, (chunk) => writer.write(chunk));
  }, { note: 'round trip' });
  assert.deepEqual(fs.readdirSync(dir), ['copy.safetensors']);
  const copy = await openCheckpoint(out);
  assert.deepEqual(copy.metadata, { note: 'round trip' });
  assert.deepEqual([...copy.tensors.keys()], entries.map((e) => e.name));
  for (const [name, t] of copy.tensors) {
    const orig = src.tensors.get(name)!;
    assert.deepEqual([t.dtype, t.shape], [orig.dtype, orig.shape]);
    assert.ok((await entryBytes(t)).equals(await entryBytes(orig)), name);
  }
  assert.equal((fs.statSync(out).size - splitSafetensors(out).data.length - 8) % 8, 0);
  src.close();
  copy.close();
});

test('writer: a failure midway leaves the previous file and no temporary file', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'model.safetensors');
  fs.writeFileSync(out, 'previous contents');
  const specs = [{ name: 'a', dtype: 'F32' as const, shape: [4] }, { name: 'b', dtype: 'BF16' as const, shape: [3] }];
  await assert.rejects(writeSafetensors(out, specs, async (spec, w) => {
    if (spec.name === 'b') throw new Error('disk on fire');
    await w.write(new Uint8Array(16));
  }), /disk on fire/);
  assert.equal(fs.readFileSync(out, 'utf8'), 'previous contents');
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);

  await assert.rejects(writeSafetensors(out, specs, async (spec, w) => { await w.write(new Uint8Array(spec.name === 'a' ? 10 : 6)); }),
    /tensor a got 10 bytes, it holds 16/);
  const w = await SafetensorsWriter.create(out, specs);
  await assert.rejects(w.write(new Uint8Array(23)), UsageError);
  await w.write(new Uint8Array(20));
  await assert.rejects(w.commit(), /tensor b is incomplete/);
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
  await assert.rejects(SafetensorsWriter.create(out, [specs[0], specs[0]]), UsageError);
  assert.equal(fs.readFileSync(out, 'utf8'), 'previous contents');
});
