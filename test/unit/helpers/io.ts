// Checkpoint test helpers: fixture paths, temporary folders, and reading a tensor's bytes whole.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { readChunks, type TensorEntry } from '../../../kernel/io/checkpoint.js';

export const REFERENCE_DIR = 'test/fixtures/reference';
export const PTH_DIR = 'test/fixtures/pth';
export const REFERENCE_MODEL = path.join(REFERENCE_DIR, 'model_bf16.safetensors');

/** A fresh folder under the OS temp dir, removed when the test file ends. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmnb-io-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** All bytes of a tensor (tests only: loaders stream chunks). */
export async function entryBytes(entry: TensorEntry, chunkBytes = 1000): Promise<Buffer> {
  const out = Buffer.alloc(entry.bytes);
  await readChunks(entry, chunkBytes, (chunk, at) => { out.set(chunk, at); });
  return out;
}

/** Writes a safetensors file from a header object and a data section, exactly as given (no validation). */
export function writeRawSafetensors(file: string, header: unknown, data: Uint8Array, headerText: string | Buffer = JSON.stringify(header)): void {
  const json = typeof headerText === 'string' ? Buffer.from(headerText, 'utf8') : headerText;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

/** The header JSON and data section of a safetensors file, parsed here without the reader under test. */
export function splitSafetensors(file: string): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; data: Buffer } {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}
