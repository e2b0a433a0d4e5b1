// Argument structs of the CPU row kernels (row_kernels.h). Torch-free.
#pragma once

#include <cstdint>

#include "../mixed_aggregate.h"

namespace darts_gnn {
namespace cpu {

// Integer type as wide as T, for arg-extremum vectors that blend lane by lane with T vectors.
template <typename T> struct IndexOf { using type = int32_t; };
template <> struct IndexOf<double> { using type = int64_t; };

template <typename T>
struct ForwardArgs {
  const int64_t* rowptr;
  const int64_t* col;
  const T* x;
  const T* ew;    // nullptr: all ones
  const T* dinv;  // 1/sqrt(deg), 0 for deg 0
  T* out;
  uint64_t* arg;  // [slots, e, words] column bitmasks, or nullptr
  int64_t n, d, e, max_deg, words;
  T c[kNumAggCodes];  // folded weights per aggregator code
  AggPlan plan;
  // Stack mode (aggregate_stack): out is [k, n, d] and slice q holds the aggregator codes[q] alone;
  // the folded weights c are unused.
  const int64_t* codes = nullptr;
  int64_t k = 0;
  bool stack = false;
};

template <typename T>
struct BackwardArgs {
  const int64_t* rowptr;
  const int64_t* col;
  const T* x;
  const T* ew;
  const T* g;  // grad_out
  const uint64_t* arg;  // [slots, e, words]
  const int64_t* t_rowptr;
  const int64_t* t_row;
  const int64_t* t_eid;
  const T* dinv;
  int64_t n, d, e, words;
  T c[kNumAggCodes];
  AggPlan plan;
};

// Channels of the weights' gradient: one per aggregator code present. The transposed pass forms
// P_c[u] = (A_c^T g)[u] with the unit (weight-free) coefficient of code c, then
// grad_w[code c] = sum_u <P_c[u], x[u]>, and grad_x[u] = sum_c coef[c] * P_c[u].
struct Channels {
  int count = 0;
  int code[kNumAggCodes];
};

}  // namespace cpu
}  // namespace darts_gnn
