// Aggregator codes and the accumulation plan of darts_gnn::mixed_aggregate.
//
// Torch-free on purpose: the CPU kernel, the CUDA glue and the standalone CUDA kernels all include it.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DARTS_GNN_HOST_DEVICE __host__ __device__
#else
#define DARTS_GNN_HOST_DEVICE
#endif

namespace darts_gnn {

// Integer codes of the `int[] ops` schema argument, from the one table that Python reads too.
enum AggCode : int64_t {
#define DARTS_GNN_AGGREGATOR(code, name) code,
#include "../aggregators.def"
#undef DARTS_GNN_AGGREGATOR
  kNumAggCodes
};

// "sum, mean, ..." in code order, for error messages.
inline const char* aggregator_names() {
  return ""
#define DARTS_GNN_AGGREGATOR(code, name) #name " "
#include "../aggregators.def"
#undef DARTS_GNN_AGGREGATOR
      ;
}

// What the kernels accumulate for a list of ops. `sum` and `mean` share one accumulator (mean is the
// sum divided by the row's degree). The saved per-aggregator outputs ("bases", for the weights'
// gradient) are stacked in the order sum, gcn, max, min over those present; the saved arg-extrema
// ("slots", for routing the gradient of max/min) in the order max, min.
//
// Arg-extremum layout: for slot s, edge e and word w, bit b of arg[s][e][w] (an int64 read as uint64)
// is set when edge e is the first (in CSR order) maximiser (minimiser) of column j = 64 w + b of its
// destination row. Each column of a non-empty row has exactly one bit set among the row's edges.
// The backward then pulls gradients per edge without scatters or atomics.
struct AggPlan {
  bool sum = false, gcn = false, max = false, min = false;
  int base_sum = -1, base_gcn = -1, base_max = -1, base_min = -1, num_bases = 0;
  int slot_max = -1, slot_min = -1, num_slots = 0;

  bool linear() const { return sum || gcn; }
  bool extremal() const { return max || min; }
  // Whether the plan accumulates what aggregator `code` needs (mean shares sum's accumulator).
  DARTS_GNN_HOST_DEVICE bool has(int64_t code) const {
    return code == kSum || code == kMean ? sum : code == kGcn ? gcn : code == kMax ? max : code == kMin && min;
  }
};

// 64-bit words per edge in the arg-extremum bitmask of a row of d columns.
inline int64_t mask_words(int64_t d) { return (d + 63) / 64; }

// Returns false when a code is out of range.
inline bool make_plan(const int64_t* codes, int64_t k, AggPlan* plan) {
  AggPlan p;
  for (int64_t i = 0; i < k; ++i) {
    switch (codes[i]) {
      case kSum: case kMean: p.sum = true; break;
      case kGcn: p.gcn = true; break;
      case kMax: p.max = true; break;
      case kMin: p.min = true; break;
      default: return false;
    }
  }
  if (p.sum) p.base_sum = p.num_bases++;
  if (p.gcn) p.base_gcn = p.num_bases++;
  if (p.max) { p.base_max = p.num_bases++; p.slot_max = p.num_slots++; }
  if (p.min) { p.base_min = p.num_bases++; p.slot_min = p.num_slots++; }
  *plan = p;
  return true;
}

// Weight of each aggregator code, summed over repeated codes: coef[c] = sum_{k: codes[k] == c} w[k].
template <typename T, typename W>
inline void fold_weights(const int64_t* codes, int64_t k, const W* w, T coef[kNumAggCodes]) {
  for (int c = 0; c < kNumAggCodes; ++c) coef[c] = T(0);
  for (int64_t i = 0; i < k; ++i) coef[codes[i]] += static_cast<T>(w[i]);
}

}  // namespace darts_gnn
