// CPU kernels of darts_gnn::mixed_aggregate and darts_gnn::mixed_aggregate_backward.
//
// Forward: at::parallel_for over destination rows (chunks balanced by edge count). Each neighbour row
// x[u] is read once and feeds every accumulator the op list needs (sum, gcn, max/argmax, min/argmin),
// in register-blocked vector loops along the feature dimension (row_kernels.h).
//
// For max/min the forward saves per-edge bitmasks of the feature columns each edge wins (see
// mixed_aggregate.h); nothing else is saved.
//
// Backward (deterministic: no atomics, results independent of the thread count):
//   grad_x    one pull pass over the transposed graph: per entry a combined linear coefficient, plus
//             the max/min coefficients on the columns set in the edge's bitmasks.
//   grad_w    grad_w[k] = <A_k^T grad_out, x> with A_k the unit-weight aggregator: the same transposed
//             pass keeps one accumulator per aggregator (and also yields grad_x); per-row dots are
//             then summed in row order.
//   grad_ew   one pass over destination rows: per edge <grad_out[v], x[u]> times the linear coefficient
//             plus the max/min coefficients times the same product restricted to the edge's bitmasks.
//
// The row loops are compiled twice, for baseline x86-64 and (float32 only) for AVX2+FMA, and picked
// at run time (DARTS_GNN_CPU_ISA=generic forces the baseline copy).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../checks.h"
#include "../mixed_aggregate.h"
#include "row_args.h"

namespace darts_gnn {
namespace cpu {
namespace {

namespace generic {
#define DARTS_GNN_VEC_BYTES 16
#include "row_kernels.h"
#undef DARTS_GNN_VEC_BYTES
}  // namespace generic

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DARTS_GNN_HAVE_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#define DARTS_GNN_VEC_BYTES 32
#include "row_kernels.h"
#undef DARTS_GNN_VEC_BYTES
}  // namespace avx2
#pragma GCC pop_options
#endif

// The AVX2 copy is instantiated for float32 only (float64 is for checks, not speed), which halves its
// compile time; float64 always runs the baseline copy.
template <typename T>
constexpr bool kAvx2Type = std::is_same<T, float>::value;

bool use_avx2() {
#ifdef DARTS_GNN_HAVE_AVX2
  static const bool cpu_has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* isa = std::getenv("DARTS_GNN_CPU_ISA");
  return cpu_has && !(isa && std::strcmp(isa, "generic") == 0);
#else
  return false;
#endif
}

// Row chunk boundaries with about equal work (entries + rows) each, so that power-law degrees do not
// leave one thread with the hubs. The partition only affects scheduling, never results.
std::vector<int64_t> balanced_row_chunks(const int64_t* rowptr, int64_t n) {
  const int64_t total = rowptr[n] - rowptr[0] + n;
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(n, std::min<int64_t>(threads * 16, total / 2048 + 1)));
  std::vector<int64_t> b(chunks + 1, n);
  b[0] = 0;
  int64_t v = 0;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t target = total * c / chunks;
    int64_t lo = v, hi = n;  // smallest v with rowptr[v] - rowptr[0] + v >= target
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (rowptr[mid] - rowptr[0] + mid < target) lo = mid + 1; else hi = mid;
    }
    b[c] = v = lo;
  }
  return b;
}

template <typename F>
void parallel_rows(const int64_t* rowptr, int64_t n, const F& f) {
  const std::vector<int64_t> b = balanced_row_chunks(rowptr, n);
  at::parallel_for(0, static_cast<int64_t>(b.size()) - 1, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) f(b[c], b[c + 1]);
  });
}

int64_t max_degree(const int64_t* rowptr, int64_t n) {
  int64_t m = 0;
  for (int64_t v = 0; v < n; ++v) m = std::max(m, rowptr[v + 1] - rowptr[v]);
  return m;
}

template <typename T>
std::vector<T> inv_sqrt_degree(const int64_t* rowptr, int64_t n) {
  std::vector<T> dinv(n);
  for (int64_t v = 0; v < n; ++v) {
    const int64_t deg = rowptr[v + 1] - rowptr[v];
    dinv[v] = deg > 0 ? T(1) / std::sqrt(static_cast<T>(deg)) : T(0);
  }
  return dinv;
}

std::vector<double> weights_as_double(const at::Tensor& weights) {
  const at::Tensor w = weights.to(at::kDouble).contiguous();
  return std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
}

void check_cpu_dtype(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "darts_gnn::mixed_aggregate: the CPU kernel supports float32 and float64, got ", x.scalar_type(),
              "; convert x to float32 (float16/bfloat16 are supported on CUDA)");
}

// ----------------------------------------------------------------------------------------------- forward

