// Memory benchmark for loading checkpoints (LLMs-from-scratch issue #392: an 8B classifier that could not be loaded
// back because the empty model plus torch.load's full state dict doubled the memory).
// Usage: node --import tsx bench/load-memory.ts [--keep-pth]
//
// Builds once (cached in bench/.cache/, git-ignored) a safetensors checkpoint with the Llama 3 8B shapes but only
// 2 transformer blocks (vocabulary 128256, width 4096, 32 query / 8 KV heads, MLP 14336, untied head; random bf16,
// about 3 GB), then measures each way of loading it in its own child process, so each peak RSS is its own:
//   (a) llmnb in place: an empty model, tensors streamed through one staging chunk into buffers allocated just in time
//   (b) llmnb the naive way: the whole file read into host memory as a state dict, every buffer allocated, then copied
//   (c) PyTorch model.load_state_dict(torch.load(...))  (Debian's /usr/bin/python3 with torch, if importable)
//   (d) PyTorch per-tensor recipe: a meta-device model, each tensor read alone and copied into fresh storage
// Peak RSS is the kernel's high-water mark (VmHWM, reset once the process is set up) and its growth over the RSS
// just before loading; llmnb cases also report the allocator's peak. On a software adapter (SwiftShader) GPU
// buffers are host memory, so RSS counts the model's weights once. Prints ratios to the checkpoint size, whether
// the acceptance bounds hold, and appends one JSON line to bench/results/load-memory.jsonl.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../kernel/gpu/context.js';
import { formatBytes } from '../kernel/gpu/format.js';
import { openCheckpoint } from '../kernel/io/checkpoint.js';
import { canonicalName } from '../kernel/io/names.js';
import { SafetensorsWriter } from '../kernel/io/safetensors_writer.js';
import { readConfigFile, toHfConfig, type LlamaConfig } from '../kernel/model/config.js';
import { LlamaModel } from '../kernel/model/llama.js';
import { DEFAULT_CHUNK_BYTES, loadWeightsInPlace } from '../kernel/model/load_weights.js';
import { llamaParamSpecs } from '../kernel/model/param_specs.js';
import { presetConfig } from '../kernel/model/presets.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CACHE = path.join(HERE, '.cache', 'llama3-8b-2-blocks');
const SAFETENSORS = path.join(CACHE, 'model.safetensors');
const PTH = path.join(CACHE, 'model.pth');
const RESULTS = path.join(HERE, 'results', 'load-memory.jsonl');
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = path.join(HERE, 'load_memory_torch.py');
const MIB = 1 << 20;
/** Acceptance: RSS growth beyond the model's own bytes during an in-place load. */
const RSS_SLACK = 256 * MIB;

interface CaseResult {
  case: string;
  /** Bytes of the model's weights once loaded. */
  modelBytes: number;
  /** RSS just before loading, the high-water mark while loading, and the difference. */
  rssBeforeBytes: number;
  peakRssBytes: number;
  rssGrowthBytes: number;
  /** llmnb only: allocator bytes live before the load and at the peak; the staging chunk. */
  allocLiveBeforeBytes?: number;
  allocPeakBytes?: number;
  chunkBytes?: number;
  seconds: number;
  note?: string;
}

// ---- memory of this process ----

function procStatus(): { rss: number; hwm: number } {
  const text = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Starts a peak measurement: resets the kernel's high-water mark and samples RSS as a cross-check. */
function watchRss(): { stop(): { before: number; peak: number } } {
  const before = procStatus().rss;
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  } catch {
    // Older kernels: the samples below are the measurement.
  }
  let sampled = before;
  const timer = setInterval(() => { sampled = Math.max(sampled, procStatus().rss); }, 5);
  return {
    stop() {
      clearInterval(timer);
      const now = procStatus();
      return { before, peak: Math.max(sampled, now.hwm, now.rss) };
    },
  };
}

// ---- the checkpoint ----

function benchConfig(): LlamaConfig {
  return { ...presetConfig('llama3-8b'), numLayers: 2 };
}

/** xorshift32 -> uniform(-0.04, 0.04) as bf16 bits (truncated): weights of a realistic scale, cheap to make. */
function randomBf16(out: Uint16Array, state: { s: number }): void {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = state.s;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    f[0] = (s / 4294967296 - 0.5) * 0.08;
    out[i] = u[0] >>> 16;
  }
  state.s = s;
}

