// RoPE frequencies and cos/sin tables, computed on the CPU the way the reference does it (LLMs-from-scratch
// `compute_rope_params`, PyTorch f32 tensor ops): every intermediate is rounded to f32 with Math.fround, in the
// same order of operations, so the tables match PyTorch's to the last bit or so, even at long positions.
import { ConfigError } from '../errors.js';

/** Llama 3.1/3.2 frequency scaling (HF `rope_scaling` with rope_type "llama3"). */
export interface RopeScaling { factor: number; lowFreqFactor: number; highFreqFactor: number; originalContext: number }

const f32 = Math.fround;
const TWO_PI = f32(2 * Math.PI);

/**
 * Inverse frequencies f_j = theta^(-2j/D) for j < D/2, then (with `scaling`) low-frequency bands divided by
 * `factor` and a smooth blend between the two in the medium band. Returns [headDim/2] f32.
 */
export function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new ConfigError(`RoPE head dimension must be a positive even integer, got ${headDim}`,
      'Check hidden_size / num_attention_heads (or head_dim) in the model config.');
  }
  if (!(theta > 0)) throw new ConfigError(`rope_theta must be positive, got ${theta}`, 'Check rope_theta in the model config.');
  if (scaling) checkScaling(scaling);
  const out = new Float32Array(headDim / 2);
  for (let j = 0; j < out.length; j++) {
    // 1.0 / (theta ** (arange(0, D, 2) / D)): PyTorch computes a scalar / tensor as reciprocal(tensor) * scalar.
    const exponent = f32((2 * j) / headDim);
    const invFreq = f32(1 / f32(Math.pow(f32(theta), exponent)));
    out[j] = scaling ? scaleInvFreq(invFreq, scaling) : invFreq;
  }
  return out;
}

function scaleInvFreq(invFreq: number, s: RopeScaling): number {
  // Python-float thresholds, compared against the f32 tensor in f32.
  const lowFreqWavelen = f32(s.originalContext / s.lowFreqFactor);
  const highFreqWavelen = f32(s.originalContext / s.highFreqFactor);
  const wavelen = f32(f32(1 / invFreq) * TWO_PI);
  const divided = f32(invFreq / f32(s.factor));
  if (wavelen > lowFreqWavelen) return divided;
  if (wavelen < highFreqWavelen) return invFreq;
  // Medium band: smooth = (original_context / wavelen - low) / (high - low); blend divided and unchanged.
  const contextOverWavelen = f32(f32(1 / wavelen) * f32(s.originalContext));
  const smooth = f32(f32(contextOverWavelen - f32(s.lowFreqFactor)) / f32(s.highFreqFactor - s.lowFreqFactor));
  return f32(f32(f32(1 - smooth) * divided) + f32(smooth * invFreq));
}

function checkScaling(s: RopeScaling): void {
  const ok = s.factor > 0 && s.lowFreqFactor > 0 && s.highFreqFactor > s.lowFreqFactor && s.originalContext > 0;
  if (!ok) {
    throw new ConfigError(`invalid rope_scaling ${JSON.stringify(s)}`,
      'Llama 3 rope_scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0.');
  }
}

/**
 * cos/sin of angle p * f_j for positions p = start .. start + positions - 1, each [positions, headDim/2] f32
 * (row p - start, column j; the split-half layout uses column j for both x[j] and x[j + D/2]).
 * The angle is rounded to f32 before cos/sin, as the reference's f32 `positions[:, None] * inv_freq` is.
 */
export function ropeTables(headDim: number, theta: number, scaling: RopeScaling | null, positions: number, start = 0):
  { cos: Float32Array; sin: Float32Array } {
  if (!Number.isInteger(positions) || positions < 0 || !Number.isInteger(start) || start < 0 || start + positions > 2 ** 24) {
    throw new ConfigError(`RoPE positions ${start}..${start + positions - 1} are out of range`,
      'Positions must be non-negative integers below 2^24 (exact in f32).');
  }
  const invFreq = ropeInvFreq(headDim, theta, scaling);
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = f32((start + p) * invFreq[j]);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
