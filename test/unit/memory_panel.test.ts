// The memory panel's numbers (media/memory/model.ts, decoding the kernel's Arrow snapshot) against %memory and the
// allocator, byte for byte; and the kernel process side of the panel: pushed snapshots that keep every spike
// between two pushes, `%memory --panel` asking the host for the panel, hovers answered while a cell runs.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { KernelClient } from '../../kernel/client.js';
import { MEMORY_KINDS } from '../../kernel/gpu/allocator.js';
import { itemBytes, type OutputItem } from '../../kernel/notebook/format.js';
import { memorySnapshotMessage } from '../../kernel/output/memory.js';
import { ARROW_MIME } from '../../kernel/output/table.js';
import type { HostView, MemorySnapshotMessage } from '../../kernel/protocol.js';
import { base64Bytes, panelData } from '../../media/memory/model.js';
import { REFERENCE_MODEL } from './helpers/io.js';
import { disposeModel, gpuSession, runOk } from './helpers/session.js';

const BLOCK_BYTES = 2 * (64 + 64 * 64 + 32 * 64 + 32 * 64 + 64 * 64 + 64 + 3 * 192 * 64);

test('the panel\'s bytes per layer and kind equal %memory\'s and the allocator\'s', async () => {
  const s = gpuSession();
  await runOk(s, `%load_model ${REFERENCE_MODEL}\n%load_inplace ${REFERENCE_MODEL}`);
  // Live activations next to the weights: two kinds in some layers.
  await runOk(s, "const g = await llmnb.gpu(); globalThis.kept = g.createBuffer(3000, { layer: 'block.1', tensor: 'kept', kind: 'activations' })");
  const run = await runOk(s, '%memory');
  const arrow = run.outputs.flatMap((o) => o.items).find((i) => i.mime === ARROW_MIME) as OutputItem;
  const memory = tableFromIPC(itemBytes(arrow)).toArray() as Record<string, unknown>[];
  const snapshot = (await s.gpu()).allocator.snapshot();
  const message = memorySnapshotMessage(snapshot);
  const data = panelData(message, base64Bytes(message.arrowBase64));

  const layerRows = memory.filter((r) => r.layer !== 'total');
  assert.deepEqual(data.layers.filter((r) => r.total > 0).map((r) => r.layer), layerRows.map((r) => r.layer), 'same layers in the same order');
  for (const r of layerRows) {
    const row = data.layers.find((l) => l.layer === r.layer)!;
    for (const k of MEMORY_KINDS) assert.equal(row.bytes[k], r[k], `${r.layer} ${k}`);
    assert.equal(row.total, r.total);
    // The allocator's own tags, summed independently.
    const tags = snapshot.rows.filter((t) => t.layer === r.layer);
    assert.equal(row.total, tags.reduce((sum, t) => sum + t.liveBytes, 0));
    assert.equal(row.peak, snapshot.layers[String(r.layer)].peakBytes);
  }
  const totalRow = memory.find((r) => r.layer === 'total')!;
  for (const k of MEMORY_KINDS) {
    assert.equal(data.totals[k], totalRow[k]);
    assert.equal(data.totals[k], snapshot.kinds[k].liveBytes);
  }
  assert.equal(data.liveBytes, totalRow.total);
  assert.equal(data.liveBytes, snapshot.liveBytes);
  // Independent of both: the weights from the config, and the activation buffer allocated above.
  assert.equal(data.layers.find((l) => l.layer === 'block.0')?.bytes.weights, BLOCK_BYTES);
  assert.equal(data.layers.find((l) => l.layer === 'block.1')?.bytes.activations, 3000);
  // Layers empty now but with a peak (the load's staging chunk) are rows with nothing live.
  for (const r of data.layers.filter((l) => !layerRows.some((m) => m.layer === l.layer))) {
    assert.equal(r.total, 0);
    assert.ok(r.peak > 0);
  }
  assert.ok(data.kinds.staging.peakBytes > 0 && data.kinds.staging.liveBytes === 0, 'the staging chunk was live during the load only');
  await runOk(s, '(await llmnb.gpu()).allocator.destroy(kept)');
  disposeModel(s);
});

// The kernel process, from its sources (tsx).
const client = new KernelClient({ kernelPath: path.resolve('kernel/main.ts'), execArgv: ['--import', 'tsx'], cwd: process.cwd() });
after(() => client.shutdown());

async function ok(source: string): Promise<void> {
  const done = await client.execute(source);
  assert.equal(done.success, true, `${source}: ${done.error?.message}`);
}

test('pushed snapshots carry the highest live bytes since the previous push, per-kind and per-layer peaks', async () => {
  await client.start();
  const pushed: MemorySnapshotMessage[] = [];
  const off = client.onMemory((m) => { if (m) pushed.push(m); });
  client.watchMemory(200);
  await new Promise((r) => setTimeout(r, 300));
  const base = pushed.at(-1)!.liveBytes;
  const count = pushed.length;
  // 1 MiB live for an instant, within one throttle interval.
  await ok("const g = await llmnb.gpu(); const b = g.createBuffer(1 << 20, { layer: 'runtime', tensor: 'spike', kind: 'other' }); g.allocator.destroy(b)");
  await new Promise((r) => setTimeout(r, 500));
  client.watchMemory(null);
  off();
  const after = pushed.slice(count);
  assert.ok(after.length >= 1, 'a push after the change');
  const spike = after[0];
  assert.equal(spike.liveBytes, base);
  assert.equal(spike.intervalPeakBytes, base + (1 << 20));
  assert.ok(spike.kinds.other.peakBytes >= 1 << 20);
  assert.ok(spike.layers.runtime.peakBytes >= 1 << 20);
  assert.ok(spike.time >= pushed[count - 1].time);
});

test('%memory --panel asks the host for the memory panel; hovers are answered while a cell runs', async () => {
  const views: HostView[] = [];
  const off = client.onShowView((v) => views.push(v));
  await ok('%memory --panel');
  off();
  assert.deepEqual(views, ['memory']);
  const running = client.execute("globalThis.t = { shape: [4, 2], dtype: 'f32' }\nfor (let i = 0; i < 40; i++) await new Promise((r) => setTimeout(r, 25))");
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  const hover = await client.inspect('t', 500);
  assert.ok(Date.now() - t0 < 500);
  assert.deepEqual(hover?.tensor, { dtype: 'f32', shape: [4, 2], bytes: 32 });
  assert.equal((await running).success, true);
});
