// safetensors reader: an 8-byte little-endian header length, a JSON header, then the data section. Everything
// in the header is validated before any tensor byte is used: length within the file, JSON shape, dtypes,
// shapes, offsets (size = numel * dtype size, inside the data section, no overlaps). Only the header is read.
import fs from 'node:fs';
import { CheckpointFormatError } from '../errors.js';
import { fileDtypeBytes, isFileDtype, isValidShape, shapeNumel, type TensorEntry } from './entry.js';
import { readBytes } from './files.js';

/** The reference implementation refuses larger headers too; a bigger value means a corrupt or foreign file. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsHeader {
  file: string;
  metadata: Record<string, string>;
  /** In header order; offsets are absolute. */
  tensors: TensorEntry[];
}

const CONVERT_HINT = 'Convert the tensor to bfloat16, float16 or float32 before saving (e.g. tensor.to(torch.bfloat16)).';

/** Reads and validates the header of the safetensors file open at `fd`. */
export async function readSafetensorsHeader(fd: number, file: string): Promise<SafetensorsHeader> {
  const fileSize = fs.fstatSync(fd).size;
  const fail = (detail: string, offset?: number, hint?: string) => new CheckpointFormatError(file, detail, offset, hint);
  if (fileSize < 8) throw fail(`${fileSize} bytes is too short for a safetensors file (it starts with an 8-byte header length)`, 0);
  const lengthBytes = await readBytes(fd, file, 0, 8, 'the header length');
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(fileSize - 8)) {
    throw fail(`the header length ${headerLength} exceeds the ${fileSize - 8} bytes after it: the file is truncated or not safetensors`, 0);
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) throw fail(`the header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit of the format`, 0);
  if (n < 2) throw fail(`the header length ${n} is too small for a JSON object`, 0);
  const raw = await readBytes(fd, file, 8, n, 'the header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw fail('the header is not valid UTF-8', 8);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message})`, 8);
  }
  if (!isPlainObject(json)) throw fail('the header is not a JSON object', 8);

  const dataStart = 8 + n;
  const dataBytes = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, info] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(info, fail);
      continue;
    }
    const at = `tensor '${name}'`;
    if (!isPlainObject(info)) throw fail(`${at}: expected an object with dtype, shape and data_offsets`, 8);
    const extra = Object.keys(info).filter((k) => !['dtype', 'shape', 'data_offsets'].includes(k));
    if (extra.length) throw fail(`${at}: unexpected field(s) ${extra.join(', ')}`, 8);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') throw fail(`${at}: dtype is missing or not a string`, 8);
    if (!isFileDtype(dtype)) throw fail(`${at} has dtype ${dtype}; llmnb reads BF16, F16 and F32 tensors`, 8, CONVERT_HINT);
    if (!isValidShape(shape)) throw fail(`${at}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`, 8);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw fail(`${at}: data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`, 8);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw fail(`${at}: data_offsets [${begin}, ${end}] end before they begin`, dataStart + begin);
    const expected = shapeNumel(shape) * fileDtypeBytes(dtype);
    if (end - begin !== expected) {
      throw fail(`${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
        dataStart + begin);
    }
    if (end > dataBytes) {
      throw fail(`${at}: its data [${begin}, ${end}) ends past the end of the file (the data section has ${dataBytes} bytes): the file is truncated`,
        dataStart + begin);
    }
    tensors.push({ name, dtype, shape: [...shape], file, offset: dataStart + begin, bytes: end - begin });
  }
  checkNoOverlap(tensors, fail);
  return { file, metadata, tensors };
}

function parseMetadata(info: unknown, fail: (d: string, o?: number) => CheckpointFormatError): Record<string, string> {
  if (!isPlainObject(info)) throw fail('__metadata__ must be an object of strings', 8);
  for (const [k, v] of Object.entries(info)) {
    if (typeof v !== 'string') throw fail(`__metadata__.${k} must be a string, got ${JSON.stringify(v)}`, 8);
  }
  return { ...(info as Record<string, string>) };
}

function checkNoOverlap(tensors: TensorEntry[], fail: (d: string, o?: number) => CheckpointFormatError): void {
  const sorted = tensors.filter((t) => t.bytes > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.offset < prev.offset + prev.bytes) {
      throw fail(`tensors '${prev.name}' and '${cur.name}' overlap (bytes ${cur.offset} to ${Math.min(cur.offset + cur.bytes, prev.offset + prev.bytes)})`,
        cur.offset);
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
