// The kernel process through kernel/client.ts, as the extension and `llmnb run` use it: ready with the device,
// outputs streamed, cells run in order, a failure aborts the queue, interrupts (step boundary and synchronous
// loops), memory snapshots as Arrow, and a killed process reported and replaced.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { KernelClient, KernelExitedError, type KernelExit } from '../../kernel/client.js';
import { outputText } from '../../kernel/notebook/format.js';

// kernel/main.ts through tsx, so that the test runs the sources, not a stale build.
const client = new KernelClient({ kernelPath: path.resolve('kernel/main.ts'), execArgv: ['--import', 'tsx'], cwd: process.cwd() });
const exits: KernelExit[] = [];
client.onExit((e) => exits.push(e));
after(() => client.shutdown());

async function run(source: string) {
  const texts: string[] = [];
  const done = await client.execute(source, {
    onOutput: (o) => texts.push(outputText(o)),
    onStream: (_n, t) => texts.push(t),
  });
  return { done, text: texts.join('') };
}

test('ready names the device and the protocol; cells stream outputs and get execution orders', async () => {
  const ready = await client.start();
  assert.equal(ready.protocol, 2);
  assert.match(ready.device?.adapter ?? '', /swiftshader/i);
  const orders: number[] = [];
  const streamed: string[] = [];
  const done = await client.execute("console.log('one')\nawait llmnb.step()\nconsole.log('two')\n3", {
    onStarted: (e) => orders.push(e.order),
    onStream: (_n, t) => streamed.push(t),
  });
  assert.equal(done.success, true);
  assert.equal(streamed.join(''), 'one\ntwo\n');
  assert.ok(Number.isInteger(done.durationMs));
  const second = await client.execute('1', { onStarted: (e) => orders.push(e.order) });
  assert.equal(second.success, true);
  assert.equal(orders[1], orders[0] + 1);
});

test('cells queue in order; a failure aborts the cells queued behind it', async () => {
  const results = await Promise.all([
    run("await new Promise((r) => setTimeout(r, 50)); 'first'"),
    run("throw new Error('second fails')"),
    run("'third'"),
  ]);
  assert.equal(results[0].text, "'first'");
  assert.equal(results[1].done.error?.message, 'second fails');
  assert.equal(results[2].done.aborted, true);
  assert.equal(results[2].text, '');
});

test('an error thrown later by a timer or a forgotten promise lands in the running cell, and the kernel lives on', async () => {
  const r = await run("setTimeout(() => { throw new TypeError('late') }, 5)\nPromise.reject(new Error('ignored'))\nawait new Promise((r) => setTimeout(r, 100))");
  assert.equal(r.done.success, true);
  assert.match(r.text, /uncaught exception: TypeError: late\n/);
  assert.match(r.text, /unhandled promise rejection: Error: ignored\n/);
  assert.equal((await run('2 + 2')).text, '4');
});

test('interrupt stops a step loop and a synchronous loop; the kernel keeps its state', async () => {
  await run('globalThis.kept = 7');
  setTimeout(() => client.interrupt(), 300);
  assert.equal((await run('for (;;) await llmnb.step()')).done.error?.name, 'CancelledError');
  setTimeout(() => client.interrupt(), 300);
  const sync = await run('while (true) {}');
  assert.equal(sync.done.error?.name, 'CancelledError');
  assert.match(sync.done.error?.message ?? '', /synchronous code/);
  assert.equal((await run('kept')).text, '7');
});

test('memory snapshots are Arrow tables of the allocator rows; inspect answers hovers', async () => {
  await run("%device --memory-limit 1GiB\nglobalThis.w = { shape: [64, 64], dtype: 'bf16' }");
  const snap = await client.memory();
  assert.ok(snap);
  const table = tableFromIPC(Buffer.from(snap.arrowBase64, 'base64'));
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['layer', 'tensor', 'kind', 'liveBytes', 'peakBytes', 'buffers']);
  assert.equal(table.schema.metadata.get('limitBytes'), String(2 ** 30));
  const live = table.getChild('liveBytes')?.toArray() as Float64Array;
  assert.equal(live.reduce((a, b) => a + b, 0), snap.liveBytes);
  assert.deepEqual((await client.inspect('w'))?.tensor, { dtype: 'bf16', shape: [64, 64], bytes: 8192 });
});

test('a killed kernel fails the running cell and is reported; the next cell starts a new process', async () => {
  const pid = client.pid;
  assert.ok(pid);
  const running = run('for (;;) await llmnb.step()');
  await new Promise((r) => setTimeout(r, 200));
  process.kill(pid, 'SIGKILL');
  await assert.rejects(running, (e: unknown) => e instanceof KernelExitedError && /killed by SIGKILL unexpectedly/.test(e.message));
  assert.deepEqual(exits.map((e) => [e.signal, e.expected]), [['SIGKILL', false]]);
  assert.equal((await run('typeof kept')).text, "'undefined'");
  assert.notEqual(client.pid, pid);
  const before = client.pid;
  await client.restart();
  assert.notEqual(client.pid, before);
  assert.deepEqual(exits.at(-1)?.expected, true, 'a restart is an expected exit');
});
