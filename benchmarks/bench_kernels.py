"""Benchmark of the fused mixed aggregation against K native PyTorch passes.

For each graph, feature width d and number of aggregators K it times, side by side in one process:

(a) ``darts_gnn.ops.mixed_aggregate`` (the fused kernel, see ``backend`` in the output),
(b) K native PyTorch passes, each aggregator with the fastest of ``index_add``, ``scatter_reduce`` and
    ``torch.sparse.mm`` (CSR) that supports it (chosen per graph and d by timing each alone),
(c) K ``torch_scatter`` / ``torch_sparse`` passes when those packages import ('n/a' otherwise),
(d) ``darts_gnn.ops.aggregate_stack`` (every aggregator's output separately, one fused pass) against
    K separate fused single-aggregator calls stacked (skip with ``--no-stack``),

forward only and forward + backward (gradients to x and to the mixing weights), as medians of
``--repeats`` runs after a warm-up. The bandwidth floor of the forward is the bytes that must move
(rowptr + col once, one neighbour row per edge, the output once) over the copy bandwidth measured
here with a large tensor copy (re-measured for each graph and d, next to the timings it bounds);
``floor/fwd`` is the fraction of that floor the fused forward reaches.

Usage::

    python benchmarks/bench_kernels.py --out bench_out/kernels.json          # full grid
    python benchmarks/bench_kernels.py --quick                               # Gowalla (or synthetic), d=64, K=1,5
    python benchmarks/bench_kernels.py --render bench_out/kernels.json       # markdown tables of a saved run
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from darts_gnn.ops import aggregate_stack, backend, mixed_aggregate
from kernel_tables import HEADER, SEP, STACK_HEADER, Row, fmt_row, fmt_stack, render

GOWALLA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gowalla" / "train.txt"
OPS_BY_K = {1: ("gcn",), 3: ("sum", "gcn", "max"), 5: ("sum", "mean", "gcn", "max", "min")}
SYNTHETIC = {"powerlaw-S": (10_000, 10), "powerlaw-M": (50_000, 20), "powerlaw-L": (200_000, 10)}


# ------------------------------------------------------------------------------------------------ graphs

@dataclass
class Graph:
    name: str
    rowptr: torch.Tensor
    col: torch.Tensor

    @property
    def n(self) -> int:
        return self.rowptr.numel() - 1

    @property
    def e(self) -> int:
        return self.col.numel()


def csr_from_pairs(name: str, n: int, src: np.ndarray, dst: np.ndarray) -> Graph:
    """Symmetric, de-duplicated CSR (by destination) from undirected pairs."""
    a = np.concatenate([src, dst]).astype(np.int64)
    b = np.concatenate([dst, src]).astype(np.int64)
    key = np.unique(b * n + a)
    row, col = key // n, key % n
    rowptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=rowptr[1:])
    return Graph(name, torch.from_numpy(rowptr), torch.from_numpy(col))


def gowalla(path: Path) -> Optional[Graph]:
    """Users + items of the LightGCN-format ``train.txt`` (``user item item ...`` per line)."""
    if not path.is_file():
        return None
    users, items = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        its = np.asarray(parts[1:], dtype=np.int64)
        users.append(np.full(len(its), int(parts[0]), dtype=np.int64))
        items.append(its)
    u, i = np.concatenate(users), np.concatenate(items)
    n_users = int(u.max()) + 1
    n = n_users + int(i.max()) + 1
    return csr_from_pairs("gowalla", n, u, i + n_users)


def powerlaw(name: str, n: int, avg_degree: int, alpha: float = 0.9, seed: int = 0) -> Graph:
    """Undirected graph whose endpoints are drawn with probability proportional to rank^-alpha."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, n + 1, dtype=np.float64) ** -alpha
    p /= p.sum()
    perm = rng.permutation(n)
    m = n * avg_degree // 2
    src = perm[rng.choice(n, size=m, p=p)]
    dst = perm[rng.choice(n, size=m, p=p)]
    return csr_from_pairs(name, n, src, dst)


# ------------------------------------------------------------------------------------ native baselines

