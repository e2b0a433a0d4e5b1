"""The bilevel search finds the aggregator that generated the validation data.

Data built so that one aggregator is clearly right: a random training graph, fixed random node
features X, and validation/test items chosen as each user's top items under the scores
<H_u, H_i> of a *teacher* H = agg*(graph, X). The supernet starts from the embeddings X (the weights
then barely move, lr 1e-4), so only the aggregator decides how well the validation pairs are ranked:
α, trained on validation BPR, must put its largest weight on agg*.
"""
import numpy as np
import pytest
import torch

from darts_gnn.config import SearchConfig, TrainConfig
from darts_gnn.data import Dataset, Graph
from darts_gnn.search import Searcher, SuperNet
from darts_gnn.space.registry import REGISTRY, SearchSpace


def teacher_data(teacher: str, seed: int = 0, U: int = 60, I: int = 80, d: int = 16, k: int = 4):
    rng = np.random.default_rng(seed)
    train = np.array([(u, i) for u in range(U)
                      for i in rng.choice(I, size=int(rng.integers(2, 12)), replace=False)])
    graph = Graph.from_interactions(U, I, train)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(U + I, d, generator=gen)
    with torch.no_grad():
        h = REGISTRY.get("aggregator", teacher).build(d)(graph, x)
    scores = h[:U] @ h[U:].t()
    scores[train[:, 0], train[:, 1]] = -float("inf")
    top = scores.topk(2 * k, dim=1).indices.numpy()
    valid = np.array([(u, i) for u in range(U) for i in top[u, :k]])
    test = np.array([(u, i) for u in range(U) for i in top[u, k:]])
    return Dataset("teacher", U, I, train, valid, test), graph, x


@pytest.mark.parametrize("teacher", ["gcn", "max", "attn"])
def test_search_picks_the_generating_aggregator(teacher):
    ds, graph, x = teacher_data(teacher)
    space = SearchSpace(n_layers=1, depths=[1], transforms=["identity"], skips=["none"], combines=["last"],
                        widths=[16])
    net = SuperNet(space, graph)
    with torch.no_grad():
        net.user_emb.weight.copy_(x[:ds.n_users])
        net.item_emb.weight.copy_(x[ds.n_users:])
    cfg = SearchConfig(epochs=15, warmup_epochs=0, arch_lr=0.05, lr=1e-4, batch_size=64, eval_every=0)
    result = Searcher(net, ds, cfg, TrainConfig(progress=False, l2=0.0)).run()
    probs = result.probabilities["layer0.aggregator"]
    assert result.genotype.layers[0].aggregator == teacher, probs
    assert probs[teacher] > 0.35 and probs[teacher] == max(probs.values())
    assert len(result.trajectory) == 16 and len(result.history) == 15


@pytest.mark.parametrize("teacher", ["mean", "min"])
def test_greedy_derivation_picks_the_generating_aggregator(teacher):
    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.search.derive import greedy_genotype
    ds, graph, x = teacher_data(teacher, seed=1)
    space = SearchSpace(n_layers=1, depths=[1], transforms=["identity"], skips=["none"], combines=["last", "mean"],
                        widths=[16])
    net = SuperNet(space, graph)
    with torch.no_grad():
        net.user_emb.weight.copy_(x[:ds.n_users])
        net.item_emb.weight.copy_(x[ds.n_users:])
    alpha = [a.detach().clone() for a in net.arch_parameters()]
    genotype, trace = greedy_genotype(net, Evaluator(ds))
    assert genotype.layers[0].aggregator == teacher and genotype.combine == "last"
    assert [t["choice"] for t in trace] == ["combine", "layer0.aggregator"]
    assert all(torch.equal(a, b) for a, b in zip(alpha, net.arch_parameters()))  # α left as found