template <typename T>
void forward_impl(const ForwardArgs<T>& a) {
  const bool avx2 = use_avx2();
  parallel_rows(a.rowptr, a.n, [&](int64_t v0, int64_t v1) {
    std::vector<T> scratch(4 * a.d + 2 * a.max_deg);
    std::vector<typename IndexOf<T>::type> iscratch(2 * a.d);
    std::vector<int64_t> oscratch(a.max_deg);
    int64_t bad;
    bad = -1;
#ifdef DARTS_GNN_HAVE_AVX2
    if constexpr (kAvx2Type<T>) {
      if (avx2) bad = avx2::forward_chunk<T>(a, v0, v1, scratch.data(), iscratch.data(), oscratch.data());
      else bad = generic::forward_chunk<T>(a, v0, v1, scratch.data(), iscratch.data(), oscratch.data());
    } else
#endif
      bad = generic::forward_chunk<T>(a, v0, v1, scratch.data(), iscratch.data(), oscratch.data());
    (void)avx2;
    if (bad <= -2) {
      const int64_t e = -bad - 2;
      TORCH_CHECK(false, "darts_gnn::mixed_aggregate: col[", e, "] = ", a.col[e], " is out of range for ", a.n, " nodes");
    }
  });
}

// The forward of mixed_aggregate (weights given: out [n, d]) and of aggregate_stack (no weights: out
// [k, n, d], one slice per op). Arguments are checked by the callers.
std::tuple<at::Tensor, at::Tensor> forward_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                               const at::Tensor& x_in, const at::Tensor* weights, at::IntArrayRef ops,
                                               const std::optional<at::Tensor>& edge_weight, bool save_arg) {
  check_cpu_dtype(x_in);
  const AggPlan plan = checked_plan(ops);
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous(), x = x_in.contiguous();
  const at::Tensor ew = edge_weight.has_value() ? edge_weight->contiguous() : at::Tensor();
  const int64_t n = x.size(0), d = x.size(1), e = col.numel(), k = static_cast<int64_t>(ops.size());
  check_rowptr_values(rowptr, e, "darts_gnn::mixed_aggregate");

  const bool stack = weights == nullptr;
  at::Tensor out = stack ? at::empty({k, n, d}, x.options()) : at::empty({n, d}, x.options());
  const int64_t words = mask_words(d);
  at::Tensor arg = at::empty({save_arg ? plan.num_slots : 0, e, words}, x.options().dtype(at::kLong));
  if (n == 0 || d == 0) return {out, arg};
  const std::vector<double> w = stack ? std::vector<double>(k, 0.0) : weights_as_double(*weights);

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "darts_gnn_mixed_aggregate_cpu", [&] {
    const int64_t* rp = rowptr.data_ptr<int64_t>();
    const std::vector<scalar_t> dinv = inv_sqrt_degree<scalar_t>(rp, n);
    ForwardArgs<scalar_t> a;
    a.rowptr = rp;
    a.col = col.data_ptr<int64_t>();
    a.x = x.data_ptr<scalar_t>();
    a.ew = ew.defined() ? ew.data_ptr<scalar_t>() : nullptr;
    a.dinv = dinv.data();
    a.out = out.data_ptr<scalar_t>();
    a.arg = arg.numel() > 0 ? reinterpret_cast<uint64_t*>(arg.data_ptr<int64_t>()) : nullptr;
    a.n = n;
    a.d = d;
    a.e = e;
    a.max_deg = max_degree(rp, n);
    a.words = words;
    fold_weights(ops.data(), k, w.data(), a.c);
    a.plan = plan;
    a.codes = ops.data();
    a.k = k;
    a.stack = stack;
    forward_impl(a);
  });
  return {out, arg};
}

std::tuple<at::Tensor, at::Tensor> mixed_aggregate_cpu(
    const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x, const at::Tensor& weights,
    at::IntArrayRef ops, const std::optional<at::Tensor>& edge_weight, bool save_arg) {
  check_forward(rowptr, col, x, weights, ops, edge_weight);
  return forward_cpu(rowptr, col, x, &weights, ops, edge_weight, save_arg);
}

std::tuple<at::Tensor, at::Tensor> aggregate_stack_cpu(const at::Tensor& rowptr, const at::Tensor& col,
                                                       const at::Tensor& x, at::IntArrayRef ops,
                                                       const std::optional<at::Tensor>& edge_weight, bool save_arg) {
  check_stack(rowptr, col, x, ops, edge_weight);
  return forward_cpu(rowptr, col, x, nullptr, ops, edge_weight, save_arg);
}

// ---------------------------------------------------------------------------------------------- backward

