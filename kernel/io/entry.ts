// What a checkpoint tensor is on disk: its name, file dtype, shape and where its bytes lie. Every reader
// (safetensors, .pth, sharded) produces these after validating them; loaders stream the bytes from here.

export type FileDtype = 'BF16' | 'F16' | 'F32';
export const FILE_DTYPES: readonly FileDtype[] = ['BF16', 'F16', 'F32'];

export interface TensorEntry {
  /** The name as written in the file (map it with names.ts). */
  name: string;
  dtype: FileDtype;
  shape: number[];
  file: string;
  /** Absolute byte offset of the first element in `file`. */
  offset: number;
  /** numel * dtype size. */
  bytes: number;
}

export function fileDtypeBytes(d: FileDtype): number {
  return d === 'F32' ? 4 : 2;
}

export function isFileDtype(d: unknown): d is FileDtype {
  return typeof d === 'string' && (FILE_DTYPES as readonly string[]).includes(d);
}

/** Product of the dimensions; 1 for a scalar. */
export function shapeNumel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A dimension list as it comes from a file header: non-negative safe integers whose product is a safe integer. */
export function isValidShape(shape: unknown): shape is number[] {
  if (!Array.isArray(shape)) return false;
  let numel = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return false;
    numel *= d;
  }
  return Number.isSafeInteger(numel);
}
