// Schemas of the darts_gnn operators, registered once. Kernels live in cpu/ and cuda/; autograd and the
// fake (meta) kernels for torch.compile are registered from Python (darts_gnn/ops/_fused.py).
#include <torch/library.h>

TORCH_LIBRARY(darts_gnn, m) {
  // out[v] = sum_k weights[k] * agg_{ops[k]}(v) over the in-neighbours col[rowptr[v]:rowptr[v+1]].
  // ops: codes 0 sum, 1 mean, 2 gcn, 3 max, 4 min. Returns (out [N, d], arg) where arg is, when
  // save_arg and ops has max/min, the int64 [S, E, ceil(d/64)] per-edge bitmasks of the columns each
  // edge wins for max / min (see mixed_aggregate.h), and otherwise has a leading size of 0.
  m.def("mixed_aggregate(Tensor rowptr, Tensor col, Tensor x, Tensor weights, int[] ops, "
        "Tensor? edge_weight=None, bool save_arg=False) -> (Tensor, Tensor)");
  // Gradients of mixed_aggregate for (x, weights, edge_weight) as selected by output_mask; an
  // unselected gradient is returned as an empty tensor. (t_rowptr, t_row, t_eid) is
  // csr_transpose(rowptr, col), needed for the gradients of x and weights.
  m.def("mixed_aggregate_backward(Tensor grad_out, Tensor rowptr, Tensor col, Tensor x, Tensor weights, "
        "int[] ops, Tensor? edge_weight, Tensor arg, Tensor t_rowptr, Tensor t_row, Tensor t_eid, "
        "bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
  // Every aggregator of ops separately: out [K, N, d] with out[k] = agg_{ops[k]}, in one pass over the
  // graph (each neighbour row read once for all K); arg as for mixed_aggregate.
  m.def("aggregate_stack(Tensor rowptr, Tensor col, Tensor x, int[] ops, Tensor? edge_weight=None, "
        "bool save_arg=False) -> (Tensor, Tensor)");
  // Transpose of a square CSR pattern: (t_rowptr [N+1], t_row [E], t_eid [E]). Entry i of transposed row u
  // is original edge t_eid[i] = (t_row[i] <- u); entries are in ascending edge id (a stable sort by col).
  m.def("csr_transpose(Tensor rowptr, Tensor col) -> (Tensor, Tensor, Tensor)");
}
