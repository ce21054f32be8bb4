// `llmnb forward`, `generate` and `device` end to end (kernel/cli.ts through tsx): the logits file against the
// PyTorch reference, greedy generation, and one clear line (no stack trace) with a non-zero exit on bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { assertF32Logits, forwardReference } from './helpers/reference.js';
import { REFERENCE_MODEL, tempDir } from './helpers/io.js';
import { referenceModelDir } from './helpers/session.js';

const cli = `const m = await import(${JSON.stringify(path.resolve('kernel/cli.ts'))}); process.exitCode = await m.main(process.argv.slice(1));`;

function llmnb(...args: string[]) {
  return llmnbWith(process.env, ...args);
}

function llmnbWith(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', cli, ...args], { encoding: 'utf8', timeout: 180_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One error line and one hint line, nothing that looks like a stack frame. */
function assertCleanError(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l && !/^llmnb: |Warning: Vulkan|While initializing adapter|at InitializeImpl/.test(l));
  assert.match(lines[0] ?? '', /^error: /);
  assert.match(lines[0], pattern);
  assert.ok(!/^\s+at /m.test(lines.join('\n')), `no stack trace: ${stderr}`);
}

test('forward writes T rows of vocabulary logits matching PyTorch, and a one-line summary', () => {
  const ref = forwardReference();
  const out = path.join(tempDir(), 'logits.json');
  const r = llmnb('forward', '--model', REFERENCE_MODEL, '--ids', ref.inputs.seq0.join(','), '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^forward: 7 tokens x 512 logits \(f32 compute, bf16 weights\) in [\d.]+ s; last position argmax \d+; wrote /);
  const { logits } = JSON.parse(fs.readFileSync(out, 'utf8')) as { logits: number[][] };
  assertF32Logits(logits, ref.variants.f32.logits.seq0, 'cli forward');
});

test('generate continues a prompt greedily; device describes the adapter', () => {
  const r = llmnb('generate', '--model', referenceModelDir(), '--prompt', 'ab', '--max-tokens', '5');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ab/);
  assert.match(r.stderr, /generate: 5 tokens in [\d.]+ s/);
  const d = llmnb('device');
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^adapter: {2}.+\nbackend: {2}(Vulkan|Metal|D3D12)\n/);
  assert.match(d.stdout, /maxStorageBufferBindingSize\s+[\d.]+ [MG]iB/);
  assert.match(d.stdout, /^bounds checks: off: /m);
  const robust = llmnbWith({ ...process.env, LLMNB_GPU_ROBUSTNESS: 'on' }, 'device');
  assert.equal(robust.code, 0, robust.stderr);
  assert.match(robust.stdout, /^bounds checks: on /m);
});

test('bad input: one clear line, exit 2 for usage, 1 for a bad model, never a stack trace', () => {
  const badIds = llmnb('forward', '--model', REFERENCE_MODEL, '--ids', '1,x,3', '--out', '/dev/null');
  assert.equal(badIds.code, 2);
  assertCleanError(badIds.stderr, /--ids must be comma-separated integers, got "x"/);
  const outOfVocab = llmnb('forward', '--model', REFERENCE_MODEL, '--ids', '1,600', '--out', '/dev/null');
  assert.equal(outOfVocab.code, 2);
  assertCleanError(outOfVocab.stderr, /token id 600 at index 1 is outside the vocabulary \(0\.\.511\)/);
  const missing = llmnb('forward', '--model', '/nonexistent/model', '--ids', '1', '--out', '/dev/null');
  assert.equal(missing.code, 2);
  assertCleanError(missing.stderr, /no such model file, directory or preset: \/nonexistent\/model/);
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', vocab_size: 512, hidden_size: 60, num_attention_heads: 4, num_key_value_heads: 3 }));
  const badConfig = llmnb('forward', '--model', dir, '--ids', '1', '--out', '/dev/null');
  assert.equal(badConfig.code, 1);
  assertCleanError(badConfig.stderr, /config\.json: /);
  const unknownFlag = llmnb('generate', '--model', REFERENCE_MODEL, '--promt', 'x');
  assert.equal(unknownFlag.code, 2);
  assertCleanError(unknownFlag.stderr, /unknown flag --promt \(did you mean --prompt\?\)/);
});
