// Forward benchmark: prefill tokens/s (B=1, T=128) and decode tokens/s with the KV cache, for the demo preset and
// a Llama 3 8B-shaped model with 2 blocks (bench/models.ts), against Debian's PyTorch running the same weights in
// f32 and bf16 (bench/llama_torch.py), when torch is importable.
// Usage: node --import tsx bench/forward.ts [--models demo,8b-2] [--rounds N] [--prefill-rounds N] [--torch-rounds N]
//          [--demo-contexts 32,64,128,255] [--8b-2-contexts 128,1024,4096] [--no-torch] [--profile]
//
// Decode is timed per token at several context lengths: the cache holds that many positions (the prompt's
// keys/values, then normal values standing for a longer prefill, which would take minutes here) and one token is
// decoded at the next position, exactly as generate does it (hidden states, logits of the last row, readback).
// A linear fit of per-token time against context shows how it grows. Next to it: the GEMV-bound estimate, from the
// GEMV bandwidth measured in the same rounds (linear with M=1 on the model's largest matrices: head, MLP gate and
// down) and the weight bytes a decode step reads (bench/stats.ts). The first-token logits of llmnb (f32 compute)
// are checked against PyTorch f32 on the same weights, so both sides compute the same thing. When decode falls short
// of the bound (or with --profile), one decode step is broken down per dispatch (dispatch_profile.ts).
// Timings are the best of rounds, by wall time and, on a software adapter, by CPU time (harness.ts): prefill has
// its own (fewer) rounds, the GEMV and decode cases are interleaved in theirs. The acceptance compares cases of the
// same round, which ran seconds apart under the same load, and takes the median over rounds: decode against the
// bound from that round's GEMV bandwidth, and each context against the first one (the best of each case can come
// from different minutes on a shared host).
// Prints tables, appends one JSON line to bench/results/forward.jsonl, exits 1 if an acceptance check fails.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../kernel/gpu/context.js';
import { formatBytes } from '../kernel/gpu/format.js';
import { Tensor } from '../kernel/gpu/tensor.js';
import { KvCache } from '../kernel/model/kv_cache.js';
import type { LlamaModel } from '../kernel/model/llama.js';
import { fillNormal } from '../kernel/ops/init.js';
import { linear } from '../kernel/ops/linear.js';
import {
  appendResult, argCount, argInts, argValue, describeRun, fmt, printTable, rates, runInfo, timeRounds, type TimedCase, type Timing,
} from './harness.js';
import { BENCH_MODELS, benchModel, benchModelDir, describeConfig, randomIds, type BenchModelName } from './models.js';
import { profileDispatches, sumByKernel } from './dispatch_profile.js';
import { decodeWeightBytes, fitLine, gemvBoundTokensPerSecond, medianPairedRatio, type LineFit } from './stats.js';
import { runTorchPeers, torchUnavailable, type TorchDtype } from './torch_peer.js';

const PROMPT_TOKENS = 128;
/** Acceptance: decode tokens/s at least this fraction of the GEMV-bound estimate. */
const MIN_OF_GEMV_BOUND = 0.8;
/** Acceptance for "grows at most linearly": every point within this fraction of the fitted line. */
const MAX_LINE_DEVIATION = 0.1;
/** f32 compute vs PyTorch f32 on the same weights (../shared/reference/README.md). */
const F32_LOGITS_TOLERANCE = 2e-4;
const DEFAULT_CONTEXTS: Record<BenchModelName, number[]> = { 'demo': [32, 64, 128, 255], '8b-2': [128, 1024, 4096] };

interface TorchForward {
  dtype: TorchDtype;
  threads: number;
  loadSeconds: number;
  prefill: Timing;
  prefillTokens: number;
  decode: (Timing & { context: number })[];
  check: { maxAbsDiff: number; maxAbsRef: number; argmaxLlmnb: number; argmaxTorch: number } | null;
}

interface DecodeProfile {
  context: number;
  step: Timing;
  /** Sum over the step's dispatches, each replayed alone. */
  dispatches: number;
  dispatchSum: Timing;
  byKernel: ReturnType<typeof sumByKernel>;
}