async function ensureCheckpoint(): Promise<{ bytes: number; config: LlamaConfig }> {
  const config = benchConfig();
  const specs = llamaParamSpecs(config);
  const dataBytes = specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1) * 2, 0);
  const configFile = path.join(CACHE, 'config.json');
  if (fs.existsSync(configFile) && fs.existsSync(SAFETENSORS) && fs.statSync(SAFETENSORS).size > dataBytes) {
    return { bytes: fs.statSync(SAFETENSORS).size, config: readConfigFile(configFile) };
  }
  fs.mkdirSync(CACHE, { recursive: true });
  const free = freeDisk(CACHE);
  if (free < dataBytes * 1.2) throw new Error(`need ${formatBytes(dataBytes * 1.2)} of free disk in ${CACHE}, have ${formatBytes(free)}`);
  console.log(`building ${SAFETENSORS} (${formatBytes(dataBytes)} of random bf16, once) ...`);
  const t0 = performance.now();
  const writer = await SafetensorsWriter.create(SAFETENSORS, specs.map((p) => ({ name: p.name, dtype: 'BF16' as const, shape: p.shape })), { format: 'pt' });
  const chunk = new Uint16Array(8 * MIB);
  const state = { s: 0x9e3779b9 };
  try {
    for (const p of specs) {
      let left = p.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        const part = chunk.subarray(0, n);
        if (p.shape.length === 1) part.fill(0x3f80); // norms: 1.0
        else randomBf16(part, state);
        await writer.write(new Uint8Array(part.buffer, 0, n * 2));
        left -= n;
      }
    }
    await writer.commit();
  } catch (e) {
    writer.abort();
    throw e;
  }
  fs.writeFileSync(configFile, `${JSON.stringify(toHfConfig(config), null, 2)}\n`);
  console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { bytes: fs.statSync(SAFETENSORS).size, config };
}

function freeDisk(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

// ---- llmnb cases (run in a child process each) ----

/**
 * Opens a device and an empty model of the benchmark's shapes, then measures `load` into it: RSS before and at
 * peak, the allocator's peak over what was live before, seconds; plus what `load` returns about itself.
 */
async function measureLoad(label: string, load: (model: LlamaModel) => Promise<Partial<CaseResult> | void>): Promise<CaseResult> {
  const gpu = await Gpu.open();
  const model = new LlamaModel(gpu, benchConfig());
  const allocLiveBeforeBytes = gpu.allocator.liveBytes;
  gpu.allocator.resetPeak();
  const rss = watchRss();
  const t0 = performance.now();
  const extra = await load(model);
  const seconds = (performance.now() - t0) / 1000;
  const { before, peak } = rss.stop();
  return {
    case: label, modelBytes: model.weightBytes, rssBeforeBytes: before, peakRssBytes: peak, rssGrowthBytes: peak - before,
    allocLiveBeforeBytes, allocPeakBytes: gpu.allocator.peakBytes, seconds, ...extra,
  };
}

function caseInplace(): Promise<CaseResult> {
  return measureLoad('llmnb in place (empty model, streamed)', async (model) => {
    await loadWeightsInPlace(model, SAFETENSORS);
    return { chunkBytes: Math.min(DEFAULT_CHUNK_BYTES, model.gpu.maxBufferBytes) };
  });
}

/** What loading looks like without streaming: the whole state dict in host memory, a full model, then copies. */
function caseNaive(): Promise<CaseResult> {
  return measureLoad('llmnb naive (whole state dict in RAM, then copy)', async (model) => {
    const ckpt = await openCheckpoint(SAFETENSORS);
    const entries = [...ckpt.tensors.values()];
    ckpt.close();
    const whole = readWholeFile(SAFETENSORS); // the "state dict": every tensor in host memory at once
    const stateDict = new Map(entries.map((e) => [canonicalName(e.name)!, new Uint16Array(whole.buffer, whole.byteOffset + e.offset, e.bytes / 2)]));
    for (const p of model.parameters()) p.allocate(); // the model, allocated before loading
    for (const p of model.parameters()) {
      p.tensor.write(stateDict.get(p.name)!);
      await model.gpu.sync();
    }
  });
}

/** fs.readFileSync stops at 2 GiB; a Buffer holds up to 4 GiB. */
function readWholeFile(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const out = Buffer.allocUnsafe(fs.fstatSync(fd).size);
    for (let at = 0; at < out.length;) at += fs.readSync(fd, out, at, Math.min(out.length - at, 256 * MIB), at);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

// ---- driver ----

function runNodeCase(name: 'inplace' | 'naive'): CaseResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--case', name], { encoding: 'utf8', maxBuffer: 64 * MIB });
  return parseResult(r, `node case ${name}`);
}

function runTorchCase(name: 'load_state_dict' | 'per_tensor'): CaseResult {
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, name, SAFETENSORS, PTH], { encoding: 'utf8', maxBuffer: 64 * MIB });
  return parseResult(r, `torch case ${name}`);
}

