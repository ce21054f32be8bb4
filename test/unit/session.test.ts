// Session semantics, in process: cells persist their declarations, support top-level await, show their final
// value, capture console output, run magics in order with the JavaScript around them, report errors with the
// user's line, and stop at a step boundary when interrupted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LlmnbError, NoAdapterError } from '../../kernel/errors.js';
import { defineMagic } from '../../kernel/magics/types.js';
import help from '../../kernel/magics/help.js';
import { outputText, type CellOutput } from '../../kernel/notebook/format.js';
import { ERROR_MIME } from '../../kernel/output/error.js';
import { Session, type CellResult, type SessionBindings } from '../../kernel/session.js';
import type { StreamName } from '../../kernel/protocol.js';

/** Everything a cell sent, in order: outputs (with their key) and stream chunks. */
type Event = { kind: 'output'; output: CellOutput; key?: string } | { kind: 'stream'; name: StreamName; text: string };

const noGpu = () => Promise.reject(new NoAdapterError('no adapter in this test', 'not needed'));

const steps = defineMagic({
  name: 'steps',
  summary: 'counts steps until interrupted',
  params: { max: { type: 'int', default: 1_000_000, summary: 'steps' } },
  async run(args, ctx) {
    let i = 0;
    for (; i < args.max; i++) await ctx.step();
    ctx.out.text(`steps ${i}`);
  },
});

const upper = defineMagic({
  name: 'upper',
  summary: 'a cell magic: shows its body in upper case',
  params: { prefix: { type: 'string', default: '', summary: 'text before the body' } },
  form: 'cell',
  run(args, ctx) {
    ctx.out.text(args.prefix + (ctx.body ?? '').toUpperCase());
  },
});

function newSession(): Session {
  return new Session({ cwd: process.cwd(), openGpu: noGpu, magics: [help, steps, upper] });
}

async function run(s: Session, source: string): Promise<{ result: CellResult; events: Event[]; text: string }> {
  const events: Event[] = [];
  const result = await s.execute(source, {
    output: (output, key) => events.push({ kind: 'output', output, ...(key !== undefined ? { key } : {}) }),
    stream: (name, text) => events.push({ kind: 'stream', name, text }),
  });
  const text = events.map((e) => (e.kind === 'stream' ? e.text : `${outputText(e.output)}\n`)).join('');
  return { result, events, text };
}

test('declarations persist across cells and may be declared again', async () => {
  const s = newSession();
  const first = await run(s, [
    'const a = 1', 'let b', 'var c = 3', 'let { d, e: [f] } = { d: 4, e: [5] }',
    'function add(x) { return x + a }', 'class Box { constructor(v) { this.v = v } }',
  ].join('\n'));
  assert.equal(first.result.success, true, first.text);
  assert.equal(first.events.length, 0, 'declarations show nothing');
  assert.equal((await run(s, '[a, b, c, d, f, add(1), new Box(7).v]')).text, '[ 1, undefined, 3, 4, 5, 2, 7 ]\n');
  assert.equal((await run(s, 'const a = 10; var c; a + c')).text, '13\n', 'const again; var keeps its value');
  assert.equal((await run(s, 'hoisted()\nfunction hoisted() { return "hoisted" }')).text, "'hoisted'\n");
});

test('top-level await, the final value like the REPL, nothing for a statement', async () => {
  const s = newSession();
  assert.equal((await run(s, 'const v = await new Promise((r) => setTimeout(() => r(21), 5))\nv * 2')).text, '42\n');
  assert.equal((await run(s, "'text'")).text, "'text'\n");
  assert.equal((await run(s, '({ nested: { list: [1, 2] } })')).text, '{ nested: { list: [ 1, 2 ] } }\n');
  assert.equal((await run(s, 'if (v) { 5 }')).events.length, 0);
  assert.equal((await run(s, 'undefined')).events.length, 0);
});

test('console.log and console.error go to the cell, batched into stream chunks in order', async () => {
  const s = newSession();
  const { events } = await run(s, "console.log('a', 1)\nconsole.log({ b: 2 })\nconsole.error('oops')\nconsole.log('c')\n'end'");
  assert.deepEqual(events.map((e) => (e.kind === 'stream' ? [e.name, e.text] : ['output', outputText(e.output)])), [
    ['stdout', 'a 1\n{ b: 2 }\n'], ['stderr', 'oops\n'], ['stdout', 'c\n'], ['output', "'end'"],
  ]);
});

test('line magics run in order with the JavaScript around them, also in loops', async () => {
  const s = newSession();
  const { result, text } = await run(s, "console.log('before')\n%steps --max 2\nfor (let i = 0; i < 2; i++) {\n  %steps --max 3\n}\n'after'");
  assert.equal(result.success, true, text);
  assert.equal(text, "before\nsteps 2\nsteps 3\nsteps 3\n'after'\n");
  assert.match((await run(s, '%help')).text, /%help\s+List the magics[\s\S]*%%upper/);
  assert.match((await run(s, 'await llmnb.magic("%steps --max 1")')).text, /steps 1/);
});

test('a cell magic gets the rest of the cell as its body', async () => {
  const s = newSession();
  assert.equal((await run(s, '%%upper --prefix ">"\nhello\nworld')).text, '>HELLO\nWORLD\n');
  const wrong = await run(s, '%upper');
  assert.equal(wrong.result.error?.message, '%upper is a cell magic');
  assert.match((await run(s, 'x\n%%upper')).result.error?.message ?? '', /must be the first line/);
});

