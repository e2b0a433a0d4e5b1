r"""REINFORCE (Williams, 1992; Zoph & Le, 2017) with a per-choice logit or an LSTM controller.

The controller (``search.rl.controller``) holds one logit row :math:`\theta_c \in \mathbb R^{K_c}`
per choice ``c`` (depth, width, combine, and every layer's aggregator, transform, skip; ``logits``),
or is a small LSTM that reads the previous decisions (``lstm``, ``hidden`` units; ENAS-style). An episode samples a genotype,
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
``search.rl`` (episodes, child_epochs, lr, baseline_decay, entropy_weight, controller, hidden).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..space.genotype import Genotype, LayerGene
from .random_search import _canonical
from .strategy import BudgetLedger, CandidateScorer, SearchStrategy, StrategyResult, register_strategy

__all__ = ["Controller", "LSTMController", "RLStrategy"]

log = logging.getLogger("darts_gnn.search.rl")

#: Stop after this many episodes in a row that drew already-scored genotypes (no training, no budget use).
MAX_STALLS = 100


def _choice_keys(space) -> dict[str, list]:
    """The decisions in sampling order: depth, width, combine, then every layer's aggregator,
    transform and skip."""
    cands = {"depth": list(space.depths), "width": list(space.widths), "combine": list(space.combines)}
    for l in range(space.max_depth):
        cands[f"layer{l}.aggregator"] = list(space.aggregators)
        cands[f"layer{l}.transform"] = list(space.transforms)
        cands[f"layer{l}.skip"] = list(space.skips)
    return cands


class Controller(nn.Module):
    """Per-choice categorical policy over ``space``: ``logits[key]`` ``[K_c]``, zeros at start
    (uniform); the decisions are independent. Subclasses change :meth:`_step` / :meth:`_feed` to
    condition each decision on the previous ones (:class:`LSTMController`)."""

    def __init__(self, space) -> None:
        super().__init__()
        self.space = space
        self.cands = _choice_keys(space)
        self.logits = nn.ParameterDict({k.replace(".", "_"): nn.Parameter(torch.zeros(len(v)))
                                        for k, v in self.cands.items()})

    def _init_state(self):
        return None

    def _step(self, key: str, state):
        """``(distribution of decision key, state)``."""
        return torch.distributions.Categorical(logits=self.logits[key.replace(".", "_")]), state

    def _feed(self, key: str, index: int, state):
        return state

    def _walk(self, choose: Callable[[str, torch.distributions.Categorical], int]):
        """Make the decisions in order (layers beyond the chosen depth are skipped); returns
        ``(genotype, sum log pi, sum entropy, {key: probabilities})``."""
        state, picks, probs = self._init_state(), {}, {}
        logp, ent = torch.zeros(()), torch.zeros(())
        for key, cands in self.cands.items():
            if key.startswith("layer") and int(key[5:key.index(".")]) >= int(picks["depth"]):
                continue
            d, state = self._step(key, state)
            i = choose(key, d)
            logp = logp + d.log_prob(torch.tensor(i))
            ent = ent + d.entropy()
            probs[key] = {str(c): float(p) for c, p in zip(cands, d.probs.detach().tolist())}
            picks[key] = cands[i]
            state = self._feed(key, i, state)
        layers = tuple(LayerGene(picks[f"layer{l}.aggregator"], picks[f"layer{l}.transform"], picks[f"layer{l}.skip"])
                       for l in range(int(picks["depth"])))
        return _canonical(Genotype(layers, picks["combine"], int(picks["width"]))), logp, ent, probs

    def sample(self, generator: torch.Generator) -> tuple[Genotype, Tensor, Tensor]:
        """``(genotype, log_prob, entropy)`` of one architecture; sums over the choices it uses."""
        g, logp, ent, _ = self._walk(lambda k, d: int(torch.multinomial(d.probs.detach(), 1, generator=generator)))
        return g, logp, ent

    def log_prob(self, genotype: Genotype) -> Tensor:
        """:math:`\\sum_c \\log \\pi(a_c)` of the choices ``genotype`` uses (depth, width, combine
        and its layers' aggregator, transform, skip)."""
        picks = {"depth": genotype.depth, "width": genotype.width, "combine": genotype.combine}
        for l, layer in enumerate(genotype.layers):
            picks.update({f"layer{l}.aggregator": layer.aggregator, f"layer{l}.transform": layer.transform,
                          f"layer{l}.skip": layer.skip})
        return self._walk(lambda k, d: self.cands[k].index(picks[k]))[1]

    def probabilities(self) -> dict[str, dict[str, float]]:
        """``{choice key: {candidate: probability}}`` along the most likely path."""
        with torch.no_grad():
            return self._walk(lambda k, d: int(torch.argmax(d.probs)))[3]


class LSTMController(Controller):
    r"""An LSTM policy (ENAS-style): decision :math:`t` reads :math:`h_t = \mathrm{LSTM}(e(a_{t-1}), h_{t-1})`
    (``hidden`` units; :math:`e` embeds the previous decision, a learned start vector at ``t = 0``) and
    draws :math:`a_t \sim \mathrm{softmax}(W_{key} h_t)`, so choices can depend on each other."""

    def __init__(self, space, hidden: int = 32) -> None:
        super().__init__(space)
        del self.logits
        self.hidden = int(hidden)
        self.cell = nn.LSTMCell(self.hidden, self.hidden)
        self.start = nn.Parameter(torch.zeros(1, self.hidden))
        self.embed = nn.ModuleDict({k.replace(".", "_"): nn.Embedding(len(v), self.hidden) for k, v in self.cands.items()})
        self.heads = nn.ModuleDict({k.replace(".", "_"): nn.Linear(self.hidden, len(v)) for k, v in self.cands.items()})

    def _init_state(self):
        z = self.start.new_zeros(1, self.hidden)
        return self.start, (z, z)

    def _step(self, key: str, state):
        x, hc = state
        h, c = self.cell(x, hc)
        return torch.distributions.Categorical(logits=self.heads[key.replace(".", "_")](h)[0]), (x, (h, c))

    def _feed(self, key: str, index: int, state):
        return self.embed[key.replace(".", "_")](torch.tensor([index])), state[1]


CONTROLLERS = {"logits": lambda space, opts: Controller(space),
               "lstm": lambda space, opts: LSTMController(space, opts.hidden)}


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
        controller = CONTROLLERS[opts.controller](ctx.space(), opts)
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
