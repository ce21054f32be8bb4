// A small zip reader for checkpoints written by `torch.save`: it reads the central directory (zip64 included,
// for files over 4 GiB) and each entry's local header, and reports where each entry's bytes start in the file,
// so that tensor storages are read in place, chunk by chunk. Storages must be stored (uncompressed), as
// torch.save writes them; small metadata entries may also be deflated.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { CheckpointFormatError } from '../errors.js';
import { readBytes } from './files.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Absolute offset of the entry's (possibly compressed) bytes. */
  dataOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_BYTES = 22;
const MAX_COMMENT = 0xffff;
/** Metadata entries (data.pkl, version, byteorder) read whole are limited to this size. */
const MAX_SMALL_ENTRY = 256 * 1024 * 1024;

/** Reads the directory of the zip file open at `fd`: entry name -> entry. */
export async function readZipDirectory(fd: number, file: string): Promise<Map<string, ZipEntry>> {
  const fileSize = fs.fstatSync(fd).size;
  const fail = (detail: string, offset?: number) => new CheckpointFormatError(file, detail, offset);
  const tailStart = Math.max(0, fileSize - EOCD_BYTES - MAX_COMMENT);
  const tail = await readBytes(fd, file, tailStart, fileSize - tailStart, 'the zip end record');
  const tv = view(tail);
  let eocd = -1;
  for (let i = tail.length - EOCD_BYTES; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG && i + EOCD_BYTES + tv.getUint16(i + 20, true) === tail.length) { eocd = i; break; }
  }
  if (eocd < 0) throw fail('no zip end-of-central-directory record: the file is truncated or not a torch.save zip');
  const eocdOffset = tailStart + eocd;
  let entries = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (tv.getUint16(eocd + 4, true) !== 0 || tv.getUint16(eocd + 6, true) !== 0) throw fail('multi-part zip archives are not supported', eocdOffset);

  if (eocd >= 20 && tv.getUint32(eocd - 20, true) === ZIP64_LOCATOR_SIG) {
    const z64Offset = u64(tv, eocd - 20 + 8, file, eocdOffset - 20);
    if (z64Offset + 56 > eocdOffset) throw fail('the zip64 end record lies outside the file', eocdOffset - 20);
    const z = view(await readBytes(fd, file, z64Offset, 56, 'the zip64 end record'));
    if (z.getUint32(0, true) !== ZIP64_EOCD_SIG) throw fail('bad zip64 end-of-central-directory signature', z64Offset);
    entries = u64(z, 32, file, z64Offset);
    cdSize = u64(z, 40, file, z64Offset);
    cdOffset = u64(z, 48, file, z64Offset);
  }
  if (cdOffset + cdSize > eocdOffset) throw fail(`the central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record`, eocdOffset);
  const cd = await readBytes(fd, file, cdOffset, cdSize, 'the zip central directory');
  const cv = view(cd);

  const result = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < entries; i++) {
    const at = cdOffset + p;
    if (p + 46 > cd.length || cv.getUint32(p, true) !== CENTRAL_SIG) throw fail(`bad central directory entry ${i}`, at);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localOffset = cv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw fail(`central directory entry ${i} runs past the directory`, at);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extended information: the 8-byte values present are those whose 4-byte field is 0xffffffff.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const next = () => { if (q + 8 > e + 4 + len) throw fail(`zip64 field of ${name} is too short`, at); const v = u64(cv, q, file, at); q += 8; return v; };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + len;
    }
    if (flags & 1) throw fail(`entry ${name} is encrypted`, at);
    p += 46 + nameLen + extraLen + commentLen;
    result.set(name, { name, method, compressedSize, size, dataOffset: await dataOffsetOf(fd, file, name, localOffset, compressedSize, cdOffset) });
  }
  return result;
}

/** Where the entry's bytes start: after its local header, whose name and extra lengths may differ from the directory's. */
async function dataOffsetOf(fd: number, file: string, name: string, localOffset: number, compressedSize: number, cdOffset: number): Promise<number> {
  if (localOffset + 30 > cdOffset) throw new CheckpointFormatError(file, `local header of ${name} lies outside the file's entries`, localOffset);
  const h = view(await readBytes(fd, file, localOffset, 30, `the local header of ${name}`));
  if (h.getUint32(0, true) !== LOCAL_SIG) throw new CheckpointFormatError(file, `bad local header signature for ${name}`, localOffset);
  const dataOffset = localOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
  if (dataOffset + compressedSize > cdOffset) {
    throw new CheckpointFormatError(file, `entry ${name} ([${dataOffset}, ${dataOffset + compressedSize})) runs past the end of the entries: the file is truncated`, dataOffset);
  }
  return dataOffset;
}

/** The whole (decompressed) content of a small entry such as data.pkl. */
export async function readSmallEntry(fd: number, file: string, entry: ZipEntry): Promise<Uint8Array> {
  if (entry.size > MAX_SMALL_ENTRY) throw new CheckpointFormatError(file, `entry ${entry.name} is ${entry.size} bytes, more than expected for metadata`, entry.dataOffset);
  const raw = await readBytes(fd, file, entry.dataOffset, entry.compressedSize, `entry ${entry.name}`);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    try {
      return zlib.inflateRawSync(raw, { maxOutputLength: MAX_SMALL_ENTRY });
    } catch (e) {
      throw new CheckpointFormatError(file, `entry ${entry.name} does not inflate: ${(e as Error).message}`, entry.dataOffset);
    }
  }
  throw new CheckpointFormatError(file, `entry ${entry.name} uses zip compression method ${entry.method}`, entry.dataOffset);
}

/** Checks that an entry's bytes can be read in place (stored, at least `minBytes` long). */
export function requireStored(file: string, entry: ZipEntry, minBytes: number, what: string): void {
  if (entry.method !== 0) {
    throw new CheckpointFormatError(file, `${what} (${entry.name}) is compressed in the zip; llmnb reads tensor data in place and needs it stored`,
      entry.dataOffset, 'Save with torch.save directly (it stores tensor data uncompressed); do not re-zip the file with compression.');
  }
  if (entry.compressedSize !== entry.size) {
    throw new CheckpointFormatError(file, `${what} (${entry.name}) is stored with ${entry.compressedSize} bytes but declares ${entry.size}`, entry.dataOffset);
  }
  if (entry.size < minBytes) {
    throw new CheckpointFormatError(file, `${what} (${entry.name}) has ${entry.size} bytes, but its tensors need ${minBytes}: the file is truncated or corrupt`,
      entry.dataOffset);
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(v: DataView, at: number, file: string, fileOffset: number): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointFormatError(file, `zip field value ${x} is out of range`, fileOffset);
  return Number(x);
}
