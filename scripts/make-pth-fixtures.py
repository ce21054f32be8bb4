#!/usr/bin/python3
"""Writes the small PyTorch checkpoints under test/fixtures/pth/ that the .pth reader is tested with.

Regenerate (needs PyTorch; Debian's python3-torch works, the tests themselves never need PyTorch):

    /usr/bin/python3 scripts/make-pth-fixtures.py

Every tensor value comes from test/fixtures/reference/model_bf16.safetensors and classifier.safetensors (read
here with struct/json only), renamed to LLMs-from-scratch names, so the tests can compare each .pth tensor with
the safetensors one bit for bit. The files are what `torch.save` writes (zip: <archive>/data.pkl,
<archive>/data/<key>, <archive>/version), plus a few broken or hostile ones that the reader must reject.
"""
import collections
import json
import os
import struct
import sys
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "test", "fixtures", "reference")
OUT = os.path.join(ROOT, "test", "fixtures", "pth")
N_LAYERS = 3

TORCH_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def read_safetensors(path):
    """name -> torch tensor, in file order."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        tensors[name] = torch.frombuffer(raw, dtype=TORCH_DTYPES[info["dtype"]]).reshape(info["shape"]).clone()
    return tensors


def from_scratch_names():
    """HF name -> LLMs-from-scratch name (rasbt/LLMs-from-scratch pkg/llms_from_scratch/llama3.py)."""
    names = {"model.embed_tokens.weight": "tok_emb.weight", "model.norm.weight": "final_norm.weight",
             "lm_head.weight": "out_head.weight"}
    per_layer = {"self_attn.q_proj": "att.W_query", "self_attn.k_proj": "att.W_key",
                 "self_attn.v_proj": "att.W_value", "self_attn.o_proj": "att.out_proj",
                 "mlp.gate_proj": "ff.fc1", "mlp.up_proj": "ff.fc2", "mlp.down_proj": "ff.fc3",
                 "input_layernorm": "norm1", "post_attention_layernorm": "norm2"}
    for i in range(N_LAYERS):
        for hf, fs in per_layer.items():
            names[f"model.layers.{i}.{hf}.weight"] = f"trf_blocks.{i}.{fs}.weight"
    return names


class RMSNorm(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim, dtype=torch.bfloat16))


def linear(d_in, d_out, bias=False):
    return torch.nn.Linear(d_in, d_out, bias=bias, dtype=torch.bfloat16)


class Attention(torch.nn.Module):
    def __init__(self, dim, kv_dim):
        super().__init__()
        # Registration order as in llama3.py's GroupedQueryAttention: it decides the state dict's order.
        self.W_key = linear(dim, kv_dim)
        self.W_value = linear(dim, kv_dim)
        self.W_query = linear(dim, dim)
        self.out_proj = linear(dim, dim)


class FeedForward(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = linear(dim, hidden)
        self.fc2 = linear(dim, hidden)
        self.fc3 = linear(hidden, dim)


class Block(torch.nn.Module):
    def __init__(self, dim, kv_dim, hidden):
        super().__init__()
        self.att = Attention(dim, kv_dim)
        self.ff = FeedForward(dim, hidden)
        self.norm1 = RMSNorm(dim)
        self.norm2 = RMSNorm(dim)


class TinyLlama3(torch.nn.Module):
    """The parameters of LLMs-from-scratch's Llama3Model (names and order), without the forward pass."""

    def __init__(self, vocab=512, dim=64, kv_dim=32, hidden=192):
        super().__init__()
        self.tok_emb = torch.nn.Embedding(vocab, dim, dtype=torch.bfloat16)
        self.trf_blocks = torch.nn.ModuleList([Block(dim, kv_dim, hidden) for _ in range(N_LAYERS)])
        self.final_norm = RMSNorm(dim)
        self.out_head = linear(dim, vocab)


def reference_model(hf):
    """The reference weights in a TinyLlama3, so `state_dict()` is exactly what a from-scratch user saves."""
    model = TinyLlama3()
    rename = from_scratch_names()
    model.load_state_dict({rename[k]: v for k, v in hf.items()})
    return model


