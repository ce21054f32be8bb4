// The .llmnb serializer inside VS Code: cells, outputs and execution info open as they are in the file, saving
// writes the same bytes, and a file that cannot be read is an error, never an empty notebook.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { parseNotebook } from '../../kernel/notebook/format.js';
import { fixtureUri } from './helpers.js';

suite('llmnb notebooks', () => {
  test('a .llmnb opens with its cells, languages, outputs and execution info', async () => {
    const uri = fixtureUri('outputs.llmnb');
    const file = parseNotebook(await vscode.workspace.fs.readFile(uri));
    const nb = await vscode.workspace.openNotebookDocument(uri);
    assert.equal(nb.notebookType, 'llmnb');
    assert.equal(nb.cellCount, file.cells.length);
    assert.deepEqual(nb.metadata, file.metadata);
    for (const [i, fc] of file.cells.entries()) {
      const cell = nb.cellAt(i);
      assert.equal(cell.document.getText(), fc.source, `cell ${i} source`);
      assert.equal(cell.kind, fc.kind === 'code' ? vscode.NotebookCellKind.Code : vscode.NotebookCellKind.Markup);
      assert.equal(cell.document.languageId, fc.kind === 'code' ? 'llmnb' : 'markdown');
      if (fc.kind !== 'code') continue;
      assert.equal(cell.outputs.length, fc.outputs?.length ?? 0, `cell ${i} outputs`);
      assert.equal(cell.executionSummary?.executionOrder, fc.execution?.order);
      assert.equal(cell.executionSummary?.success, fc.execution?.success);
      const t = cell.executionSummary?.timing;
      assert.equal(t ? t.endTime - t.startTime : undefined, fc.execution?.durationMs);
    }
    // Stream outputs become VS Code's stdout/stderr items; an error keeps VS Code's error item.
    assert.deepEqual(nb.cellAt(1).outputs.map((o) => o.items[0].mime),
      ['application/vnd.code.notebook.stdout', 'application/vnd.code.notebook.stderr', 'text/plain']);
    assert.ok(nb.cellAt(3).outputs[0].items.some((i) => i.mime === 'application/vnd.code.notebook.error'));
    assert.ok(nb.cellAt(2).outputs[0].items.some((i) => i.mime === 'application/vnd.apache.arrow.file'));
  });

  test('saving an edited-then-restored notebook writes identical bytes', async () => {
    const uri = fixtureUri('outputs.llmnb');
    const before = await vscode.workspace.fs.readFile(uri);
    const nb = await vscode.workspace.openNotebookDocument(uri);
    const insert = new vscode.WorkspaceEdit();
    insert.set(uri, [vscode.NotebookEdit.insertCells(0, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, 'tmp', 'llmnb')])]);
    assert.ok(await vscode.workspace.applyEdit(insert));
    const remove = new vscode.WorkspaceEdit();
    remove.set(uri, [vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(0, 1))]);
    assert.ok(await vscode.workspace.applyEdit(remove));
    assert.ok(nb.isDirty, 'the edits should make the notebook dirty');
    assert.ok(await nb.save(), 'save');
    const after = await vscode.workspace.fs.readFile(uri);
    assert.equal(new TextDecoder().decode(after), new TextDecoder().decode(before));
  });

  test('malformed JSON or an unknown version is an error, not an empty notebook', async () => {
    const open = (name: string) => async () => { await vscode.workspace.openNotebookDocument(fixtureUri(name)); };
    await assert.rejects(open('broken.llmnb'), /not valid JSON/);
    await assert.rejects(open('future.llmnb'), /version 2 is not supported/);
  });
});
