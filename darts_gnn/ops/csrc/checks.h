// Argument checks shared by the CPU and CUDA implementations of the darts_gnn ops.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <limits>
#include <optional>

#include "mixed_aggregate.h"

namespace darts_gnn {

inline AggPlan checked_plan(at::IntArrayRef ops) {
  AggPlan plan;
  TORCH_CHECK(!ops.empty(), "darts_gnn::mixed_aggregate: ops is empty; give at least one aggregator code");
  TORCH_CHECK(make_plan(ops.data(), static_cast<int64_t>(ops.size()), &plan),
              "darts_gnn::mixed_aggregate: ops holds a code outside 0..", kNumAggCodes - 1, " (codes of ",
              aggregator_names(), "in order): ", ops);
  return plan;
}

// The one validation of a CPU rowptr's values, by every CPU operator before it allocates anything sized by
// degrees: rowptr[0] == 0, rowptr[N] == E, non-decreasing. O(N), against the kernels' O(E d).
inline void check_rowptr_values(const at::Tensor& rowptr, int64_t e, const char* op) {
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const int64_t n = rowptr.numel() - 1;
  TORCH_CHECK(rp[0] == 0 && rp[n] == e, op, ": rowptr must start at 0 and end at E = ", e, ", got rowptr[0] = ", rp[0],
              ", rowptr[N] = ", rp[n]);
  for (int64_t v = 0; v < n; ++v)
    TORCH_CHECK(rp[v] <= rp[v + 1], op, ": rowptr is not a valid CSR row pointer at row ", v, ": rowptr[", v, "] = ",
                rp[v], " > rowptr[", v + 1, "] = ", rp[v + 1], " (it must be non-decreasing)");
}

inline void check_graph(const at::Tensor& rowptr, const at::Tensor& col) {
  TORCH_CHECK(rowptr.dim() == 1 && rowptr.numel() >= 1 && rowptr.scalar_type() == at::kLong,
              "darts_gnn: rowptr must be a 1-D int64 tensor [N+1], got ", rowptr.scalar_type(), " of shape ",
              rowptr.sizes());
  TORCH_CHECK(col.dim() == 1 && col.scalar_type() == at::kLong,
              "darts_gnn: col must be a 1-D int64 tensor [E], got ", col.scalar_type(), " of shape ", col.sizes());
  TORCH_CHECK(col.numel() < std::numeric_limits<int32_t>::max(),
              "darts_gnn: the fused kernels index edges with int32 and support E < 2^31 - 1; got E = ", col.numel());
  TORCH_CHECK(rowptr.device() == col.device(), "darts_gnn: rowptr and col must be on one device, got ",
              rowptr.device(), " and ", col.device());
}

// Graph, x and edge weights (everything but the mixing weights).
inline void check_stack(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x, at::IntArrayRef ops,
                        const std::optional<at::Tensor>& edge_weight) {
  check_graph(rowptr, col);
  TORCH_CHECK(!ops.empty(), "darts_gnn: ops is empty; give at least one aggregator code");
  TORCH_CHECK(x.dim() == 2, "darts_gnn::mixed_aggregate: x must be 2-D [N, d], got shape ", x.sizes());
  TORCH_CHECK(x.size(0) == rowptr.numel() - 1, "darts_gnn::mixed_aggregate: x has ", x.size(0),
              " rows but rowptr describes ", rowptr.numel() - 1, " rows");
  TORCH_CHECK(x.device() == rowptr.device(), "darts_gnn::mixed_aggregate: x is on ", x.device(),
              " but the graph is on ", rowptr.device());
  if (edge_weight.has_value()) {
    const at::Tensor& ew = *edge_weight;
    TORCH_CHECK(ew.dim() == 1 && ew.numel() == col.numel(), "darts_gnn::mixed_aggregate: edge_weight must be 1-D [E = ",
                col.numel(), "], got shape ", ew.sizes());
    TORCH_CHECK(ew.scalar_type() == x.scalar_type(), "darts_gnn::mixed_aggregate: edge_weight must have x's dtype ",
                x.scalar_type(), ", got ", ew.scalar_type());
    TORCH_CHECK(ew.device() == x.device(), "darts_gnn::mixed_aggregate: edge_weight is on ", ew.device(),
                " but x is on ", x.device());
  }
}

inline void check_forward(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x,
                          const at::Tensor& weights, at::IntArrayRef ops,
                          const std::optional<at::Tensor>& edge_weight) {
  check_stack(rowptr, col, x, ops, edge_weight);
  TORCH_CHECK(weights.dim() == 1 && weights.numel() == static_cast<int64_t>(ops.size()),
              "darts_gnn::mixed_aggregate: weights must be 1-D with one entry per op (K = ", ops.size(),
              "), got shape ", weights.sizes());
  TORCH_CHECK(at::isFloatingType(weights.scalar_type()), "darts_gnn::mixed_aggregate: weights must be floating, got ",
              weights.scalar_type());
  TORCH_CHECK(weights.device() == x.device(), "darts_gnn::mixed_aggregate: weights are on ", weights.device(),
              " but x is on ", x.device());
}

}  // namespace darts_gnn