test('errors: user errors point at the cell line, LlmnbErrors show message and hint, syntax errors their position', async () => {
  const s = newSession();
  const user = await run(s, 'const ok = 1\nnull.boom');
  assert.equal(user.result.success, false);
  assert.equal(user.result.error?.name, 'TypeError');
  assert.match(user.result.error?.stack ?? '', /^TypeError: Cannot read properties of null \(reading 'boom'\)\n\s+at cell 1:2:\d+/);
  const item = user.events.at(-1)?.kind === 'output' ? (user.events.at(-1) as { output: CellOutput }).output.items[0] : undefined;
  assert.equal(item?.mime, ERROR_MIME);

  const typed = await run(s, "throw new llmnb.errors.OutOfMemoryError('too big', 'In use per layer:\\n  block.0: 1 GiB', 'Use a smaller batch.')");
  assert.deepEqual(typed.result.error, { name: 'OutOfMemoryError', message: 'too big', hint: 'Use a smaller batch.\nIn use per layer:\n  block.0: 1 GiB' });
  assert.equal(typed.text, 'OutOfMemoryError: too big\nhint: Use a smaller batch.\nIn use per layer:\n  block.0: 1 GiB\n');

  const syntax = await run(s, 'const x = 1\nlet = = 2');
  assert.equal(syntax.result.error?.name, 'SyntaxError');
  assert.match(syntax.result.error?.message ?? '', /\(cell 3:2:\d+\)$/);
  assert.match((await run(s, 'import fs from "node:fs"')).result.error?.hint ?? '', /await import/);
  const unknown = await run(s, '%nosuch');
  assert.equal(unknown.result.error?.message, 'unknown magic %nosuch');
  assert.match(unknown.result.error?.hint ?? '', /%help, %steps, %upper/);
  const thrown = await run(s, "throw 'plain'");
  assert.match(thrown.result.error?.message ?? '', /not an Error was thrown: "plain"/);
  // A failed cell leaves earlier state alone.
  assert.equal((await run(s, 'ok')).text, '1\n');
});

test('interrupt stops a loop at its next step boundary and keeps the state', async () => {
  const s = newSession();
  setTimeout(() => s.interrupt(), 50);
  const loop = await run(s, 'let n = 0\nfor (;;) { n++; await llmnb.step() }');
  assert.equal(loop.result.error?.name, 'CancelledError');
  assert.match((await run(s, 'n > 0')).text, /true/);
  setTimeout(() => s.interrupt(), 50);
  assert.equal((await run(s, '%steps')).result.error?.name, 'CancelledError', 'magics stop at ctx.step()');
  s.interrupt(); // between cells: no effect on the next one
  assert.equal((await run(s, 'await llmnb.step(); 1')).result.success, true);
});

test('bindings: magics set model/tokenizer for the cells', async () => {
  const s = newSession();
  assert.equal((await run(s, 'model')).events.length, 0);
  // A stand-in object: binding only stores what the magic passes.
  s.bind('model', { name: 'tiny' } as unknown as SessionBindings['model']);
  assert.equal((await run(s, 'model.name')).text, "'tiny'\n");
  await run(s, 'model = 5');
  assert.equal(s.bound('model'), 5, 'a cell may rebind it');
});

test('progress lines are throttled and keyed; displays and tables go to the cell', async () => {
  const s = newSession();
  const { events } = await run(s, [
    "const p = llmnb.progress({ label: 'work', total: 5000 })",
    'for (let i = 0; i < 5000; i++) p.update(i + 1)',
    "p.finish('done')",
    "llmnb.table({ name: ['a', 'bb'], bytes: [1, 22] })",
  ].join('\n'));
  const progress = events.filter((e) => e.kind === 'output' && e.key !== undefined);
  assert.ok(progress.length >= 2 && progress.length <= 5, `${progress.length} progress messages`);
  assert.ok(progress.every((e) => e.kind === 'output' && e.key === 'progress-1'));
  assert.match(outputText((progress.at(-1) as { output: CellOutput }).output), /^work\s+100%\s+\[#+\]\s+5000\/5000\s+done/);
  const table = (events.at(-1) as { output: CellOutput }).output;
  assert.equal(outputText(table), 'name  bytes\n----  -----\na         1\nbb       22');
  assert.ok(table.items.some((i) => i.mime === 'application/vnd.apache.arrow.file' && i.encoding === 'base64'));
});

test('a cell that prints too much is cut with a notice', async () => {
  const s = new Session({ cwd: process.cwd(), openGpu: noGpu, magics: [], writer: { maxStreamChars: 100 } });
  const { text } = await run(s, "for (let i = 0; i < 50; i++) console.log('0123456789')");
  assert.equal(text.split('0123456789').length - 1, 9);
  assert.match(text, /\[450 more characters of output were dropped/);
});

test('the gpu error reaches cells that need a device', async () => {
  const s = newSession();
  const { result } = await run(s, 'await llmnb.gpu()');
  assert.equal(result.error?.name, 'NoAdapterError');
  assert.ok(new NoAdapterError('x') instanceof LlmnbError);
});

test('inspect resolves property paths without running code', async () => {
  const s = newSession();
  await run(s, [
    "globalThis.touched = false",
    "const m = { layers: [{ q: { shape: [64, 64], dtype: 'bf16' } }], name: 'tiny' }",
    "Object.defineProperty(m, 'lazy', { get() { touched = true; return 1 } })",
  ].join('\n'));
  assert.deepEqual(s.inspect('m.layers[0].q')?.tensor, { dtype: 'bf16', shape: [64, 64], bytes: 8192 });
  assert.equal(s.inspect("m['name']")?.text, '"tiny"');
  assert.equal(s.inspect('m.layers')?.type, 'Array(1)');
  assert.equal(s.inspect('m.lazy'), null, 'getters are not called');
  assert.equal(s.inspect('m.layers.at(0)'), null, 'calls are not made');
  assert.equal(s.inspect('nothing.here'), null);
  assert.equal((await run(s, 'touched')).text, 'false\n');
});
