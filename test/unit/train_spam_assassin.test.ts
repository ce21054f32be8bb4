import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SPLITS, cleanMessage, spamAssassinMessages, splitSpamAssassin, writeSplitCsvs } from '../../kernel/train/spam_assassin.js';
import { loadExamples } from '../../kernel/train/dataset.js';
import { tempDir } from './helpers/io.js';

const MULTIPART = [
  'From someone@example.com  Thu Aug 22 13:17:22 2002',
  'Received: from mail.example.com by relay',
  'Subject: =?iso-8859-1?Q?Caf=E9_offer?= for you',
  'Content-Type: multipart/mixed;',
  '\tboundary="outer"',
  '',
  'This is a multi-part message in MIME format.',
  '--outer',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Cheap tickets to Par=',
  'is, only =A3 99!',
  '--inner',
  'Content-Type: text/html',
  '',
  '<html><body><b>HTML copy</b></body></html>',
  '--inner--',
  '--outer',
  'Content-Type: text/plain; name="terms.txt"',
  'Content-Disposition: attachment; filename="terms.txt"',
  '',
  'attached terms that are not the message',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('Reply   soon \u2013 ok?\n').toString('base64'),
  '--outer--',
  '',
].join('\n');

test('cleanMessage: subject and text parts only, MIME decoded, whitespace collapsed', () => {
  assert.equal(cleanMessage(MULTIPART), 'Caf\u00e9 offer for you\nCheap tickets to Paris, only \u00a3 99! Reply soon \u2013 ok?');
  const html = [
    'Subject: Win',
    'Content-Type: text/html; charset="us-ascii"',
    '',
    '<HTML><HEAD><TITLE>t</TITLE><STYLE>p { color: red }</STYLE></HEAD><BODY><!-- hidden -->',
    '<P>You&nbsp;won &amp; more:<BR>click&#33; &#x263A;</P></BODY></HTML>',
  ].join('\r\n');
  assert.equal(cleanMessage(html), 'Win\nYou won & more: click! \u263a');
  assert.equal(cleanMessage('Subject: plain\n\nno MIME headers\n\n  at all'), 'plain\nno MIME headers at all');
  assert.equal(cleanMessage('To: a@b.c\n\nno subject'), 'no subject');
  // Truncation never splits a surrogate pair.
  assert.equal(cleanMessage(`Subject: x\n\n${'a'.repeat(6)}\u{1F600}b`, 9), 'x\naaaaaa');
  assert.equal(cleanMessage(`Subject: x\n\n${'a'.repeat(6)}\u{1F600}b`, 10), 'x\naaaaaa\u{1F600}');
});

test('the SpamAssassin split: balanced, 70/10/20 per class, disjoint, independent of corpus order, written as text,label CSV', async () => {
  const maxChars = 600;
  const messages = spamAssassinMessages({ maxChars });
  assert.equal(messages.length, 6046);
  assert.equal(messages.filter((m) => m.label === 'spam').length, 1896, 'spam-1 + spam-2');
  const split = splitSpamAssassin(messages);
  const perClass = split.counts.train.ham + split.counts.validation.ham + split.counts.test.ham;
  for (const s of SPLITS) assert.equal(split.counts[s].ham, split.counts[s].spam, `${s} balanced`);
  assert.equal(split.counts.train.ham, Math.floor(perClass * 0.7));
  assert.equal(split.counts.validation.ham, Math.floor(perClass * 0.1));
  const { empty, duplicates, hamUndersampled } = split.dropped;
  assert.equal(2 * perClass + empty + duplicates + hamUndersampled, messages.length, 'every message is used or accounted for');
  // Same split whatever order the package lists the messages in.
  const reversed = splitSpamAssassin([...messages].reverse());
  for (const s of SPLITS) assert.deepEqual(reversed.splits[s].map((m) => m.id), split.splits[s].map((m) => m.id), `${s} order-independent`);
  // No text in two splits; lengths capped.
  const owner = new Map<string, string>();
  for (const s of SPLITS) {
    for (const m of split.splits[s]) {
      assert.ok(!owner.has(m.text), `${m.id} text also in ${owner.get(m.text)}`);
      owner.set(m.text, s);
      assert.ok(m.text.length <= maxChars);
    }
  }
  // Every raw message has Received headers; only a few bodies quote some (forwarded mail).
  const received = messages.filter((m) => m.text.includes('Received: from')).length;
  assert.ok(received < 0.03 * messages.length, `${received} cleaned messages still hold Received headers`);
  // Spam is the smaller class: every spam message whose text occurs once in the corpus is used.
  const textCount = new Map<string, number>();
  for (const m of messages) textCount.set(m.text, (textCount.get(m.text) ?? 0) + 1);
  const uniqueSpam = messages.filter((m) => m.label === 'spam' && textCount.get(m.text) === 1);
  assert.ok(uniqueSpam.length > 1500);
  for (const m of uniqueSpam) assert.ok(owner.has(m.text), `${m.id} missing from every split`);
  const dir = tempDir();
  const written = writeSplitCsvs(dir, split);
  for (const s of SPLITS) {
    const ex = await loadExamples(written.files[s]);
    assert.equal(ex.rows, split.counts[s].total);
    assert.deepEqual(ex.labelNames, ['ham', 'spam'], 'ch06 mapping: ham 0, spam 1');
    assert.deepEqual(ex.texts, split.splits[s].map((m) => m.text), `${s}.csv round-trips the texts`);
    assert.deepEqual([...ex.labels], split.splits[s].map((m) => (m.label === 'spam' ? 1 : 0)));
  }
});
