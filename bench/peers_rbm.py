#!/usr/bin/python3
"""RBM CD-1 training throughput: kadanoff next to PyTorch and scikit-learn, in
one run, printed as Markdown (bench/run.sh appends it to bench/RESULTS.md).

Usage: /usr/bin/python3 bench/peers_rbm.py BUILD/bench/bench_rbm [ROUNDS]

Every round measures, for each RBM shape and thread count (1, 2), kadanoff
(a `bench_rbm --rate` subprocess: one warm-up epoch, then the sgemm ceiling of
the four CD-1 products and 2 timed epochs), then PyTorch, then scikit-learn,
so all three see the same load of the shared machine; the table gives medians
over the rounds. Each tool trains on its own number of rows, chosen in round 0
so that one epoch takes about EPOCH_S seconds on 1 thread; the rate is rows
per second over the timed epochs after one warm-up epoch.

What each one computes (batch 100, random ±1 / {0,1} training rows):
- kadanoff: CD-1, spin units (±1) on both layers, float32, momentum SGD
  (lr 0.01, momentum 0.5), shuffled every epoch; Philox random numbers.
- torch: the same CD-1 update written plainly with torch matmuls, float32,
  spin units: h0 = tanh(v0 W + b), h sampled with p(+1) = σ(2x), v1 sampled,
  h1 = tanh(v1 W + b), ∇W = (v0ᵀ h0 - v1ᵀ h1) / B (two products, the same
  flops as kadanoff's stacked one), momentum SGD; torch.set_num_threads(1|2);
  the batch is gathered from a fresh permutation every epoch.
- scikit-learn: BernoulliRBM.fit — persistent CD (PCD-1) with binary units,
  float64 (its default dtype), plain SGD (its only optimiser), no shuffling;
  its five products per batch are the same 10·nv·nh flops per sample. Threads
  through threadpoolctl (the BLAS numpy uses).
A peer whose Python module is missing is skipped with a note.
"""
import math
import os
import statistics
import subprocess
import sys
import time

BATCH = 100
EPOCH_S = 0.25
EPOCHS = 2
SHAPES = [(100, 64), (100, 100), (1600, 400)]
THREADS = [1, 2]
LR, MOMENTUM = 0.01, 0.5


def fmt_rate(x):
    if x is None or math.isnan(x):
        return "—"
    if x >= 1e6:
        return f"{x * 1e-6:.2f}M"
    if x >= 1e3:
        return f"{x * 1e-3:.1f}k"
    return f"{x:.0f}"


def round_rows(n):
    return max(10 * BATCH, int(math.ceil(n / BATCH)) * BATCH)


# ---- kadanoff (subprocess) ----------------------------------------------------

class Kadanoff:
    name = "kadanoff"

    def __init__(self, exe):
        self.exe = exe
        self.rows = {}

    def calibrate(self, nv, nh):
        out = subprocess.run([self.exe, "--rows", str(nv), str(nh)], check=True,
                             capture_output=True, text=True).stdout
        self.rows[(nv, nh)] = int(out.split()[0])

    def measure(self, nv, nh, threads):
        out = subprocess.run([self.exe, "--rate", str(nv), str(nh), str(threads),
                              str(self.rows[(nv, nh)])], check=True, capture_output=True,
                             text=True).stdout
        return {k: float(v) for k, v in (f.split("=") for f in out.split())}


# ---- PyTorch -------------------------------------------------------------------