template <typename T>
void grad_x(const BackwardArgs<T>& a, T* gx) {
  // linear coefficient of entry (v, u, e): ew[e] * (A[v] + B[v] * dinv[u]), A = c_sum + c_mean / deg(v), B = c_gcn * dinv[v]
  std::vector<T> A(a.n), B(a.n);
  for (int64_t v = 0; v < a.n; ++v) {
    const int64_t deg = a.rowptr[v + 1] - a.rowptr[v];
    A[v] = deg > 0 ? a.c[kSum] + a.c[kMean] / static_cast<T>(deg) : T(0);
    B[v] = a.c[kGcn] * a.dinv[v];
  }
  const int64_t max_in = max_degree(a.t_rowptr, a.n);
  const bool avx2 = use_avx2();
  parallel_rows(a.t_rowptr, a.n, [&](int64_t u0, int64_t u1) {
    std::vector<T> scratch(3 * max_in);
    std::vector<int64_t> off(max_in);
    std::vector<uint64_t> masks(2 * a.words * max_in);
#ifdef DARTS_GNN_HAVE_AVX2
    if constexpr (kAvx2Type<T>)
      if (avx2) return avx2::grad_x_chunk<T>(a, A.data(), B.data(), u0, u1, gx, scratch.data(), off.data(), masks.data(), max_in);
#endif
    (void)avx2;
    generic::grad_x_chunk<T>(a, A.data(), B.data(), u0, u1, gx, scratch.data(), off.data(), masks.data(), max_in);
  });
}

template <typename T>
void grad_edge_weight(const BackwardArgs<T>& a, T* gew) {
  const bool avx2 = use_avx2();
  parallel_rows(a.rowptr, a.n, [&](int64_t v0, int64_t v1) {
#ifdef DARTS_GNN_HAVE_AVX2
    if constexpr (kAvx2Type<T>)
      if (avx2) return avx2::grad_edge_weight_chunk<T>(a, v0, v1, gew);
#endif
    (void)avx2;
    generic::grad_edge_weight_chunk<T>(a, v0, v1, gew);
  });
}

