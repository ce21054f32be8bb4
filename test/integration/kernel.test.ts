// The llmnb controller and kernel process in a real VS Code: cells run in the kernel with their outputs streamed
// into the cell; interrupt, restart and a killed kernel behave as the user needs.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LlmnbApi } from '../../src/api.js';
import { appendCell, cellText, executeCell, extensionApi, finished, mimes, openNotebook, runCell, waitFor } from './helpers.js';

suite('llmnb kernel', () => {
  let nb: vscode.NotebookDocument;
  let api: LlmnbApi;

  suiteSetup(async () => {
    api = await extensionApi();
    nb = await openNotebook('scratch.llmnb');
  });

  test('JavaScript cells: top-level await, console.log and the final value', async () => {
    const cell = await runCell(nb, "const answer = await Promise.resolve(41)\nconsole.log('hello from the kernel')\nanswer + 1");
    assert.equal(cell.executionSummary?.success, true, cellText(cell));
    assert.ok(mimes(cell).includes('application/vnd.code.notebook.stdout'), mimes(cell).join());
    assert.match(cellText(cell), /hello from the kernel\n[\s\S]*\b42\b/);
    assert.ok((cell.executionSummary?.executionOrder ?? 0) >= 1);
    assert.ok(api.kernelPid(nb.uri), 'a kernel process runs');
    const next = await runCell(nb, 'answer * 2');
    assert.match(cellText(next), /\b82\b/, 'declarations persist across cells');
  });

  test('%device shows the SwiftShader adapter', async () => {
    const cell = await runCell(nb, '%device');
    assert.equal(cell.executionSummary?.success, true, cellText(cell));
    assert.match(cellText(cell), /adapter\s+.*swiftshader/i);
  });

  test('an error shows its name, message and hint', async () => {
    const cell = await runCell(nb, "throw new llmnb.errors.UsageError('no such layer', 'Use %tensors to list them.')");
    assert.equal(cell.executionSummary?.success, false);
    const item = cell.outputs[0].items.find((i) => i.mime === 'application/vnd.code.notebook.error');
    assert.ok(item, mimes(cell).join());
    const err = JSON.parse(new TextDecoder().decode(item.data)) as { name: string; message: string; stack: string };
    assert.equal(err.name, 'UsageError');
    assert.equal(err.message, 'no such layer');
    assert.match(err.stack, /hint: Use %tensors to list them\./);
    const magic = await runCell(nb, '%device --bogus 1');
    assert.match(cellText(magic), /unknown flag --bogus[\s\S]*--memory-limit/);
  });

  test('a progress line is updated in place', async () => {
    const cell = await runCell(nb, [
      "const p = llmnb.progress({ label: 'steps', total: 30, intervalMs: 20 })",
      'for (let i = 0; i < 30; i++) { await new Promise((r) => setTimeout(r, 10)); p.update(i + 1) }',
      'p.finish()',
    ].join('\n'));
    assert.equal(cell.executionSummary?.success, true, cellText(cell));
    assert.equal(cell.outputs.length, 1, cellText(cell));
    assert.match(cellText(cell), /steps\s+100%.*30\/30/);
  });

  test('interrupt stops a long cell at a step boundary and keeps the kernel state', async () => {
    const pid = api.kernelPid(nb.uri);
    const index = await appendCell(nb, "let steps = 0\nconsole.log('looping')\nfor (;;) { steps++; await llmnb.step() }");
    const running = executeCell(nb, index);
    const cell = nb.cellAt(index);
    await waitFor('the loop to start', () => cellText(cell).includes('looping'));
    await vscode.commands.executeCommand('notebook.cancelExecution', nb.uri);
    await running;
    await waitFor('the cell to finish', () => finished(cell));
    assert.equal(cell.executionSummary?.success, false);
    assert.match(cellText(cell), /CancelledError/);
    assert.equal(api.kernelPid(nb.uri), pid, 'same kernel process');
    assert.match(cellText(await runCell(nb, 'steps > 0')), /true/);
  });

  test('interrupt stops a synchronous endless loop', async () => {
    const index = await appendCell(nb, 'while (true) {}');
    const running = executeCell(nb, index);
    await new Promise((r) => setTimeout(r, 1500));
    await vscode.commands.executeCommand('llmnb.interruptKernel', nb.uri);
    await running;
    const cell = nb.cellAt(index);
    await waitFor('the cell to finish', () => finished(cell));
    assert.equal(cell.executionSummary?.success, false);
    assert.match(cellText(cell), /synchronous code/);
    assert.match(cellText(await runCell(nb, "'still alive'")), /still alive/);
  });

  test('restart starts a fresh kernel process', async () => {
    await runCell(nb, 'globalThis.kept = 1');
    const before = api.kernelPid(nb.uri);
    await vscode.commands.executeCommand('llmnb.restartKernel', nb.uri);
    const after = api.kernelPid(nb.uri);
    assert.ok(after && after !== before, `pid ${before} -> ${after}`);
    assert.match(cellText(await runCell(nb, 'typeof kept')), /'undefined'/);
  });

  test('a killed kernel is reported in the cell and a notification, and the next cell gets a new kernel', async () => {
    const index = await appendCell(nb, "console.log('spinning')\nfor (;;) await llmnb.step()");
    const running = executeCell(nb, index);
    const cell = nb.cellAt(index);
    await waitFor('the loop to start', () => cellText(cell).includes('spinning'));
    const pid = api.kernelPid(nb.uri);
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await running;
    await waitFor('the cell to finish', () => finished(cell));
    assert.equal(cell.executionSummary?.success, false);
    assert.match(cellText(cell), /KernelExitedError[\s\S]*killed by SIGKILL/);
    await waitFor('a notification', () => api.notifications.some((n) => /was killed \(SIGKILL\)/.test(n)));
    const next = await runCell(nb, '1 + 1');
    assert.match(cellText(next), /\b2\b/);
    assert.notEqual(api.kernelPid(nb.uri), pid);
  });
});