interface ModelResult {
  model: BenchModelName;
  config: string;
  rounds: { prefill: number; decode: number };
  prefill: Timing & { tokens: number };
  decode: (Timing & { context: number })[];
  gemv: { matrices: string[]; bytes: number; timing: Timing; bytesPerSecond: number; cpuEstBytesPerSecond: number };
  decodeBytes: ReturnType<typeof decodeWeightBytes>;
  estimateTokensPerSecond: number;
  cpuEstEstimateTokensPerSecond: number;
  fit: LineFit;
  cpuFit: LineFit;
  /** Each context's time over the first context's in the same round (median over rounds), on the acceptance basis. */
  relativeDecode: number[];
  pairedFit: LineFit;
  profile: DecodeProfile | null;
  torch: TorchForward[];
  torchSkipped: string | null;
  /** Judged by CPU time on a software adapter, by wall time on a GPU; ofGemvBound is the median of per-round pairs. */
  acceptance: { basis: 'wall' | 'cpu'; atMostLinear: boolean; ofGemvBound: number; gemvBound: boolean; logitsF32: boolean | null };
}

const log = (line: string) => console.log(line);
/** Rounds per model unless --prefill-rounds / --rounds say otherwise: an 8B-shaped prefill takes ~40 s here, a
 *  round of its GEMV and decode cases ~15 s. PyTorch: prefill rounds after the (timed) logits check, decode rounds. */
const DEFAULT_ROUNDS: Record<BenchModelName, { prefill: number; decode: number; torchPrefill: number; torchDecode: number }> = {
  'demo': { prefill: 5, decode: 10, torchPrefill: 3, torchDecode: 3 },
  '8b-2': { prefill: 2, decode: 5, torchPrefill: 1, torchDecode: 2 },
};
const roundsOf = (name: BenchModelName) => {
  const d = DEFAULT_ROUNDS[name];
  return {
    prefill: argCount('--prefill-rounds', d.prefill), decode: argCount('--rounds', d.decode),
    torchPrefill: argCount('--torch-rounds', d.torchPrefill), torchDecode: argCount('--torch-rounds', d.torchDecode),
  };
};
const models = (argValue('--models') ?? BENCH_MODELS.join(',')).split(',') as BenchModelName[];
for (const m of models) if (!BENCH_MODELS.includes(m)) throw new Error(`--models: unknown model ${m} (have ${BENCH_MODELS.join(', ')})`);
const cores = os.cpus().length;

const gpu = await Gpu.open();
gpu.onNotice = (text) => log(text);
const info = runInfo(gpu);
if (gpu.notice) log(gpu.notice);
log(describeRun(info, 'best of rounds (per model below)'));
const torchSkip = torchUnavailable();
if (torchSkip) log(`PyTorch peer skipped: ${torchSkip}`);

const results: ModelResult[] = [];
for (const name of models) results.push(await benchOne(name));
gpu.destroy();

const file = appendResult('forward', { bench: 'forward', ...info, results });
log(`\nappended to ${path.relative(process.cwd(), file)}`);
const ok = results.every((r) => r.acceptance.atMostLinear && r.acceptance.gemvBound && r.acceptance.logitsF32 !== false);
process.exit(ok ? 0 : 1);

