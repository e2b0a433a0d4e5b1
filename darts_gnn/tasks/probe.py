r"""A linear probe: multinomial logistic regression on frozen user embeddings, and its metrics.

The probe of one attribute with :math:`C` classes maps a standardised embedding
:math:`z = (x - \mu) / \sigma` (``[d]``, statistics of the probe's training users) to logits
:math:`W z + b` (``W [C, d]``) and minimises the (optionally class-balanced) cross-entropy plus
:math:`\lambda \lVert W \rVert^2` with full-batch L-BFGS in float64, from zero weights: the
solution is deterministic. :math:`\lambda` is chosen from a grid by macro F1 on the validation users.

* accuracy = fraction of users whose predicted class is right
* macro F1 = mean over the classes present in the truth or the prediction of
  :math:`F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)` (scikit-learn's ``average="macro"``)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["accuracy", "macro_f1", "LinearProbe", "fit_probe", "probe_attribute", "majority_baseline",
           "WEIGHT_DECAYS"]

#: the default grid of :math:`\lambda`
WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal entries of two int arrays ``[n]``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes in ``y_true`` or ``y_pred`` (see module doc)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not len(y_true):
        return float("nan")
    f1 = []
    for c in np.union1d(y_true, y_pred):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        f1.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1))


@dataclass
class LinearProbe:
    """A fitted probe: ``predict(x [n, d]) -> [n]`` class ids."""
    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor  # [C, d]
    bias: torch.Tensor    # [C]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.to(torch.float64) - self.mean) / self.std
        return z @ self.weight.t() + self.bias

    def predict(self, x: torch.Tensor) -> np.ndarray:
        return self.logits(x).argmax(1).numpy()


def fit_probe(x: torch.Tensor, y: np.ndarray, n_classes: int, weight_decay: float,
              balanced: bool = True, steps: int = 100) -> LinearProbe:
    """Fit :class:`LinearProbe` on ``x`` ``[n, d]`` and labels ``y`` ``[n]`` in ``0..n_classes-1``;
    ``balanced``: class weights ``n / (C_present * count_c)`` in the cross-entropy."""
    x = x.detach().to(torch.float64).cpu()
    target = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp(min=1e-8)
    z = (x - mean) / std
    counts = torch.bincount(target, minlength=n_classes).to(torch.float64)
    cw = None
    if balanced:
        present = int((counts > 0).sum())
        cw = torch.where(counts > 0, len(target) / (present * counts.clamp(min=1)), torch.zeros_like(counts))
    w = torch.zeros(n_classes, x.size(1), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ w.t() + b, target, weight=cw) + weight_decay * w.pow(2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return LinearProbe(mean, std, w.detach(), b.detach())


def majority_baseline(y_train: np.ndarray, y_eval: np.ndarray) -> dict[str, float]:
    """Accuracy and macro F1 of always predicting the most frequent training class (lowest id on ties)."""
    top = int(np.bincount(y_train).argmax())
    pred = np.full(len(y_eval), top)
    return {"acc": accuracy(y_eval, pred), "f1": macro_f1(y_eval, pred)}


def probe_attribute(emb: torch.Tensor, y: np.ndarray, n_classes: int, train: np.ndarray, valid: np.ndarray,
                    test: np.ndarray, grid=WEIGHT_DECAYS, balanced: bool = True) -> dict[str, float]:
    """Tune :math:`\\lambda` on ``valid`` (macro F1; ties: the larger :math:`\\lambda`), then report
    ``{"valid_acc", "valid_f1", "test_acc", "test_f1", "weight_decay"}`` of the probe fitted on ``train``
    users (``emb`` ``[U, d]``; ``train``/``valid``/``test`` user ids; ``y`` ``[U]`` labels)."""
    emb = emb.detach().cpu()
    best = None
    for wd in sorted(grid, reverse=True):
        probe = fit_probe(emb[train], y[train], n_classes, wd, balanced)
        pv = probe.predict(emb[valid])
        f1 = macro_f1(y[valid], pv)
        if best is None or f1 > best[0]:
            best = (f1, wd, probe, accuracy(y[valid], pv))
    f1, wd, probe, acc = best
    pt = probe.predict(emb[test])
    return {"valid_acc": acc, "valid_f1": f1, "test_acc": accuracy(y[test], pt),
            "test_f1": macro_f1(y[test], pt), "weight_decay": wd}
