// The models the forward and training benchmarks run: the `demo` preset and a Llama 3 8B-shaped model with 2
// blocks, with random bf16 weights (normal(0, 0.02), unit norms: initRandom). llmnb needs no checkpoint for them,
// but the PyTorch peer must run the same weights, so the first run saves them once with saveModel into
// bench/.cache/<name>-random/ (git-ignored: model.safetensors + config.json) and later runs load that folder in place.
import fs from 'node:fs';
import path from 'node:path';
import type { Gpu } from '../kernel/gpu/context.js';
import { formatBytes } from '../kernel/gpu/format.js';
import { readConfigFile, type LlamaConfig } from '../kernel/model/config.js';
import { LlamaModel } from '../kernel/model/llama.js';
import { initRandom } from '../kernel/model/load.js';
import { loadWeightsInPlace } from '../kernel/model/load_weights.js';
import { llamaParamSpecs } from '../kernel/model/param_specs.js';
import { presetConfig } from '../kernel/model/presets.js';
import { saveModel } from '../kernel/model/save.js';
import { BENCH_DIR } from './harness.js';

export const BENCH_MODELS = ['demo', '8b-2'] as const;
export type BenchModelName = (typeof BENCH_MODELS)[number];

const SEED = 1234;

export function benchConfig(name: BenchModelName): LlamaConfig {
  return name === 'demo' ? presetConfig('demo') : { ...presetConfig('llama3-8b'), numLayers: 2 };
}

export function describeConfig(name: BenchModelName, c: LlamaConfig): string {
  const what = name === 'demo' ? 'demo preset' : 'llama3-8b shapes, 2 blocks';
  return `${name} (${what}: ${c.numLayers} blocks, width ${c.hiddenSize}, MLP ${c.intermediateSize}, ${c.numHeads}/${c.numKvHeads} heads, ` +
    `vocab ${c.vocabSize}, ${c.tieWordEmbeddings ? 'tied' : 'untied'} head, bf16 weights)`;
}

export function benchModelDir(name: BenchModelName): string {
  return path.join(BENCH_DIR, '.cache', `${name}-random`);
}

/** The bench model on `gpu`: loaded in place from its cached checkpoint, made and saved first if missing. */
export async function benchModel(gpu: Gpu, name: BenchModelName, log: (line: string) => void): Promise<LlamaModel> {
  const dir = benchModelDir(name);
  const file = path.join(dir, 'model.safetensors');
  const configFile = path.join(dir, 'config.json');
  if (fs.existsSync(file) && fs.existsSync(configFile)) {
    const model = new LlamaModel(gpu, readConfigFile(configFile));
    const report = await loadWeightsInPlace(model, file);
    log(`loaded ${file} (${formatBytes(report.bytes)}) in ${report.seconds.toFixed(1)} s`);
    return model;
  }
  const config = benchConfig(name);
  const bytes = llamaParamSpecs(config).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1) * 2, 0);
  fs.mkdirSync(dir, { recursive: true });
  const stat = fs.statfsSync(dir);
  const free = stat.bavail * stat.bsize;
  if (free < bytes * 1.2) {
    throw new Error(`the ${name} benchmark model needs ${formatBytes(bytes * 1.2)} of free disk in ${dir} (once), ${formatBytes(free)} free`);
  }
  const model = new LlamaModel(gpu, config);
  initRandom(model, SEED);
  const report = await saveModel(model, dir);
  log(`made random weights (seed ${SEED}) and saved them for the PyTorch peer: ${report.file} (${formatBytes(report.bytes)}, ${report.seconds.toFixed(1)} s)`);
  return model;
}

/** Deterministic token ids in [0, vocab) (xorshift32). */
export function randomIds(count: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % vocab;
  });
}
