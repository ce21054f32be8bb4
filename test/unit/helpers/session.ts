// Sessions on the test GPU for magic tests: run a cell and collect what it showed (a progress line keyed for
// in-place updates counts once, in its final state), a model folder with a tiny byte-level tokenizer (so text
// maps to ids inside the reference model's 512-token vocabulary), and raw parameter bytes for bit-exact checks.
import fs from 'node:fs';
import path from 'node:path';
import { outputText, type CellOutput } from '../../../kernel/notebook/format.js';
import type { LlamaModel } from '../../../kernel/model/llama.js';
import type { StreamName } from '../../../kernel/protocol.js';
import { Session, type CellResult, type SessionOptions } from '../../../kernel/session.js';
import { testGpu } from './gpu.js';
import { REFERENCE_DIR, tempDir } from './io.js';

export type CellEvent = { kind: 'output'; output: CellOutput; key?: string } | { kind: 'stream'; name: StreamName; text: string };

export interface CellRun {
  result: CellResult;
  events: CellEvent[];
  /** Outputs in order, a keyed output in its last state. */
  outputs: CellOutput[];
  /** The text of every output and stream chunk, in order. */
  text: string;
}

export function gpuSession(opts: Partial<SessionOptions> = {}): Session {
  return new Session({ cwd: process.cwd(), openGpu: testGpu, ...opts });
}

/** Frees the session's model (tests share one GPU per process). */
export function disposeModel(s: Session): void {
  s.bound('model')?.dispose();
  s.bind('model', undefined);
}

/** Runs a cell; `onEvent` sees each event as it arrives (e.g. to interrupt at a given point). */
export async function runCell(s: Session, source: string, onEvent?: (e: CellEvent) => void): Promise<CellRun> {
  const events: CellEvent[] = [];
  const push = (e: CellEvent) => { events.push(e); onEvent?.(e); };
  const result = await s.execute(source, {
    output: (output, key) => push({ kind: 'output', output, ...(key !== undefined ? { key } : {}) }),
    stream: (name, text) => push({ kind: 'stream', name, text }),
  });
  const outputs: CellOutput[] = [];
  const keyed = new Map<string, number>();
  let text = '';
  for (const e of events) {
    if (e.kind === 'stream') { text += e.text; continue; }
    if (e.key !== undefined && keyed.has(e.key)) outputs[keyed.get(e.key)!] = e.output;
    else {
      if (e.key !== undefined) keyed.set(e.key, outputs.length);
      outputs.push(e.output);
    }
  }
  text += outputs.map((o) => `${outputText(o)}\n`).join('');
  return { result, events, outputs, text };
}

/** Runs a cell that must succeed; returns its run. */
export async function runOk(s: Session, source: string): Promise<CellRun> {
  const run = await runCell(s, source);
  if (!run.result.success) throw new Error(`cell failed: ${source}\n${run.result.error?.name}: ${run.result.error?.message}\n${run.result.error?.hint ?? ''}`);
  return run;
}

/** The raw stored bytes of every parameter (bf16 bit patterns or f32 bits), by HF name. */
export async function parameterBytes(model: LlamaModel): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const p of model.parameters()) {
    const raw = await p.tensor.readRaw();
    out.set(p.name, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice());
  }
  return out;
}

/** GPT-2's byte -> printable character table, which byte-level BPE vocabularies use. */
function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return chars;
}

/** A tokenizer.json with one token per byte (ids 0..255) and <|begin_of_text|> = 256. */
export function byteTokenizerJson(): unknown {
  const vocab = Object.fromEntries(byteLevelAlphabet().map((c, b) => [c, b]));
  return {
    version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null,
    added_tokens: [{ id: 256, content: '<|begin_of_text|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
}

/** A folder holding the reference model (config.json + model.safetensors) and the byte tokenizer. */
export function referenceModelDir(): string {
  const dir = tempDir();
  fs.copyFileSync(path.join(REFERENCE_DIR, 'config.json'), path.join(dir, 'config.json'));
  fs.copyFileSync(path.join(REFERENCE_DIR, 'model_bf16.safetensors'), path.join(dir, 'model.safetensors'));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
  return dir;
}
