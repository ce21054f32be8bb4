// The zip reader on archives built here: classic and zip64 directories (the latter is what torch.save writes
// for checkpoints over 4 GiB), local headers whose extra field differs from the directory's (torch pads
// entries to 64 bytes that way), a trailing comment, and broken archives.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CheckpointFormatError } from '../../kernel/errors.js';
import { readPth } from '../../kernel/io/pth.js';
import { readSmallEntry, readZipDirectory } from '../../kernel/io/zip.js';
import { entryBytes, PTH_DIR, tempDir } from './helpers/io.js';

interface BuildEntry { name: string; data: Uint8Array; method?: number; flags?: number }

/** A zip with stored entries; `zip64` puts every size/offset in zip64 fields and adds the zip64 end records. */
function buildZip(entries: BuildEntry[], opts: { zip64?: boolean; comment?: string } = {}): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => { chunks.push(b); offset += b.length; };
  const central: Buffer[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const localOffset = offset;
    const pad = Buffer.alloc(4 + ((64 - ((offset + 30 + name.length + 4) % 64)) % 64)); // 'FB' padding field, as torch writes
    pad.writeUInt16LE(0x4246, 0);
    pad.writeUInt16LE(pad.length - 4, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.flags ?? 0, 6);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(pad.length, 28);
    push(Buffer.concat([local, name, pad, e.data]));
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(e.flags ?? 0, 8);
    cd.writeUInt16LE(e.method ?? 0, 10);
    let extra = Buffer.alloc(0);
    if (opts.zip64) {
      extra = Buffer.alloc(28);
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(e.data.length), 12);
      extra.writeBigUInt64LE(BigInt(localOffset), 20);
    }
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 20);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(extra.length, 30);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : localOffset, 42);
    central.push(Buffer.concat([cd, name, extra]));
  }
  const cdOffset = offset;
  const cdBytes = Buffer.concat(central);
  push(cdBytes);
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeBigUInt64LE(BigInt(entries.length), 24);
    z.writeBigUInt64LE(BigInt(entries.length), 32);
    z.writeBigUInt64LE(BigInt(cdBytes.length), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset), 8);
    locator.writeUInt32LE(1, 16);
    push(Buffer.concat([z, locator]));
  }
  const comment = Buffer.from(opts.comment ?? '');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(opts.zip64 ? 0xffffffff : cdBytes.length, 12);
  end.writeUInt32LE(opts.zip64 ? 0xffffffff : cdOffset, 16);
  end.writeUInt16LE(comment.length, 20);
  push(Buffer.concat([end, comment]));
  return Buffer.concat(chunks);
}

async function withFile<T>(file: string, f: (fd: number) => Promise<T>): Promise<T> {
  const fd = fs.openSync(file, 'r');
  try {
    return await f(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const sample: BuildEntry[] = [
  { name: 'a/data.pkl', data: Buffer.from('pickle bytes') },
  { name: 'a/data/0', data: Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff)) },
  { name: 'a/version', data: Buffer.from('3\n') },
];

for (const zip64 of [false, true]) {
  test(`${zip64 ? 'zip64' : 'classic'} directory: names, sizes and in-place data offsets`, async () => {
    const file = path.join(tempDir(), 'a.zip');
    const bytes = buildZip(sample, { zip64, comment: zip64 ? '' : 'a comment with PK\x05\x06 inside' });
    fs.writeFileSync(file, bytes);
    await withFile(file, async (fd) => {
      const dir = await readZipDirectory(fd, file);
      assert.deepEqual([...dir.keys()], sample.map((e) => e.name));
      for (const e of sample) {
        const z = dir.get(e.name)!;
        assert.equal(z.size, e.data.length);
        assert.equal(z.dataOffset % 64, 0, 'torch-style padding puts data on 64-byte boundaries');
        assert.ok(bytes.subarray(z.dataOffset, z.dataOffset + z.size).equals(e.data));
        assert.ok(Buffer.from(await readSmallEntry(fd, file, z)).equals(e.data));
      }
    });
  });
}

test('a torch.save checkpoint re-packed as zip64 reads the same tensors at the new offsets', async () => {
  const src = path.join(PTH_DIR, 'tiny_f32_subset.pth');
  const entries = await withFile(src, async (fd) => {
    const dir = await readZipDirectory(fd, src);
    return Promise.all([...dir.values()].map(async (z) => ({ name: z.name, data: await readSmallEntry(fd, src, z) })));
  });
  const file = path.join(tempDir(), 'zip64.pth');
  fs.writeFileSync(file, buildZip(entries, { zip64: true }));
  const [orig, repacked] = await Promise.all([withFile(src, (fd) => readPth(fd, src)), withFile(file, (fd) => readPth(fd, file))]);
  assert.deepEqual(repacked.tensors.map((t) => [t.name, t.dtype, t.shape]), orig.tensors.map((t) => [t.name, t.dtype, t.shape]));
  for (let i = 0; i < orig.tensors.length; i++) {
    assert.ok((await entryBytes(repacked.tensors[i])).equals(await entryBytes(orig.tensors[i])), orig.tensors[i].name);
  }
});

test('broken archives: no end record, entries past the directory, encrypted or compressed-with-unknown-method', async () => {
  const dir = tempDir();
  const check = async (name: string, bytes: Buffer, pattern: RegExp) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    await withFile(file, async (fd) => {
      await assert.rejects(async () => {
        const zip = await readZipDirectory(fd, file);
        for (const z of zip.values()) await readSmallEntry(fd, file, z);
      }, (e: unknown) => e instanceof CheckpointFormatError && pattern.test(e.message) && e.message.includes(file));
    });
  };
  const good = buildZip(sample);
  await check('cut.zip', good.subarray(0, good.length - 10), /end-of-central-directory/);
  const shifted = Buffer.from(good);
  const cdStart = shifted.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  shifted.writeUInt32LE(shifted.readUInt32LE(cdStart + 42) + 100000, cdStart + 42);
  await check('offset.zip', shifted, /outside the file/);
  await check('encrypted.zip', buildZip([{ ...sample[0], flags: 1 }]), /encrypted/);
  await check('method.zip', buildZip([{ ...sample[0], method: 12 }]), /compression method 12/);
});
