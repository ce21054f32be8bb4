#!/usr/bin/python3
"""PyTorch peer of bench/forward.ts and bench/train.ts (run by them; Debian's python3-torch 1.13 works).

    llama_torch.py forward MODEL_DIR f32|bf16 SPEC.json   # prefill and KV-cache decode times, first-token logits check
    llama_torch.py train   MODEL_DIR f32|bf16 SPEC.json   # chapter-6 classifier training step and forward times

MODEL_DIR holds config.json (HF LlamaConfig) and model.safetensors (BF16, HF names) written by llmnb's saveModel.
Each tensor is read through a numpy.memmap of just its bytes (no safetensors package) and copied into the compute
dtype. SPEC.json says what to run (token ids, contexts, rounds; see forward() and train()); the result is printed as
one line `RESULT {json}`. Times are the best of the rounds, in wall milliseconds and in CPU milliseconds of this
process (all threads).

The model is Llama 3 as LLMs-from-scratch writes it (pkg/llms_from_scratch/llama3.py): RMSNorm computed in f32,
split-half RoPE with the Llama 3.1/3.2 frequency scaling, grouped-query attention with a causal mask and softmax in
the compute dtype, SwiGLU feed-forward, untied or tied head. Two choices differ from that code without changing
the math: query heads are grouped per KV head instead of repeating the keys (no copy of the cache per token), and
the head runs on the rows that are used (the last position), as llmnb does.
"""
import json
import math
import struct
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

THREADS = 2


# ---- weights ----

