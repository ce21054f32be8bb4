#!/usr/bin/python3
"""Writes test/fixtures/adamw_reference.json: torch.optim.AdamW run for 3 steps on small fixed tensors.

Run with Debian's Python and PyTorch (CPU): /usr/bin/python3 scripts/make-adamw-fixture.py
Each case gives the initial parameters, the gradient fed at every step, the optimizer settings and the parameters
after every step. The gradients are set by hand (no autograd), so the file checks the optimizer alone.
Values are f32, written as the shortest decimal that round-trips.
"""
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "adamw_reference.json"
STEPS = 3


def f32_list(t):
    return [float(x) for x in t.detach().to(torch.float32).flatten().tolist()]


def run_case(name, shapes, settings, seed, bf16_init=False, grad_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=g, dtype=torch.float32)
        if bf16_init:
            # Values exactly representable in bf16: the f32 master copy of a bf16 parameter starts this way.
            p = p.to(torch.bfloat16).to(torch.float32)
        params.append(torch.nn.Parameter(p))
    initial = [f32_list(p) for p in params]
    opt = torch.optim.AdamW(params, **settings)
    grads, after = [], []
    for _ in range(STEPS):
        step_grads = [torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.5 for p in params]
        for p, gr in zip(params, step_grads):
            # A few tiny gradients, where eps matters.
            gr.view(-1)[0] = 1e-9
            p.grad = gr.clone() * grad_scale
        opt.step()
        grads.append([f32_list(gr) for gr in step_grads])
        after.append([f32_list(p) for p in params])
    return {
        "name": name,
        "shapes": [list(s) for s in shapes],
        "settings": settings,
        "grad_scale": grad_scale,
        "initial": initial,
        "grads": grads,
        "after": after,
    }


def main():
    cases = [
        run_case("chapter 6 settings", [(3, 5), (7,)],
                 {"lr": 5e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}, seed=1),
        run_case("large lr, strong decay", [(4, 9), (1,)],
                 {"lr": 1e-2, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.5}, seed=2),
        run_case("no decay, bf16-representable start", [(2, 11)],
                 {"lr": 3e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}, seed=3, bf16_init=True),
        run_case("gradients scaled by 0.25 (clipping)", [(5, 3)],
                 {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}, seed=4, grad_scale=0.25),
    ]
    doc = {
        "generator": "scripts/make-adamw-fixture.py",
        "torch_version": torch.__version__,
        "steps": STEPS,
        "note": "grads[step][tensor] are the unscaled gradients; p.grad = grads * grad_scale before each step",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=None) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