async function benchOne(name: BenchModelName): Promise<ModelResult> {
  log(`\n== ${name} ==`);
  const model = await benchModel(gpu, name, log);
  await model.prepareKernels(); // the matmul autotune, as at a user's first forward (prints what it measured)
  const c = model.config;
  const contexts = argInts(`--${name}-contexts`, DEFAULT_CONTEXTS[name]);
  const bad = contexts.filter((L) => L < 1 || L + 1 > c.contextLength);
  if (bad.length) throw new Error(`--${name}-contexts: ${bad.join(', ')} outside 1..${c.contextLength - 1} (the model's context)`);
  const T = Math.min(PROMPT_TOKENS, c.contextLength);
  const prompt = randomIds(T, c.vocabSize, 7);
  const cache = new KvCache(gpu, c, 1, Math.max(T, ...contexts.map((L) => L + 1)));
  [...cache.k, ...cache.v].forEach((t, i) => fillNormal(gpu, t, 1, 100 + i));

  let firstLogits: Float32Array | null = null;
  const prefill: TimedCase = {
    name: `prefill T=${T}`,
    run: async () => {
      cache.length = 0;
      const h = model.hidden(Uint32Array.from(prompt), 1, { cache });
      const lg = model.logits(h, [T - 1]);
      h.dispose();
      firstLogits = await lg.read();
      lg.dispose();
    },
  };
  const decode = contexts.map((L): TimedCase => ({
    name: `decode @${L}`,
    run: async () => {
      cache.length = L;
      const h = model.hidden(Uint32Array.of(prompt[T - 1]), 1, { cache });
      const lg = model.logits(h, [0]);
      h.dispose();
      await lg.read();
      lg.dispose();
    },
  }));
  const gemv = gemvCases(model);
  const rounds = roundsOf(name);
  log(`rounds: prefill ${rounds.prefill}, GEMV + decode ${rounds.decode} (interleaved); PyTorch prefill ${rounds.torchPrefill} + the check, decode ${rounds.torchDecode}`);
  const prefillRounds = await timeRounds(gpu, [prefill], rounds.prefill, log);
  const decodeRounds = await timeRounds(gpu, [...gemv.cases, ...decode], rounds.decode, log);
  const best = new Map([...prefillRounds.best, ...decodeRounds.best]);
  const gemvTiming: Timing = { ms: 0, cpuMs: 0 };
  for (const g of gemv.cases) {
    gemvTiming.ms += best.get(g.name)!.ms;
    gemvTiming.cpuMs += best.get(g.name)!.cpuMs;
  }
  const bw = rates(gemv.bytes, gemvTiming, cores);
  const decodeBytes = decodeWeightBytes(c, 2);
  const estimate = gemvBoundTokensPerSecond(bw.perSecond, decodeBytes.total);
  const cpuEstimate = gemvBoundTokensPerSecond(bw.cpuEstPerSecond, decodeBytes.total);
  const decodeTimes = contexts.map((L) => ({ context: L, ...best.get(`decode @${L}`)! }));
  const fit = fitLine(contexts, decodeTimes.map((d) => d.ms));
  const cpuFit = fitLine(contexts, decodeTimes.map((d) => d.cpuMs));
  // On a software adapter other processes share the "GPU": CPU time is the steadier measure of the work.
  const basis = info.software ? 'cpu' : 'wall';
  const roundTimes = (caseName: string) => decodeRounds.runs.get(caseName)!.map((t) => (basis === 'cpu' ? t.cpuMs : t.ms));
  // Per round: the time a decode step would take at that round's GEMV bandwidth, against the step's own time.
  const gemvRoundTimes = gemv.cases.map((g) => roundTimes(g.name));
  const boundTimes = gemvRoundTimes[0].map((_, r) => gemvRoundTimes.reduce((sum, g) => sum + g[r], 0) * decodeBytes.total / gemv.bytes);
  const ofBound = medianPairedRatio(boundTimes, roundTimes(decode[0].name));
  const relativeDecode = decode.map((d) => medianPairedRatio(roundTimes(d.name), roundTimes(decode[0].name)));
  const pairedFit = fitLine(contexts, relativeDecode);
  const first = decodeTimes[0];
  // Short of the bound (or asked): where one decode step's time goes, dispatch by dispatch.
  const profile = process.argv.includes('--profile') || ofBound < MIN_OF_GEMV_BOUND
    ? await profileDecode(decode[0], first) : null;

  cache.dispose();
  const llmnbLogits = path.join(benchModelDir(name), 'llmnb-first-token-logits.f32');
  fs.writeFileSync(llmnbLogits, firstLogits!);
  model.dispose();
  gpu.pool.trim();

  const torch = torchSkip ? [] : runTorchPeers<TorchForward>('forward', benchModelDir(name),
    { prompt, contexts, prefillRounds: rounds.torchPrefill, decodeRounds: rounds.torchDecode, llmnbLogits }, log);
  const f32Check = torch.find((t) => t.dtype === 'f32')?.check ?? null;
  const result: ModelResult = {
    model: name, config: describeConfig(name, c), rounds: { prefill: rounds.prefill, decode: rounds.decode }, prefill: { tokens: T, ...best.get(prefill.name)! }, decode: decodeTimes,
    gemv: { matrices: gemv.names, bytes: gemv.bytes, timing: gemvTiming, bytesPerSecond: bw.perSecond, cpuEstBytesPerSecond: bw.cpuEstPerSecond },
    decodeBytes, estimateTokensPerSecond: estimate, cpuEstEstimateTokensPerSecond: cpuEstimate, fit, cpuFit, relativeDecode, pairedFit,
    profile, torch, torchSkipped: torchSkip,
    acceptance: {
      basis, atMostLinear: pairedFit.maxRelDeviation <= MAX_LINE_DEVIATION, ofGemvBound: ofBound, gemvBound: ofBound >= MIN_OF_GEMV_BOUND,
      logitsF32: f32Check ? f32Check.maxAbsDiff <= F32_LOGITS_TOLERANCE * f32Check.maxAbsRef : null,
    },
  };
  printModel(result);
  return result;
}