class Native:
    """Per-aggregator native PyTorch implementations on one graph (static tensors built once)."""

    def __init__(self, g: Graph, dtype: torch.dtype, device: torch.device):
        import warnings

        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")  # beta-state notices of sparse CSR
        self.n, self.e = g.n, g.e
        self.rowptr, self.col = g.rowptr.to(device), g.col.to(device)
        deg = (self.rowptr[1:] - self.rowptr[:-1]).to(dtype)
        self.row = torch.repeat_interleave(torch.arange(self.n, device=device), self.rowptr[1:] - self.rowptr[:-1])
        dinv = torch.where(deg > 0, deg.clamp(min=1).rsqrt(), torch.zeros_like(deg))
        self.coef = {"sum": None, "mean": (1.0 / deg.clamp(min=1))[self.row], "gcn": dinv[self.row] * dinv[self.col]}
        self.inv_deg = (1.0 / deg.clamp(min=1)).unsqueeze(1)
        self.csr = {}
        for op, c in self.coef.items():
            values = torch.ones(self.e, dtype=dtype, device=device) if c is None else c
            self.csr[op] = torch.sparse_csr_tensor(self.rowptr, self.col, values, (self.n, self.n))

    def variants(self, op: str) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
        n, row, col = self.n, self.row, self.col
        out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
        if op in ("sum", "mean", "gcn"):
            coef = self.coef[op]

            def index_add(x: torch.Tensor) -> torch.Tensor:
                msg = x.index_select(0, col)
                if coef is not None:
                    msg = msg * coef.unsqueeze(1)
                return x.new_zeros(n, x.size(1)).index_add_(0, row, msg)

            def scatter_sum(x: torch.Tensor) -> torch.Tensor:
                msg = x.index_select(0, col)
                if op == "gcn":
                    msg = msg * coef.unsqueeze(1)
                idx = row.unsqueeze(1).expand(-1, x.size(1))
                r = "mean" if op == "mean" else "sum"
                return x.new_zeros(n, x.size(1)).scatter_reduce_(0, idx, msg, r, include_self=False)

            def spmm(x: torch.Tensor, a=self.csr[op]) -> torch.Tensor:
                return torch.sparse.mm(a, x)

            out.update(index_add=index_add, scatter_reduce=scatter_sum, sparse_mm=spmm)
        else:
            reduce = "amax" if op == "max" else "amin"

            def scatter_ext(x: torch.Tensor) -> torch.Tensor:
                idx = row.unsqueeze(1).expand(-1, x.size(1))
                return x.new_zeros(n, x.size(1)).scatter_reduce_(0, idx, x.index_select(0, col), reduce,
                                                                 include_self=False)

            out.update(scatter_reduce=scatter_ext)
        return out


def scatter_variants(g: Graph, device: torch.device) -> Optional[dict[str, Callable]]:
    """(c): torch_scatter / torch_sparse passes, or None when they are not installed."""
    try:
        import torch_scatter  # type: ignore
        import torch_sparse  # type: ignore
    except Exception:  # noqa: BLE001 - any import problem means 'n/a'
        return None
    rowptr, col = g.rowptr.to(device), g.col.to(device)
    deg = (rowptr[1:] - rowptr[:-1]).float()
    dinv = torch.where(deg > 0, deg.clamp(min=1).rsqrt(), torch.zeros_like(deg))
    row = torch.repeat_interleave(torch.arange(g.n, device=device), rowptr[1:] - rowptr[:-1])
    adj = torch_sparse.SparseTensor(rowptr=rowptr, col=col, sparse_sizes=(g.n, g.n))
    gcn = torch_sparse.SparseTensor(rowptr=rowptr, col=col, value=dinv[row] * dinv[col], sparse_sizes=(g.n, g.n))

    def seg(reduce: str) -> Callable:
        return lambda x: torch_scatter.segment_csr(x.index_select(0, col), rowptr, reduce=reduce)

    return {"sum": lambda x: torch_sparse.matmul(adj, x, reduce="sum"),
            "mean": lambda x: torch_sparse.matmul(adj, x, reduce="mean"),
            "gcn": lambda x: torch_sparse.matmul(gcn, x, reduce="sum"),
            "max": seg("max"), "min": seg("min")}


# --------------------------------------------------------------------------------------------- timing

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


