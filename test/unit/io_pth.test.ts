// PyTorch .pth checkpoints written by scripts/make-pth-fixtures.py (torch.save of the reference weights under
// LLMs-from-scratch names): every tensor must equal the reference safetensors bit for bit; hostile and broken
// files must be refused with a message naming the file and the problem.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CheckpointFormatError } from '../../kernel/errors.js';
import { bf16ArrayToF32, f16BitsToF32 } from '../../kernel/gpu/bf16.js';
import { openCheckpoint, type Checkpoint } from '../../kernel/io/checkpoint.js';
import { canonicalName } from '../../kernel/io/names.js';
import { entryBytes, PTH_DIR, REFERENCE_DIR, REFERENCE_MODEL } from './helpers/io.js';

const fixture = (name: string) => path.join(PTH_DIR, name);

async function withCheckpoint<T>(file: string, f: (c: Checkpoint) => Promise<T>): Promise<T> {
  const c = await openCheckpoint(file);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

/** HF name -> bytes of the reference model and of the chapter-6 head. */
const reference = await withCheckpoint(REFERENCE_MODEL, async (c) => {
  const m = new Map<string, Buffer>();
  for (const [name, e] of c.tensors) m.set(name, await entryBytes(e));
  await withCheckpoint(path.join(REFERENCE_DIR, 'classifier.safetensors'), async (h) => {
    for (const [name, e] of h.tensors) m.set(name, await entryBytes(e));
  });
  return m;
});

test('tiny_bf16.pth (from-scratch names) equals the reference safetensors bit for bit', async () => {
  await withCheckpoint(fixture('tiny_bf16.pth'), async (c) => {
    assert.equal(c.format, 'pth');
    assert.equal(c.tensors.size, 30);
    const seen = new Set<string>();
    for (const [name, e] of c.tensors) {
      const hf = canonicalName(name, 'lm_head');
      assert.ok(hf && reference.has(hf), `${name} -> ${hf}`);
      seen.add(hf);
      assert.equal(e.dtype, 'BF16');
      assert.ok((await entryBytes(e, 999)).equals(reference.get(hf)!), name);
    }
    assert.equal(seen.size, 30);
  });
});

test('chapter-6 classifier checkpoint: replaced head out_head.weight [2, 64] + bias, rest of the model', async () => {
  await withCheckpoint(fixture('review_classifier.pth'), async (c) => {
    assert.equal(c.tensors.size, 31);
    assert.deepEqual(c.tensors.get('out_head.weight')!.shape, [2, 64]);
    assert.deepEqual(c.tensors.get('out_head.bias')!.shape, [2]);
    assert.equal(c.tensors.has('lm_head.weight'), false);
    for (const [name, e] of c.tensors) {
      const hf = canonicalName(name)!;
      assert.ok((await entryBytes(e)).equals(reference.get(hf)!), name);
    }
  });
});

test('{"model_state_dict", "optimizer_state_dict", "epoch"} wrapper: model tensors only, plain values as metadata', async () => {
  await withCheckpoint(fixture('training_checkpoint.pth'), async (c) => {
    assert.equal(c.tensors.size, 31);
    assert.deepEqual(c.metadata, { epoch: '3', train_loss: '0.25', note: 'chapter 6' });
    for (const [name, e] of c.tensors) assert.ok((await entryBytes(e)).equals(reference.get(canonicalName(name)!)!), name);
  });
});

test('F32 ({"state_dict": ...}) and F16 (pickle protocol 4) checkpoints hold the reference values', async () => {
  await withCheckpoint(fixture('tiny_f32_subset.pth'), async (c) => {
    assert.equal(c.tensors.size, 8);
    for (const [name, e] of c.tensors) {
      assert.equal(e.dtype, 'F32');
      const got = new Float32Array(new Uint8Array(await entryBytes(e)).buffer);
      const want = bf16ArrayToF32(u16(reference.get(canonicalName(name)!)!));
      assert.deepEqual(got, want, name);
    }
  });
  await withCheckpoint(fixture('tiny_f16_subset.pth'), async (c) => {
    assert.equal(c.tensors.size, 8);
    for (const [name, e] of c.tensors) {
      assert.equal(e.dtype, 'F16');
      const got = u16(await entryBytes(e));
      const want = bf16ArrayToF32(u16(reference.get(canonicalName(name)!)!));
      for (let i = 0; i < got.length; i++) {
        const g = f16BitsToF32(got[i]);
        // f16 rounding of a bf16 value: half an ulp (2^-11 relative), or 2^-25 among subnormals.
        assert.ok(Math.abs(g - want[i]) <= Math.max(Math.abs(want[i]) * 2 ** -11, 2 ** -25), `${name}[${i}]: ${g} vs ${want[i]}`);
      }
    }
  });
});

test('views: tensors sharing one storage at different offsets, and a row slice of a matrix', async () => {
  await withCheckpoint(fixture('views_shared_storage.pth'), async (c) => {
    const n1 = c.tensors.get('trf_blocks.0.norm1.weight')!;
    const n2 = c.tensors.get('trf_blocks.0.norm2.weight')!;
    assert.equal(n2.offset - n1.offset, 64 * 2, 'norm2 starts 64 bf16 elements into the shared storage');
    assert.ok((await entryBytes(n1)).equals(reference.get('model.layers.0.input_layernorm.weight')!));
    assert.ok((await entryBytes(n2)).equals(reference.get('model.layers.0.post_attention_layernorm.weight')!));
    const rows = c.tensors.get('tok_emb_rows_3_to_8')!;
    assert.deepEqual(rows.shape, [5, 64]);
    const emb = reference.get('model.embed_tokens.weight')!;
    assert.ok((await entryBytes(rows)).equals(emb.subarray(3 * 128, 8 * 128)));
  });
});

async function refused(name: string, ...parts: (string | RegExp)[]): Promise<CheckpointFormatError> {
  const file = fixture(name);
  let error: unknown;
  await assert.rejects(openCheckpoint(file), (e: unknown) => { error = e; return true; });
  assert.ok(error instanceof CheckpointFormatError, `${name}: ${String(error)}`);
  assert.ok(error.message.includes(file), error.message);
  for (const p of parts) assert.ok(typeof p === 'string' ? error.message.includes(p) : p.test(error.message), `${name}: ${error.message} lacks ${p}`);
  return error;
}

test('malicious pickles (os.system via __reduce__, protocols 2 and 4) are refused, naming the global, and nothing runs', async () => {
  const marker = '/tmp/llmnb-pickle-executed';
  fs.rmSync(marker, { force: true });
  for (const name of ['malicious_os_system.pth', 'malicious_os_system_p4.pth']) {
    const e = await refused(name, "'posix.system'", 'data.pkl');
    assert.match(e.hint, /torch\.load/);
    assert.equal(typeof e.offset, 'number');
  }
  assert.equal(fs.existsSync(marker), false);
});

test('non-contiguous, legacy, compressed, big-endian and truncated-storage files get clear errors', async () => {
  const e = await refused('non_contiguous.pth', 'trf_blocks.0.att.W_query.weight', 'not contiguous');
  assert.match(e.hint, /\.contiguous\(\)/);
  await refused('legacy_format.pth', 'legacy');
  await refused('deflated.pth', 'compressed');
  await refused('big_endian.pth', 'big-endian');
  await refused('storage_too_short.pth', 'trf_blocks.0.norm1.weight', 'has 64 bytes', 'need 256');
});

function u16(b: Uint8Array): Uint16Array {
  const copy = new Uint8Array(b);
  return new Uint16Array(copy.buffer, 0, copy.length / 2);
}
