// %classify "text": llmnb.classify. The label and the probability of each class (softmax of the classifier
// head's logits at the last token).
import { sessionClassify } from '../api/head.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'classify',
  summary: 'Classify a text with the classifier head: label and probabilities',
  params: {
    text: { type: 'string', positional: true, required: true, summary: 'the text (quote it)' },
  },
  details: 'Example: %classify "You won a prize! Reply now to claim it"',
  async run(args, ctx) {
    ctx.out.display(await sessionClassify(ctx, args.text));
  },
});
