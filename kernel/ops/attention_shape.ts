// Shapes of an attention call: q [B, T, H, Dh] and k, v [B, S, KV, Dh], checked once for forward and backward.
import type { Tensor } from '../gpu/tensor.js';
import { fmtShape } from '../gpu/tensor.js';
import { ShapeMismatchError } from '../errors.js';
import { requireF32 } from './elementwise.js';

export interface AttentionShape {
  B: number;
  /** Query tokens. */
  T: number;
  H: number;
  KV: number;
  /** Key positions k and v hold (the cache capacity in decode). */
  S: number;
  Dh: number;
}

/** Checks dtypes and shapes of q, k, v (f32; H a multiple of KV; even Dh); returns the shape. */
export function attentionShape(op: string, q: Tensor, k: Tensor, v: Tensor): AttentionShape {
  for (const [t, what] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) requireF32(t, `${op} ${what}`);
  if (q.shape.length !== 4 || k.shape.length !== 4) {
    throw new ShapeMismatchError(`${op}: expected q [B, T, H, Dh] and k, v [B, S, KV, Dh], got ${fmtShape(q.shape)} and ${fmtShape(k.shape)}`);
  }
  const [B, T, H, Dh] = q.shape;
  const [kb, S, KV, kd] = k.shape;
  if (v.shape.length !== 4 || v.shape.some((d, i) => d !== k.shape[i])) {
    throw new ShapeMismatchError(`${op}: k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} differ`);
  }
  if (kb !== B || kd !== Dh) {
    throw new ShapeMismatchError(`${op}: q ${fmtShape(q.shape)} and k ${fmtShape(k.shape)} disagree on batch or head_dim`);
  }
  if (KV < 1 || H % KV !== 0) {
    throw new ShapeMismatchError(`${op}: ${H} query heads cannot be grouped over ${KV} KV heads`, 'n_heads must be a multiple of n_kv_heads.');
  }
  if (Dh < 2 || Dh % 2 !== 0) throw new ShapeMismatchError(`${op}: head_dim ${Dh} must be even`);
  if (B < 1 || T < 1) throw new ShapeMismatchError(`${op}: no queries in q ${fmtShape(q.shape)}`);
  return { B, T, H, KV, S, Dh };
}