// grad_w (and grad_x when gx is not null) from one transposed pass with one accumulator per aggregator
// code; returns the per-code dots summed over rows in order (deterministic).
template <typename T>
std::vector<double> grad_weights(const BackwardArgs<T>& a, T* gx) {
  Channels ch;
  for (int c = 0; c < kNumAggCodes; ++c) {
    if (a.plan.has(c)) ch.code[ch.count++] = c;
  }
  std::vector<double> row_dots(static_cast<size_t>(ch.count) * a.n, 0.0);
  const int64_t max_in = max_degree(a.t_rowptr, a.n);
  const bool avx2 = use_avx2();
  parallel_rows(a.t_rowptr, a.n, [&](int64_t u0, int64_t u1) {
    std::vector<T> scratch(kNumAggCodes * max_in);
    std::vector<int64_t> off(max_in);
    std::vector<uint64_t> masks(2 * a.words * max_in);
#ifdef DARTS_GNN_HAVE_AVX2
    if constexpr (kAvx2Type<T>)
      if (avx2)
        return avx2::grad_xw_rows<T>(a, ch, u0, u1, gx, row_dots.data(), scratch.data(), off.data(), masks.data(), max_in);
#endif
    (void)avx2;
    generic::grad_xw_rows<T>(a, ch, u0, u1, gx, row_dots.data(), scratch.data(), off.data(), masks.data(), max_in);
  });
  std::vector<double> dots(kNumAggCodes, 0.0);
  for (int c = 0; c < ch.count; ++c) {
    double s = 0;
    for (int64_t u = 0; u < a.n; ++u) s += row_dots[c * a.n + u];
    dots[ch.code[c]] = s;
  }
  return dots;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mixed_aggregate_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& x_in,
    const at::Tensor& weights, at::IntArrayRef ops, const std::optional<at::Tensor>& edge_weight,
    const at::Tensor& arg_in, const at::Tensor& t_rowptr_in, const at::Tensor& t_row_in, const at::Tensor& t_eid_in,
    std::array<bool, 3> mask) {
  check_forward(rowptr_in, col_in, x_in, weights, ops, edge_weight);
  check_cpu_dtype(x_in);
  const AggPlan plan = checked_plan(ops);
  const int64_t n = x_in.size(0), d = x_in.size(1), e = col_in.numel();
  TORCH_CHECK(grad_out.sizes() == x_in.sizes() && grad_out.scalar_type() == x_in.scalar_type(),
              "darts_gnn::mixed_aggregate_backward: grad_out must match x (", x_in.sizes(), ", ", x_in.scalar_type(),
              "), got ", grad_out.sizes(), ", ", grad_out.scalar_type());
  const bool need_x = mask[0], need_w = mask[1], need_ew = mask[2] && edge_weight.has_value();
  const int64_t words = mask_words(d);
  if ((need_x || need_w || need_ew) && plan.extremal())
    TORCH_CHECK(arg_in.dim() == 3 && arg_in.size(0) == plan.num_slots && arg_in.size(1) == e &&
                    arg_in.size(2) == words && arg_in.scalar_type() == at::kLong,
                "darts_gnn::mixed_aggregate_backward: arg must be the int64 [", plan.num_slots, ", ", e, ", ", words,
                "] tensor saved by the forward (save_arg=True), got ", arg_in.scalar_type(), " ", arg_in.sizes());
  if (need_x || need_w)
    TORCH_CHECK(t_rowptr_in.numel() == n + 1 && t_row_in.numel() == e && t_eid_in.numel() == e &&
                    t_rowptr_in.scalar_type() == at::kLong && t_row_in.scalar_type() == at::kLong &&
                    t_eid_in.scalar_type() == at::kLong,
                "darts_gnn::mixed_aggregate_backward: (t_rowptr, t_row, t_eid) must be csr_transpose(rowptr, col)");

  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous(), x = x_in.contiguous();
  check_rowptr_values(rowptr, e, "darts_gnn::mixed_aggregate");
  const at::Tensor g = grad_out.contiguous();
  const at::Tensor ew = edge_weight.has_value() ? edge_weight->contiguous() : at::Tensor();
  const at::Tensor arg = arg_in.contiguous();
  const at::Tensor t_rowptr = t_rowptr_in.contiguous(), t_row = t_row_in.contiguous(), t_eid = t_eid_in.contiguous();
  const std::vector<double> w = weights_as_double(weights);

  at::Tensor gx = need_x ? at::empty({n, d}, x.options()) : at::empty({0}, x.options());
  at::Tensor gw = at::empty({need_w ? weights.numel() : 0}, weights.options());
  at::Tensor gew = at::empty({need_ew ? e : 0}, x.options());

  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "darts_gnn_mixed_aggregate_backward_cpu", [&] {
    const int64_t* rp = rowptr.data_ptr<int64_t>();
    const std::vector<scalar_t> dinv = inv_sqrt_degree<scalar_t>(rp, n);
    BackwardArgs<scalar_t> a;
    a.rowptr = rp;
    a.col = col.data_ptr<int64_t>();
    a.x = x.data_ptr<scalar_t>();
    a.ew = ew.defined() ? ew.data_ptr<scalar_t>() : nullptr;
    a.g = g.data_ptr<scalar_t>();
    a.arg = arg.numel() > 0 ? reinterpret_cast<const uint64_t*>(arg.data_ptr<int64_t>()) : nullptr;
    a.t_rowptr = t_rowptr.numel() > 0 ? t_rowptr.data_ptr<int64_t>() : nullptr;
    a.t_row = t_row.numel() > 0 ? t_row.data_ptr<int64_t>() : nullptr;
    a.t_eid = t_eid.numel() > 0 ? t_eid.data_ptr<int64_t>() : nullptr;
    a.dinv = dinv.data();
    a.n = n;
    a.d = d;
    a.e = e;
    a.words = words;
    fold_weights(ops.data(), static_cast<int64_t>(ops.size()), w.data(), a.c);
    a.plan = plan;
    const bool work = n > 0 && d > 0;
    scalar_t* gxp = need_x ? gx.data_ptr<scalar_t>() : nullptr;
    std::vector<double> dots(kNumAggCodes, 0.0);
    if (work && need_w) dots = grad_weights(a, gxp);  // also writes grad_x when needed
    else if (work && need_x) grad_x(a, gxp);
    if (need_ew) {
      scalar_t* gp = gew.data_ptr<scalar_t>();
      if (work) grad_edge_weight(a, gp);
      else std::fill(gp, gp + e, scalar_t(0));
    }
    if (need_w) {
      at::Tensor host = at::empty({static_cast<int64_t>(ops.size())}, weights.options().dtype(at::kDouble));
      for (size_t k = 0; k < ops.size(); ++k) host.data_ptr<double>()[k] = dots[ops[k]];
      gw.copy_(host);
    }
  });
  return {gx, gw, gew};
}

}  // namespace

TORCH_LIBRARY_IMPL(darts_gnn, CPU, m) {
  m.impl("mixed_aggregate", &mixed_aggregate_cpu);
  m.impl("mixed_aggregate_backward", &mixed_aggregate_backward_cpu);
  m.impl("aggregate_stack", &aggregate_stack_cpu);
}

}  // namespace cpu
}  // namespace darts_gnn
