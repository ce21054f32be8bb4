// Magic argument parsing: shell-like tokens, typed flags from a spec, and errors that name the flag and list
// the valid ones.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../kernel/errors.js';
import { flagName, parseArgs, tokenize, usageLine, type ParamsSpec } from '../../kernel/magics/parse.js';

const spec = {
  path: { type: 'path', positional: true, required: true, summary: 'checkpoint' },
  dtype: { type: 'enum', values: ['bf16', 'f32'], default: 'bf16', summary: 'storage dtype' },
  seed: { type: 'int', min: 0, summary: 'random seed' },
  lr: { type: 'float', summary: 'learning rate' },
  empty: { type: 'bool', summary: 'allocate nothing' },
  memoryLimit: { type: 'bytes', summary: 'budget' },
  layers: { type: 'list', of: 'int', summary: 'layers' },
  name: { type: 'string', summary: 'a name' },
} as const satisfies ParamsSpec;

const cwd = '/notebooks/spam';
const parse = (line: string) => parseArgs(spec, tokenize(line, '%load_model'), { command: '%load_model', cwd });

function usageError(line: string, pattern: RegExp, hint?: RegExp): void {
  assert.throws(() => parse(line), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, pattern);
    if (hint) assert.match(e.hint, hint);
    return true;
  });
}

test('tokenize: whitespace, single and double quotes, escapes only inside double quotes', () => {
  const texts = (s: string) => tokenize(s).map((t) => t.text);
  assert.deepEqual(texts('  a  b\tc '), ['a', 'b', 'c']);
  assert.deepEqual(texts(`"two words" 'it''s' a"b c"d`), ['two words', 'its', 'ab cd']);
  assert.deepEqual(texts(String.raw`"say \"hi\"\n" 'raw \n' C:\models\llama`), ['say "hi"\n', String.raw`raw \n`, String.raw`C:\models\llama`]);
  assert.deepEqual(tokenize('"--x" --x').map((t) => t.quoted), [true, false]);
  assert.throws(() => tokenize('"open', '%generate'), (e: unknown) => e instanceof UsageError && /%generate: unterminated double quote/.test(e.message));
});

test('flags: values converted by type, defaults filled, paths resolved from the notebook folder', () => {
  const a = parse('./model --seed 3 --lr=1e-4 --empty --memory-limit 24GiB --layers 0,1,5 --name "my model"');
  assert.deepEqual(a, {
    path: path.resolve(cwd, 'model'), seed: 3, lr: 1e-4, empty: true, memoryLimit: 24 * 2 ** 30, layers: [0, 1, 5],
    name: 'my model', dtype: 'bf16',
  });
  const b = parse('~/ckpt --dtype f32 --empty=false --lr -0.5');
  assert.equal(b.path, path.join(os.homedir(), 'ckpt'));
  assert.equal(b.dtype, 'f32');
  assert.equal(b.empty, false);
  assert.equal(b.lr, -0.5);
  assert.equal(b.seed, undefined);
  assert.deepEqual(parse('-- --not-a-flag').path, path.resolve(cwd, '--not-a-flag'));
  assert.deepEqual(parse('"--quoted"').path, path.resolve(cwd, '--quoted'));
});

test('an unknown flag names it, suggests the nearest and lists the valid ones', () => {
  usageError('m --sed 1', /unknown flag --sed \(did you mean --seed\?\)/, /Valid flags: --dtype, --seed, --lr, --empty, --memory-limit, --layers, --name/);
  usageError('m --temperature 1', /unknown flag --temperature$/);
});

test('bad values name the flag, what it takes and what it got', () => {
  usageError('m --dtype f16', /--dtype must be one of bf16, f32, got "f16"/);
  usageError('m --seed 1.5', /--seed must be an integer >= 0, got "1.5"/);
  usageError('m --seed -1', /--seed must be an integer >= 0/);
  usageError('m --lr fast', /--lr must be a number, got "fast"/);
  usageError('m --memory-limit lots', /--memory-limit must be a size like 24GiB/);
  usageError('m --layers 1,x', /--layers must be comma-separated integers, got "x"/);
  usageError('m --empty=maybe', /--empty must be true or false/);
  usageError('m --seed', /--seed needs a value \(an integer >= 0\)/);
  usageError('m --seed 1 --seed 2', /--seed given twice/);
});

test('positional arguments: required ones are checked, extra ones rejected', () => {
  usageError('', /missing PATH \(checkpoint\)/, /usage: %load_model PATH \[--dtype bf16\|f32\]/);
  usageError('a b', /unexpected argument "b"/);
  usageError('a -seed 1', /unexpected argument "-seed"/, /two dashes/);
});

test('usage lines and flag names come from the spec', () => {
  assert.equal(flagName('maxTokens'), '--max-tokens');
  assert.equal(usageLine('%load_model', spec),
    '%load_model PATH [--dtype bf16|f32] [--seed INT] [--lr NUMBER] [--empty] [--memory-limit SIZE] [--layers INT,...] [--name TEXT]');
  const variadic = { prompts: { type: 'list', of: 'string', positional: true, summary: 'prompts' } } as const satisfies ParamsSpec;
  assert.equal(usageLine('%generate', variadic), '%generate [PROMPTS...]');
  assert.deepEqual(parseArgs(variadic, tokenize('"a b" c'), { command: '%generate', cwd }), { prompts: ['a b', 'c'] });
});
