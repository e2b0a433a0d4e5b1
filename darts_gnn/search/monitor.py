r"""Watching a search: α to TensorBoard, the α heatmap figure and the ``alphas.csv`` trajectory.

TensorBoard tags written by :class:`AlphaLogger` (step = search epoch; -1 is the start):

* ``alpha/<choice>/<candidate>``: relaxed weight of each candidate (e.g. ``alpha/layer0.aggregator/gcn``);
  the *Custom Scalars* tab shows one chart per choice with a line per candidate.
* ``alpha_logits/<choice>``: histogram of the raw α row.
* ``alpha/heatmap``: image, layers x candidates per kind (plus the global choices).
* ``genotype``: text, the current argmax architecture.
* ``search/loss_train``, ``search/loss_valid``, ``search/valid_<metric>``, ``search/epoch_seconds``,
  ``search/hessian_eigenvalue`` (when measured).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from ..store.files import atomic_write

__all__ = ["AlphaLogger", "heatmap_figure", "write_alphas_csv", "alphas_csv_text"]


def _matplotlib():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def heatmap_figure(weights: dict[str, list[float]], choices, title: str = ""):
    """Matplotlib figure of the relaxed α: one panel per per-layer kind (rows = layers, columns =
    candidates) and one for the global choices (combine, depth, width). ``weights`` maps choice keys
    to their weights; ``choices`` is ``SearchSpace.choices()`` (fixed choices are skipped)."""
    import numpy as np
    plt = _matplotlib()
    searched = [c for c in choices if len(c.candidates) > 1 and c.key in weights]
    panels: list[tuple[str, list]] = []
    for kind in ("aggregator", "transform", "skip"):
        rows = [c for c in searched if c.kind == kind]
        if rows:
            panels.append((kind, rows))
    glob = [c for c in searched if c.layer is None]
    if glob:
        panels.append(("global", glob))
    if not panels:
        fig, ax = plt.subplots(figsize=(3, 1))
        ax.text(0.5, 0.5, "no searched choices", ha="center", va="center")
        ax.axis("off")
        return fig
    widths = [max(len(c.candidates) for c in rows) for _, rows in panels]
    height = max(len(rows) for _, rows in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.1 * sum(widths) + 1.5 * len(panels), 0.6 * height + 1.6),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, (kind, rows), k in zip(axes[0], panels, widths):
        data = np.full((len(rows), k), np.nan)
        for r, c in enumerate(rows):
            data[r, :len(c.candidates)] = weights[c.key]
        ax.imshow(data, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        for r, c in enumerate(rows):
            best = int(np.nanargmax(data[r]))
            for j, name in enumerate(c.candidates):
                v = data[r, j]
                label = f"{name}\n{v:.2f}" if kind == "global" else f"{v:.2f}"
                ax.text(j, r, label, ha="center", va="center", fontsize=7,
                        color="black" if v > 0.6 else "white", fontweight="bold" if j == best else "normal")
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([c.key.split(".")[0] if kind != "global" else c.key for c in rows], fontsize=8)
        if kind == "global":
            ax.set_xticks([])
        else:
            ax.set_xticks(range(k))
            ax.set_xticklabels(rows[0].candidates, rotation=30, ha="right", fontsize=8)
        ax.set_title(kind, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def alphas_csv_text(trajectory: list[dict], choices) -> str:
    """Long-format CSV of a trajectory: ``epoch,choice,candidate,alpha,weight`` (epoch -1 = start)."""
    names = {c.key: c.candidates for c in choices}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["epoch", "choice", "candidate", "alpha", "weight"])
    for snap in trajectory:
        for key, alpha in snap["alpha"].items():
            for cand, a, p in zip(names.get(key, range(len(alpha))), alpha, snap["weights"][key]):
                w.writerow([snap["epoch"], key, cand, f"{a:.6g}", f"{p:.6g}"])
    return buf.getvalue()


def write_alphas_csv(path: str | Path, trajectory: list[dict], choices) -> Path:
    text = alphas_csv_text(trajectory, choices)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text)
    return atomic_write(path, write)


class AlphaLogger:
    """Writes the α trajectory and search losses to a TensorBoard ``SummaryWriter``.

    Args:
        writer: a ``SummaryWriter`` (``add_scalar``, ``add_histogram``, ``add_figure``, ``add_text``,
            ``add_custom_scalars``); methods it lacks are skipped.
        figure_every: heatmap image every n epochs (0: never; the last epoch is always drawn).
        prefix: tag prefix for the loss/metric scalars.
    """

    def __init__(self, writer, figure_every: int = 1, prefix: str = "search/"):
        self.writer = writer
        self.figure_every = int(figure_every)
        self.prefix = prefix

    def _call(self, name: str, *args, **kw) -> None:
        fn = getattr(self.writer, name, None)
        if fn is not None:
            fn(*args, **kw)

    def log_start(self, searcher) -> None:
        model = searcher.model
        layout = {"alpha": {c.key: ["Multiline", [f"alpha/{c.key}/.*"]] for c in model.choices if c.searched}}
        layout["search"] = {"loss": ["Multiline", [f"{self.prefix}loss_.*"]]}
        self._call("add_custom_scalars", layout)
        self._call("add_text", "search_space", "<pre>" + model.space.describe() + "</pre>", 0)
        self.log_alpha(searcher, -1, figure=True)

    def log_alpha(self, searcher, step: int, figure: bool = False) -> None:
        model = searcher.model
        probs = model.probabilities()
        for key, cand in probs.items():
            for name, v in cand.items():
                self._call("add_scalar", f"alpha/{key}/{name}", v, step)
        for key, a in model.named_arch_parameters():
            if a.numel() > 1:
                self._call("add_histogram", f"alpha_logits/{key}", a.detach().cpu(), step)
        g = model.genotype()
        self._call("add_text", "genotype", f"`{g.summary()}`\n\n<pre>{g.to_json()}</pre>", step)
        if figure and hasattr(self.writer, "add_figure"):
            fig = heatmap_figure({k: list(v.values()) for k, v in probs.items()}, model.choices,
                                 f"epoch {step}: {g.summary()}")
            self.writer.add_figure("alpha/heatmap", fig, step, close=True)

    def log_epoch(self, searcher, epoch: int, record: dict) -> None:
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "epoch":
                tag = key.replace("loss/", "loss_").replace("valid/", "valid_").replace("hessian/", "hessian_")
                tag = tag.replace("seconds", "epoch_seconds") if key == "seconds" else tag
                if math.isfinite(float(value)):
                    self._call("add_scalar", self.prefix + tag, float(value), epoch)
        last = epoch + 1 == searcher.cfg.epochs
        figure = last or (self.figure_every > 0 and (epoch + 1) % self.figure_every == 0)
        self.log_alpha(searcher, epoch, figure=figure)
        self._call("flush")
