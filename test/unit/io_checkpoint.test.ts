// openCheckpoint over folders: shard indexes (validated against the shards in both directions), a single
// model.safetensors, several *.safetensors, one .pth; and the errors for what does not fit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CheckpointFormatError } from '../../kernel/errors.js';
import { openCheckpoint, readChunks, type Checkpoint, type TensorEntry } from '../../kernel/io/checkpoint.js';
import { writeSafetensors } from '../../kernel/io/safetensors_writer.js';
import { entryBytes, PTH_DIR, REFERENCE_DIR, REFERENCE_MODEL, tempDir } from './helpers/io.js';

const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

/** Writes `entries` (read from `source`) to `file` with the streaming writer. */
async function writeFrom(file: string, entries: TensorEntry[]): Promise<void> {
  await writeSafetensors(file, entries, async (spec, w) => {
    await readChunks(entries.find((e) => e.name === spec.name)!, 4096, (chunk) => w.write(chunk));
  });
}

/** The reference model split in two shards plus an index; `editMap` may corrupt the weight_map. */
async function shardedCopy(editMap: (map: Record<string, string>) => void = () => {}): Promise<string> {
  const dir = tempDir();
  const src = await openCheckpoint(REFERENCE_MODEL);
  const entries = [...src.tensors.values()];
  const halves = [entries.filter((e) => !e.name.includes('layers.2.')), entries.filter((e) => e.name.includes('layers.2.'))];
  const map: Record<string, string> = {};
  for (let i = 0; i < 2; i++) {
    await writeFrom(path.join(dir, SHARDS[i]), halves[i]);
    for (const e of halves[i]) map[e.name] = SHARDS[i];
  }
  src.close();
  editMap(map);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 426880 }, weight_map: map }));
  return dir;
}

async function sameAsReference(c: Checkpoint): Promise<void> {
  const ref = await openCheckpoint(REFERENCE_MODEL);
  assert.deepEqual([...c.tensors.keys()].sort(), [...ref.tensors.keys()].sort());
  for (const [name, e] of c.tensors) assert.ok((await entryBytes(e)).equals(await entryBytes(ref.tensors.get(name)!)), name);
  ref.close();
}

async function refused(p: string, ...parts: string[]): Promise<void> {
  await assert.rejects(openCheckpoint(p), (e: unknown) => {
    assert.ok(e instanceof CheckpointFormatError, String(e));
    for (const part of parts) assert.ok(e.message.includes(part), `${e.message} lacks ${part}`);
    return true;
  });
}

test('sharded folder: every tensor from the shard the index names, same bytes as the single file', async () => {
  const dir = await shardedCopy();
  const c = await openCheckpoint(dir);
  assert.equal(c.format, 'safetensors');
  assert.equal(path.basename(c.tensors.get('model.layers.2.mlp.up_proj.weight')!.file), SHARDS[1]);
  assert.equal(path.basename(c.tensors.get('lm_head.weight')!.file), SHARDS[0]);
  await sameAsReference(c);
  c.close();
});

test('sharded folder: missing shard, tensor in the wrong shard, unlisted tensor, path outside the folder', async () => {
  const missing = await shardedCopy((m) => { m['model.norm.weight'] = 'model-00003-of-00003.safetensors'; });
  await refused(missing, 'model-00003-of-00003.safetensors', 'does not exist');
  const wrong = await shardedCopy((m) => { m['model.layers.2.mlp.up_proj.weight'] = SHARDS[0]; });
  await refused(wrong, "'model.layers.2.mlp.up_proj.weight'", `in ${SHARDS[0]}`, `it is in ${SHARDS[1]}`);
  const ghost = await shardedCopy((m) => { m['model.layers.9.mlp.up_proj.weight'] = SHARDS[0]; });
  await refused(ghost, "'model.layers.9.mlp.up_proj.weight'", 'no shard contains it');
  const unlisted = await shardedCopy((m) => { delete m['model.norm.weight']; });
  await refused(unlisted, SHARDS[0], "'model.norm.weight'", 'does not list');
  const outside = await shardedCopy((m) => { m['model.norm.weight'] = `../${SHARDS[0]}`; });
  await refused(outside, 'not a file inside');
  const badJson = await shardedCopy();
  fs.writeFileSync(path.join(badJson, 'model.safetensors.index.json'), '{"weight_map": ');
  await refused(badJson, 'model.safetensors.index.json', 'not valid JSON');
});

test('folders without an index: model.safetensors, several *.safetensors merged, one .pth', async () => {
  const single = tempDir();
  fs.copyFileSync(REFERENCE_MODEL, path.join(single, 'model.safetensors'));
  fs.copyFileSync(path.join(REFERENCE_DIR, 'config.json'), path.join(single, 'config.json'));
  const c = await openCheckpoint(single);
  await sameAsReference(c);
  c.close();

  const several = tempDir();
  fs.copyFileSync(REFERENCE_MODEL, path.join(several, 'base.safetensors'));
  fs.copyFileSync(path.join(REFERENCE_DIR, 'classifier.safetensors'), path.join(several, 'head.safetensors'));
  const merged = await openCheckpoint(several);
  assert.equal(merged.tensors.size, 32);
  assert.equal(path.basename(merged.tensors.get('out_head.bias')!.file), 'head.safetensors');
  merged.close();
  fs.copyFileSync(path.join(REFERENCE_DIR, 'classifier_f32.safetensors'), path.join(several, 'head_f32.safetensors'));
  await refused(several, "'out_head.bias'", 'is also in');

  const pth = tempDir();
  fs.copyFileSync(path.join(PTH_DIR, 'review_classifier.pth'), path.join(pth, 'review_classifier.pth'));
  const p = await openCheckpoint(pth);
  assert.equal(p.format, 'pth');
  assert.equal(p.tensors.size, 31);
  p.close();
  fs.copyFileSync(path.join(PTH_DIR, 'tiny_bf16.pth'), path.join(pth, 'other.pth'));
  await refused(pth, 'several PyTorch checkpoints');
  await refused(tempDir(), 'no checkpoint found');
  await refused(path.join(pth, 'nope.safetensors'), 'no such file');
});