class Torch:
    name = "torch"

    def __init__(self):
        import torch
        self.torch = torch
        self.version = torch.__version__
        self.rows = {}

    def _model(self, nv, nh, rows):
        t = self.torch
        g = t.Generator().manual_seed(1)
        X = (t.randint(0, 2, (rows, nv), generator=g) * 2 - 1).to(t.float32)
        W = 0.01 * t.randn(nv, nh, generator=g)
        return dict(X=X, W=W, a=t.zeros(nv), b=t.zeros(nh), vW=t.zeros(nv, nh),
                    va=t.zeros(nv), vb=t.zeros(nh), g=g)

    def _epoch(self, m):
        t = self.torch
        X, W, a, b, vW, va, vb, g = (m[k] for k in ("X", "W", "a", "b", "vW", "va", "vb", "g"))
        n = X.shape[0]
        perm = t.randperm(n, generator=g)
        with t.no_grad():
            for q in range(0, n - BATCH + 1, BATCH):
                v0 = X[perm[q:q + BATCH]]
                x0 = t.addmm(b, v0, W)
                h0 = t.tanh(x0)
                hs = t.where(t.rand(x0.shape, generator=g) < t.sigmoid(2 * x0), 1.0, -1.0)
                y1 = t.addmm(a, hs, W.t())
                v1 = t.where(t.rand(y1.shape, generator=g) < t.sigmoid(2 * y1), 1.0, -1.0)
                h1 = t.tanh(t.addmm(b, v1, W))
                gW = (v0.t() @ h0 - v1.t() @ h1) / BATCH
                ga = (v0 - v1).mean(0)
                gb = (h0 - h1).mean(0)
                vW.mul_(MOMENTUM).add_(gW, alpha=LR)
                va.mul_(MOMENTUM).add_(ga, alpha=LR)
                vb.mul_(MOMENTUM).add_(gb, alpha=LR)
                W.add_(vW)
                a.add_(va)
                b.add_(vb)

    def _rate(self, nv, nh, threads, rows):
        self.torch.set_num_threads(threads)
        m = self._model(nv, nh, rows)
        self._epoch(m)  # warm-up
        t0 = time.perf_counter()
        for _ in range(EPOCHS):
            self._epoch(m)
        return rows * EPOCHS / (time.perf_counter() - t0)

    def calibrate(self, nv, nh):
        probe = round_rows(max(2000, min(50000, 2e9 / (10 * nv * nh))) / 10)
        self.rows[(nv, nh)] = round_rows(self._rate(nv, nh, 1, probe) * EPOCH_S)

    def measure(self, nv, nh, threads):
        return {"rate": self._rate(nv, nh, threads, self.rows[(nv, nh)])}


# ---- scikit-learn -------------------------------------------------------------

class Sklearn:
    name = "sklearn"

    def __init__(self):
        import numpy
        import sklearn
        from sklearn.neural_network import BernoulliRBM
        from threadpoolctl import threadpool_limits
        self.np, self.RBM, self.limits = numpy, BernoulliRBM, threadpool_limits
        self.version = sklearn.__version__
        self.rows = {}
        self.dtype = None

    def _rate(self, nv, nh, threads, rows):
        np = self.np
        X = np.random.default_rng(1).integers(0, 2, size=(rows, nv)).astype(np.float64)
        with self.limits(limits=threads, user_api="blas"):
            self.RBM(n_components=nh, learning_rate=LR, batch_size=BATCH, n_iter=1,
                     random_state=0).fit(X)  # warm-up
            rbm = self.RBM(n_components=nh, learning_rate=LR, batch_size=BATCH, n_iter=EPOCHS,
                           random_state=0)
            t0 = time.perf_counter()
            rbm.fit(X)
            dt = time.perf_counter() - t0
        self.dtype = str(rbm.components_.dtype)
        return rows * EPOCHS / dt

    def calibrate(self, nv, nh):
        probe = round_rows(max(2000, min(50000, 2e9 / (10 * nv * nh))) / 20)
        self.rows[(nv, nh)] = round_rows(self._rate(nv, nh, 1, probe) * EPOCH_S)

    def measure(self, nv, nh, threads):
        return {"rate": self._rate(nv, nh, threads, self.rows[(nv, nh)])}