/** linear(x: [1, K], W) on the head and the largest block matrices (MLP gate [F, D] and down [D, F]) of block 0. */
function gemvCases(model: LlamaModel): { cases: TimedCase[]; names: string[]; bytes: number } {
  const head = model.headWeights().weight;
  const block = model.layers[0].mlp;
  const params = [head, block.gate_proj.weight, block.down_proj.weight];
  const cases = params.map((p): TimedCase => {
    const K = p.shape[1];
    const x = Tensor.alloc(gpu, [1, K], 'f32', { layer: 'bench', tensor: `gemv input ${K}`, kind: 'other' });
    x.write(Float32Array.from({ length: K }, (_, i) => Math.sin(i)));
    return { name: `GEMV ${p.name} [${p.shape.join(', ')}]`, run: () => { linear(gpu, x, p.tensor).dispose(); } };
  });
  return { cases, names: params.map((p) => `${p.name} [${p.shape.join(', ')}]`), bytes: params.reduce((s, p) => s + p.bytes, 0) };
}

async function profileDecode(step: TimedCase, best: Timing & { context: number }): Promise<DecodeProfile> {
  log(`  profiling one ${step.name} step, dispatch by dispatch ...`);
  const times = await profileDispatches(gpu, async () => { await step.run(); }, 20, 2);
  const dispatchSum = times.reduce((s, t) => ({ ms: s.ms + t.ms, cpuMs: s.cpuMs + t.cpuMs }), { ms: 0, cpuMs: 0 });
  return { context: best.context, step: { ms: best.ms, cpuMs: best.cpuMs }, dispatches: times.length, dispatchSum, byKernel: sumByKernel(times) };
}

