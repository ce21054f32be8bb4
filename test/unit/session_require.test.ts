// `require('apache-arrow')` in a cell gives the kernel's own apache-arrow: a table built in a cell is a table to
// llmnb.table (one Table class), whatever copy of the package node_modules holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { itemBytes, type OutputItem } from '../../kernel/notebook/format.js';
import { ARROW_MIME } from '../../kernel/output/table.js';
import { Session } from '../../kernel/session.js';
import { runOk } from './helpers/session.js';

test('a cell\'s apache-arrow table is shown by llmnb.table as it is', async () => {
  const s = new Session({ cwd: process.cwd(), openGpu: () => Promise.reject(new Error('no GPU in this test')) });
  const run = await runOk(s, "const arrow = require('apache-arrow')\nllmnb.table(arrow.tableFromJSON([{ step: 1, loss: 2.5 }, { step: 2, loss: 2 }, { step: 3, loss: 1.75 }]))");
  const item = run.outputs.flatMap((o) => o.items).find((i) => i.mime === ARROW_MIME) as OutputItem;
  const table = tableFromIPC(itemBytes(item));
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['step', 'loss']);
  assert.deepEqual([...table.getChild('loss')!.toArray()], [2.5, 2, 1.75]);
});
