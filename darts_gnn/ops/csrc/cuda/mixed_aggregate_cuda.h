// Launchers of the CUDA kernels of darts_gnn::mixed_aggregate, on raw pointers.
//
// Torch-free on purpose: mixed_aggregate_kernel.cu includes only this header and the CUDA toolkit,
// so it compiles standalone with `nvcc -c` (the CI check), and the torch glue
// (mixed_aggregate_cuda.cpp) needs no CUDA-specific types. Pointers to feature data are void* of the
// element type `dtype`; "acc" buffers and the weights are of the accumulation type (float for
// float32/float16/bfloat16, double for float64). Every launcher returns a cudaError_t as int (0 = ok).
// No kernel uses atomics, so forward and backward are deterministic.
#pragma once

#include <cstdint>

#include "../mixed_aggregate.h"

namespace darts_gnn {
namespace cuda {

enum class DType : int { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

constexpr int kMaxOps = 64;

// The op codes, passed to the kernels by value.
struct OpList {
  int32_t k;
  int8_t code[kMaxOps];
};

struct Graph {
  const int64_t* rowptr;  // [n+1]
  const int64_t* col;     // [e]
  int64_t n, d, e;
};

// Columns per lane of the row kernels (a warp covers 32 * cols_per_thread columns) and the number of
// column tiles of a row of d columns (grid.y).
inline int cols_per_thread(int64_t d) { return d <= 32 ? 1 : (d <= 64 ? 2 : 4); }
inline int64_t column_tiles(int64_t d) { return (d + 32 * cols_per_thread(d) - 1) / (32 * cols_per_thread(d)); }

// out [n, d] (dtype); arg [slots, e, mask_words(d)] max/min column bitmasks, or null. With weights null
// (aggregate_stack) out is [ops.k, n, d] and slice k holds aggregator ops.code[k] alone.
int launch_forward(DType dtype, Graph g, const void* x, const void* edge_weight, const void* weights, OpList ops,
                   AggPlan plan, void* out, uint64_t* arg, void* stream);

// One pass over the transposed graph (t_*): grad_x_acc [n, d] (acc type, fully written) when not null,
// and, when grad_w is not null, grad_w [k] (acc type) through the scratch
// row_dots_acc [kNumAggCodes, column_tiles(d), n].
int launch_grad_x_weights(DType dtype, Graph g, const int64_t* t_rowptr, const int64_t* t_row, const int64_t* t_eid,
                          const void* grad_out, const void* x, const void* edge_weight, const void* weights, OpList ops,
                          AggPlan plan, const uint64_t* arg, void* grad_x_acc, void* row_dots_acc, void* grad_w,
                          void* stream);

// grad_ew_acc [e] (acc type), fully written.
int launch_grad_edge_weight(DType dtype, Graph g, const void* grad_out, const void* x, const void* weights, OpList ops,
                            AggPlan plan, const uint64_t* arg, void* grad_ew_acc, void* stream);

}  // namespace cuda
}  // namespace darts_gnn