function parseResult(r: ReturnType<typeof spawnSync>, what: string): CaseResult {
  const out = String(r.stdout ?? '');
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`${what} failed (status ${r.status}):\n${out}\n${String(r.stderr ?? '')}`);
  return JSON.parse(line.slice('RESULT '.length)) as CaseResult;
}

function torchAvailable(): boolean {
  return fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
}

function ensurePth(checkpointBytes: number): void {
  if (fs.existsSync(PTH)) return;
  if (freeDisk(CACHE) < checkpointBytes * 1.2) throw new Error(`need ${formatBytes(checkpointBytes * 1.2)} of free disk for ${PTH}`);
  console.log(`writing ${PTH} with torch.save (once) ...`);
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, 'make_pth', SAFETENSORS, PTH], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error('making the .pth failed');
}

const ratio = (bytes: number, of: number) => `${(bytes / of).toFixed(2)}x`;

async function main(): Promise<void> {
  const { bytes: checkpointBytes } = await ensureCheckpoint();
  const needRam = 2.3 * checkpointBytes;
  const results: CaseResult[] = [];
  console.log(`checkpoint: ${SAFETENSORS} (${formatBytes(checkpointBytes)})`);
  results.push(runNodeCase('inplace'));
  if (os.freemem() > needRam) results.push(runNodeCase('naive'));
  else console.log(`skipping (b): needs about ${formatBytes(needRam)} of free memory, ${formatBytes(os.freemem())} free`);
  const torch = torchAvailable();
  if (torch) {
    ensurePth(checkpointBytes);
    if (os.freemem() > needRam) results.push(runTorchCase('load_state_dict'));
    else console.log(`skipping (c): needs about ${formatBytes(needRam)} of free memory`);
    results.push(runTorchCase('per_tensor'));
    if (!process.argv.includes('--keep-pth')) fs.rmSync(PTH, { force: true });
  } else {
    console.log(`skipping (c) and (d): ${PYTHON} cannot import torch and numpy`);
  }

  console.log('');
  const rows = results.map((r) => [r.case, formatBytes(r.peakRssBytes), ratio(r.peakRssBytes, checkpointBytes), formatBytes(r.rssGrowthBytes),
    ratio(r.rssGrowthBytes, checkpointBytes), r.allocPeakBytes === undefined ? '-' : `${formatBytes(r.allocPeakBytes)} (${ratio(r.allocPeakBytes, checkpointBytes)})`,
    `${r.seconds.toFixed(1)} s`]);
  const header = ['case', 'peak RSS', '/ckpt', 'RSS growth', '/ckpt', 'peak allocator', 'time'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  for (const r of results) if (r.note) console.log(`${r.case}: ${r.note}`);

  const a = results[0];
  const allocOk = a.allocPeakBytes! - a.allocLiveBeforeBytes! <= a.modelBytes + a.chunkBytes!;
  const rssOver = a.rssGrowthBytes - a.modelBytes;
  const rssOk = rssOver <= RSS_SLACK;
  console.log('');
  console.log(`acceptance (a): peak allocator ${formatBytes(a.allocPeakBytes!)} - ${formatBytes(a.allocLiveBeforeBytes!)} live before <= model ${formatBytes(a.modelBytes)} + chunk ${formatBytes(a.chunkBytes!)}: ${allocOk ? 'yes' : 'NO'}`);
  console.log(`acceptance (a): RSS growth ${formatBytes(a.rssGrowthBytes)} - model ${formatBytes(a.modelBytes)} = ${formatBytes(rssOver)} <= ${formatBytes(RSS_SLACK)}: ${rssOk ? 'yes' : 'NO'}`);

  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  const record = {
    bench: 'load-memory', date: new Date().toISOString(), host: { cpus: os.cpus().length, totalmem: os.totalmem(), node: process.version },
    checkpointBytes, torch, results, acceptance: { allocator: allocOk, rss: rssOk, rssOverModelBytes: rssOver },
  };
  fs.appendFileSync(RESULTS, `${JSON.stringify(record)}\n`);
  console.log(`\nappended to ${path.relative(process.cwd(), RESULTS)}`);
  process.exit(allocOk && rssOk ? 0 : 1);
}

const caseArg = process.argv.indexOf('--case');
if (caseArg >= 0) {
  const name = process.argv[caseArg + 1];
  const result = name === 'inplace' ? await caseInplace() : name === 'naive' ? await caseNaive() : null;
  if (!result) throw new Error(`unknown case ${name}`);
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
} else {
  await main();
}
