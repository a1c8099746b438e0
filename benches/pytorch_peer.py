#!/usr/bin/env python3
"""The cases of `tidal bench` that have a PyTorch counterpart, timed in PyTorch, so that
tidal's speed can be given as a ratio to PyTorch's on the same machine in the same session.

    python3 benches/pytorch_peer.py --out peer.json                 # time PyTorch
    python3 benches/pytorch_peer.py --against bench-report.json     # time it, print ratios
    python3 benches/pytorch_peer.py --load peer.json --against bench-report.json

Cases (names as in tidal's bench report):
  train_step/deepmerge/mmd  128 source (cross entropy) + 128 target images, MMD over the
                            2592-d features with the 19 fixed kernels, Adam; images/s
  train_step/resnet18/mmd   the same step with ResNet18 and its 256-d bottleneck; images/s
  inference/deepmerge       eval-mode forward of 256 images; images/s
  matmul/nn N x N x N       N = 1024, 2048 (and 4096 on a GPU); GFLOP/s = 2 N^3 / t
  conv2d/forward/deepmerge_conv1  256x3x75x75 * 8x3x5x5, padding 2; GFLOP/s

Every timed iteration ends by reading one value back to the host, as tidal's training
step ends with its loss. Medians over BENCH_STEPS iterations after BENCH_WARMUP.
Environment: BENCH_DEVICE (cpu | cuda, default cpu), BENCH_THREADS (CPU threads,
default 2, the CI machine's cores), BENCH_STEPS (default 10), BENCH_WARMUP (default 3).

--warm-allocator reruns the script with glibc's malloc told to keep freed memory
(GLIBC_TUNABLES mmap_threshold and trim_threshold at their maximum). By default glibc hands
every tensor over 32 MB (conv1's 46 MB output, the step's activations) back to the kernel
when it is freed, so each iteration maps fresh pages and faults them in; on the 2-core
machine that was two thirds of PyTorch's conv1 time and a third of its step. tidal keeps its
buffers in a pool, so the warm allocator is the like-for-like kernel comparison; the default
is what a plain `python3` user gets. The JSON records which ran (`allocator`).
PyTorch is not a dependency of tidal: install it wherever you run this, e.g.
    python3 -m venv ~/.cache/torch-venv && ~/.cache/torch-venv/bin/pip install torch
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

DEVICE = os.environ.get("BENCH_DEVICE", "cpu")
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
STEPS = max(3, int(os.environ.get("BENCH_STEPS", "10")))
WARMUP = max(1, int(os.environ.get("BENCH_WARMUP", "3")))
HALF = 128
# glibc malloc tunables that keep freed memory in the heap (see --warm-allocator).
WARM = "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"
SIGMAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0,
          35.0, 100.0, 1e3, 1e4, 1e5, 1e6]


def build(torch):
    nn = torch.nn
    F = torch.nn.functional

    class DeepMerge(nn.Module):
        """conv 3->8 k5 -> BN -> ReLU -> pool, 8->16 k3, 16->32 k3, fc 2592-64-32-2."""

        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList()
            for cin, cout, k in [(3, 8, 5), (8, 16, 3), (16, 32, 3)]:
                self.blocks.append(nn.Sequential(
                    nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout),
                    nn.ReLU(), nn.MaxPool2d(2)))
            self.head = nn.Sequential(nn.Linear(2592, 64), nn.ReLU(), nn.Linear(64, 32),
                                      nn.ReLU(), nn.Linear(32, 2))

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            f = x.flatten(1)
            return f, self.head(f)

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = F.relu(self.b1(self.c1(x)))
            y = self.b2(self.c2(y))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class ResNet18(nn.Module):
        """torchvision's layout, global average pool, bottleneck 512->256, then 256->2."""

        def __init__(self):
            super().__init__()
            layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.MaxPool2d(3, 2, 1)]
            cin = 64
            for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
                layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
                cin = cout
            self.body = nn.Sequential(*layers)
            self.bottleneck = nn.Linear(512, 256)
            self.fc = nn.Linear(256, 2)

        def forward(self, x):
            f = self.bottleneck(self.body(x).mean((2, 3)))
            return f, self.fc(f)

    return DeepMerge, ResNet18


def mmd(torch, f, n):
    """Biased MMD^2 with k = sum over SIGMAS of exp(-d^2 / (2 sigma))."""
    sq = (f * f).sum(1, keepdim=True)
    d2 = (sq + sq.t() - 2.0 * f @ f.t()).clamp_min(0.0)
    k = sum(torch.exp(d2 * (-0.5 / s)) for s in SIGMAS)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()


