// CPU kernel of darts_gnn::csr_transpose: a stable counting sort of the edges by col.
//
// The edges are split into P contiguous row ranges; each range counts its columns, the counts are
// turned into per-range write offsets (range-major within each column), and each range scatters its
// edges in order. A stable sort has exactly one result, so the output does not depend on P or on the
// number of threads.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../checks.h"

namespace darts_gnn {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> csr_transpose_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in) {
  check_graph(rowptr_in, col_in);
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const int64_t n = rowptr.numel() - 1, e = col.numel();
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const int64_t* cp = col.data_ptr<int64_t>();
  check_rowptr_values(rowptr, e, "darts_gnn::csr_transpose");

  // P ranges, bounded so that the P x N count table stays no larger than the edge list.
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  const int64_t p = std::max<int64_t>(1, std::min<int64_t>(threads, e / std::max<int64_t>(1, n)));
  std::vector<int64_t> bounds(p + 1, n);  // row boundaries with about E/P edges each
  bounds[0] = 0;
  for (int64_t i = 1; i < p; ++i) bounds[i] = std::upper_bound(rp, rp + n + 1, e * i / p) - rp - 1;
  for (int64_t i = 1; i <= p; ++i) bounds[i] = std::max(bounds[i], bounds[i - 1]);

  std::vector<int64_t> count(p * n, 0);
  at::parallel_for(0, p, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t q = p0; q < p1; ++q) {
      int64_t* c = count.data() + q * n;
      for (int64_t v = bounds[q]; v < bounds[q + 1]; ++v) {
        for (int64_t k = rp[v]; k < rp[v + 1]; ++k) {
          const int64_t u = cp[k];
          TORCH_CHECK(0 <= u && u < n, "darts_gnn::csr_transpose: col[", k, "] = ", u, " is out of range for ", n,
                      " nodes");
          ++c[u];
        }
      }
    }
  });

  at::Tensor t_rowptr = at::empty({n + 1}, rowptr.options());
  at::Tensor t_row = at::empty({e}, col.options());
  at::Tensor t_eid = at::empty({e}, col.options());
  int64_t* trp = t_rowptr.data_ptr<int64_t>();
  int64_t run = 0;
  for (int64_t u = 0; u < n; ++u) {  // counts become write cursors
    trp[u] = run;
    for (int64_t q = 0; q < p; ++q) {
      const int64_t c = count[q * n + u];
      count[q * n + u] = run;
      run += c;
    }
  }
  trp[n] = run;

  int64_t* tr = t_row.data_ptr<int64_t>();
  int64_t* te = t_eid.data_ptr<int64_t>();
  at::parallel_for(0, p, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t q = p0; q < p1; ++q) {
      int64_t* cur = count.data() + q * n;
      for (int64_t v = bounds[q]; v < bounds[q + 1]; ++v) {
        for (int64_t k = rp[v]; k < rp[v + 1]; ++k) {
          const int64_t pos = cur[cp[k]]++;
          tr[pos] = v;
          te[pos] = k;
        }
      }
    }
  });
  return {t_rowptr, t_row, t_eid};
}

}  // namespace

TORCH_LIBRARY_IMPL(darts_gnn, CPU, m) { m.impl("csr_transpose", &csr_transpose_cpu); }

}  // namespace darts_gnn