class RunsShellCommand:
    """What a hostile checkpoint carries: unpickling it with `pickle` would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/llmnb-pickle-executed",))


def save(obj, name, **kwargs):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kwargs)
    print(f"{name}: {os.path.getsize(path)} bytes")


def fixed_date(name):
    """A zip entry header with a constant timestamp, so regenerating gives the same bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def rewrite_zip(src_name, dst_name, compress=False, replace=None):
    """Copies a torch.save zip entry by entry, optionally deflating or replacing entries (name suffix -> bytes)."""
    replace = replace or {}
    src = os.path.join(OUT, src_name)
    dst = os.path.join(OUT, dst_name)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        names = zin.namelist()
        for entry in names:
            data = zin.read(entry)
            for suffix, new in replace.items():
                if entry.endswith(suffix):
                    data = new
            zout.writestr(fixed_date(entry), data, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        prefix = names[0].split("/")[0]
        for suffix, new in replace.items():
            if not any(n.endswith(suffix) for n in names):
                zout.writestr(fixed_date(f"{prefix}/{suffix}"), new)
    print(f"{dst_name}: {os.path.getsize(dst)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    hf = read_safetensors(os.path.join(REFERENCE, "model_bf16.safetensors"))
    head = read_safetensors(os.path.join(REFERENCE, "classifier.safetensors"))
    model = reference_model(hf)

    # The reference model, bf16, LLMs-from-scratch names: `torch.save(model.state_dict(), ...)`.
    save(model.state_dict(), "tiny_bf16.pth")

    # Chapter 6: out_head replaced by Linear(64, 2) with bias, like a user's review_classifier.pth.
    model.out_head = linear(64, 2, bias=True)
    model.out_head.load_state_dict({"weight": head["out_head.weight"], "bias": head["out_head.bias"]})
    save(model.state_dict(), "review_classifier.pth")

    # A training checkpoint: model + AdamW state (trainable: last block, final norm, head) + epoch.
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(f"trf_blocks.{N_LAYERS - 1}.") or name.startswith(("final_norm.", "out_head."))
    trainable = [p for p in model.parameters() if p.requires_grad]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.AdamW(trainable, lr=5e-5, weight_decay=0.1)
    generator = torch.Generator().manual_seed(3)
    for p in trainable:
        p.grad = torch.randn(p.shape, generator=generator).to(p.dtype)
    optimizer.step()
    with torch.no_grad():  # keep the reference values so the test can compare them bit for bit
        model.load_state_dict(before)
    save({"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(), "epoch": 3,
          "train_loss": 0.25, "note": "chapter 6"}, "training_checkpoint.pth")

    state = model.state_dict()
    # Other dtypes and the newer pickle protocol, on a few tensors (block 0 attention and the norms).
    subset = [k for k in state if k.startswith("trf_blocks.0.att.") or k.endswith("norm1.weight")
              or k == "final_norm.weight"]
    save({"state_dict": collections.OrderedDict((k, state[k].float()) for k in subset)}, "tiny_f32_subset.pth")
    save(collections.OrderedDict((k, state[k].half()) for k in subset), "tiny_f16_subset.pth", pickle_protocol=4)

    # Views: two norms in one storage (the second at storage offset 64) and rows 3..8 of the embedding.
    norms = torch.cat([state["trf_blocks.0.norm1.weight"], state["trf_blocks.0.norm2.weight"]])
    embedding = state["tok_emb.weight"][:16].clone()
    save(collections.OrderedDict([
        ("trf_blocks.0.norm1.weight", norms[:64]),
        ("trf_blocks.0.norm2.weight", norms[64:]),
        ("tok_emb_rows_3_to_8", embedding[3:8]),
    ]), "views_shared_storage.pth")

    # A transposed (non-contiguous) tensor, saved as is.
    save(collections.OrderedDict([("trf_blocks.0.att.W_query.weight", state["trf_blocks.0.att.W_query.weight"].t())]),
         "non_contiguous.pth")

    # Hostile: a state dict wrapper that also carries an object whose unpickling runs os.system.
    small = collections.OrderedDict([("final_norm.weight", state["final_norm.weight"])])
    save({"state_dict": small, "payload": RunsShellCommand()}, "malicious_os_system.pth")
    save({"state_dict": small, "payload": RunsShellCommand()}, "malicious_os_system_p4.pth", pickle_protocol=4)

    # Formats the reader must refuse with a clear message.
    save(small, "legacy_format.pth", _use_new_zipfile_serialization=False)
    rewrite_zip("tiny_f32_subset.pth", "deflated.pth", compress=True)
    rewrite_zip("tiny_f32_subset.pth", "big_endian.pth", replace={"byteorder": b"big"})
    rewrite_zip("views_shared_storage.pth", "storage_too_short.pth", replace={"data/0": b"\0" * 64})


if __name__ == "__main__":
    sys.exit(main())