def median_seconds(fn):
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(STEPS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run():
    import torch

    if DEVICE == "cpu":
        torch.set_num_threads(THREADS)
    dev = torch.device(DEVICE)
    torch.manual_seed(0)
    DeepMerge, ResNet18 = build(torch)
    F = torch.nn.functional
    x = torch.randn(2 * HALF, 3, 75, 75, device=dev)
    y = torch.randint(0, 2, (HALF,), device=dev)
    cases = []

    def add(name, shape, seconds, images=None, flops=None):
        cases.append({
            "name": name, "shape": shape, "median_s": seconds,
            "images_per_s": images / seconds if images else None,
            "gflops": flops / seconds / 1e9 if flops else None,
        })

    for label, model_cls in [("deepmerge", DeepMerge), ("resnet18", ResNet18)]:
        model = model_cls().to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            f, logits = model(x)
            loss = F.cross_entropy(logits[:HALF], y) + mmd(torch, f, HALF)
            loss.backward()
            opt.step()
            loss.item()

        add(f"train_step/{label}/mmd", list(x.shape), median_seconds(step), images=2 * HALF)
        if label == "deepmerge":
            model.eval()

            def infer():
                with torch.no_grad():
                    model(x)[1][0, 0].item()

            add("inference/deepmerge", list(x.shape), median_seconds(infer), images=2 * HALF)

    sizes = [1024, 2048] + ([4096] if DEVICE != "cpu" else [])
    for n in sizes:
        a = torch.randn(n, n, device=dev)
        b = torch.randn(n, n, device=dev)
        add("matmul/nn", [n, n, n], median_seconds(lambda: (a @ b)[0, 0].item()),
            flops=2.0 * n ** 3)
    w = torch.randn(8, 3, 5, 5, device=dev)
    with torch.no_grad():
        secs = median_seconds(lambda: F.conv2d(x, w, padding=2)[0, 0, 0, 0].item())
    add("conv2d/forward/deepmerge_conv1", [256, 3, 75, 75, 8, 5, 5], secs,
        flops=2.0 * 256 * 8 * 75 * 75 * 3 * 25)
    return {
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "device": DEVICE,
        "threads": THREADS if DEVICE == "cpu" else None,
        "machine": platform.machine(),
        "allocator": os.environ.get("GLIBC_TUNABLES") or "default",
        "steps": STEPS,
        "cases": cases,
    }


# Names older tidal reports used for these cases (tidal's bench::compare::ALIASES).
OLD_NAMES = {"matmul": "matmul/nn", "conv2d_fwd/deepmerge_conv1": "conv2d/forward/deepmerge_conv1"}


def ratios(peer, report):
    """Rows of (case, PyTorch, tidal, tidal / PyTorch) for the cases both have."""
    tidal = {(OLD_NAMES.get(c["name"], c["name"]), tuple(c["shape"])): c
             for c in report["cases"]}
    rows = []
    for c in peer["cases"]:
        t = tidal.get((c["name"], tuple(c["shape"])))
        if t is None:
            continue
        key = "images_per_s" if c["images_per_s"] is not None else "gflops"
        unit = "images/s" if key == "images_per_s" else "GFLOP/s"
        if t.get(key) is None:
            continue
        shape = "x".join(str(v) for v in c["shape"]) if c["name"] == "matmul/nn" else ""
        rows.append((f'{c["name"]} {shape}'.strip(), unit, c[key], t[key], t[key] / c[key]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write PyTorch's timings (JSON) here")
    ap.add_argument("--load", help="read PyTorch's timings from this file instead of timing")
    ap.add_argument("--against", help="a `tidal bench` report: print tidal / PyTorch")
    ap.add_argument("--warm-allocator", action="store_true",
                    help="rerun with glibc malloc keeping freed memory (see above)")
    a = ap.parse_args()
    if a.warm_allocator and not a.load and os.environ.get("GLIBC_TUNABLES") != WARM:
        env = dict(os.environ, GLIBC_TUNABLES=WARM)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    if a.load:
        with open(a.load) as f:
            peer = json.load(f)
    else:
        try:
            peer = run()
        except ImportError:
            sys.exit("pytorch_peer.py: this python3 has no torch (see the header for a venv)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(peer, f, indent=1)
    if not a.against:
        json.dump(peer, sys.stdout, indent=1)
        print()
        return
    with open(a.against) as f:
        report = json.load(f)
    rows = ratios(peer, report)
    if not rows:
        sys.exit(f"pytorch_peer.py: {a.against} shares no case with the PyTorch timings")
    adapter = report.get("adapter", {})
    print(f"tidal on {adapter.get('name', '?')}, PyTorch {peer['torch_version']} on "
          f"{peer['device']}" + (f" ({peer['threads']} threads)" if peer["threads"] else "")
          + f", allocator {peer.get('allocator', 'default')}")
    print("| case | unit | PyTorch | tidal | tidal / PyTorch |")
    print("|---|---|---|---|---|")
    for name, unit, p, t, r in rows:
        print(f"| {name} | {unit} | {p:.1f} | {t:.1f} | {r:.2f} |")


if __name__ == "__main__":
    main()
