// `--no-NAME` turns off a bool flag (needed for flags that default to true, such as %replace_head --bias).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../kernel/errors.js';
import { parseArgs, tokenize, usageLine, type ParamsSpec } from '../../kernel/magics/parse.js';

const spec = {
  bias: { type: 'bool', default: true, summary: 'with a bias' },
  empty: { type: 'bool', summary: 'shapes only' },
  classes: { type: 'int', summary: 'classes' },
} as const satisfies ParamsSpec;
const parse = (line: string) => parseArgs(spec, tokenize(line), { command: '%x', cwd: '/' });

test('--no-NAME sets a bool flag to false; the default and --NAME still work', () => {
  assert.deepEqual(parse(''), { bias: true, empty: false });
  assert.deepEqual(parse('--no-bias'), { bias: false, empty: false });
  assert.deepEqual(parse('--bias --empty'), { bias: true, empty: true });
  assert.deepEqual(parse('--no-empty --classes 2'), { bias: true, empty: false, classes: 2 });
});

test('--no-NAME: only for bool flags, without a value, not together with --NAME', () => {
  assert.throws(() => parse('--no-classes 2'), (e: UsageError) => /unknown flag --no-classes/.test(e.message));
  assert.throws(() => parse('--no-bias=true'), (e: UsageError) => e.message === '%x: --no-bias takes no value');
  assert.throws(() => parse('--bias --no-bias'), (e: UsageError) => e.message === '%x: --no-bias given twice');
  assert.throws(() => parse('--no-such'), UsageError);
});

test('the usage line shows the negation of a flag that defaults to true', () => {
  assert.equal(usageLine('%x', spec), '%x [--bias|--no-bias] [--empty] [--classes INT]');
});
