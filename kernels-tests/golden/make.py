#!/usr/bin/env python3
"""Writes the PyTorch golden files that `cargo test --test kernels golden` compares tidal with.

Every input is drawn as float32 (fixed seeds) and stored as float32; every expected output is
computed by PyTorch autograd in float64 from those stored values and stored as float64. The
losses follow the published DeepMerge domain-adaptation code (direct-difference MMD, BCELoss
on a sigmoid, the reference Fisher/CORAL/entropy forms) next to tidal's own conventions.

    python3 -m venv ~/.cache/golden-venv
    ~/.cache/golden-venv/bin/pip install torch numpy safetensors
    ~/.cache/golden-venv/bin/python kernels-tests/golden/make.py

Files (tensors are named "<case>.<role>", the metadata maps each case to its JSON settings):
  conv2d, pool, batchnorm, matmul, softmax, losses, optim, deepmerge_step .safetensors, and
  deepmerge_state_dict.safetensors, a PyTorch DeepMerge `state_dict` as `save_file` writes it.
Nothing here is needed by CI: the files are committed.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)

REFERENCE_SIGMAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 5, 10, 15, 20, 25, 30, 35, 100,
                    1e3, 1e4, 1e5, 1e6]
DAN_SCALES = [0.25, 0.5, 1.0, 2.0, 4.0]


class File:
    """One golden file: float32 inputs, float64 outputs, JSON settings per case."""

    def __init__(self, name):
        self.name = name
        self.tensors = {}
        self.meta = {}

    def case(self, case, settings, inputs, outputs):
        assert case not in self.meta, case
        self.meta[case] = json.dumps(settings, sort_keys=True)
        for role, t in inputs.items():
            self.tensors[f"{case}.{role}"] = t.detach().to(torch.float32).contiguous()
        for role, t in outputs.items():
            self.tensors[f"{case}.{role}"] = t.detach().to(torch.float64).contiguous()

    def save(self):
        self.meta["__generator__"] = f"torch {torch.__version__}, kernels-tests/golden/make.py"
        save_file(self.tensors, os.path.join(OUT, f"{self.name}.safetensors"), self.meta)


def f32(seed, *shape, scale=1.0, shift=0.0):
    """float32 draws from N(shift, scale²), returned as float64 holding float32 values."""
    g = np.random.default_rng(seed)
    a = (g.standard_normal(shape) * scale + shift).astype(np.float32)
    return torch.from_numpy(a.astype(np.float64))


def leaf(t):
    return t.clone().requires_grad_(True)


def grads(out, upstream, *leaves):
    return torch.autograd.grad(out, leaves, upstream, allow_unused=True)


# --- conv2d ---------------------------------------------------------------------------------
def conv_cases():
    f = File("conv2d")
    cases = [
        # name, x shape, (out, kernel), stride, padding, dilation, bias
        ("deepmerge_conv1", (2, 3, 11, 13), (8, 5), 1, 2, 1, True),
        ("deepmerge_conv2", (2, 8, 9, 9), (16, 3), 1, 1, 1, True),
        ("deepmerge_conv3", (3, 16, 5, 4), (32, 3), 1, 1, 1, True),
        ("stride2_pad1", (2, 3, 10, 9), (4, 3), 2, 1, 1, True),
        ("dilation2", (1, 2, 11, 10), (3, 3), 1, 2, 2, True),
        ("pointwise_1x1", (3, 5, 6, 7), (7, 1), 1, 0, 1, False),
        ("pointwise_1x1_s2", (2, 6, 7, 7), (5, 1), 2, 0, 1, False),
        ("stem_7x7_s2", (1, 3, 19, 17), (6, 7), 2, 3, 1, False),
        ("odd_5x5_s3_pad2", (1, 1, 13, 8), (2, 5), 3, 2, 1, True),
    ]
    for i, (name, xs, (o, k), s, p, d, bias) in enumerate(cases):
        x = f32(100 + i, *xs)
        w = f32(200 + i, o, xs[1], k, k, scale=1.0 / math.sqrt(xs[1] * k * k))
        b = f32(300 + i, o) if bias else None
        xl, wl = leaf(x), leaf(w)
        bl = leaf(b) if bias else None
        y = F.conv2d(xl, wl, bl, stride=s, padding=p, dilation=d)
        gy = f32(400 + i, *y.shape)
        gs = grads(y, gy, *([xl, wl] + ([bl] if bias else [])))
        ins = {"x": x, "w": w, "gy": gy}
        outs = {"y": y, "gx": gs[0], "gw": gs[1]}
        if bias:
            ins["b"] = b
            outs["gb"] = gs[2]
        f.case(name, {"stride": s, "padding": p, "dilation": d, "bias": bias}, ins, outs)
    f.save()


# --- pooling --------------------------------------------------------------------------------
def pool_cases():
    f = File("pool")
    cases = [
        ("max_pool2d/deepmerge_k2s2", "max", (2, 3, 9, 11), 2, 2, 0, True),
        ("max_pool2d/resnet_k3s2p1", "max", (1, 4, 10, 9), 3, 2, 1, True),
        ("max_pool2d/k3s1", "max", (2, 2, 7, 5), 3, 1, 0, True),
        ("avg_pool2d/k3s2p1_include_pad", "avg", (2, 3, 7, 8), 3, 2, 1, True),
        ("avg_pool2d/k3s2p1_exclude_pad", "avg", (2, 3, 7, 8), 3, 2, 1, False),
        ("avg_pool2d/k2s1p1_exclude_pad", "avg", (1, 2, 5, 6), 2, 1, 1, False),
        ("avg_pool2d/k2s2", "avg", (2, 2, 9, 9), 2, 2, 0, True),
        ("global_avg_pool2d/3x3", "global", (3, 5, 3, 3), 0, 0, 0, True),
    ]
    for i, (name, kind, xs, k, s, p, incl) in enumerate(cases):
        # Distinct values, so max pooling's argmax is unique (ties are a convention).
        x = f32(500 + i, *xs)
        xl = leaf(x)
        if kind == "max":
            y = F.max_pool2d(xl, k, s, p)
        elif kind == "avg":
            y = F.avg_pool2d(xl, k, s, p, count_include_pad=incl)
        else:
            y = F.adaptive_avg_pool2d(xl, 1).flatten(1)
        gy = f32(600 + i, *y.shape)
        (gx,) = grads(y, gy, xl)
        f.case(name, {"kind": kind, "kernel": k, "stride": s, "padding": p,
                      "count_include_pad": incl}, {"x": x, "gy": gy}, {"y": y, "gx": gx})
    f.save()


# --- batch norm -----------------------------------------------------------------------------
def batchnorm_cases():
    f = File("batchnorm")
    cases = [("train_4d", (4, 3, 5, 6), True), ("train_2d", (6, 5), True),
             ("eval_4d", (3, 4, 3, 5), False), ("train_deepmerge_batch2", (2, 8, 7, 7), True)]
    for i, (name, xs, training) in enumerate(cases):
        c = xs[1]
        x = f32(700 + i, *xs, scale=2.0, shift=0.5)
        gamma = f32(710 + i, c, scale=0.3, shift=1.0)
        beta = f32(720 + i, c, scale=0.3)
        rm = f32(730 + i, c, scale=0.2)
        rv = f32(740 + i, c).abs() + 0.5
        xl, gl, bl = leaf(x), leaf(gamma), leaf(beta)
        rm_after, rv_after = rm.clone(), rv.clone()
        y = F.batch_norm(xl, rm_after, rv_after, gl, bl, training=training, momentum=0.1,
                         eps=1e-5)
        gy = f32(750 + i, *xs)
        gx, gg, gb = grads(y, gy, xl, gl, bl)
        outs = {"y": y, "gx": gx, "ggamma": gg, "gbeta": gb}
        if training:
            outs["running_mean_after"] = rm_after
            outs["running_var_after"] = rv_after
        f.case(name, {"training": training, "momentum": 0.1, "eps": 1e-5},
               {"x": x, "gamma": gamma, "beta": beta, "running_mean": rm,
                "running_var": rv, "gy": gy}, outs)
    f.save()


# --- matmul and linear ----------------------------------------------------------------------
def matmul_cases():
    f = File("matmul")
    for i, (m, k, n) in enumerate([(5, 7, 3), (1, 13, 9), (5, 2592, 3)]):
        a, b = f32(800 + i, m, k), f32(810 + i, k, n)
        al, bl = leaf(a), leaf(b)
        y = al @ bl
        gy = f32(820 + i, m, n)
        ga, gb = grads(y, gy, al, bl)
        f.case(f"matmul/{m}x{k}x{n}", {}, {"a": a, "b": b, "gy": gy},
               {"y": y, "ga": ga, "gb": gb})
    for i, (bsz, fin, fout) in enumerate([(5, 7, 3), (2, 2592, 8), (3, 64, 32)]):
        x, w = f32(830 + i, bsz, fin), f32(840 + i, fout, fin, scale=1 / math.sqrt(fin))
        b = f32(850 + i, fout)
        xl, wl, bl = leaf(x), leaf(w), leaf(b)
        y = F.linear(xl, wl, bl)
        gy = f32(860 + i, bsz, fout)
        gx, gw, gb = grads(y, gy, xl, wl, bl)
        f.case(f"linear/{bsz}x{fin}x{fout}", {}, {"x": x, "w": w, "b": b, "gy": gy},
               {"y": y, "gx": gx, "gw": gw, "gb": gb})
    f.save()


# --- softmax and the classification losses --------------------------------------------------
def softmax_cases():
    f = File("softmax")
    for i, shape in enumerate([(4, 5), (3, 2), (2, 1000)]):
        x = f32(900 + i, *shape, scale=3.0)
        for fn, name in ((F.softmax, "softmax"), (F.log_softmax, "log_softmax")):
            xl = leaf(x)
            y = fn(xl, dim=-1)
            gy = f32(910 + i, *shape)
            (gx,) = grads(y, gy, xl)
            f.case(f"{name}/{shape[0]}x{shape[1]}", {}, {"x": x, "gy": gy}, {"y": y, "gx": gx})
    g = np.random.default_rng(920)
    for b, k in [(6, 3), (7, 2), (130, 5)]:
        x = f32(921 + b, b, k, scale=2.0)
        labels = torch.from_numpy(g.integers(0, k, b))
        # tidal weighs samples; PyTorch weighs classes: sample weight = class weight[label].
        cw = f32(922 + b, k).abs() + 0.2
        xl = leaf(x)
        loss = F.cross_entropy(xl, labels)
        (gx,) = grads(loss, torch.tensor(1.0), xl)
        base = {"x": x, "labels": labels.to(torch.float64)}
        f.case(f"cross_entropy/{b}x{k}", {}, base, {"loss": loss, "gx": gx})
        xl = leaf(x)
        loss = F.cross_entropy(xl, labels, weight=cw)
        (gx,) = grads(loss, torch.tensor(1.0), xl)
        f.case(f"cross_entropy/{b}x{k}_class_weighted", {}, dict(base, sample_weights=cw[labels]),
               {"loss": loss, "gx": gx})
        xl = leaf(x)
        rows = F.cross_entropy(xl, labels, reduction="none")
        gy = f32(923 + b, b)
        (gx,) = grads(rows, gy, xl)
        f.case(f"cross_entropy/{b}x{k}_none", {}, dict(base, gy=gy), {"loss": rows, "gx": gx})
    for i, n in enumerate([5, 64]):
        z = f32(930 + i, n, 1, scale=3.0)
        t = torch.from_numpy(g.integers(0, 2, (n, 1))).to(torch.float64)
        w = f32(931 + i, n, 1).abs() + 0.1
        zl = leaf(z)
        loss = F.binary_cross_entropy_with_logits(zl, t)
        (gz,) = grads(loss, torch.tensor(1.0), zl)
        f.case(f"bce_logits/{n}", {}, {"z": z, "t": t}, {"loss": loss, "gz": gz})
        zl = leaf(z)
        loss = F.binary_cross_entropy_with_logits(zl, t, weight=w)
        (gz,) = grads(loss, torch.tensor(1.0), zl)
        f.case(f"bce_logits/{n}_weighted", {}, {"z": z, "t": t, "w": w}, {"loss": loss, "gz": gz})
    f.save()


# --- domain-adaptation losses, as in the reference code ------------------------------------
def mmd_published(x, y, bandwidth, scales, estimator, clamp):
    z = torch.cat([x, y])
    n, m = len(x), len(y)
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)  # direct differences: exact zeros
    off = ~torch.eye(n + m, dtype=torch.bool)
    if bandwidth == "fixed":
        base = torch.tensor(1.0)
    elif bandwidth == "mean":
        base = d2[off].mean().detach()
    else:  # lower median of the off-diagonal distances
        v = d2[off].detach().sort().values
        base = v[(len(v) + 1) // 2 - 1]
    k = sum(torch.exp(-d2 / (2.0 * s * base)) for s in scales)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    if estimator == "biased":
        v = kxx.mean() + kyy.mean() - 2.0 * kxy.mean()
    elif estimator == "unbiased":
        v = ((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
             + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1)) - 2.0 * kxy.mean())
    else:  # linear-time: disjoint pairs (x2t, x2t+1), (y2t, y2t+1)
        p = min(n, m) // 2
        h = [k[2 * t, 2 * t + 1] + k[n + 2 * t, n + 2 * t + 1] - k[2 * t, n + 2 * t + 1]
             - k[2 * t + 1, n + 2 * t] for t in range(p)]
        v = sum(h) / p
    if clamp is not None:
        v = torch.clamp(torch.clamp(v, min=0.0), min=clamp)
    return v


MMD_PRESETS = {
    "reference": ("fixed", REFERENCE_SIGMAS, "biased", 1e-4),
    "reference_noclamp": ("fixed", REFERENCE_SIGMAS, "biased", None),
    "reference_unbiased": ("fixed", REFERENCE_SIGMAS, "unbiased", None),
    "reference_linear": ("fixed", REFERENCE_SIGMAS, "linear", None),
    "dan": ("mean", DAN_SCALES, "biased", None),
    "dan_unbiased": ("mean", DAN_SCALES, "unbiased", None),
    "dan_linear": ("mean", DAN_SCALES, "linear", None),
    "dan_median": ("median", DAN_SCALES, "biased", None),
}


def fisher_published(h, labels, centres, form, norm, w_intra, w_inter):
    diff = ((h - centres[labels]) ** 2).sum(1)
    cbar = centres.mean(0, keepdim=True)
    between = ((centres - cbar) ** 2).sum()
    if norm == "published":
        intra = torch.clamp(diff, 1e-12, 1e12).sum()
        inter = between
        eps = 0.0
    else:
        intra = diff.sum() / len(h)
        inter = between / len(centres)
        eps = 1e-6
    if form == "difference":
        return w_intra * intra - w_inter * inter
    return w_intra * intra / (w_inter * inter + eps)


def entropy_loss(logits, form):
    p = F.softmax(logits, dim=1)
    if form == "published":
        mask = (p >= 1e-6).to(p.dtype)
        return -(mask * p * torch.log(p.clamp_min(1e-300))).sum() / len(p)
    return -(p * F.log_softmax(logits, dim=1)).sum() / len(p)


def coral_loss(s, t, form):
    def cov(x):
        xc = x - x.mean(0, keepdim=True)
        return xc.t() @ xc / (len(x) - 1)
    d = s.shape[1]
    sq = ((cov(s) - cov(t)) ** 2).sum()
    return sq / (4 * d * d) if form == "deep-coral" else sq / (d * d)


def losses_cases():
    f = File("losses")
    one = torch.tensor(1.0)
    # Features like a with-replacement batch: source rows 0 and 3 coincide, target rows 1 and
    # 4 coincide. Shapes n = 6, m = 5, d = 7 (odd, and n != m).
    x = f32(1000, 6, 7, scale=0.5)
    y = f32(1001, 5, 7, scale=0.6, shift=0.2)
    x[3] = x[0]
    y[4] = y[1]
    # DeepMerge's feature width, non-negative as after ReLU + max-pool, with a duplicate.
    wide_x = f32(1002, 3, 2592, scale=0.3).clamp_min(0.0)
    wide_y = f32(1003, 3, 2592, scale=0.35, shift=0.05).clamp_min(0.0)
    wide_x[2] = wide_x[0]
    for preset, (bw, scales, est, clamp) in MMD_PRESETS.items():
        shapes = [("6+5x7", (x, y))]
        if preset in ("reference", "dan", "dan_median"):
            shapes.append(("3+3x2592", (wide_x, wide_y)))
        for tag, (a, b) in shapes:
            xl, yl = leaf(a), leaf(b)
            v = mmd_published(xl, yl, bw, scales, est, clamp)
            gx, gy = grads(v, one, xl, yl)
            f.case(f"mmd/{preset}/{tag}", {"preset": preset}, {"x": a, "y": b},
                   {"value": v, "gx": gx, "gy": gy})
    # Identical sets: the published clamp binds at 1e-4 and passes no gradient.
    xl, yl = leaf(x), leaf(x.clone())
    v = mmd_published(xl, yl, "fixed", REFERENCE_SIGMAS, "biased", 1e-4)
    gx, gy = grads(v, one, xl, yl)
    f.case("mmd/reference/identical", {"preset": "reference"}, {"x": x, "y": x.clone()},
           {"value": v, "gx": gx, "gy": gy})

    h = f32(1010, 8, 5, scale=0.7)
    labels = torch.tensor([0, 1, 1, 0, 1, 1, 1, 0])
    for cinit, cname in ((f32(1011, 2, 5, scale=0.01), "small_centres"),
                         (f32(1012, 2, 5), "randn_centres")):
        for form in ("difference", "ratio"):
            for norm in ("per-sample", "published"):
                hl, cl = leaf(h), leaf(cinit)
                v = fisher_published(hl, labels, cl, form, norm, 0.01, 1.0)
                gh, gc = grads(v, one, hl, cl)
                f.case(f"fisher/{form}/{norm}/{cname}", {"form": form, "norm": norm,
                        "intra": 0.01, "inter": 1.0},
                       {"h": h, "labels": labels.to(torch.float64), "centres": cinit},
                       {"value": v, "gh": gh, "gc": gc})

    z = f32(1020, 6, 2, scale=3.0)
    z[0] = torch.tensor([0.0, -20.0])      # p ≈ 2e-9: dropped by the published form
    z[1] = torch.tensor([12.0, -1.5])      # p ≈ 1.4e-6: kept
    for form in ("exact", "published"):
        zl = leaf(z)
        v = entropy_loss(zl, form)
        (gz,) = grads(v, one, zl)
        f.case(f"entropy/{form}", {"form": form}, {"z": z}, {"value": v, "gz": gz})

    s, t = f32(1030, 9, 4), f32(1031, 7, 4, scale=1.5)
    for form in ("deep-coral", "published"):
        sl, tl = leaf(s), leaf(t)
        v = coral_loss(sl, tl, form)
        gs, gt = grads(v, one, sl, tl)
        f.case(f"coral/{form}", {"form": form}, {"s": s, "t": t},
               {"value": v, "gs": gs, "gt": gt})

    # DANN's domain loss as the reference code: BCELoss on the sigmoid, source 1, target 0.
    ds, dt = f32(1040, 3, 1, scale=2.0), f32(1041, 4, 1, scale=2.0)
    sl, tl = leaf(ds), leaf(dt)
    prob = torch.sigmoid(torch.cat([sl, tl]))
    target = torch.cat([torch.ones(3, 1), torch.zeros(4, 1)])
    v = nn.BCELoss()(prob, target)
    gs, gt = grads(v, one, sl, tl)
    f.case("domain_loss/3+4", {}, {"s": ds, "t": dt}, {"value": v, "gs": gs, "gt": gt})

    # Gradient reversal: identity forward, −λ·g backward, with Ganin's λ(p).
    progress = torch.tensor([0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    lam = 2.0 / (1.0 + torch.exp(-10.0 * progress)) - 1.0
    g = f32(1050, 3, 4)
    f.case("grl/ganin", {"gamma": 10.0}, {"progress": progress, "g": g},
           {"lambda": lam, "gx_at_0.25": -lam[3] * g})
    f.save()


# --- optimizers: 10 steps on given gradients -----------------------------------------------
def optim_cases():
    f = File("optim")
    p0 = [f32(1100, 5), f32(1101, 2, 3)]
    steps = 10
    gs = [[f32(1110 + 10 * s + j, *p.shape) for j, p in enumerate(p0)] for s in range(steps)]
    cases = {
        "adam_reference": (torch.optim.Adam, dict(lr=1e-3, betas=(0.7, 0.8), eps=1e-8,
                                                  weight_decay=1e-4)),
        "adam_amsgrad": (torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                                                weight_decay=1e-2, amsgrad=True)),
        "adamw": (torch.optim.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=1e-2)),
        "adamw_amsgrad": (torch.optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.9), eps=1e-6,
                                                  weight_decay=5e-2, amsgrad=True)),
        "sgd": (torch.optim.SGD, dict(lr=0.1, weight_decay=1e-3)),
        "sgd_momentum": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1,
                                               weight_decay=1e-4)),
        "sgd_nesterov": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True,
                                               weight_decay=1e-4)),
    }
    for name, (cls, kw) in cases.items():
        params = [nn.Parameter(p.clone()) for p in p0]
        opt = cls(params, **kw)
        traj = [[] for _ in params]
        for s in range(steps):
            for p, g in zip(params, gs[s]):
                p.grad = g.clone()
            opt.step()
            for j, p in enumerate(params):
                traj[j].append(p.detach().clone())
        settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        settings["optimizer"] = cls.__name__
        ins = {f"p{j}": p for j, p in enumerate(p0)}
        for j in range(len(p0)):
            ins[f"g{j}"] = torch.stack([gs[s][j] for s in range(steps)])
        f.case(name, settings, ins,
               {f"p{j}_after": torch.stack(traj[j]) for j in range(len(p0))})
    f.save()


# --- one whole DeepMerge training step ------------------------------------------------------
class DeepMerge(nn.Module):
    """The published DeepMerge CNN with the published parameter names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5, padding=2)
        self.batchn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.batchn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 32, 3, padding=1)
        self.batchn3 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(2592, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.batchn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.batchn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.batchn3(self.conv3(x))), 2)
        feat = x.flatten(1)
        h = F.relu(self.fc2(F.relu(self.fc1(feat))))
        return self.fc3(h), feat


