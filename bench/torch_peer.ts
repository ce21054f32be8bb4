// Runs bench/llama_torch.py (the PyTorch Llama 3 peer) with Debian's /usr/bin/python3, one child process per
// (mode, dtype), so each has the memory to itself and the llmnb model is already freed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from './harness.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(BENCH_DIR, 'llama_torch.py');

export type TorchDtype = 'f32' | 'bf16';

/** Why the PyTorch peer cannot run here, or null when it can. */
export function torchUnavailable(): string | null {
  if (process.argv.includes('--no-torch')) return '--no-torch';
  if (!fs.existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import torch and numpy`;
}

/** Runs one mode of the peer in f32, then in bf16 (saying so through `log`); returns their RESULT objects. */
export function runTorchPeers<T>(mode: 'forward' | 'train', modelDir: string, spec: object, log: (line: string) => void): T[] {
  return (['f32', 'bf16'] as const).map((dtype) => {
    log(`PyTorch ${dtype} ...`);
    return runTorch<T>(mode, modelDir, dtype, spec);
  });
}

/** Runs one mode of the peer; `spec` goes to it as a JSON file next to the model. Returns its RESULT object. */
function runTorch<T>(mode: 'forward' | 'train', modelDir: string, dtype: TorchDtype, spec: object): T {
  const specFile = path.join(modelDir, `torch-${mode}-spec.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const r = spawnSync(PYTHON, [SCRIPT, mode, modelDir, dtype, specFile], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = String(r.stdout ?? '');
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`PyTorch peer (${mode}, ${dtype}) failed (status ${r.status}):\n${out}\n${String(r.stderr ?? '')}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}