_MINS: list[float] = []  # the minimum of each measurement, in call order (kept in the JSON)


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in ms.

    Calls slower than 2 s are repeated 3 times at most; calls faster than 20 ms are repeated until about
    0.4 s has passed (at most 40 times), which steadies the median on a shared machine.
    """
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    sync(device)
    per_call = (time.perf_counter() - t0) / max(warmup, 1)
    if per_call > 2.0:
        repeats = min(repeats, 3)
    elif per_call < 0.02:
        repeats = max(repeats, min(40, int(0.4 / max(per_call, 1e-4))))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    _MINS.append(min(times))
    return statistics.median(times)


def copy_bandwidth(device: torch.device, mib: int = 512, repeats: int = 5) -> float:
    """Bytes per second of ``dst.copy_(src)`` on a large tensor (read + write counted)."""
    src = torch.ones(mib * 2**20 // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), device, repeats, warmup=2)
    return 2 * src.numel() * 4 / (ms / 1e3)


def forward_floor_bytes(g: Graph, d: int, elem: int) -> int:
    return (g.n + 1) * 8 + g.e * 8 + g.e * d * elem + g.n * d * elem


def stack_times(rowptr: torch.Tensor, col: torch.Tensor, x0: torch.Tensor, ops: tuple, device: torch.device,
                repeats: int) -> dict:
    """(d): fused ``aggregate_stack`` vs K fused single-aggregator passes, fwd and fwd+bwd (to x), in ms."""
    one = torch.ones(1, device=device)
    grad = torch.randn(len(ops), *x0.shape, generator=torch.Generator().manual_seed(1)).to(device)
    x = x0.clone().requires_grad_(True)
    calls = {"stack": lambda inp: aggregate_stack(rowptr, col, inp, ops),
             "passes": lambda inp: torch.stack([mixed_aggregate(rowptr, col, inp, one, (op,)) for op in ops])}
    out = {}
    for name, f in calls.items():
        def fwd(f=f):
            with torch.no_grad():
                f(x0)
        out[f"{name}_fwd_ms"] = median_ms(fwd, device, repeats)
        out[f"{name}_fb_ms"] = median_ms(lambda f=f: f(x).backward(grad), device, repeats)
    return out


def bench_graph(g: Graph, ds: list[int], ks: list[int], repeats: int, device: torch.device,
                log: Callable[[str], None], stack: bool = True) -> list[Row]:
    rows: list[Row] = []
    dtype = torch.float32
    native = Native(g, dtype, device)
    sc = scatter_variants(g, device)
    rowptr, col = g.rowptr.to(device), g.col.to(device)
    for d in ds:
        bw = copy_bandwidth(device, mib=256)  # measured next to the rows it bounds: the machine may be shared
        gen = torch.Generator().manual_seed(d)
        x0 = torch.randn(g.n, d, generator=gen, dtype=dtype).to(device)
        grad = torch.randn(g.n, d, generator=gen, dtype=dtype).to(device)
        needed = sorted({op for k in ks for op in OPS_BY_K[k]})
        choice: dict[str, tuple[str, Callable]] = {}
        for op in needed:  # pick each aggregator's fastest native variant, by forward+backward time
            best = None
            variants = native.variants(op)
            if len(variants) == 1:
                (vname, fn), = variants.items()
                choice[op] = (vname, fn)
                continue
            for vname, fn in variants.items():
                x = x0.clone().requires_grad_(True)

                def fb(fn=fn, x=x):
                    fn(x).backward(grad)
                try:
                    t = median_ms(fb, device, max(2, repeats // 2))
                except (RuntimeError, NotImplementedError) as exc:  # e.g. no autograd for a layout
                    log(f"    {op}/{vname}: unsupported ({str(exc).splitlines()[0][:80]})")
                    continue
                if best is None or t < best[0]:
                    best = (t, vname, fn)
            choice[op] = (best[1], best[2])
        for k in ks:
            ops = OPS_BY_K[k]
            alpha = torch.zeros(k, device=device, requires_grad=True)
            x = x0.clone().requires_grad_(True)

            def fused_fwd():
                with torch.no_grad():
                    mixed_aggregate(rowptr, col, x0, torch.softmax(alpha, 0), ops)

            def fused_fb():
                mixed_aggregate(rowptr, col, x, torch.softmax(alpha, 0), ops).backward(grad)

            def native_call(inp, fns):
                w = torch.softmax(alpha, 0)
                out = None
                for i, fn in enumerate(fns):
                    term = w[i] * fn(inp)
                    out = term if out is None else out + term
                return out

            fns = [choice[op][1] for op in ops]

            def native_fwd():
                with torch.no_grad():
                    native_call(x0, fns)

            def native_fb():
                native_call(x, fns).backward(grad)

            times = [median_ms(f, device, repeats) for f in (fused_fwd, native_fwd, fused_fb, native_fb)]
            r = Row(g.name, g.n, g.e, d, k, list(ops), *times, native_choice={op: choice[op][0] for op in ops},
                    floor_ms=forward_floor_bytes(g, d, 4) / bw * 1e3,
                    extras={"copy_bandwidth_gbs": bw / 1e9,
                            "min_ms": dict(zip(("fused_fwd", "native_fwd", "fused_fb", "native_fb"), _MINS[-4:]))})
            if sc is not None:
                sfns = [sc[op] for op in ops]
                r.scatter_fwd_ms = median_ms(lambda: native_call(x0, sfns), device, repeats)
                r.scatter_fb_ms = median_ms(lambda: native_call(x, sfns).backward(grad), device, repeats)
            if stack:
                r.extras["stack"] = stack_times(rowptr, col, x0, ops, device, repeats)
            rows.append(r)
            log(fmt_row(r))
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one real (or small synthetic) graph, d=64, K in {1, 5}")
    p.add_argument("--graphs", nargs="*", default=None,
                   help=f"subset of gowalla {' '.join(SYNTHETIC)} (default: all)")
    p.add_argument("--d", nargs="*", type=int, default=None, help="feature widths (default 32 64 128)")
    p.add_argument("--k", nargs="*", type=int, default=None, choices=sorted(OPS_BY_K), help="default 1 3 5")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 7, quick 5)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-stack", action="store_true", help="skip (d), aggregate_stack vs K passes")
    p.add_argument("--gowalla", type=Path, default=GOWALLA, help="LightGCN-format train.txt")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--render", type=Path, default=None, metavar="JSON",
                   help="print the markdown tables of an earlier --out file and exit")
    args = p.parse_args(argv)
    if args.render is not None:
        print(render(json.loads(args.render.read_text())), end="")
        return 0

    device = torch.device(args.device)
    ds = args.d or ([64] if args.quick else [32, 64, 128])
    ks = args.k or ([1, 5] if args.quick else [1, 3, 5])
    repeats = args.repeats or (5 if args.quick else 7)
    names = args.graphs or (["gowalla"] if args.quick else ["gowalla", *SYNTHETIC])

    def log(msg: str) -> None:
        print(msg, flush=True)

    impl = backend()
    bw = copy_bandwidth(device)
    log(f"# darts-gnn kernel benchmark: backend={impl}, device={device}, torch {torch.__version__}, "
        f"threads={torch.get_num_threads()}, copy bandwidth {bw / 1e9:.1f} GB/s (re-measured per graph and d)")
    log(f"# K -> ops: {OPS_BY_K}; times are medians of {repeats} runs (ms)")
    log(HEADER)
    log(SEP)
    rows: list[Row] = []
    for name in names:
        if name == "gowalla":
            g = gowalla(args.gowalla)
            if g is None:
                log(f"# gowalla: {args.gowalla} not found, skipped")
                if args.quick:
                    names.append("powerlaw-M")
                continue
        elif name in SYNTHETIC:
            n, deg = SYNTHETIC[name]
            g = powerlaw(name, n, deg)
        else:
            p.error(f"unknown graph {name!r}; choose from gowalla {' '.join(SYNTHETIC)}")
        rows += bench_graph(g, ds, ks, repeats, device, log, stack=not args.no_stack)
    if rows and not args.no_stack:
        log("")
        log(STACK_HEADER)
        log("|" + "---|" * 10)
        for r in rows:
            log(fmt_stack(asdict(r)))

    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "backend": impl, "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "copy_bandwidth_gbs": bw / 1e9, "ops_by_k": OPS_BY_K,
            "rows": [dict(asdict(r), ratio_fwd=r.ratio_fwd, ratio_fb=r.ratio_fb,
                          floor_fraction=r.floor_ms / r.fused_fwd_ms) for r in rows],
        }
        args.out.write_text(json.dumps(doc, indent=2))
        log(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