def load_peers():
    peers, notes = [], []
    for cls, pkg in ((Torch, "python3-torch"), (Sklearn, "python3-sklearn")):
        try:
            peers.append(cls())
        except ImportError as e:
            notes.append(f"{cls.name} skipped: {e} (Debian package {pkg})")
    return peers, notes


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: peers_rbm.py BUILD/bench/bench_rbm [ROUNDS]", file=sys.stderr)
        return 2
    rounds = int(sys.argv[2]) if len(sys.argv) == 3 else 5
    kd = Kadanoff(sys.argv[1])
    peers, notes = load_peers()
    tools = [kd] + peers
    load0 = os.getloadavg()[0]
    for nv, nh in SHAPES:
        for tool in tools:
            tool.calibrate(nv, nh)
    res = {}  # (tool, shape, threads) -> list of dicts
    for _ in range(rounds):
        for shape in SHAPES:
            for th in THREADS:
                for tool in tools:
                    res.setdefault((tool.name, shape, th), []).append(tool.measure(*shape, th))
    load1 = os.getloadavg()[0]

    def med(tool, shape, th, key="rate"):
        xs = [r[key] for r in res.get((tool, shape, th), [])]
        return statistics.median(xs) if xs else float("nan")

    names = [p.name for p in peers]
    versions = ", ".join(f"{p.name} {p.version}" for p in peers)
    print(f"kadanoff next to its peers, CD-1, batch {BATCH}: medians over {rounds} interleaved "
          f"rounds (each round: kadanoff, then each peer, for every shape and thread count), "
          f"{EPOCHS} timed epochs after one warm-up epoch per measurement. 1-min load average "
          f"{load0:.2f} at start, {load1:.2f} at end" + (f"; {versions}" if versions else "") +
          ". Peers: torch = the same spin-unit CD-1 + momentum SGD in float32 written with torch "
          "matmuls (torch.set_num_threads); sklearn = BernoulliRBM.fit, PCD-1 with binary units "
          f"in {next((p.dtype for p in peers if p.name == 'sklearn'), 'float64')}, plain SGD "
          "(threadpoolctl BLAS limit). All do 10·nv·nh matrix-product flops per sample. "
          "\"limit\": kadanoff's samples/s if its four products ran at the sgemm ceiling measured "
          "in the same subprocess (fastest of 1 thread, kd_sgemm slicing, 2-way split per "
          "product); \"previous kernel\": the same kadanoff training with the batch-sliced chains "
          "switched off (cd.c's per-phase loops), timed in the same subprocess; \"cores free\": "
          "what the 2-thread test loop got (2.0 = idle machine).\n")
    head = ("| RBM | threads | kadanoff samples/s | fraction of limit | previous kernel samples/s "
            "| gain | cores free |")
    sep = "|---|---|---|---|---|---|---|"
    for n in names:
        head += f" {n} samples/s | kadanoff / {n} |"
        sep += "---|---|"
    print(head)
    print(sep)
    for shape in SHAPES:
        for th in THREADS:
            r = med("kadanoff", shape, th)
            lim = med("kadanoff", shape, th, "limit_best")
            prev = med("kadanoff", shape, th, "prev_rate")
            row = (f"| {shape[0]}-{shape[1]} | {th} | {fmt_rate(r)} | {100 * r / lim:.0f} % | "
                   f"{fmt_rate(prev)} | {r / prev:.2f}× | {med('kadanoff', shape, th, 'cores'):.2f} |")
            for n in names:
                p = med(n, shape, th)
                row += f" {fmt_rate(p)} | {r / p:.1f}× |"
            print(row)
    if peers:
        print()
        print("Same-core comparison on 2 cores (kadanoff on 2 threads ÷ the peer's better "
              "thread count):")
        print()
        print("| RBM | " + " | ".join(f"kadanoff 2 thr. / best {n}" for n in names) + " |")
        print("|---|" + "---|" * len(names))
        for shape in SHAPES:
            r = med("kadanoff", shape, 2)
            cells = [f"{r / max(med(n, shape, 1), med(n, shape, 2)):.1f}×" for n in names]
            print(f"| {shape[0]}-{shape[1]} | " + " | ".join(cells) + " |")
    for note in notes:
        print(f"\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
