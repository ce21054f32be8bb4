// %load_inplace PATH [--partial] [--dtype-cast]: llmnb.loadInplace. Streams a checkpoint into the bound model's
// buffers after checking every header; a bad file changes nothing; an interrupt leaves each tensor old or new.
import { sessionLoadInplace } from '../api/load_inplace.js';
import { defineMagic } from './types.js';

export default defineMagic({
  name: 'load_inplace',
  summary: 'Stream weights from a checkpoint into the loaded model, tensor by tensor (safetensors, sharded, .pth)',
  params: {
    path: { type: 'path', positional: true, required: true, summary: 'safetensors file, folder (sharded or not), or torch.save .pth/.pt/.bin' },
    partial: { type: 'bool', summary: 'tensors the file lacks keep their current values' },
    dtypeCast: { type: 'bool', summary: 'convert file dtypes to the model\'s (F32 -> bf16 rounds to nearest even)' },
  },
  details: 'Names may be HF (model.layers.0.self_attn.q_proj.weight) or LLMs-from-scratch (trf_blocks.0.att.W_query.weight). '
    + 'A classifier checkpoint (out_head.weight [C, D]) needs a classifier head first: %replace_head --classes C.',
  async run(args, ctx) {
    ctx.out.display(await sessionLoadInplace(ctx, args.path, { partial: args.partial, dtypeCast: args.dtypeCast }));
  },
});
