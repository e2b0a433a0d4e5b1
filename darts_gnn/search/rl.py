r"""REINFORCE (Williams, 1992; Zoph & Le, 2017) with a per-choice logit controller.

The controller holds one logit row :math:`\theta_c \in \mathbb R^{K_c}` per choice ``c`` (depth,
width, combine, and every layer's aggregator, transform, skip). An episode samples a genotype,
:math:`a_c \sim \mathrm{softmax}(\theta_c)` (layers beyond the sampled depth are not used and not
counted), trains it briefly and takes its validation Recall@20 as the reward :math:`R`. The update
is one Adam step (``search.rl.lr``) on

.. math::
    L(\theta) = -(R - b) \sum_{c\,\text{used}} \log \pi_\theta(a_c)
                - \beta \sum_{c\,\text{used}} H(\pi_\theta(\cdot \mid c)),
    \qquad b \leftarrow \gamma b + (1 - \gamma) R

with the moving-average baseline :math:`b` (``baseline_decay`` :math:`\gamma`, started at the first
reward) and the entropy bonus :math:`\beta` (``entropy_weight``). Samples come from the controller's
own :class:`torch.Generator` seeded with the search seed, so a run is repeatable on CPU. Settings:
``search.rl`` (episodes, child_epochs, lr, baseline_decay, entropy_weight).
"""
from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from ..genotype import Genotype, LayerGene
from .random_search import _canonical
from .strategy import BudgetLedger, CandidateScorer, SearchStrategy, StrategyResult, register_strategy

__all__ = ["Controller", "RLStrategy"]

log = logging.getLogger("darts_gnn.search.rl")

#: Stop after this many episodes in a row that drew already-scored genotypes (no training, no budget use).
MAX_STALLS = 100


class Controller(nn.Module):
    """Per-choice categorical policy over ``space``: ``logits[key]`` ``[K_c]``, zeros at start (uniform)."""

    def __init__(self, space) -> None:
        super().__init__()
        self.space = space
        self.cands = {"depth": list(space.depths), "width": list(space.widths), "combine": list(space.combines)}
        for l in range(space.max_depth):
            self.cands[f"layer{l}.aggregator"] = list(space.aggregators)
            self.cands[f"layer{l}.transform"] = list(space.transforms)
            self.cands[f"layer{l}.skip"] = list(space.skips)
        self.logits = nn.ParameterDict({k.replace(".", "_"): nn.Parameter(torch.zeros(len(v)))
                                        for k, v in self.cands.items()})

    def dist(self, key: str) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=self.logits[key.replace(".", "_")])

    def sample(self, generator: torch.Generator) -> tuple[Genotype, Tensor, Tensor]:
        """``(genotype, log_prob, entropy)`` of one architecture; sums over the choices it uses."""
        picks: dict[str, object] = {}
        logp, ent = torch.zeros(()), torch.zeros(())

        def draw(key: str):
            nonlocal logp, ent
            d = self.dist(key)
            i = int(torch.multinomial(d.probs.detach(), 1, generator=generator))
            logp = logp + d.log_prob(torch.tensor(i))
            ent = ent + d.entropy()
            picks[key] = self.cands[key][i]
            return picks[key]

        depth, width, combine = draw("depth"), draw("width"), draw("combine")
        layers = tuple(LayerGene(draw(f"layer{l}.aggregator"), draw(f"layer{l}.transform"), draw(f"layer{l}.skip"))
                       for l in range(int(depth)))
        return _canonical(Genotype(layers, combine, int(width))), logp, ent

    def log_prob(self, genotype: Genotype) -> Tensor:
        """:math:`\\sum_c \\log \\pi(a_c)` of the choices ``genotype`` uses (depth, width, combine
        and its layers' aggregator, transform, skip)."""
        picks = {"depth": genotype.depth, "width": genotype.width, "combine": genotype.combine}
        for l, layer in enumerate(genotype.layers):
            picks.update({f"layer{l}.aggregator": layer.aggregator, f"layer{l}.transform": layer.transform,
                          f"layer{l}.skip": layer.skip})
        total = torch.zeros(())
        for key, value in picks.items():
            total = total + self.dist(key).log_prob(torch.tensor(self.cands[key].index(value)))
        return total

    def probabilities(self) -> dict[str, dict[str, float]]:
        """``{choice key: {candidate: probability}}`` now."""
        with torch.no_grad():
            return {k: {str(c): float(p) for c, p in zip(v, self.dist(k).probs.tolist())}
                    for k, v in self.cands.items()}


@register_strategy("rl")
class RLStrategy(SearchStrategy):
    """REINFORCE with a moving-average baseline and an entropy bonus (module docstring)."""

    def search(self) -> StrategyResult:
        opts, ctx = self.options, self.ctx
        if opts.episodes is None and not ctx.budget.limited:
            raise ValueError("search.rl.episodes is null: set search.budget_seconds or search.budget_epochs, "
                             "or a number of episodes")
        ledger = BudgetLedger(ctx.budget)
        scorer = CandidateScorer(ctx, ledger, epochs=opts.child_epochs)
        torch.manual_seed(ctx.seed)
        controller = Controller(ctx.space())
        optimizer = torch.optim.Adam(controller.parameters(), lr=opts.lr)
        gen = torch.Generator().manual_seed(ctx.seed)
        baseline: float | None = None
        history: list[dict] = []
        episode, stalls = 0, 0
        while (opts.episodes is None or episode < opts.episodes) and not (episode and ledger.exhausted()):
            genotype, logp, ent = controller.sample(gen)
            n_before = len(scorer.records)
            rec = scorer.score(genotype)
            stalls = stalls + 1 if len(scorer.records) == n_before else 0
            if stalls >= MAX_STALLS:
                log.info("rl: %d episodes in a row sampled known genotypes; the controller has converged", stalls)
                break
            reward = rec["score"] if rec["score"] > float("-inf") else 0.0
            baseline = reward if baseline is None else opts.baseline_decay * baseline + (1 - opts.baseline_decay) * reward
            loss = -(reward - baseline) * logp - opts.entropy_weight * ent
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append({"episode": episode, "reward": reward, "baseline": baseline,
                            "entropy": float(ent.detach()), **rec})
            log.info("rl episode %d: %s reward %.4f baseline %.4f", episode, genotype.summary(), reward, baseline)
            episode += 1
        return scorer.result(history, episodes=episode, controller=controller.probabilities())
