// One interface over every checkpoint layout llmnb reads: a safetensors file, a torch.save zip (.pth/.pt/.bin),
// a directory with a shard index (model.safetensors.index.json or pytorch_model.bin.index.json), a single
// model.safetensors, or several *.safetensors. Opening reads and validates only headers; tensor bytes are
// streamed later with readChunks / readTensorBytes from the same open files.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointFormatError } from '../errors.js';
import type { TensorEntry } from './entry.js';
import { attachSource, OpenFiles, readBytes } from './files.js';
import { readPth } from './pth.js';
import { readSafetensorsHeader } from './safetensors.js';
import { readShardIndex, SHARD_INDEX_FILES } from './sharded.js';

export type { FileDtype, TensorEntry } from './entry.js';
export { readChunks, readTensorBytes } from './files.js';

export type CheckpointFormat = 'safetensors' | 'pth';

export interface Checkpoint {
  path: string;
  format: CheckpointFormat;
  /** Name as written in the file -> entry. */
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** Closes the files; entries can no longer be read. */
  close(): void;
}

interface FileContents {
  format: CheckpointFormat;
  tensors: TensorEntry[];
  metadata: Record<string, string>;
}

const PTH_EXTENSIONS = ['.pth', '.pt', '.bin'];

/** Opens a checkpoint file or directory and validates every header before returning. */
export async function openCheckpoint(p: string): Promise<Checkpoint> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new CheckpointFormatError(p, 'no such file or directory', undefined, 'Check the path (relative paths start at the notebook\'s folder).');
  }
  const files = new OpenFiles();
  try {
    const contents = stat.isDirectory() ? await readDirectory(p, files) : [await readFile(p, files)];
    const tensors = new Map<string, TensorEntry>();
    const metadata: Record<string, string> = {};
    for (const c of contents) {
      Object.assign(metadata, c.metadata);
      for (const t of c.tensors) {
        const other = tensors.get(t.name);
        if (other) throw new CheckpointFormatError(t.file, `tensor '${t.name}' is also in ${other.file}`);
        tensors.set(t.name, attachSource(t, files));
      }
    }
    return { path: p, format: contents[0].format, tensors, metadata, close: () => files.close() };
  } catch (e) {
    files.close();
    throw e;
  }
}

async function readDirectory(dir: string, files: OpenFiles): Promise<FileContents[]> {
  const names = fs.readdirSync(dir).sort();
  const index = SHARD_INDEX_FILES.find((f) => names.includes(f));
  if (index) return readShardIndex(path.join(dir, index), (file) => readFile(file, files));
  if (names.includes('model.safetensors')) return [await readFile(path.join(dir, 'model.safetensors'), files)];
  const safetensors = names.filter((n) => n.endsWith('.safetensors'));
  if (safetensors.length) return Promise.all(safetensors.map((n) => readFile(path.join(dir, n), files)));
  const pth = names.filter((n) => PTH_EXTENSIONS.some((e) => n.endsWith(e)));
  if (pth.length === 1) return [await readFile(path.join(dir, pth[0]), files)];
  throw new CheckpointFormatError(dir, pth.length
    ? `several PyTorch checkpoints (${pth.join(', ')}) and no pytorch_model.bin.index.json`
    : 'no checkpoint found (expected *.safetensors, a shard index, or one .pth/.pt/.bin file)', undefined,
  'Pass the checkpoint file itself, or a folder holding one model.');
}

/** Reads one file's header, recognizing the format by its first bytes. */
async function readFile(file: string, files: OpenFiles): Promise<FileContents> {
  const fd = files.open(file);
  const size = fs.fstatSync(fd).size;
  const head = await readBytes(fd, file, 0, Math.min(size, 9), 'the file signature');
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) { // "PK\3\4": a zip
    return { format: 'pth', ...(await readPth(fd, file)) };
  }
  const legacyPickle = head[0] === 0x80 && head[1] >= 2 && head[1] <= 5; // torch.save before the zip format: a bare pickle
  if (legacyPickle || (PTH_EXTENSIONS.some((e) => file.endsWith(e)) && head[8] !== 0x7b /* '{' of a safetensors header */)) {
    throw new CheckpointFormatError(file, 'not a torch.save zip: this looks like the legacy (PyTorch < 1.6) serialization or another format', 0,
      'Re-save it with a current PyTorch: torch.save(torch.load(path), new_path), which writes the zip format.');
  }
  const header = await readSafetensorsHeader(fd, file);
  return { format: 'safetensors', tensors: header.tensors, metadata: header.metadata };
}
