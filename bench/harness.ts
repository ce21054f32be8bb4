// What every benchmark does the same way: time cases in interleaved rounds (wall and CPU time of this process),
// describe the run (adapter, backend, host load), print aligned tables, append one JSON line per run to
// bench/results/<name>.jsonl.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../kernel/gpu/context.js';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export interface Timing {
  ms: number;
  /** CPU time of this process (all threads, user + system). */
  cpuMs: number;
}

export interface TimedCase {
  name: string;
  /** Records GPU work (or awaits it); the timing waits for the GPU to finish. */
  run: () => void | Promise<void>;
}

/** Wall and CPU time of one run of `run`, from an idle GPU to the GPU done. */
export async function timeOnce(gpu: Gpu, run: () => void | Promise<void>): Promise<Timing> {
  await gpu.sync();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  await gpu.sync();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Each case's least wall time and least CPU time over the rounds, and every round's timing in order. */
export interface RoundTimings {
  best: Map<string, Timing>;
  runs: Map<string, Timing[]>;
}

/**
 * One warm-up run of each case (compiles pipelines, touches fresh buffers), then `rounds` rounds that run every case
 * once in turn. Other processes share a software adapter's CPU: the best round is the least disturbed one, and
 * interleaving gives every case the same chances; cases of one round ran within seconds of each other, so ratios
 * between them can be taken round by round (medianPairedRatio in stats.ts).
 */
export async function timeRounds(gpu: Gpu, cases: TimedCase[], rounds: number, log?: (line: string) => void): Promise<RoundTimings> {
  for (const c of cases) {
    const t = await timeOnce(gpu, c.run);
    log?.(`  warm-up ${c.name}: ${t.ms.toFixed(0)} ms`);
  }
  const runs = new Map<string, Timing[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) runs.get(c.name)!.push(await timeOnce(gpu, c.run));
    log?.(`  round ${r + 1}/${rounds} done`);
  }
  return { best: new Map([...runs].map(([name, times]) => [name, minTiming(times)])), runs };
}

export function minTiming(runs: Timing[]): Timing {
  return { ms: Math.min(...runs.map((r) => r.ms)), cpuMs: Math.min(...runs.map((r) => r.cpuMs)) };
}

/**
 * Per second of `units` done in `t`: by wall time, and by CPU time spread over every core (what the run would reach
 * with the cores to itself: an estimate, since cores shared with other processes still slow it down).
 */
export function rates(units: number, t: Timing, cores = os.cpus().length): { perSecond: number; cpuEstPerSecond: number } {
  return { perSecond: units / (t.ms / 1000), cpuEstPerSecond: units / (t.cpuMs / cores / 1000) };
}

export interface RunInfo {
  date: string;
  adapter: string;
  backend: string;
  software: boolean;
  cpus: number;
  loadavg: number;
  node: string;
}

export function runInfo(gpu: Gpu): RunInfo {
  const d = gpu.describe();
  return {
    date: new Date().toISOString(), adapter: d.adapter, backend: d.backend, software: d.software,
    cpus: os.cpus().length, loadavg: os.loadavg()[0], node: process.version,
  };
}

/** One line: adapter, backend, CPUs, load, and how timings were taken (`timing`). */
export function describeRun(info: RunInfo, timing: string): string {
  return `adapter: ${info.adapter} (${info.backend}${info.software ? ', software' : ''}), ${info.cpus} CPUs, ` +
    `load ${info.loadavg.toFixed(1)}; ${timing}`;
}

/** Prints rows under a header; the first column left-aligned, the others right-aligned. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [header, ...rows]) {
    console.log(r.map((c, i) => (i === 0 ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('  ').trimEnd());
  }
}

/** Appends one JSON line to bench/results/<name>.jsonl; returns the file's path. */
export function appendResult(name: string, record: object): string {
  const file = path.join(BENCH_DIR, 'results', `${name}.jsonl`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify(record)}\n`);
  return file;
}

/** The value after `--flag`, or undefined. */
export function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The positive integer after `--flag` (a count of rounds, steps, sequences, tokens), or `fallback`. */
export function argCount(flag: string, fallback: number): number {
  const v = argValue(flag);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a positive integer, got ${v}`);
  return n;
}

/** Comma-separated positive integers after `--flag`, or `fallback`. */
export function argInts(flag: string, fallback: number[]): number[] {
  const v = argValue(flag);
  if (v === undefined) return fallback;
  const out = v.split(',').map(Number);
  if (!out.length || out.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${flag} takes comma-separated integers >= 0, got ${v}`);
  return out;
}

export const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
