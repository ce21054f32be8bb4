// Learning rate per optimizer step: constant, or linear warmup then cosine decay as in LLMs-from-scratch
// appendix D. With the global step s counted from 0 (the first optimizer step is s = 0):
//   s < warmup:  lr = initial + s * (peak - initial) / warmup
//   otherwise:   progress = min(1, (s - warmup) / max(1, total - warmup))
//                lr = min + (peak - min) * 0.5 * (1 + cos(pi * progress))
// Appendix D has neither the clamp nor max(1, ...); they only act past `total` steps (the rate stays at minLr) and
// when warmup = total (no division by zero). minLr = peakLr gives warmup then a constant rate.
import { UsageError } from '../errors.js';

export type LrSchedule =
  | { kind: 'constant'; lr: number }
  | { kind: 'warmup-cosine'; initialLr: number; peakLr: number; minLr: number; warmupSteps: number; totalSteps: number };

export function checkSchedule(s: LrSchedule): void {
  const rate = (what: string, v: number) => {
    if (!(v >= 0) || !Number.isFinite(v)) throw new UsageError(`${what} must be >= 0 and finite, got ${v}`, 'Use e.g. --lr 5e-5.');
  };
  if (s.kind === 'constant') {
    rate('learning rate', s.lr);
    return;
  }
  rate('initial learning rate', s.initialLr);
  rate('peak learning rate', s.peakLr);
  rate('minimum learning rate', s.minLr);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) throw new UsageError(`total steps must be an integer >= 1, got ${s.totalSteps}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0 || s.warmupSteps > s.totalSteps) {
    throw new UsageError(`warmup steps must be an integer in [0, ${s.totalSteps}] (the total steps), got ${s.warmupSteps}`,
      'Typical warmup is 0.1% to 20% of the steps, e.g. --warmup 10.');
  }
}

/** The learning rate of optimizer step `step` (0-based). */
export function learningRate(s: LrSchedule, step: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be an integer >= 0, got ${step}`);
  if (s.kind === 'constant') return s.lr;
  if (step < s.warmupSteps) return s.initialLr + step * ((s.peakLr - s.initialLr) / s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  return s.minLr + (s.peakLr - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
