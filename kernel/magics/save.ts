// %save PATH [--trainable-only]: llmnb.save. Safetensors with HF names, streamed from the GPU, written atomically;
// a folder gets config.json too, so %load_model loads it again (classifier head and labels included).
import { sessionSave } from '../api/save.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'save',
  summary: 'Save the model as safetensors (a folder also gets config.json)',
  params: {
    path: { type: 'path', positional: true, required: true, summary: 'a .safetensors file, or a folder (created if needed) for model.safetensors + config.json' },
    trainableOnly: { type: 'bool', summary: 'only the trainable tensors (load them with %load_inplace FILE --partial)' },
  },
  details: 'Examples: %save ./spam-classifier   %save ./delta.safetensors --trainable-only',
  async run(args, ctx) {
    ctx.out.display(await sessionSave(ctx, args.path, { trainableOnly: args.trainableOnly }));
  },
});
