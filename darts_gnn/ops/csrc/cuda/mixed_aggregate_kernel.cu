// CUDA kernels of darts_gnn::mixed_aggregate and its backward, on raw pointers.
//
// Layout: one warp per destination row, lanes along the feature dimension (CPT columns per lane, so a
// warp covers 32 * CPT columns; wider rows use more blocks along grid.y). A warp reads the row's edge
// indices 32 at a time with one coalesced load and broadcasts them with shuffles; each neighbour row
// x[u] is then read once, coalesced, and feeds every accumulator the op list needs. The forward uses
// no atomics and neither does the backward: max/min keep per-edge column bitmasks of the arg-extremum
// (warp ballots), so the backward pulls every gradient over the transposed graph or per edge.
//
// This file includes only the CUDA toolkit and torch-free headers, so `nvcc -c` compiles it on its own.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "mixed_aggregate_cuda.h"

namespace darts_gnn {
namespace cuda {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = kWarp * kWarpsPerBlock;

template <typename T> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_acc(typename AccOf<T>::type v);
template <> __device__ __forceinline__ float from_acc<float>(float v) { return v; }
template <> __device__ __forceinline__ double from_acc<double>(double v) { return v; }
template <> __device__ __forceinline__ __half from_acc<__half>(float v) { return __float2half(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float v) { return __float2bfloat16(v); }

// coef[c] = sum of the weights of the ops with code c.
template <typename A>
__device__ __forceinline__ void fold(const A* __restrict__ w, const OpList& ops, A coef[kNumAggCodes]) {
#pragma unroll
  for (int c = 0; c < kNumAggCodes; ++c) coef[c] = A(0);
  for (int k = 0; k < ops.k; ++k) coef[ops.code[k]] += w[k];
}

template <typename A>
__device__ __forceinline__ A inv_sqrt_degree(const int64_t* __restrict__ rowptr, int64_t v) {
  const int64_t deg = rowptr[v + 1] - rowptr[v];
  return deg > 0 ? A(1) / sqrt(static_cast<A>(deg)) : A(0);
}

template <typename A>
__device__ __forceinline__ A warp_sum(A s) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o /= 2) s += __shfl_xor_sync(kFull, s, o);
  return s;
}

// ------------------------------------------------------------------------------------------- forward

template <typename T, int CPT>
__global__ void __launch_bounds__(kThreads)
forward_kernel(Graph g, const T* __restrict__ x, const T* __restrict__ ew,
               const typename AccOf<T>::type* __restrict__ weights, OpList ops, AggPlan plan,
               T* __restrict__ out, uint64_t* __restrict__ arg) {
  using A = typename AccOf<T>::type;
  const int lane = threadIdx.x % kWarp;
  const int64_t v = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (v >= g.n) return;  // uniform across the warp
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * (kWarp * CPT);
  const bool stack = weights == nullptr;  // aggregate_stack: out [k, n, d], one slice per op
  A c[kNumAggCodes];
  if (!stack) fold(weights, ops, c);
  const int64_t beg = g.rowptr[v], end = g.rowptr[v + 1];

  A S[CPT], G[CPT], Mx[CPT], Mn[CPT];
  int32_t Ax[CPT], An[CPT];
#pragma unroll
  for (int i = 0; i < CPT; ++i) { S[i] = G[i] = Mx[i] = Mn[i] = A(0); Ax[i] = An[i] = -1; }

  for (int64_t base = beg; base < end; base += kWarp) {
    const int64_t mine = base + lane;
    int64_t my_u = 0;
    A my_w = A(0), my_wg = A(0);
    if (mine < end) {
      my_u = g.col[mine];
      my_w = ew ? to_acc(ew[mine]) : A(1);
      if (plan.gcn) my_wg = my_w * inv_sqrt_degree<A>(g.rowptr, my_u);
    }
    const int count = static_cast<int>(end - base < kWarp ? end - base : kWarp);
#pragma unroll 4
    for (int t = 0; t < count; ++t) {
      const int64_t u = __shfl_sync(kFull, my_u, t);
      const A w = __shfl_sync(kFull, my_w, t);
      const A wg = __shfl_sync(kFull, my_wg, t);
      const int32_t e = static_cast<int32_t>(base + t);
      const T* __restrict__ xu = x + u * g.d;
#pragma unroll
      for (int i = 0; i < CPT; ++i) {
        const int64_t j = j0 + i * kWarp + lane;
        if (j < g.d) {
          const A xv = to_acc(xu[j]);
          const A m = w * xv;
          if (plan.sum) S[i] += m;
          if (plan.gcn) G[i] += wg * xv;
          if (plan.max && (Ax[i] < 0 || m > Mx[i])) { Mx[i] = m; Ax[i] = e; }
          if (plan.min && (An[i] < 0 || m < Mn[i])) { Mn[i] = m; An[i] = e; }
        }
      }
    }
  }

  const int64_t deg = end - beg;
  const A inv_deg = deg > 0 ? A(1) / static_cast<A>(deg) : A(0);
  const A dv = inv_sqrt_degree<A>(g.rowptr, v);
  if (stack) {
    for (int k = 0; k < ops.k; ++k) {
      const int code = ops.code[k];
#pragma unroll
      for (int i = 0; i < CPT; ++i) {
        const int64_t j = j0 + i * kWarp + lane;
        if (j >= g.d) continue;
        const A r = code == kSum ? S[i] : code == kMean ? inv_deg * S[i] : code == kGcn ? dv * G[i]
                    : code == kMax ? Mx[i] : Mn[i];
        out[(k * g.n + v) * g.d + j] = from_acc<T>(r);
      }
    }
  } else {
    const A cs = deg > 0 ? c[kSum] + c[kMean] / static_cast<A>(deg) : A(0);
    const A cg = c[kGcn] * dv;
#pragma unroll
    for (int i = 0; i < CPT; ++i) {
      const int64_t j = j0 + i * kWarp + lane;
      if (j >= g.d) continue;
      A r = A(0);
      if (plan.sum) r += cs * S[i];
      if (plan.gcn) r += cg * G[i];
      if (plan.max) r += c[kMax] * Mx[i];
      if (plan.min) r += c[kMin] * Mn[i];
      out[v * g.d + j] = from_acc<T>(r);
    }
  }
  if (!arg) return;
  // Column bitmasks: for each edge, one warp ballot per 32 columns; lane 0 writes the 32-bit half of
  // the edge's 64-bit word (little-endian), including the all-zero halves past d inside the last word.
  const int64_t words = (g.d + 63) / 64;
  uint32_t* arg_max = plan.max ? reinterpret_cast<uint32_t*>(arg + plan.slot_max * g.e * words) : nullptr;
  uint32_t* arg_min = plan.min ? reinterpret_cast<uint32_t*>(arg + plan.slot_min * g.e * words) : nullptr;
  for (int64_t e = beg; e < end; ++e) {
    const int32_t ei = static_cast<int32_t>(e);
#pragma unroll
    for (int i = 0; i < CPT; ++i) {
      const int64_t jb = j0 + i * kWarp;  // first column of this 32-column group
      if (jb >= 64 * words) break;        // uniform across the warp
      const bool in = jb + lane < g.d;
      const unsigned bx = __ballot_sync(kFull, in && plan.max && Ax[i] == ei);
      const unsigned bn = __ballot_sync(kFull, in && plan.min && An[i] == ei);
      if (lane == 0) {
        if (arg_max) arg_max[e * 2 * words + jb / kWarp] = bx;
        if (arg_min) arg_min[e * 2 * words + jb / kWarp] = bn;
      }
    }
    if (CPT == 1 && lane == 0) {  // d <= 32: one tile, one word; its upper half holds no column
      if (arg_max) arg_max[e * 2 + 1] = 0u;
      if (arg_min) arg_min[e * 2 + 1] = 0u;
    }
  }
}

// ------------------------------------------------------------------------------------------ backward

// One warp per transposed row u. With P_c[u] = (A_c^T g)[u] for the unit-weight aggregator of code c
// (sum: ew; mean: ew / deg(v); gcn: ew / sqrt(deg(v) deg(u)); max/min: ew on the columns in the edge's
// bitmask): gx[u] = sum_c coef[c] P_c[u] and row_dots[c, u] = <P_c[u], x[u]>.
template <typename T, int CPT>
__global__ void __launch_bounds__(kThreads)
grad_x_weights_kernel(Graph g, const int64_t* __restrict__ t_rowptr, const int64_t* __restrict__ t_row,
                      const int64_t* __restrict__ t_eid, const T* __restrict__ grad_out, const T* __restrict__ x,
                      const T* __restrict__ ew, const typename AccOf<T>::type* __restrict__ weights, OpList ops,
                      AggPlan plan, const uint64_t* __restrict__ arg, typename AccOf<T>::type* __restrict__ gx,
                      typename AccOf<T>::type* __restrict__ row_dots) {
  using A = typename AccOf<T>::type;
  const int lane = threadIdx.x % kWarp;
  const int64_t u = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (u >= g.n) return;
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * (kWarp * CPT);
  A c[kNumAggCodes];
  fold(weights, ops, c);
  const int64_t words = (g.d + 63) / 64;
  const uint64_t* arg_max = plan.max ? arg + plan.slot_max * g.e * words : nullptr;
  const uint64_t* arg_min = plan.min ? arg + plan.slot_min * g.e * words : nullptr;
  const A du = inv_sqrt_degree<A>(g.rowptr, u);
  const int64_t beg = t_rowptr[u], end = t_rowptr[u + 1];
  A P[kNumAggCodes][CPT];
#pragma unroll
  for (int k = 0; k < kNumAggCodes; ++k)
#pragma unroll
    for (int i = 0; i < CPT; ++i) P[k][i] = A(0);

  for (int64_t base = beg; base < end; base += kWarp) {
    const int64_t mine = base + lane;
    int64_t my_v = 0, my_e = 0;
    A my_w = A(0), my_inv_deg = A(0), my_dinv = A(0);
    if (mine < end) {
      my_v = t_row[mine];
      my_e = t_eid[mine];
      my_w = ew ? to_acc(ew[my_e]) : A(1);
      const int64_t deg = g.rowptr[my_v + 1] - g.rowptr[my_v];  // >= 1: v has this entry
      my_inv_deg = A(1) / static_cast<A>(deg);
      my_dinv = A(1) / sqrt(static_cast<A>(deg));
    }
    const int count = static_cast<int>(end - base < kWarp ? end - base : kWarp);
#pragma unroll 2
    for (int t = 0; t < count; ++t) {
      const int64_t v = __shfl_sync(kFull, my_v, t);
      const int64_t e = __shfl_sync(kFull, my_e, t);
      const A w = __shfl_sync(kFull, my_w, t);
      const A w_mean = w * __shfl_sync(kFull, my_inv_deg, t);
      const A w_gcn = w * __shfl_sync(kFull, my_dinv, t) * du;
      const T* __restrict__ gv = grad_out + v * g.d;
#pragma unroll
      for (int i = 0; i < CPT; ++i) {
        const int64_t j = j0 + i * kWarp + lane;
        if (j < g.d) {
          const A gj = to_acc(gv[j]);
          if (plan.sum) { P[kSum][i] += w * gj; P[kMean][i] += w_mean * gj; }
          if (plan.gcn) P[kGcn][i] += w_gcn * gj;
          if (plan.max && ((arg_max[e * words + (j >> 6)] >> (j & 63)) & 1)) P[kMax][i] += w * gj;
          if (plan.min && ((arg_min[e * words + (j >> 6)] >> (j & 63)) & 1)) P[kMin][i] += w * gj;
        }
      }
    }
  }
  A dots[kNumAggCodes];
#pragma unroll
  for (int k = 0; k < kNumAggCodes; ++k) dots[k] = A(0);
#pragma unroll
  for (int i = 0; i < CPT; ++i) {
    const int64_t j = j0 + i * kWarp + lane;
    if (j >= g.d) continue;
    A total = A(0);
#pragma unroll
    for (int k = 0; k < kNumAggCodes; ++k) total += plan.has(k) ? c[k] * P[k][i] : A(0);
    if (gx) gx[u * g.d + j] = total;
    if (row_dots) {
      const A xj = to_acc(x[u * g.d + j]);
#pragma unroll
      for (int k = 0; k < kNumAggCodes; ++k) dots[k] += P[k][i] * xj;
    }
  }
  if (row_dots) {
    // one partial per (code, u, column tile); reduced in a fixed order later
#pragma unroll
    for (int k = 0; k < kNumAggCodes; ++k) {
      const A s = warp_sum(dots[k]);
      if (lane == 0) row_dots[(k * static_cast<int64_t>(gridDim.y) + blockIdx.y) * g.n + u] = s;
    }
  }
}

// gew[e] = (c_sum + c_mean/deg(v) + c_gcn/sqrt(deg(v)deg(u))) <g[v], x[u]>
//          + c_max <g[v], x[u]>_{max bitmask of e} + c_min <g[v], x[u]>_{min bitmask of e}.
template <typename T>
__global__ void __launch_bounds__(kThreads)
grad_edge_weight_kernel(Graph g, const T* __restrict__ grad_out, const T* __restrict__ x,
                        const typename AccOf<T>::type* __restrict__ weights, OpList ops, AggPlan plan,
                        const uint64_t* __restrict__ arg, typename AccOf<T>::type* __restrict__ gew) {
  using A = typename AccOf<T>::type;
  const int lane = threadIdx.x % kWarp;
  const int64_t v = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (v >= g.n) return;
  const int64_t beg = g.rowptr[v], end = g.rowptr[v + 1];
  if (beg == end) return;
  A c[kNumAggCodes];
  fold(weights, ops, c);
  const int64_t words = (g.d + 63) / 64;
  const uint64_t* arg_max = plan.max ? arg + plan.slot_max * g.e * words : nullptr;
  const uint64_t* arg_min = plan.min ? arg + plan.slot_min * g.e * words : nullptr;
  const A lin_a = c[kSum] + c[kMean] / static_cast<A>(end - beg);
  const A lin_b = c[kGcn] * inv_sqrt_degree<A>(g.rowptr, v);
  const T* __restrict__ gv = grad_out + v * g.d;
  for (int64_t e = beg; e < end; ++e) {
    const int64_t u = g.col[e];
    const T* __restrict__ xu = x + u * g.d;
    A sl = A(0), sx = A(0), sn = A(0);
    for (int64_t j = lane; j < g.d; j += kWarp) {
      const A p = to_acc(gv[j]) * to_acc(xu[j]);
      sl += p;
      if (arg_max && ((arg_max[e * words + (j >> 6)] >> (j & 63)) & 1)) sx += p;
      if (arg_min && ((arg_min[e * words + (j >> 6)] >> (j & 63)) & 1)) sn += p;
    }
    sl = warp_sum(sl);
    if (arg_max) sx = warp_sum(sx);
    if (arg_min) sn = warp_sum(sn);
    if (lane == 0) {
      A r = (plan.sum || plan.gcn) ? (lin_a + lin_b * inv_sqrt_degree<A>(g.rowptr, u)) * sl : A(0);
      if (plan.max) r += c[kMax] * sx;
      if (plan.min) r += c[kMin] * sn;
      gew[e] = r;
    }
  }
}

// grad_w[k] = sum over rows and column tiles of row_dots[ops.code[k]]; one block, fixed reduction order.
template <typename A>
__global__ void __launch_bounds__(1024)
reduce_weights_kernel(int64_t count, const A* __restrict__ row_dots, OpList ops, A* __restrict__ grad_w) {
  __shared__ A buf[1024];
  __shared__ A total[kNumAggCodes];
  for (int code = 0; code < kNumAggCodes; ++code) {
    bool used = false;
    for (int k = 0; k < ops.k; ++k) used = used || ops.code[k] == code;
    if (!used) continue;  // uniform across the block
    A s = A(0);
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) s += row_dots[code * count + i];
    buf[threadIdx.x] = s;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o /= 2) {
      if (threadIdx.x < o) buf[threadIdx.x] += buf[threadIdx.x + o];
      __syncthreads();
    }
    if (threadIdx.x == 0) total[code] = buf[0];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int k = 0; k < ops.k; ++k) grad_w[k] = total[ops.code[k]];
}

