// The memory panel in VS Code: `%memory --panel` opens it on the notebook, and the table its webview renders has
// the same bytes as %memory's Arrow table and the allocator's snapshot, byte for byte; it follows allocations live.
import * as assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import * as vscode from 'vscode';
import type { LlmnbApi } from '../../src/api.js';
import { cellText, extensionApi, openNotebook, runCell, waitFor } from './helpers.js';

const KINDS = ['weights', 'grads', 'optimizer', 'activations', 'staging', 'other'];

interface AllocatorSnapshot {
  rows: { layer: string; kind: string; liveBytes: number }[];
  liveBytes: number;
  peakBytes: number;
  layers: Record<string, { liveBytes: number; peakBytes: number }>;
}

suite('memory panel', () => {
  let nb: vscode.NotebookDocument;
  let api: LlmnbApi;

  suiteSetup(async () => {
    api = await extensionApi();
    nb = await openNotebook('panel.llmnb');
  });

  suiteTeardown(async () => {
    if (!process.env.LLMNB_KEEP_PANEL) await vscode.commands.executeCommand('workbench.action.closeEditorsInOtherGroups');
  });

  test('%memory --panel opens the panel; its table equals %memory and the allocator byte for byte', async () => {
    const load = await runCell(nb, '%load_model reference/model_bf16.safetensors\n%load_inplace reference/model_bf16.safetensors');
    assert.equal(load.executionSummary?.success, true, cellText(load));
    const memory = await runCell(nb, '%memory --panel');
    assert.equal(memory.executionSummary?.success, true, cellText(memory));
    const arrow = memory.outputs.flatMap((o) => o.items).find((i) => i.mime === 'application/vnd.apache.arrow.file');
    assert.ok(arrow, 'an Arrow table');
    const rows = tableFromIPC(arrow.data).toArray() as Record<string, string | number>[];
    const allocatorCell = await runCell(nb, 'console.log(JSON.stringify((await llmnb.gpu()).allocator.snapshot()))');
    const allocator = JSON.parse(cellText(allocatorCell)) as AllocatorSnapshot;

    const table = await waitFor('the panel to render the notebook', () => {
      const p = api.memoryPanel;
      return p.visible && p.notebook?.toString() === nb.uri.toString() && p.table?.notebook === 'panel.llmnb' && p.table;
    });
    assert.deepEqual(table.header, ['layer', ...KINDS, 'total', 'peak']);
    const byLayer = new Map(table.rows.map((r) => [r.cells[0], r]));
    for (const r of rows) {
      const shown = byLayer.get(String(r.layer));
      assert.ok(shown, `panel row ${r.layer}`);
      KINDS.forEach((k, i) => assert.equal(shown.bytes[i + 1], r[k], `${r.layer} ${k}`));
      assert.equal(shown.bytes[KINDS.length + 1], r.total, `${r.layer} total`);
      if (r.layer === 'total') continue;
      const tagged = allocator.rows.filter((t) => t.layer === r.layer);
      for (const k of KINDS) {
        assert.equal(shown.bytes[KINDS.indexOf(k) + 1], tagged.filter((t) => t.kind === k).reduce((s, t) => s + t.liveBytes, 0), `${r.layer} ${k} (allocator)`);
      }
      assert.equal(shown.bytes[KINDS.length + 2], allocator.layers[String(r.layer)].peakBytes, `${r.layer} peak`);
    }
    const total = byLayer.get('total')!;
    assert.equal(total.bytes[KINDS.length + 1], allocator.liveBytes);
    assert.equal(total.bytes[KINDS.length + 2], allocator.peakBytes);
    // The text is %memory's: binary units, '-' for nothing (block.0 holds 98560 bytes of weights).
    assert.match(cellText(memory), /^block\.0\s+96\.3 KiB\s+-\s/m);
    assert.deepEqual(byLayer.get('block.0')?.cells.slice(0, 3), ['block.0', '96.3 KiB', '-']);
  });

  test('the panel follows allocations while cells run', async () => {
    const OTHER = KINDS.indexOf('other') + 1;
    const TOTAL = KINDS.length + 1;
    const shown = (layer: string, column: number) => api.memoryPanel.table?.rows.find((r) => r.cells[0] === layer)?.bytes[column] ?? 0;
    const [runtimeBefore, totalBefore] = [shown('runtime', OTHER), shown('total', TOTAL)];
    const cell = await runCell(nb, "const g = await llmnb.gpu()\nglobalThis.extra = g.createBuffer(1 << 20, { layer: 'runtime', tensor: 'extra', kind: 'other' })");
    assert.equal(cell.executionSummary?.success, true, cellText(cell));
    await waitFor('the panel to show the new buffer', () => shown('runtime', OTHER) === runtimeBefore + (1 << 20), 5000);
    assert.equal(shown('total', TOTAL), totalBefore + (1 << 20));
  });
});
