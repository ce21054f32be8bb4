// PyTorch checkpoints written by `torch.save` (zip format): `<archive>/data.pkl` describes the object, and
// each storage's bytes are the stored entry `<archive>/data/<key>`. The pickle is read by the restricted
// unpickler; the result is one entry per tensor with the absolute file offset of its first element, so
// tensor bytes are read in place. A plain state dict or one wrapped in {"state_dict"|"model_state_dict"|"model": ...}
// is accepted; other top-level entries (epoch, optimizer state, ...) are ignored.
import { CheckpointFormatError } from '../errors.js';
import { isValidShape, shapeNumel, type FileDtype, type TensorEntry } from './entry.js';
import { TensorRef, TorchPicklePolicy } from './torch_pickle.js';
import { PickleDict, unpickle, type PickleValue } from './unpickle.js';
import { readSmallEntry, readZipDirectory, requireStored, type ZipEntry } from './zip.js';

export interface PthContents {
  tensors: TensorEntry[];
  /** Plain top-level values of a wrapper dict (e.g. epoch), as strings. */
  metadata: Record<string, string>;
}

const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model'];
const LOADABLE: Record<string, FileDtype> = { BF16: 'BF16', F16: 'F16', F32: 'F32' };

/** Reads the directory and pickle of the torch.save zip open at `fd` and validates every tensor against its storage. */
export async function readPth(fd: number, file: string): Promise<PthContents> {
  const zip = await readZipDirectory(fd, file);
  const pkls = [...zip.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new CheckpointFormatError(file, `expected one <archive>/data.pkl entry in the zip, found ${pkls.length}: this is not a torch.save checkpoint`);
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(await readSmallEntry(fd, file, byteorder)).trim();
    if (order !== 'little') {
      throw new CheckpointFormatError(file, `tensor data is stored ${order}-endian; llmnb reads little-endian checkpoints`, byteorder.dataOffset,
        'Load and re-save the checkpoint with PyTorch on a little-endian machine.');
    }
  }
  const pklEntry = zip.get(pkls[0])!;
  const top = unpickle(await readSmallEntry(fd, file, pklEntry), new TorchPicklePolicy(), file, pklEntry.dataOffset);
  const { stateDict, metadata } = selectStateDict(top, file);
  const tensors: TensorEntry[] = [];
  for (const [name, value] of stateDict.entries) {
    if (typeof name !== 'string' || !(value instanceof TensorRef)) continue;
    tensors.push(tensorEntry(name, value, zip, prefix, file));
  }
  if (!tensors.length) {
    throw new CheckpointFormatError(file, `no tensors found in the state dict (keys: ${[...stateDict.entries.keys()].slice(0, 8).join(', ') || 'none'})`,
      undefined, 'Save a state dict: torch.save(model.state_dict(), path).');
  }
  return { tensors, metadata };
}

function selectStateDict(top: PickleValue, file: string): { stateDict: PickleDict; metadata: Record<string, string> } {
  if (!(top instanceof PickleDict)) {
    throw new CheckpointFormatError(file, 'the checkpoint does not hold a dict of tensors', undefined,
      'Save a state dict: torch.save(model.state_dict(), path).');
  }
  for (const key of WRAPPER_KEYS) {
    const inner = top.entries.get(key);
    if (inner instanceof PickleDict) {
      const metadata: Record<string, string> = {};
      for (const [k, v] of top.entries) {
        if (typeof k === 'string' && ['string', 'number', 'boolean'].includes(typeof v)) metadata[k] = String(v);
      }
      return { stateDict: inner, metadata };
    }
  }
  return { stateDict: top, metadata: {} };
}

function tensorEntry(name: string, t: TensorRef, zip: Map<string, ZipEntry>, prefix: string, file: string): TensorEntry {
  const at = `tensor '${name}'`;
  const dtype = LOADABLE[t.storage.dtype];
  if (!dtype) {
    throw new CheckpointFormatError(file, `${at} has dtype ${t.storage.dtype} (${t.storage.storageType}); llmnb reads BF16, F16 and F32 tensors`,
      undefined, 'Convert it before saving, e.g. tensor.to(torch.bfloat16).');
  }
  if (!isValidShape(t.shape)) throw new CheckpointFormatError(file, `${at} has an invalid shape ${JSON.stringify(t.shape)}`);
  const numel = shapeNumel(t.shape);
  if (numel > 0 && !isRowMajor(t.shape, t.strides)) {
    throw new CheckpointFormatError(file,
      `${at} ${JSON.stringify(t.shape)} is not contiguous (strides ${JSON.stringify(t.strides)}, e.g. a transposed view)`, undefined,
      'Call .contiguous() on such tensors before saving: torch.save({k: v.contiguous() for k, v in state_dict.items()}, path).');
  }
  const storage = t.storage;
  if (numel > 0 && t.storageOffset + numel > storage.numel) {
    throw new CheckpointFormatError(file,
      `${at} reads elements [${t.storageOffset}, ${t.storageOffset + numel}) of storage ${storage.key}, which has ${storage.numel}`);
  }
  const elemBytes = dtype === 'F32' ? 4 : 2;
  const entry = zip.get(`${prefix}data/${storage.key}`);
  if (!entry) throw new CheckpointFormatError(file, `${at}: storage entry ${prefix}data/${storage.key} is missing from the zip`);
  requireStored(file, entry, storage.numel * elemBytes, `the storage of ${at}`);
  return { name, dtype, shape: [...t.shape], file, offset: entry.dataOffset + t.storageOffset * elemBytes, bytes: numel * elemBytes };
}

/** Strides of a contiguous row-major tensor (dimensions of size 1 may have any stride). */
function isRowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}
