"""Per-epoch cost of M negatives: BPR vs sampled softmax with batch-shared negatives (the recipe's
way) vs per-pair negatives (B x M gathered rows, the way before issue 9 session 3), side by side.

    python benchmarks/bench_negatives.py ml100k --negatives 16 64 256 1024 --epochs 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.data import Graph, load_dataset  # noqa: E402
from darts_gnn.space.genotype import Genotype  # noqa: E402
from darts_gnn.search.recipe import Recipe, RecipeTrainer, recipe_train_config  # noqa: E402
from darts_gnn.engine.train import l2_penalty  # noqa: E402


class PerPairTrainer(RecipeTrainer):
    """Sampled softmax with ``M - 1`` uniform negatives drawn per pair (``[B, M, d]`` gathered)."""

    def loss(self, users, pos, neg):
        r = self.recipe
        extra = torch.randint(0, self.model.n_items, (neg.numel(), r.negatives - 1), generator=self._gen)
        negs = torch.cat([neg.unsqueeze(1), extra], dim=1)                          # [B, M]
        user_emb, item_emb = self.model.embeddings()
        u = user_emb.index_select(0, users)
        s_pos = (u * item_emb.index_select(0, pos)).sum(-1)
        n_emb = item_emb.index_select(0, negs.reshape(-1)).view(*negs.shape, -1)    # [B, M, d]
        s_neg = torch.einsum("bd,bmd->bm", u, n_emb)
        logits = torch.cat([s_pos.unsqueeze(1), s_neg], dim=1) / float(r.temperature)
        loss = F.cross_entropy(logits, logits.new_zeros(logits.size(0), dtype=torch.long))
        ego_u, ego_i = self.model.ego_embeddings()
        return loss + self.cfg.l2 * l2_penalty(ego_u[users], ego_i[pos], ego_i[neg])


def seconds_per_epoch(cls, recipe, norm, cfg, ds, graph, epochs) -> float:
    model = Genotype.lightgcn(3, cfg.model.dim).with_(recipe=recipe, norm=norm).build_model(ds, graph)
    tcfg = recipe_train_config(cfg.train, recipe, epochs=epochs, eval_every=10 * epochs, progress=False)
    res = cls(model, ds, tcfg, recipe=recipe).fit()
    return statistics.median(h["seconds"] for h in res.history)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset", help="a config name in configs/ (ml100k, lastfm, ...)")
    p.add_argument("--negatives", nargs="+", type=int, default=[16, 64, 256])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--per-pair-max", type=int, default=64, help="skip per-pair runs above this M (slow)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(ROOT / "configs" / f"{args.dataset}.yaml", ["train.progress=false"])
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    bpr = seconds_per_epoch(RecipeTrainer, Recipe(lr=5e-3), False, cfg, ds, graph, args.epochs)
    print(f"| {args.dataset} | BPR (M=1) | {bpr:.2f} | 1.00 |", flush=True)
    for m in args.negatives:
        r = Recipe(loss="softmax", negatives=m, temperature=0.2, lr=5e-3)
        for label, cls in (("shared", RecipeTrainer), ("per pair", PerPairTrainer)):
            if cls is PerPairTrainer and m > args.per_pair_max:
                continue
            s = seconds_per_epoch(cls, r, True, cfg, ds, graph, args.epochs)
            print(f"| {args.dataset} | softmax M={m}, {label} | {s:.2f} | {s / bpr:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
