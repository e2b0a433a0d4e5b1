// CUDA implementations of the darts_gnn operators: argument checks, allocation and dispatch to the
// raw-pointer launchers of mixed_aggregate_kernel.cu. csr_transpose on CUDA uses ATen's stable sort.
// Compiled only when torch has CUDA and a CUDA toolkit is found (see darts_gnn/ops/_extension.py).
#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/repeat_interleave.h>
#include <ATen/ops/searchsorted.h>
#include <ATen/ops/sort.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/library.h>

#include <algorithm>

#include "../checks.h"
#include "mixed_aggregate_cuda.h"

namespace darts_gnn {
namespace {

cuda::DType to_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::DType::kFloat32;
    case at::kDouble: return cuda::DType::kFloat64;
    case at::kHalf: return cuda::DType::kFloat16;
    case at::kBFloat16: return cuda::DType::kBFloat16;
    default:
      TORCH_CHECK(false, "darts_gnn::mixed_aggregate: x must be float32, float64, float16 or bfloat16 on CUDA, got ", t);
  }
}

at::ScalarType acc_type(at::ScalarType t) { return t == at::kDouble ? at::kDouble : at::kFloat; }

cuda::OpList op_list(at::IntArrayRef ops) {
  TORCH_CHECK(static_cast<int64_t>(ops.size()) <= cuda::kMaxOps, "darts_gnn::mixed_aggregate: the CUDA kernels take at most ",
              cuda::kMaxOps, " ops, got ", ops.size());
  cuda::OpList list{};
  list.k = static_cast<int32_t>(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) list.code[i] = static_cast<int8_t>(ops[i]);
  return list;
}

cuda::Graph graph_of(const at::Tensor& rowptr, const at::Tensor& col, int64_t d) {
  return cuda::Graph{rowptr.data_ptr<int64_t>(), col.data_ptr<int64_t>(), rowptr.numel() - 1, d, col.numel()};
}

void check_launch(int err, const char* what) {
  TORCH_CHECK(err == 0, "darts_gnn: CUDA launch of ", what, " failed: ", cudaGetErrorString(static_cast<cudaError_t>(err)));
}

void* stream_ptr() { return static_cast<void*>(c10::cuda::getCurrentCUDAStream().stream()); }

// Forward of mixed_aggregate (weights given: out [n, d]) and of aggregate_stack (weights null: out [k, n, d]).
std::tuple<at::Tensor, at::Tensor> forward_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                const at::Tensor& x_in, const at::Tensor* weights, at::IntArrayRef ops,
                                                const std::optional<at::Tensor>& edge_weight, bool save_arg) {
  const AggPlan plan = checked_plan(ops);
  const cuda::DType dtype = to_dtype(x_in.scalar_type());
  c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous(), x = x_in.contiguous();
  const at::Tensor ew = edge_weight.has_value() ? edge_weight->contiguous() : at::Tensor();
  const at::Tensor w = weights ? weights->to(acc_type(x.scalar_type())).contiguous() : at::Tensor();
  const int64_t n = x.size(0), d = x.size(1), e = col.numel(), k = static_cast<int64_t>(ops.size());

  at::Tensor out = weights ? at::empty({n, d}, x.options()) : at::empty({k, n, d}, x.options());
  at::Tensor arg = at::empty({save_arg ? plan.num_slots : 0, e, mask_words(d)}, x.options().dtype(at::kLong));
  check_launch(cuda::launch_forward(dtype, graph_of(rowptr, col, d), x.data_ptr(), ew.defined() ? ew.data_ptr() : nullptr,
                                    w.defined() ? w.data_ptr() : nullptr, op_list(ops), plan, out.data_ptr(),
                                    arg.numel() > 0 ? reinterpret_cast<uint64_t*>(arg.data_ptr<int64_t>()) : nullptr,
                                    stream_ptr()),
               weights ? "mixed_aggregate forward" : "aggregate_stack forward");
  return {out, arg};
}

std::tuple<at::Tensor, at::Tensor> mixed_aggregate_cuda(
    const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x, const at::Tensor& weights,
    at::IntArrayRef ops, const std::optional<at::Tensor>& edge_weight, bool save_arg) {
  check_forward(rowptr, col, x, weights, ops, edge_weight);
  return forward_cuda(rowptr, col, x, &weights, ops, edge_weight, save_arg);
}