// ------------------------------------------------------------------------------------------ launchers

inline unsigned row_blocks(int64_t n) { return static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock); }

inline dim3 row_grid(int64_t n, int64_t d, int cpt) {
  return dim3(row_blocks(n), static_cast<unsigned>((d + kWarp * cpt - 1) / (kWarp * cpt)));
}

template <typename T>
int forward_typed(Graph g, const void* x, const void* ew, const void* w, OpList ops, AggPlan plan, void* out,
                  uint64_t* arg, cudaStream_t stream) {
  using A = typename AccOf<T>::type;
  const int cpt = cols_per_thread(g.d);
  const dim3 grid = row_grid(g.n, g.d, cpt);
  const T* xp = static_cast<const T*>(x);
  const T* ep = static_cast<const T*>(ew);
  const A* wp = static_cast<const A*>(w);
  T* op = static_cast<T*>(out);
  if (cpt == 1) forward_kernel<T, 1><<<grid, kThreads, 0, stream>>>(g, xp, ep, wp, ops, plan, op, arg);
  else if (cpt == 2) forward_kernel<T, 2><<<grid, kThreads, 0, stream>>>(g, xp, ep, wp, ops, plan, op, arg);
  else forward_kernel<T, 4><<<grid, kThreads, 0, stream>>>(g, xp, ep, wp, ops, plan, op, arg);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int grad_x_weights_typed(Graph g, const int64_t* t_rowptr, const int64_t* t_row, const int64_t* t_eid,
                         const void* grad_out, const void* x, const void* ew, const void* w, OpList ops, AggPlan plan,
                         const uint64_t* arg, void* gx, void* row_dots, void* grad_w, cudaStream_t stream) {
  using A = typename AccOf<T>::type;
  const int cpt = cols_per_thread(g.d);
  const dim3 grid = row_grid(g.n, g.d, cpt);
  const T* gp = static_cast<const T*>(grad_out);
  const T* xp = static_cast<const T*>(x);
  const T* ep = static_cast<const T*>(ew);
  const A* wp = static_cast<const A*>(w);
  A* gxp = static_cast<A*>(gx);
  A* rd = grad_w ? static_cast<A*>(row_dots) : nullptr;
  if (cpt == 1)
    grad_x_weights_kernel<T, 1><<<grid, kThreads, 0, stream>>>(g, t_rowptr, t_row, t_eid, gp, xp, ep, wp, ops, plan, arg, gxp, rd);
  else if (cpt == 2)
    grad_x_weights_kernel<T, 2><<<grid, kThreads, 0, stream>>>(g, t_rowptr, t_row, t_eid, gp, xp, ep, wp, ops, plan, arg, gxp, rd);
  else
    grad_x_weights_kernel<T, 4><<<grid, kThreads, 0, stream>>>(g, t_rowptr, t_row, t_eid, gp, xp, ep, wp, ops, plan, arg, gxp, rd);
  if (grad_w)
    reduce_weights_kernel<A><<<1, 1024, 0, stream>>>(static_cast<int64_t>(grid.y) * g.n, rd, ops, static_cast<A*>(grad_w));
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int grad_edge_weight_typed(Graph g, const void* grad_out, const void* x, const void* w, OpList ops, AggPlan plan,
                           const uint64_t* arg, void* gew, cudaStream_t stream) {
  using A = typename AccOf<T>::type;
  // every edge belongs to a non-empty row, whose warp writes it
  grad_edge_weight_kernel<T><<<row_blocks(g.n), kThreads, 0, stream>>>(
      g, static_cast<const T*>(grad_out), static_cast<const T*>(x), static_cast<const A*>(w), ops, plan, arg,
      static_cast<A*>(gew));
  return static_cast<int>(cudaGetLastError());
}

#define DARTS_GNN_DISPATCH(dtype, CALL)                          \
  switch (dtype) {                                               \
    case DType::kFloat32: { using T = float; return CALL; }      \
    case DType::kFloat64: { using T = double; return CALL; }     \
    case DType::kFloat16: { using T = __half; return CALL; }     \
    case DType::kBFloat16: { using T = __nv_bfloat16; return CALL; } \
  }                                                              \
  return static_cast<int>(cudaErrorInvalidValue)

}  // namespace

int launch_forward(DType dtype, Graph g, const void* x, const void* edge_weight, const void* weights, OpList ops,
                   AggPlan plan, void* out, uint64_t* arg, void* stream) {
  if (g.n == 0 || g.d == 0) return 0;
  DARTS_GNN_DISPATCH(dtype, forward_typed<T>(g, x, edge_weight, weights, ops, plan, out, arg,
                                             static_cast<cudaStream_t>(stream)));
}

int launch_grad_x_weights(DType dtype, Graph g, const int64_t* t_rowptr, const int64_t* t_row, const int64_t* t_eid,
                          const void* grad_out, const void* x, const void* edge_weight, const void* weights, OpList ops,
                          AggPlan plan, const uint64_t* arg, void* grad_x_acc, void* row_dots_acc, void* grad_w,
                          void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (g.n == 0 || g.d == 0) {  // nothing to accumulate: zero grad_w (grad_x has no elements)
    const size_t acc = dtype == DType::kFloat64 ? sizeof(double) : sizeof(float);
    return grad_w ? static_cast<int>(cudaMemsetAsync(grad_w, 0, acc * ops.k, s)) : 0;
  }
  DARTS_GNN_DISPATCH(dtype, grad_x_weights_typed<T>(g, t_rowptr, t_row, t_eid, grad_out, x, edge_weight, weights, ops,
                                                    plan, arg, grad_x_acc, row_dots_acc, grad_w, s));
}

int launch_grad_edge_weight(DType dtype, Graph g, const void* grad_out, const void* x, const void* weights, OpList ops,
                            AggPlan plan, const uint64_t* arg, void* grad_ew_acc, void* stream) {
  if (g.e == 0) return 0;
  if (g.d == 0) {
    const size_t bytes = (dtype == DType::kFloat64 ? sizeof(double) : sizeof(float)) * g.e;
    return static_cast<int>(cudaMemsetAsync(grad_ew_acc, 0, bytes, static_cast<cudaStream_t>(stream)));
  }
  DARTS_GNN_DISPATCH(dtype, grad_edge_weight_typed<T>(g, grad_out, x, weights, ops, plan, arg, grad_ew_acc,
                                                      static_cast<cudaStream_t>(stream)));
}

}  // namespace cuda
}  // namespace darts_gnn