function printModel(r: ModelResult): void {
  const cpuCols = info.software;
  log(`\n${r.config}`);
  const torchOf = (dtype: TorchDtype) => r.torch.find((t) => t.dtype === dtype);
  const header = ['case', 'llmnb ms', 'tok/s'];
  if (cpuCols) header.push('cpu-est tok/s');
  header.push('x GEMV bound');
  for (const d of ['f32', 'bf16'] as const) if (torchOf(d)) header.push(`torch ${d} ms`, 'tok/s', 'cpu-est', `llmnb/torch ${d}`);
  const row = (label: string, tokens: number, t: Timing, torchTimes: (dtype: TorchDtype) => Timing | undefined, bound: boolean) => {
    const ours = rates(tokens, t, cores);
    const cells = [label, fmt(t.ms), fmt(ours.perSecond, 2)];
    if (cpuCols) cells.push(fmt(ours.cpuEstPerSecond, 2));
    cells.push(bound ? fmt(ours.perSecond / r.estimateTokensPerSecond, 2) : '');
    for (const d of ['f32', 'bf16'] as const) {
      const peer = torchOf(d);
      if (!peer) continue;
      const tt = torchTimes(d)!;
      const theirs = rates(tokens, tt, Math.min(peer.threads, cores));
      cells.push(fmt(tt.ms), fmt(theirs.perSecond, 2), fmt(theirs.cpuEstPerSecond, 2), fmt(ours.perSecond / theirs.perSecond, 2));
    }
    return cells;
  };
  const rows = [row(`prefill T=${r.prefill.tokens}`, r.prefill.tokens, r.prefill, (d) => torchOf(d)?.prefill, false)];
  for (const d of r.decode) {
    rows.push(row(`decode @${d.context}`, 1, d, (dt) => torchOf(dt)?.decode.find((x) => x.context === d.context), true));
  }
  printTable(header, rows);

  const b = r.decodeBytes;
  const g = r.gemv;
  log(`GEMV bandwidth (linear M=1 on ${g.matrices.join(', ')}): ${fmt(g.bytesPerSecond / 1e9, 2)} GB/s` +
    (cpuCols ? ` (cpu-est ${fmt(g.cpuEstBytesPerSecond / 1e9, 2)} GB/s)` : ''));
  log(`bytes per decode token: ${formatBytes(b.total)} = blocks ${formatBytes(b.blocks)} + head ${formatBytes(b.head)} + final norm ${formatBytes(b.finalNorm)} + one embedding row ${formatBytes(b.embeddingRow)}`);
  const d0 = r.decode[0];
  const cpuOfBound = (1000 / (d0.cpuMs / cores)) / r.cpuEstEstimateTokensPerSecond;
  log(`GEMV-bound estimate: ${fmt(r.estimateTokensPerSecond, 2)} tok/s` + (cpuCols ? ` (cpu-est ${fmt(r.cpuEstEstimateTokensPerSecond, 2)})` : '') +
    `; best decode @${d0.context}: ${fmt(1000 / d0.ms, 2)} tok/s = ${fmt(1000 / d0.ms / r.estimateTokensPerSecond, 2)} of it` +
    (cpuCols ? ` (cpu-est ${fmt(cpuOfBound, 2)})` : ''));
  const line = (f: LineFit) => `${fmt(f.intercept, 2)} ms + ${fmt(f.slope * 1000, 3)} ms per 1000 positions (R^2 ${fmt(f.r2, 3)}, largest deviation ${fmt(100 * f.maxRelDeviation)}%)`;
  log(`decode time per token vs context: ${line(r.fit)}` + (cpuCols ? `; by CPU time: ${line(r.cpuFit)}` : ''));
  const by = r.acceptance.basis === 'cpu' ? 'CPU time (software adapter: the machine is shared)' : 'wall time';
  const relative = r.decode.map((d, i) => `@${d.context} ${fmt(r.relativeDecode[i], 3)}`).join(', ');
  log(`decode time relative to @${d0.context} in the same round (median over rounds, by ${r.acceptance.basis} time): ${relative}; ` +
    `largest deviation from their line ${fmt(100 * r.pairedFit.maxRelDeviation)}%`);
  log(`acceptance by ${by}, medians of per-round pairs: decode >= ${MIN_OF_GEMV_BOUND} of the bound from the same round's GEMV: ` +
    `${fmt(r.acceptance.ofGemvBound, 2)} ${r.acceptance.gemvBound ? 'yes' : 'NO'}; ` +
    `grows at most linearly (every relative time within ${100 * MAX_LINE_DEVIATION}% of their line): ${r.acceptance.atMostLinear ? 'yes' : 'NO'}`);
  for (const t of r.torch) {
    if (!t.check) continue;
    const rel = t.check.maxAbsDiff / t.check.maxAbsRef;
    const verdict = t.dtype === 'f32' ? ` <= ${F32_LOGITS_TOLERANCE}: ${r.acceptance.logitsF32 ? 'yes' : 'NO'}` : ' (bf16 activations: compare loosely)';
    log(`first-token logits, llmnb f32 vs torch ${t.dtype}: max |diff| ${t.check.maxAbsDiff.toExponential(2)} = ${rel.toExponential(2)} of max |logit|${verdict}; ` +
      `argmax ${t.check.argmaxLlmnb} vs ${t.check.argmaxTorch}`);
  }
  if (r.profile) printProfile(r.profile);
  if (r.torchSkipped) log(`PyTorch peer skipped: ${r.torchSkipped}`);
}

function printProfile(p: DecodeProfile): void {
  log(`\none decode step @${p.context}: ${fmt(p.step.ms)} ms (cpu ${fmt(p.step.cpuMs)} ms); its ${p.dispatches} dispatches replayed alone sum to ` +
    `${fmt(p.dispatchSum.ms)} ms (cpu ${fmt(p.dispatchSum.cpuMs)} ms); the rest is submits, readback and host code`);
  printTable(['kernel', 'dispatches', 'ms', 'cpu ms', 'share'], p.byKernel.map((k) => [
    k.kernel, String(k.count), fmt(k.ms, 2), fmt(k.cpuMs, 2), `${fmt(100 * k.ms / p.dispatchSum.ms)}%`,
  ]));
}
