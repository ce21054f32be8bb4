// llmnb.replaceHead / %replace_head (a classifier head in the model's dtype, the old head freed) and
// llmnb.classify / %classify (label and probabilities at the last token).
import { formatBytes } from '../gpu/format.js';
import { resolvePath } from '../magics/parse.js';
import { classifyIds, type Classification } from '../model/classify.js';
import { describeHead, replaceHead, type ReplaceHeadOptions, type ReplaceHeadReport } from '../model/head.js';
import { textOutput } from '../output/text.js';
import { boundModel, boundTokenizer, type ApiContext } from './context.js';
import { withDisplay } from './display.js';

export interface HeadReplaced extends ReplaceHeadReport {
  /** The new head, in words. */
  head: string;
}

export async function sessionReplaceHead(ctx: ApiContext, opts: ReplaceHeadOptions): Promise<HeadReplaced> {
  const model = boundModel(ctx);
  const init = opts.init === undefined ? {} : { init: resolvePath(opts.init, ctx.session.cwd) };
  const report = await replaceHead(model, { ...opts, ...init });
  await model.gpu.sync();
  const result: HeadReplaced = { ...report, head: describeHead(model) };
  return withDisplay(result, (r) => textOutput([
    `Removed ${r.removed}${r.freedBytes ? `; freed ${formatBytes(r.freedBytes)}` : ''}.`,
    `New head: ${r.head}${opts.init ? `, initialized from ${opts.init}` : `, initialized uniform(±1/sqrt(${model.config.hiddenSize})) from seed ${opts.seed ?? 0}`}` +
      `${r.castFrom ? ` (converted: ${r.castFrom})` : ''}.`,
  ].join('\n')));
}

export interface ClassifyResult extends Classification {
  text: string;
}

export async function sessionClassify(ctx: ApiContext, text: string): Promise<ClassifyResult> {
  const model = boundModel(ctx);
  const tokenizer = boundTokenizer(ctx);
  const result: ClassifyResult = { ...(await classifyIds(model, tokenizer.encode(text))), text };
  return withDisplay(result, (r) => {
    const width = Math.max(...r.probabilities.map((p) => p.label.length));
    const lines = [`${r.label}  (${r.tokens} tokens${r.truncated ? `, truncated to the ${r.tokens}-token context` : ''})`,
      ...r.probabilities.map((p) => `  ${p.label.padEnd(width)}  ${p.probability.toFixed(4)}`)];
    return textOutput(lines.join('\n'));
  });
}
