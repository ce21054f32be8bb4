// Where the time of one step goes, per dispatch: records the dispatches a step makes (kernel, bindings, params,
// workgroups), then replays each alone, many times in one submit, and times it. The sum of the replays is the
// GPU work of the step without submits, readbacks and host code; the difference to the step's own time is that
// overhead. Replays read whatever the step's buffers hold by then (pool buffers are only recycled, never freed
// during the step), which is enough for timing: no kernel here branches on values.
import type { Gpu } from '../kernel/gpu/context.js';
import type { Params } from '../kernel/gpu/params.js';
import type { Kernel } from '../kernel/gpu/pipelines.js';
import { timeOnce } from './harness.js';

export interface RecordedDispatch {
  kernel: Kernel;
  buffers: GPUBuffer[];
  params: Params | null;
  workgroups: readonly [number, number?, number?];
}

export interface DispatchTime {
  /** Pipeline key, e.g. `matmul/fwd/...`. */
  kernel: string;
  workgroups: number;
  /** Wall ms per dispatch (best of the replays / repeats). */
  ms: number;
  cpuMs: number;
}

export interface DispatchRecorder {
  /** Stops recording; returns what was dispatched since the start, in order. */
  stop(): RecordedDispatch[];
}

/** Starts recording every dispatch of `gpu` (they still run as usual). */
export function recordDispatches(gpu: Gpu): DispatchRecorder {
  const recorded: RecordedDispatch[] = [];
  const dispatch = gpu.dispatch.bind(gpu);
  gpu.dispatch = (kernel, buffers, params, workgroups) => {
    recorded.push({ kernel, buffers: [...buffers], params, workgroups: [...workgroups] as RecordedDispatch['workgroups'] });
    dispatch(kernel, buffers, params, workgroups);
  };
  return {
    stop() {
      gpu.dispatch = dispatch;
      return recorded;
    },
  };
}

/**
 * Times each recorded dispatch alone: repeated in one submit until a replay takes about `targetMs` (so the wait for
 * the GPU is a small part of it), best of `rounds` replays. Every buffer the dispatches bind must still exist.
 */
export async function replayDispatches(gpu: Gpu, recorded: RecordedDispatch[], targetMs: number, rounds: number): Promise<DispatchTime[]> {
  const out: DispatchTime[] = [];
  for (const r of recorded) {
    const replay = (repeats: number) => timeOnce(gpu, () => {
      for (let j = 0; j < repeats; j++) gpu.dispatch(r.kernel, r.buffers, r.params, r.workgroups);
    });
    const once = await replay(1);
    const repeats = Math.max(1, Math.min(256, Math.ceil(targetMs / Math.max(once.ms, 0.01))));
    let ms = Infinity;
    let cpuMs = Infinity;
    for (let i = 0; i < rounds; i++) {
      const t = await replay(repeats);
      ms = Math.min(ms, t.ms / repeats);
      cpuMs = Math.min(cpuMs, t.cpuMs / repeats);
    }
    out.push({ kernel: r.kernel.name, workgroups: r.workgroups.reduce<number>((x, y) => x * (y ?? 1), 1), ms, cpuMs });
  }
  return out;
}

/** Runs `step` once while recording its dispatches, then replays each alone (replayDispatches). */
export async function profileDispatches(gpu: Gpu, step: () => Promise<void>, targetMs: number, rounds: number): Promise<DispatchTime[]> {
  const recorder = recordDispatches(gpu);
  let recorded: RecordedDispatch[];
  try {
    await step();
    await gpu.sync();
  } finally {
    recorded = recorder.stop();
  }
  return replayDispatches(gpu, recorded, targetMs, rounds);
}

/** Totals per pipeline (kernel key), largest first. */
export function sumByKernel(times: DispatchTime[]): { kernel: string; count: number; ms: number; cpuMs: number }[] {
  const by = new Map<string, { kernel: string; count: number; ms: number; cpuMs: number }>();
  for (const t of times) {
    const e = by.get(t.kernel) ?? { kernel: t.kernel, count: 0, ms: 0, cpuMs: 0 };
    e.count++;
    e.ms += t.ms;
    e.cpuMs += t.cpuMs;
    by.set(t.kernel, e);
  }
  return [...by.values()].sort((a, b) => b.ms - a.ms);
}