def safetensors_header(path):
    """name -> (dtype, shape, absolute byte offset, byte count)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {name: (info["dtype"], info["shape"], 8 + n + info["data_offsets"][0],
                   info["data_offsets"][1] - info["data_offsets"][0])
            for name, info in header.items() if name != "__metadata__"}


def load_weights(model_dir, dtype):
    """Every tensor of model.safetensors as an owned tensor of `dtype`, read one at a time from a memmap."""
    path = f"{model_dir}/model.safetensors"
    out = {}
    for name, (file_dtype, shape, offset, nbytes) in safetensors_header(path).items():
        if file_dtype != "BF16":
            raise SystemExit(f"{path}: {name} is {file_dtype}; the benchmark writes BF16")
        mapped = np.memmap(path, dtype=np.int16, mode="r", offset=offset, shape=(nbytes // 2,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "non-writable array": it is only read
            source = torch.from_numpy(mapped).view(torch.bfloat16).reshape(shape)
        out[name] = source.to(dtype) if dtype != torch.bfloat16 else source.clone()
        del source, mapped
    return out


# ---- the model ----

class Config:
    def __init__(self, hf):
        self.vocab = hf["vocab_size"]
        self.dim = hf["hidden_size"]
        self.layers = hf["num_hidden_layers"]
        self.heads = hf["num_attention_heads"]
        self.kv_heads = hf["num_key_value_heads"]
        self.head_dim = hf.get("head_dim") or self.dim // self.heads
        self.eps = hf["rms_norm_eps"]
        self.theta = hf["rope_theta"]
        self.scaling = hf.get("rope_scaling")
        self.context = hf["max_position_embeddings"]
        self.tied = hf.get("tie_word_embeddings", False)


def rope_tables(c, positions):
    """cos, sin: [positions, head_dim] f32 (each frequency twice, for the two halves), as compute_rope_params."""
    inv_freq = 1.0 / (c.theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float32) / c.head_dim))
    s = c.scaling
    if s:
        low_wavelen = s["original_max_position_embeddings"] / s["low_freq_factor"]
        high_wavelen = s["original_max_position_embeddings"] / s["high_freq_factor"]
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / s["factor"], inv_freq)
        smooth = (s["original_max_position_embeddings"] / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
        smoothed = (1 - smooth) * (inv_freq / s["factor"]) + smooth * inv_freq
        medium = (wavelen <= low_wavelen) & (wavelen >= high_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    angles = torch.arange(positions, dtype=torch.float32)[:, None] * inv_freq[None, :]
    angles = torch.cat([angles, angles], dim=1)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin, offset):
    """x: [B, heads, T, Dh] -> the same, rotated at positions offset..offset+T-1 (split-half)."""
    half = x.shape[-1] // 2
    T = x.shape[2]
    cos = cos[offset:offset + T][None, None]
    sin = sin[offset:offset + T][None, None]
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return ((x * cos) + (rotated * sin)).to(x.dtype)


def rms_norm(x, weight, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)


class Llama3:
    """Llama 3 over a dict of HF-named tensors. `cache`: per block [K, V] of [B, KV, capacity, Dh] (decode)."""

    def __init__(self, config, weights, dtype):
        self.c = config
        self.w = weights
        self.dtype = dtype
        self.cos, self.sin = rope_tables(config, config.context)

    def block(self, i, x, offset, cache):
        c, w = self.c, self.w
        p = f"model.layers.{i}."
        B, T, _ = x.shape
        group = c.heads // c.kv_heads
        h = rms_norm(x, w[p + "input_layernorm.weight"], c.eps)
        q = F.linear(h, w[p + "self_attn.q_proj.weight"]).view(B, T, c.heads, c.head_dim).transpose(1, 2)
        k = F.linear(h, w[p + "self_attn.k_proj.weight"]).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        v = F.linear(h, w[p + "self_attn.v_proj.weight"]).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        q = apply_rope(q, self.cos, self.sin, offset)
        k = apply_rope(k, self.cos, self.sin, offset)
        if cache is not None:
            cache[i][0][:, :, offset:offset + T] = k
            cache[i][1][:, :, offset:offset + T] = v
            k = cache[i][0][:, :, :offset + T]
            v = cache[i][1][:, :, :offset + T]
        S = k.shape[2]
        # Query head h uses KV head h // group: [B, KV, group*T, Dh] against [B, KV, S, Dh].
        qg = q.reshape(B, c.kv_heads, group * T, c.head_dim)
        scores = (qg @ k.transpose(2, 3)).view(B, c.kv_heads, group, T, S)
        causal = torch.arange(S)[None, :] > (offset + torch.arange(T))[:, None]
        scores = scores.masked_fill(causal, float("-inf"))
        attn = torch.softmax(scores / math.sqrt(c.head_dim), dim=-1).view(B, c.kv_heads, group * T, S)
        ctx = (attn @ v).view(B, c.heads, T, c.head_dim).transpose(1, 2).reshape(B, T, c.heads * c.head_dim)
        x = x + F.linear(ctx, w[p + "self_attn.o_proj.weight"])
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], c.eps)
        mlp = F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"])
        return x + F.linear(mlp, w[p + "mlp.down_proj.weight"])

    def hidden(self, ids, offset=0, cache=None):
        """ids: [B, T] -> final-normed hidden states [B, T, D]."""
        x = F.embedding(ids, self.w["model.embed_tokens.weight"])
        for i in range(self.c.layers):
            x = self.block(i, x, offset, cache)
        return rms_norm(x, self.w["model.norm.weight"], self.c.eps)

    def lm_logits(self, h):
        head = self.w["model.embed_tokens.weight" if self.c.tied else "lm_head.weight"]
        return F.linear(h, head)

    def new_cache(self, batch, capacity, seed):
        """Per block [K, V]: [B, KV, capacity, Dh], filled with normal values (positions beyond the length are
        never read; the ones before it stand for an earlier prefill)."""
        g = torch.Generator().manual_seed(seed)
        shape = (batch, self.c.kv_heads, capacity, self.c.head_dim)
        return [[torch.randn(shape, generator=g).to(self.dtype) for _ in range(2)] for _ in range(self.c.layers)]


# ---- timing ----

def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def best_of(rounds, cases, warm_up=True, best=None):
    """cases: name -> fn. One warm-up call each, then `rounds` interleaved rounds; best wall and CPU ms, also over
    earlier times in `best` (name -> [ms, cpu ms])."""
    if warm_up:
        for fn in cases.values():
            fn()
    best = dict(best or {})
    for name in cases:
        best.setdefault(name, [math.inf, math.inf])
    for _ in range(rounds):
        for name, fn in cases.items():
            ms, cpu = timed(fn)
            best[name] = [min(best[name][0], ms), min(best[name][1], cpu)]
    return {name: {"ms": v[0], "cpuMs": v[1]} for name, v in best.items()}


# ---- modes ----

def load_model(model_dir, dtype_name):
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    with open(f"{model_dir}/config.json") as f:
        config = Config(json.load(f))
    t0 = time.perf_counter()
    weights = load_weights(model_dir, dtype)
    return Llama3(config, weights, dtype), time.perf_counter() - t0


def forward(model_dir, dtype_name, spec):
    """spec: prompt (token ids, the prefill), contexts (decode positions), prefillRounds (after the first prefill,
    which computes the logits checked against llmnb's and is timed too: torch compiles nothing), decodeRounds (after
    a warm-up), llmnbLogits (file of f32 logits llmnb computed for the prompt's last position, or null)."""
    model, load_s = load_model(model_dir, dtype_name)
    prompt = torch.tensor([spec["prompt"]])
    contexts = spec["contexts"]
    capacity = max(max(contexts) + 1, prompt.shape[1])
    cache = model.new_cache(1, capacity, seed=1)

    def prefill():
        with torch.no_grad():
            return model.lm_logits(model.hidden(prompt, 0, cache)[:, -1])

    def decode_at(position):
        token = torch.tensor([[spec["prompt"][-1]]])

        def step():
            with torch.no_grad():
                model.lm_logits(model.hidden(token, position, cache)[:, -1])
        return step

    first = {}
    first_ms, first_cpu = timed(lambda: first.setdefault("logits", prefill()[0].float().numpy()))
    logits = first["logits"]
    check = None
    if spec.get("llmnbLogits"):
        ours = np.fromfile(spec["llmnbLogits"], dtype=np.float32)
        check = {"maxAbsDiff": float(np.abs(ours - logits).max()), "maxAbsRef": float(np.abs(logits).max()),
                 "argmaxLlmnb": int(ours.argmax()), "argmaxTorch": int(logits.argmax())}
    times = best_of(spec["prefillRounds"], {"prefill": prefill}, warm_up=False, best={"prefill": [first_ms, first_cpu]})
    times.update(best_of(spec["decodeRounds"], {f"decode {L}": decode_at(L) for L in contexts}))
    return {"dtype": dtype_name, "loadSeconds": load_s, "prefill": times["prefill"], "prefillTokens": prompt.shape[1],
            "decode": [{"context": L, **times[f"decode {L}"]} for L in contexts], "check": check}


def train(model_dir, dtype_name, spec):
    """Chapter 6: the head replaced by Linear(D, classes) with bias in the model dtype; the last block, the final
    norm and the head trainable, AdamW(lr, weight decay 0.1); mean cross-entropy of the last position's logits.
    spec: ids ([B][T]), labels ([B]), classes, lr, steps (timed, after one warm-up step; each followed by a timed
    forward of the same batch)."""
    model, load_s = load_model(model_dir, dtype_name)
    c, w = model.c, model.w
    g = torch.Generator().manual_seed(0)
    bound = 1 / math.sqrt(c.dim)
    w.pop("lm_head.weight", None)
    w["out_head.weight"] = ((torch.rand(spec["classes"], c.dim, generator=g) * 2 - 1) * bound).to(model.dtype)
    w["out_head.bias"] = ((torch.rand(spec["classes"], generator=g) * 2 - 1) * bound).to(model.dtype)
    last = f"model.layers.{c.layers - 1}."
    trainable = [n for n in w if n.startswith(last) or n in ("model.norm.weight", "out_head.weight", "out_head.bias")]
    for n in trainable:
        w[n] = torch.nn.Parameter(w[n])
    optimizer = torch.optim.AdamW([w[n] for n in trainable], lr=spec["lr"], weight_decay=0.1)
    ids = torch.tensor(spec["ids"])
    labels = torch.tensor(spec["labels"])

    def classify():
        h = model.hidden(ids)[:, -1]
        return F.linear(h, w["out_head.weight"], w["out_head.bias"])

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(classify().float(), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    def forward_only():
        with torch.no_grad():
            classify().float().numpy()

    losses = [step()]  # warm-up
    forward_only()
    steps = []
    fwd = []
    for _ in range(spec["steps"]):  # interleaved: a training step, then a forward of the same batch
        ms, cpu = timed(lambda: losses.append(step()))
        steps.append({"ms": ms, "cpuMs": cpu})
        ms, cpu = timed(forward_only)
        fwd.append({"ms": ms, "cpuMs": cpu})
    best = lambda runs: {"ms": min(r["ms"] for r in runs), "cpuMs": min(r["cpuMs"] for r in runs)}
    return {"dtype": dtype_name, "loadSeconds": load_s, "tokens": int(ids.numel()), "step": best(steps),
            "forward": best(fwd), "stepRuns": steps, "forwardRuns": fwd, "losses": losses, "trainable": len(trainable)}


def main():
    mode, model_dir, dtype_name, spec_file = sys.argv[1:5]
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    with open(spec_file) as f:
        spec = json.load(f)
    result = {"forward": forward, "train": train}[mode](model_dir, dtype_name, spec)
    result.update({"torch": torch.__version__, "threads": torch.get_num_threads()})
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