std::tuple<at::Tensor, at::Tensor> aggregate_stack_cuda(const at::Tensor& rowptr, const at::Tensor& col,
                                                        const at::Tensor& x, at::IntArrayRef ops,
                                                        const std::optional<at::Tensor>& edge_weight, bool save_arg) {
  check_stack(rowptr, col, x, ops, edge_weight);
  return forward_cuda(rowptr, col, x, nullptr, ops, edge_weight, save_arg);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mixed_aggregate_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& x_in,
    const at::Tensor& weights, at::IntArrayRef ops, const std::optional<at::Tensor>& edge_weight,
    const at::Tensor& arg_in, const at::Tensor& t_rowptr_in, const at::Tensor& t_row_in, const at::Tensor& t_eid_in,
    std::array<bool, 3> mask) {
  check_forward(rowptr_in, col_in, x_in, weights, ops, edge_weight);
  const AggPlan plan = checked_plan(ops);
  const cuda::DType dtype = to_dtype(x_in.scalar_type());
  const int64_t n = x_in.size(0), d = x_in.size(1), e = col_in.numel(), words = mask_words(d);
  TORCH_CHECK(grad_out.sizes() == x_in.sizes() && grad_out.scalar_type() == x_in.scalar_type(),
              "darts_gnn::mixed_aggregate_backward: grad_out must match x (", x_in.sizes(), ", ", x_in.scalar_type(),
              "), got ", grad_out.sizes(), ", ", grad_out.scalar_type());
  const bool need_x = mask[0], need_w = mask[1], need_ew = mask[2] && edge_weight.has_value();
  if ((need_x || need_w || need_ew) && plan.extremal())
    TORCH_CHECK(arg_in.dim() == 3 && arg_in.size(0) == plan.num_slots && arg_in.size(1) == e && arg_in.size(2) == words &&
                    arg_in.scalar_type() == at::kLong,
                "darts_gnn::mixed_aggregate_backward: arg must be the int64 [", plan.num_slots, ", ", e, ", ", words,
                "] tensor saved by the forward (save_arg=True), got ", arg_in.scalar_type(), " ", arg_in.sizes());
  if (need_x || need_w)
    TORCH_CHECK(t_rowptr_in.numel() == n + 1 && t_row_in.numel() == e && t_eid_in.numel() == e,
                "darts_gnn::mixed_aggregate_backward: (t_rowptr, t_row, t_eid) must be csr_transpose(rowptr, col)");

  c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous(), x = x_in.contiguous();
  const at::Tensor g = grad_out.contiguous();
  const at::Tensor ew = edge_weight.has_value() ? edge_weight->contiguous() : at::Tensor();
  const at::Tensor arg = arg_in.contiguous();
  const at::ScalarType acc = acc_type(x.scalar_type());
  const at::Tensor w = weights.to(acc).contiguous();
  const cuda::Graph graph = graph_of(rowptr, col, d);
  const cuda::OpList list = op_list(ops);
  const uint64_t* argp = arg.numel() > 0 ? reinterpret_cast<const uint64_t*>(arg.data_ptr<int64_t>()) : nullptr;

  at::Tensor gx = at::empty({0}, x.options()), gw = at::empty({0}, weights.options()), gew = at::empty({0}, x.options());
  if (need_x || need_w) {
    const at::Tensor t_rowptr = t_rowptr_in.contiguous(), t_row = t_row_in.contiguous(), t_eid = t_eid_in.contiguous();
    at::Tensor gx_acc = at::empty({need_x ? n : 0, d}, x.options().dtype(acc));
    at::Tensor row_dots = at::empty({need_w ? kNumAggCodes * cuda::column_tiles(d) * n : 0}, x.options().dtype(acc));
    at::Tensor gw_acc = at::empty({need_w ? weights.numel() : 0}, x.options().dtype(acc));
    check_launch(cuda::launch_grad_x_weights(dtype, graph, t_rowptr.data_ptr<int64_t>(), t_row.data_ptr<int64_t>(),
                                             t_eid.data_ptr<int64_t>(), g.data_ptr(), x.data_ptr(),
                                             ew.defined() ? ew.data_ptr() : nullptr, w.data_ptr(), list, plan, argp,
                                             need_x ? gx_acc.data_ptr() : nullptr, need_w ? row_dots.data_ptr() : nullptr,
                                             need_w ? gw_acc.data_ptr() : nullptr, stream_ptr()),
                 "mixed_aggregate backward (x, weights)");
    if (need_x) gx = gx_acc.to(x.scalar_type());
    if (need_w) gw = gw_acc.to(weights.scalar_type());
  }
  if (need_ew) {
    at::Tensor gew_acc = at::empty({e}, x.options().dtype(acc));
    check_launch(cuda::launch_grad_edge_weight(dtype, graph, g.data_ptr(), x.data_ptr(), w.data_ptr(), list, plan, argp,
                                               gew_acc.data_ptr(), stream_ptr()),
                 "mixed_aggregate backward (edge_weight)");
    gew = gew_acc.to(x.scalar_type());
  }
  return {gx, gw, gew};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> csr_transpose_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in) {
  check_graph(rowptr_in, col_in);
  c10::cuda::CUDAGuard guard(col_in.device());
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const int64_t n = rowptr.numel() - 1, e = col.numel();
  const auto sorted = at::sort(col, /*stable=*/true, /*dim=*/0, /*descending=*/false);
  const at::Tensor& sorted_col = std::get<0>(sorted);
  const at::Tensor& perm = std::get<1>(sorted);
  const at::Tensor deg = rowptr.slice(0, 1, n + 1).sub(rowptr.slice(0, 0, n));
  const at::Tensor row = at::repeat_interleave(at::arange(n, rowptr.options()), deg, /*dim=*/0, /*output_size=*/e);
  at::Tensor t_rowptr = at::searchsorted(sorted_col, at::arange(n + 1, col.options()));
  return {t_rowptr, row.index_select(0, perm), perm};
}

}  // namespace

TORCH_LIBRARY_IMPL(darts_gnn, CUDA, m) {
  m.impl("mixed_aggregate", &mixed_aggregate_cuda);
  m.impl("mixed_aggregate_backward", &mixed_aggregate_backward_cuda);
  m.impl("aggregate_stack", &aggregate_stack_cuda);
  m.impl("csr_transpose", &csr_transpose_cuda);
}

}  // namespace darts_gnn
