// Parameter names. HF Llama names are canonical (`model.layers.N.self_attn.q_proj.weight`, ...); the names of
// rasbt/LLMs-from-scratch's Llama3Model (pkg/llms_from_scratch/llama3.py: `trf_blocks.N.att.W_query.weight`,
// `ff.fc1` = gate, `ff.fc2` = up, `ff.fc3` = down, `norm1`/`norm2`, `tok_emb`, `final_norm`, `out_head`) map to
// them one to one, as its HF weight loader assigns them. A chapter-6 classification head is `out_head.weight`
// / `out_head.bias` (canonical); HF's LlamaForSequenceClassification head `score.weight` maps to it.

/** What a from-scratch `out_head.weight` is: the LM head ([vocab, D]) or a replaced classification head. */
export type OutHeadRole = 'lm_head' | 'classifier';

/** Per-layer suffixes: HF -> from-scratch. */
const LAYER_SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ['self_attn.q_proj.weight', 'att.W_query.weight'],
  ['self_attn.k_proj.weight', 'att.W_key.weight'],
  ['self_attn.v_proj.weight', 'att.W_value.weight'],
  ['self_attn.o_proj.weight', 'att.out_proj.weight'],
  ['mlp.gate_proj.weight', 'ff.fc1.weight'],
  ['mlp.up_proj.weight', 'ff.fc2.weight'],
  ['mlp.down_proj.weight', 'ff.fc3.weight'],
  ['input_layernorm.weight', 'norm1.weight'],
  ['post_attention_layernorm.weight', 'norm2.weight'],
];
const HF_SUFFIX = new Map(LAYER_SUFFIXES.map(([hf]) => [hf, hf]));
const SCRATCH_SUFFIX = new Map(LAYER_SUFFIXES.map(([hf, fs]) => [fs, hf]));
const HF_TO_SCRATCH_SUFFIX = new Map(LAYER_SUFFIXES);

const GLOBALS: Record<string, string> = {
  'model.embed_tokens.weight': 'model.embed_tokens.weight',
  'embed_tokens.weight': 'model.embed_tokens.weight',
  'tok_emb.weight': 'model.embed_tokens.weight',
  'model.norm.weight': 'model.norm.weight',
  'norm.weight': 'model.norm.weight',
  'final_norm.weight': 'model.norm.weight',
  'lm_head.weight': 'lm_head.weight',
  'score.weight': 'out_head.weight',
  'out_head.bias': 'out_head.bias',
};

/** Wrappers added by training tools: DataParallel/DDP (`module.`) and torch.compile (`_orig_mod.`). */
const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

/**
 * The canonical (HF) name of a Llama parameter written under any accepted naming, or null when the name is not
 * a Llama parameter (buffers such as rotary inv_freq, optimizer entries, other architectures). A from-scratch
 * `out_head.weight` is `lm_head.weight` when `outHead` is 'lm_head' (a base model, shape [vocab, D]) and
 * `out_head.weight` when it is 'classifier' (a replaced head).
 */
export function canonicalName(name: string, outHead: OutHeadRole = 'classifier'): string | null {
  let n = name;
  for (let stripped = true; stripped;) {
    stripped = false;
    for (const p of WRAPPER_PREFIXES) if (n.startsWith(p)) { n = n.slice(p.length); stripped = true; }
  }
  if (n === 'out_head.weight') return outHead === 'lm_head' ? 'lm_head.weight' : 'out_head.weight';
  if (n in GLOBALS) return GLOBALS[n];
  let m = /^(?:model\.)?layers\.(\d+)\.(.+)$/.exec(n);
  if (m && HF_SUFFIX.has(m[2])) return `model.layers.${Number(m[1])}.${m[2]}`;
  m = /^trf_blocks\.(\d+)\.(.+)$/.exec(n);
  if (m && SCRATCH_SUFFIX.has(m[2])) return `model.layers.${Number(m[1])}.${SCRATCH_SUFFIX.get(m[2])}`;
  return null;
}

/** The LLMs-from-scratch name of a canonical name (lm_head.weight -> out_head.weight), or null if there is none. */
export function fromScratchName(canonical: string): string | null {
  switch (canonical) {
    case 'model.embed_tokens.weight': return 'tok_emb.weight';
    case 'model.norm.weight': return 'final_norm.weight';
    case 'lm_head.weight': case 'out_head.weight': return 'out_head.weight';
    case 'out_head.bias': return 'out_head.bias';
  }
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(canonical);
  const suffix = m && HF_TO_SCRATCH_SUFFIX.get(m[2]);
  return suffix ? `trf_blocks.${m![1]}.${suffix}` : null;
}
