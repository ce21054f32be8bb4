#!/usr/bin/python3
"""PyTorch side of bench/load-memory.ts (run by it; Debian's python3-torch 1.13 works).

    load_memory_torch.py make_pth        MODEL.safetensors MODEL.pth   # the .pth that case (c) loads
    load_memory_torch.py load_state_dict MODEL.safetensors MODEL.pth   # (c) model.load_state_dict(torch.load(pth))
    load_memory_torch.py per_tensor      MODEL.safetensors MODEL.pth   # (d) meta model + one tensor at a time

(c) is what LLMs-from-scratch users do: build the model (its own weights allocated and initialized), then
torch.load the whole state dict into host memory, then copy. (d) is the load_weights_inplace recipe: the model is
built on the meta device (no storage), then each tensor is read alone and copied into freshly allocated storage.
torch 1.13's torch.load has no mmap=True, so (d) reads the safetensors file one tensor at a time through a
numpy.memmap of just that tensor's bytes (no copy in between), unmapped after copying it into the model.

Each case prints `RESULT {json}` with its peak RSS (VmHWM, reset with /proc/self/clear_refs just before loading)
and the RSS just before loading.
"""
import collections
import json
import struct
import sys
import time
import warnings

import numpy as np
import torch

N_LAYERS = 2
VOCAB, DIM, HEADS, KV_HEADS, HEAD_DIM, HIDDEN = 128256, 4096, 32, 8, 128, 14336


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, device):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim, dtype=torch.bfloat16, device=device))


def linear(d_in, d_out, device):
    return torch.nn.Linear(d_in, d_out, bias=False, dtype=torch.bfloat16, device=device)


class Attention(torch.nn.Module):
    def __init__(self, device):
        super().__init__()
        self.q_proj = linear(DIM, HEADS * HEAD_DIM, device)
        self.k_proj = linear(DIM, KV_HEADS * HEAD_DIM, device)
        self.v_proj = linear(DIM, KV_HEADS * HEAD_DIM, device)
        self.o_proj = linear(HEADS * HEAD_DIM, DIM, device)


class Mlp(torch.nn.Module):
    def __init__(self, device):
        super().__init__()
        self.gate_proj = linear(DIM, HIDDEN, device)
        self.up_proj = linear(DIM, HIDDEN, device)
        self.down_proj = linear(HIDDEN, DIM, device)


class Block(torch.nn.Module):
    def __init__(self, device):
        super().__init__()
        self.input_layernorm = RMSNorm(DIM, device)
        self.self_attn = Attention(device)
        self.post_attention_layernorm = RMSNorm(DIM, device)
        self.mlp = Mlp(device)


class Body(torch.nn.Module):
    def __init__(self, device):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(VOCAB, DIM, dtype=torch.bfloat16, device=device)
        self.layers = torch.nn.ModuleList([Block(device) for _ in range(N_LAYERS)])
        self.norm = RMSNorm(DIM, device)


class Llama3(torch.nn.Module):
    """The module tree and parameters of Llama 3 8B with 2 blocks, HF names (no forward: loading is measured)."""

    def __init__(self, device="cpu"):
        super().__init__()
        self.model = Body(device)
        self.lm_head = linear(DIM, VOCAB, device)


def safetensors_header(path):
    """name -> (shape, absolute byte offset, byte count); BF16 only, as the benchmark writes."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "BF16", name
        begin, end = info["data_offsets"]
        out[name] = (info["shape"], 8 + n + begin, end - begin)
    return out


def mapped_tensor(path, shape, offset, nbytes):
    """A bf16 tensor backed by a read-only memmap of just that tensor's bytes (valid while it is referenced)."""
    mapped = np.memmap(path, dtype=np.int16, mode="r", offset=offset, shape=(nbytes // 2,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "non-writable array": it is only read
        return torch.from_numpy(mapped).view(torch.bfloat16).reshape(shape)


def status():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def start_measure():
    before = status()["VmRSS"]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return before, time.perf_counter()


def result(name, model, before, t0, note):
    s = status()
    peak = max(s["VmHWM"], s["VmRSS"])
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    print("RESULT " + json.dumps({
        "case": name, "modelBytes": model_bytes, "rssBeforeBytes": before, "peakRssBytes": peak,
        "rssGrowthBytes": peak - before, "seconds": time.perf_counter() - t0, "note": note,
    }), flush=True)


def make_pth(st_path, pth_path):
    state = collections.OrderedDict()
    for name, (shape, offset, nbytes) in safetensors_header(st_path).items():
        state[name] = mapped_tensor(st_path, shape, offset, nbytes).clone()
    torch.save(state, pth_path)


def load_state_dict(pth_path):
    before, t0 = start_measure()
    model = Llama3()
    model.load_state_dict(torch.load(pth_path))
    result("torch load_state_dict(torch.load())", model, before, t0,
           "model built and initialized on CPU, then the whole state dict loaded, then copied")


def per_tensor(st_path):
    before, t0 = start_measure()
    model = Llama3(device="meta")
    for name, (shape, offset, nbytes) in safetensors_header(st_path).items():
        module_name, _, attr = name.rpartition(".")
        module = model.get_submodule(module_name)
        param = torch.nn.Parameter(torch.empty(shape, dtype=torch.bfloat16), requires_grad=False)
        source = mapped_tensor(st_path, shape, offset, nbytes)
        param.data.copy_(source)
        del source  # unmaps this tensor's bytes
        setattr(module, attr, param)
    assert not any(p.is_meta for p in model.parameters())
    result("torch per-tensor (meta model + memmap per tensor)", model, before, t0,
           "torch 1.13 has no torch.load(mmap=True): each tensor copied from a numpy.memmap of its bytes in the safetensors file, then unmapped")


def main():
    mode, st_path, pth_path = sys.argv[1:4]
    torch.set_num_threads(1)
    if mode == "make_pth":
        make_pth(st_path, pth_path)
    elif mode == "load_state_dict":
        load_state_dict(pth_path)
    elif mode == "per_tensor":
        per_tensor(st_path)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