def deepmerge_cases():
    torch.manual_seed(0)
    model = DeepMerge()
    # float32 parameters, with running statistics away from their defaults so that eval
    # mode checks them too.
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(t.to(torch.float32).to(torch.float64))
        for i, bn in enumerate((model.batchn1, model.batchn2, model.batchn3)):
            c = bn.num_features
            bn.running_mean.copy_(f32(1200 + i, c, scale=0.1))
            bn.running_var.copy_(f32(1210 + i, c).abs() * 0.5 + 0.5)
            bn.weight.copy_(f32(1220 + i, c, scale=0.2, shift=1.0))
            bn.bias.copy_(f32(1230 + i, c, scale=0.1))
            bn.num_batches_tracked.fill_(7)
    state = {k: (v.to(torch.float32) if v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, os.path.join(OUT, "deepmerge_state_dict.safetensors"),
              {"__generator__": f"torch {torch.__version__}, kernels-tests/golden/make.py"})

    f = File("deepmerge_step")
    # Batch 2 + 2: source images 0, 1 (labels 1, 0), target images 2, 3.
    x = torch.cat([f32(1300, 2, 3, 75, 75, scale=0.5, shift=0.1),
                   f32(1301, 2, 3, 75, 75, scale=0.7, shift=0.2)])
    labels = torch.tensor([1, 0])
    model.eval()
    with torch.no_grad():
        eval_logits, eval_feat = model(x)
    model.train()
    logits, feat = model(x)
    ce = F.cross_entropy(logits[:2], labels)
    mmd = mmd_published(feat[:2], feat[2:], "fixed", REFERENCE_SIGMAS, "biased", 1e-4)
    loss = ce + mmd
    names = [n for n, _ in model.named_parameters()]
    gs = torch.autograd.grad(loss, [p for _, p in model.named_parameters()])
    outs = {"loss": loss, "ce": ce, "mmd": mmd, "eval_logits": eval_logits, "logits": logits}
    for n, g in zip(names, gs):
        outs[f"grad.{n}"] = g
    for i in (1, 2, 3):
        bn = getattr(model, f"batchn{i}")
        outs[f"after.batchn{i}.running_mean"] = bn.running_mean
        outs[f"after.batchn{i}.running_var"] = bn.running_var
    f.case("mmd_step", {"state_dict": "deepmerge_state_dict.safetensors", "mmd": "reference",
                        "source": 2, "target": 2},
           {"x": x, "labels": labels.to(torch.float64)}, outs)
    f.save()


if __name__ == "__main__":
    conv_cases()
    pool_cases()
    batchnorm_cases()
    matmul_cases()
    softmax_cases()
    losses_cases()
    optim_cases()
    deepmerge_cases()
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT)
                if n.endswith(".safetensors"))
    print(f"golden files written to {OUT}: {total / 1e6:.2f} MB")
