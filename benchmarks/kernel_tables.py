"""Result rows and markdown tables of ``bench_kernels.py`` (kept apart so the benchmark stays short)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Row:
    graph: str
    n: int
    e: int
    d: int
    k: int
    ops: list
    fused_fwd_ms: float
    native_fwd_ms: float
    fused_fb_ms: float
    native_fb_ms: float
    native_choice: dict
    scatter_fwd_ms: Optional[float] = None
    scatter_fb_ms: Optional[float] = None
    floor_ms: float = 0.0
    extras: dict = field(default_factory=dict)

    @property
    def ratio_fwd(self) -> float:
        return self.native_fwd_ms / self.fused_fwd_ms

    @property
    def ratio_fb(self) -> float:
        return self.native_fb_ms / self.fused_fb_ms


HEADER = ("| graph | N | E | d | K | fused fwd ms | native fwd ms | (b)/(a) fwd | fused f+b ms | native f+b ms | "
          "(b)/(a) f+b | scatter (c)/(a) fwd, f+b | floor ms | floor/fwd |")
SEP = "|" + "---|" * 14


def _ratio(num: Optional[float], den: float) -> str:
    return "n/a" if num is None else f"{num / den:.2f}"


def fmt_row(r: Row) -> str:
    return (f"| {r.graph} | {r.n:,} | {r.e:,} | {r.d} | {r.k} | {r.fused_fwd_ms:.1f} | {r.native_fwd_ms:.1f} | "
            f"{r.ratio_fwd:.2f} | {r.fused_fb_ms:.1f} | {r.native_fb_ms:.1f} | {r.ratio_fb:.2f} | "
            f"{_ratio(r.scatter_fwd_ms, r.fused_fwd_ms)}, {_ratio(r.scatter_fb_ms, r.fused_fb_ms)} | "
            f"{r.floor_ms:.1f} | {r.floor_ms / r.fused_fwd_ms:.2f} |")


def render(doc: dict) -> str:
    """Markdown of a results JSON: the median table, then the per-measurement minima."""
    lines = [f"Command: `python benchmarks/{doc['command']}` ({doc['date']}; backend `{doc['backend']}`, "
             f"device {doc['device']}, torch {doc['torch']}, {doc['threads']} threads, {doc['cpu_count']} CPUs).",
             "K -> ops: " + ", ".join(f"K={k}: {'/'.join(v)}" for k, v in doc["ops_by_k"].items()) + ".", "",
             "Medians (ms):", "", HEADER, SEP]
    for r in doc["rows"]:
        row = Row(**{k: v for k, v in r.items() if k in Row.__dataclass_fields__})
        lines.append(fmt_row(row))
    lines += ["", "Minima of the same measurements (ms), and the native variant chosen per aggregator:", "",
              "| graph | d | K | fused fwd | native fwd | fused f+b | native f+b | (b)/(a) f+b | floor | floor/fwd | "
              "copy GB/s | native choice |", "|" + "---|" * 12]
    for r in doc["rows"]:
        m = r["extras"]["min_ms"]
        choice = ", ".join(f"{op}: {v}" for op, v in r["native_choice"].items())
        lines.append(f"| {r['graph']} | {r['d']} | {r['k']} | {m['fused_fwd']:.1f} | {m['native_fwd']:.1f} | "
                     f"{m['fused_fb']:.1f} | {m['native_fb']:.1f} | {m['native_fb'] / m['fused_fb']:.1f} | "
                     f"{r['floor_ms']:.1f} | {r['floor_ms'] / m['fused_fwd']:.2f} | "
                     f"{r['extras']['copy_bandwidth_gbs']:.1f} | {choice} |")
    stacked = [r for r in doc["rows"] if "stack" in r["extras"]]
    if stacked:
        lines += ["", "(d) `aggregate_stack` (one fused pass, K outputs) vs K fused single-aggregator passes, "
                  "medians (ms); backward to x:", "", STACK_HEADER, "|" + "---|" * 10]
        lines += [fmt_stack(r) for r in stacked]
    return "\n".join(lines) + "\n"


STACK_HEADER = ("| graph | d | K | stack fwd | K passes fwd | passes/stack fwd | stack f+b | K passes f+b | "
                "passes/stack f+b | ops |")


def fmt_stack(r: dict) -> str:
    t = r["extras"]["stack"]
    return (f"| {r['graph']} | {r['d']} | {r['k']} | {t['stack_fwd_ms']:.1f} | {t['passes_fwd_ms']:.1f} | "
            f"{t['passes_fwd_ms'] / t['stack_fwd_ms']:.2f} | {t['stack_fb_ms']:.1f} | {t['passes_fb_ms']:.1f} | "
            f"{t['passes_fb_ms'] / t['stack_fb_ms']:.2f} | {'/'.join(r['ops'])} |")
