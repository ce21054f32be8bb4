// Sharded checkpoints: an index (`model.safetensors.index.json`, or `pytorch_model.bin.index.json` for .bin
// shards) whose `weight_map` says which file holds each tensor. Every shard must exist next to the index, and
// the map and the shards' own headers must agree exactly, in both directions.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointFormatError } from '../errors.js';
import type { TensorEntry } from './entry.js';

export const SHARD_INDEX_FILES = ['model.safetensors.index.json', 'pytorch_model.bin.index.json'];
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/** Reads the index at `indexPath`, then every shard through `read`, and checks them against each other. */
export async function readShardIndex<T extends { tensors: TensorEntry[] }>(indexPath: string, read: (file: string) => Promise<T>): Promise<T[]> {
  const fail = (detail: string, hint?: string) => new CheckpointFormatError(indexPath, detail, undefined, hint);
  const dir = path.dirname(indexPath);
  if (fs.statSync(indexPath).size > MAX_INDEX_BYTES) throw fail('the index is larger than any real shard index');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw fail(`the index is not valid JSON (${(e as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) throw fail('the index has no weight_map object');
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw fail(`weight_map['${name}'] is not a file name`);
    const inside = path.relative(dir, path.resolve(dir, shard));
    if (path.isAbsolute(shard) || inside.startsWith('..') || inside === '') throw fail(`weight_map['${name}'] = '${shard}' is not a file inside ${dir}`);
    map.set(name, shard);
  }
  if (!map.size) throw fail('the weight_map is empty');

  const shardNames = [...new Set(map.values())];
  for (const shard of shardNames) {
    if (!fs.existsSync(path.join(dir, shard))) {
      const example = [...map].find(([, s]) => s === shard)![0];
      throw fail(`shard ${shard} (holding '${example}' and others) does not exist`, 'Download or copy every shard listed in the index.');
    }
  }
  const shards = await Promise.all(shardNames.map((s) => read(path.join(dir, s))));
  const where = new Map<string, string>();
  shardNames.forEach((s, i) => { for (const t of shards[i].tensors) where.set(t.name, s); });
  for (const [name, shard] of map) {
    const actual = where.get(name);
    if (actual !== shard) {
      throw fail(`the index puts '${name}' in ${shard}, but ${actual ? `it is in ${actual}` : 'no shard contains it'}`,
        'The index and the shards come from different exports: download them again together.');
    }
  }
  for (const [name, shard] of where) {
    if (!map.has(name)) throw fail(`${shard} contains '${name}', which the index does not list`, 'The index and the shards come from different exports: download them again together.');
  }
  return shards;
}
