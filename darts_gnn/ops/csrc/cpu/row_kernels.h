// Hot row loops of the CPU kernels, written once and compiled twice by mixed_aggregate_kernel.cpp:
// for baseline x86-64 (SSE2) or any other target, and with AVX2+FMA for CPUs that have them (chosen
// at run time). Hence no include guard, no torch and no STL in here: everything has internal linkage
// in the including namespace, so the two copies never mix. Needs DARTS_GNN_VEC_BYTES (16 or 32) and
// the argument structs of row_args.h.
//
// Register blocking: a row is processed in column blocks of one cache line (64 bytes); the
// accumulators of a block (sum, gcn, max + argmax, min + argmin) stay in vector registers while the
// row's edges stream by, and the neighbour row's cache line is read once per block.

template <typename T>
struct Vec {
  using index_t = typename IndexOf<T>::type;
  typedef T V __attribute__((vector_size(DARTS_GNN_VEC_BYTES)));
  typedef index_t I __attribute__((vector_size(DARTS_GNN_VEC_BYTES)));
  static constexpr int lanes = DARTS_GNN_VEC_BYTES / static_cast<int>(sizeof(T));
  static constexpr int per_block = 64 / DARTS_GNN_VEC_BYTES;  // vectors per cache line
  static constexpr int block = lanes * per_block;             // columns per cache line

  static inline V load(const T* p) { V v; __builtin_memcpy(&v, p, sizeof(V)); return v; }
  static inline void store(T* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }
  static inline I load_index(const index_t* p) { I v; __builtin_memcpy(&v, p, sizeof(I)); return v; }
  static inline void store_index(index_t* p, I v) { __builtin_memcpy(p, &v, sizeof(I)); }
  static inline V splat(T s) { return V{} + s; }
  static inline I splat_index(index_t s) { return I{} + s; }
  static inline V select(I mask, V a, V b) {  // mask ? a : b per lane (mask lanes all ones or zeros)
    I ai, bi;
    __builtin_memcpy(&ai, &a, sizeof(V));
    __builtin_memcpy(&bi, &b, sizeof(V));
    const I r = (mask & ai) | (~mask & bi);
    V out;
    __builtin_memcpy(&out, &r, sizeof(V));
    return out;
  }
  static inline T hsum(V v) {
    T s = 0;
    for (int i = 0; i < lanes; ++i) s += v[i];
    return s;
  }
};

// Prefetch distance (entries) of the setup loops, which run ahead across row boundaries.
constexpr int64_t kAhead = 12;

// Prefetch a feature row of d values (its first 8 cache lines at most).
template <typename T>
inline void prefetch_row(const T* row, int64_t d) {
  const int64_t lines = (d * static_cast<int64_t>(sizeof(T)) + 63) / 64;
  for (int64_t l = 0; l < lines && l < 8; ++l) __builtin_prefetch(row + l * (64 / static_cast<int64_t>(sizeof(T))));
}

// Columns [j0, j0 + VT::block) of one destination row, whose edges are given as neighbour offsets
// off[i] = col[e] * d, message weights w[i] and gcn weights wg[i] (i = e - beg); results go to the
// row scratch arrays at j0.
template <typename T, bool SUM, bool GCN, bool MAX, bool MIN>
inline void forward_block(const T* __restrict x, const int64_t* __restrict off, const T* __restrict w,
                          const T* __restrict wg, int64_t beg, int64_t deg, int64_t j0, T* S, T* G, T* Mx, T* Mn,
                          typename Vec<T>::index_t* Ax, typename Vec<T>::index_t* An) {
  using VT = Vec<T>;
  using V = typename VT::V;
  using I = typename VT::I;
  constexpr int B = VT::per_block, L = VT::lanes;
  V s[B], g[B], mx[B], mn[B];
  I ax[B], an[B];
  {
    const T* xu = x + off[0] + j0;
    const I e0 = VT::splat_index(static_cast<typename VT::index_t>(beg));
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      const V xv = VT::load(xu + b * L);
      const V m = w[0] * xv;
      if (SUM) s[b] = m;
      if (GCN) g[b] = wg[0] * xv;
      if (MAX) { mx[b] = m; ax[b] = e0; }
      if (MIN) { mn[b] = m; an[b] = e0; }
    }
  }
  for (int64_t i = 1; i < deg; ++i) {
    if (i + 4 < deg) __builtin_prefetch(x + off[i + 4] + j0);
    const T* xu = x + off[i] + j0;
    const T wi = w[i];
    const T wgi = GCN ? wg[i] : T(0);
    const I ei = VT::splat_index(static_cast<typename VT::index_t>(beg + i));
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
      const V xv = VT::load(xu + b * L);
      const V m = wi * xv;
      if (SUM) s[b] += m;
      if (GCN) g[b] += wgi * xv;
      if (MAX) {
        const I gt = m > mx[b];
        mx[b] = VT::select(gt, m, mx[b]);
        ax[b] = (gt & ei) | (~gt & ax[b]);
      }
      if (MIN) {
        const I lt = m < mn[b];
        mn[b] = VT::select(lt, m, mn[b]);
        an[b] = (lt & ei) | (~lt & an[b]);
      }
    }
  }
#pragma GCC unroll 8
  for (int b = 0; b < B; ++b) {
    const int64_t j = j0 + b * L;
    if (SUM) VT::store(S + j, s[b]);
    if (GCN) VT::store(G + j, g[b]);
    if (MAX) { VT::store(Mx + j, mx[b]); VT::store_index(Ax + j, ax[b]); }
    if (MIN) { VT::store(Mn + j, mn[b]); VT::store_index(An + j, an[b]); }
  }
}

// Columns [j0, d) (fewer than a block) of one row, scalar.
template <typename T, bool SUM, bool GCN, bool MAX, bool MIN>
inline void forward_tail(const T* __restrict x, const int64_t* __restrict off, const T* __restrict w,
                         const T* __restrict wg, int64_t beg, int64_t deg, int64_t j0, int64_t d, T* S, T* G, T* Mx,
                         T* Mn, typename Vec<T>::index_t* Ax, typename Vec<T>::index_t* An) {
  using index_t = typename Vec<T>::index_t;
  for (int64_t j = j0; j < d; ++j) {
    const T x0 = x[off[0] + j];
    const T m0 = w[0] * x0;
    if (SUM) S[j] = m0;
    if (GCN) G[j] = wg[0] * x0;
    if (MAX) { Mx[j] = m0; Ax[j] = static_cast<index_t>(beg); }
    if (MIN) { Mn[j] = m0; An[j] = static_cast<index_t>(beg); }
  }
  for (int64_t i = 1; i < deg; ++i) {
    const T* xu = x + off[i];
    const index_t ei = static_cast<index_t>(beg + i);
    for (int64_t j = j0; j < d; ++j) {
      const T m = w[i] * xu[j];
      if (SUM) S[j] += m;
      if (GCN) G[j] += wg[i] * xu[j];
      if (MAX && m > Mx[j]) { Mx[j] = m; Ax[j] = ei; }
      if (MIN && m < Mn[j]) { Mn[j] = m; An[j] = ei; }
    }
  }
}

// Stack mode: slice q of out [k, n, d] gets aggregator codes[q] of row v alone (deg >= 1); the row's
// accumulators S (sum), G (gcn, without dinv[v]), Mx, Mn are those the plan computes.
template <typename T>
inline void write_stack(const ForwardArgs<T>& a, int64_t v, int64_t deg, const T* S, const T* G, const T* Mx,
                        const T* Mn) {
  const int64_t d = a.d;
  for (int64_t q = 0; q < a.k; ++q) {
    T* o = a.out + (q * a.n + v) * d;
    const int64_t code = a.codes[q];
    const T* src = code == kGcn ? G : code == kMax ? Mx : code == kMin ? Mn : S;
    const T scale = code == kMean ? T(1) / static_cast<T>(deg) : code == kGcn ? a.dinv[v] : T(1);
    for (int64_t j = 0; j < d; ++j) o[j] = scale * src[j];
  }
}

// Forward over destination rows [v0, v1) of a validated rowptr (check_rowptr_values). scratch: 4 * d +
// 2 * max_deg values; iscratch: 2 * d indices; oscratch: max_deg offsets. Returns -(bad edge + 2) for a
// col out of range, or -1 if fine.
template <typename T, bool SUM, bool GCN, bool MAX, bool MIN>
int64_t forward_rows(const ForwardArgs<T>& a, int64_t v0, int64_t v1, T* scratch, typename Vec<T>::index_t* iscratch,
                     int64_t* oscratch) {
  using VT = Vec<T>;
  const int64_t d = a.d;
  const int64_t dfull = d - d % VT::block;
  T* S = scratch;
  T* G = S + d;
  T* Mx = G + d;
  T* Mn = Mx + d;
  T* w = Mn + d;
  T* wg = w + a.max_deg;
  typename VT::index_t* Ax = iscratch;
  typename VT::index_t* An = Ax + d;
  int64_t* off = oscratch;

  for (int64_t v = v0; v < v1; ++v) {
    const int64_t beg = a.rowptr[v], end = a.rowptr[v + 1];
    T* o = a.out + v * d;
    const int64_t deg = end - beg;
    if (deg == 0) {
      for (int64_t q = 0; q < (a.stack ? a.k : 1); ++q)
        for (int64_t j = 0; j < d; ++j) o[q * a.n * d + j] = T(0);
      continue;
    }
    for (int64_t i = 0; i < deg; ++i) {
      if (beg + i + kAhead < a.e) {
        const int64_t ahead = a.col[beg + i + kAhead];
        if (ahead >= 0 && ahead < a.n) prefetch_row(a.x + ahead * d, d);
      }
      const int64_t u = a.col[beg + i];
      if (u < 0 || u >= a.n) return -(beg + i) - 2;
      off[i] = u * d;
      w[i] = a.ew ? a.ew[beg + i] : T(1);
      if (GCN) wg[i] = w[i] * a.dinv[u];
    }
    for (int64_t j0 = 0; j0 < dfull; j0 += VT::block)
      forward_block<T, SUM, GCN, MAX, MIN>(a.x, off, w, wg, beg, deg, j0, S, G, Mx, Mn, Ax, An);
    if (dfull < d) forward_tail<T, SUM, GCN, MAX, MIN>(a.x, off, w, wg, beg, deg, dfull, d, S, G, Mx, Mn, Ax, An);

    if (a.stack) {
      write_stack(a, v, deg, S, G, Mx, Mn);
    } else {
      const T cs = a.c[kSum] + a.c[kMean] / static_cast<T>(deg);
      const T cg = a.c[kGcn] * a.dinv[v];
      const T cx = a.c[kMax], cn = a.c[kMin];
      for (int64_t j = 0; j < d; ++j) {
        T r = 0;
        if (SUM) r += cs * S[j];
        if (GCN) r += cg * G[j];
        if (MAX) r += cx * Mx[j];
        if (MIN) r += cn * Mn[j];
        o[j] = r;
      }
    }
    if (a.arg) {  // per-edge column bitmasks of the arg-extrema
      const int64_t W = a.words;
      for (int q = 0; q < 2; ++q) {
        if ((q == 0 && !MAX) || (q == 1 && !MIN)) continue;
        const typename VT::index_t* A = q == 0 ? Ax : An;
        uint64_t* m = a.arg + (q == 0 ? a.plan.slot_max : a.plan.slot_min) * a.e * W + beg * W;
        for (int64_t i = 0; i < deg * W; ++i) m[i] = 0;
        for (int64_t j = 0; j < d; ++j) m[(A[j] - beg) * W + (j >> 6)] |= uint64_t(1) << (j & 63);
      }
    }
  }
  return -1;
}

template <typename T, bool SUM, bool GCN>
int64_t forward_rows_dispatch(const ForwardArgs<T>& a, int64_t v0, int64_t v1, T* scratch,
                              typename Vec<T>::index_t* iscratch, int64_t* oscratch) {
  if (a.plan.max && a.plan.min) return forward_rows<T, SUM, GCN, true, true>(a, v0, v1, scratch, iscratch, oscratch);
  if (a.plan.max) return forward_rows<T, SUM, GCN, true, false>(a, v0, v1, scratch, iscratch, oscratch);
  if (a.plan.min) return forward_rows<T, SUM, GCN, false, true>(a, v0, v1, scratch, iscratch, oscratch);
  return forward_rows<T, SUM, GCN, false, false>(a, v0, v1, scratch, iscratch, oscratch);
}

template <typename T>
int64_t forward_chunk(const ForwardArgs<T>& a, int64_t v0, int64_t v1, T* scratch, typename Vec<T>::index_t* iscratch,
                      int64_t* oscratch) {
  if (a.plan.sum && a.plan.gcn) return forward_rows_dispatch<T, true, true>(a, v0, v1, scratch, iscratch, oscratch);
  if (a.plan.sum) return forward_rows_dispatch<T, true, false>(a, v0, v1, scratch, iscratch, oscratch);
  if (a.plan.gcn) return forward_rows_dispatch<T, false, true>(a, v0, v1, scratch, iscratch, oscratch);
  return forward_rows_dispatch<T, false, false>(a, v0, v1, scratch, iscratch, oscratch);
}

// {1, 2, 4, ...}: bit l in lane l. Built once per call of a row kernel, outside the loops.
template <typename T>
inline typename Vec<T>::I lane_bits() {
  typename Vec<T>::I pattern;
  for (int l = 0; l < Vec<T>::lanes; ++l) pattern[l] = typename Vec<T>::index_t(1) << l;
  return pattern;
}

// Lane l of the result is all ones when bit l of `bits` is set (the lanes' slice of a column bitmask).
template <typename T>
inline typename Vec<T>::I lane_mask(uint64_t bits, typename Vec<T>::I pattern) {
  using VT = Vec<T>;
  return (VT::splat_index(static_cast<typename VT::index_t>(bits)) & pattern) != 0;
}

// grad_x over transposed rows [u0, u1). Entry i of row u is edge e = (v <- u) and contributes
//   coef_i * g[v]                                  (linear: coef = ew[e] * (A[v] + B[v] * dinv[u]))
//   + c_max * ew[e] * g[v, j] for the columns j whose max edge e is (bit j of the max mask of e)
//   + c_min * ew[e] * g[v, j] likewise for min.
// Scratch: 3 * max_deg values, max_deg offsets, 2 * words * max_deg mask words.
template <typename T, bool LIN, bool MAX, bool MIN>
void grad_x_rows(const BackwardArgs<T>& a, const T* A, const T* B, int64_t u0, int64_t u1, T* gx, T* scratch,
                 int64_t* off, uint64_t* masks, int64_t max_deg) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int PB = VT::per_block, L = VT::lanes;
  const int64_t d = a.d, W = a.words;
  const int64_t dfull = d - d % VT::block;
  T* coef = scratch;
  T* cmx = coef + max_deg;
  T* cmn = cmx + max_deg;
  uint64_t* mmx = masks;
  uint64_t* mmn = masks + W * max_deg;
  const uint64_t* arg_max = MAX ? a.arg + a.plan.slot_max * a.e * W : nullptr;
  const uint64_t* arg_min = MIN ? a.arg + a.plan.slot_min * a.e * W : nullptr;
  const typename VT::I pattern = lane_bits<T>();
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t beg = a.t_rowptr[u], deg = a.t_rowptr[u + 1] - beg;
    T* out = gx + u * d;
    const T du = a.dinv[u];
    for (int64_t i = 0; i < deg; ++i) {
      if (beg + i + kAhead < a.e) {
        prefetch_row(a.g + a.t_row[beg + i + kAhead] * d, d);
        const int64_t ea = a.t_eid[beg + i + kAhead];
        if (MAX) __builtin_prefetch(arg_max + ea * W);
        if (MIN) __builtin_prefetch(arg_min + ea * W);
      }
      const int64_t v = a.t_row[beg + i];
      const int64_t e = a.t_eid[beg + i];
      const T w = a.ew ? a.ew[e] : T(1);
      coef[i] = LIN ? w * (A[v] + B[v] * du) : T(0);
      off[i] = v * d;
      if (MAX) { cmx[i] = a.c[kMax] * w; for (int64_t k = 0; k < W; ++k) mmx[i * W + k] = arg_max[e * W + k]; }
      if (MIN) { cmn[i] = a.c[kMin] * w; for (int64_t k = 0; k < W; ++k) mmn[i * W + k] = arg_min[e * W + k]; }
    }
    for (int64_t j0 = 0; j0 < dfull; j0 += VT::block) {  // a block (<= 64 columns) lies in one mask word
      const int64_t word = j0 >> 6, shift = j0 & 63;
      V acc[PB];
#pragma GCC unroll 8
      for (int b = 0; b < PB; ++b) acc[b] = VT::splat(0);
      for (int64_t i = 0; i < deg; ++i) {
        if (i + 4 < deg) __builtin_prefetch(a.g + off[i + 4] + j0);
        const T* gv = a.g + off[i] + j0;
        const uint64_t bx = MAX ? mmx[i * W + word] >> shift : 0;
        const uint64_t bn = MIN ? mmn[i * W + word] >> shift : 0;
#pragma GCC unroll 8
        for (int b = 0; b < PB; ++b) {
          V c = VT::splat(coef[i]);
          if (MAX) c += VT::select(lane_mask<T>(bx >> (b * L), pattern), VT::splat(cmx[i]), VT::splat(0));
          if (MIN) c += VT::select(lane_mask<T>(bn >> (b * L), pattern), VT::splat(cmn[i]), VT::splat(0));
          acc[b] += c * VT::load(gv + b * L);
        }
      }
#pragma GCC unroll 8
      for (int b = 0; b < PB; ++b) VT::store(out + j0 + b * L, acc[b]);
    }
    for (int64_t j = dfull; j < d; ++j) {
      T s = 0;
      for (int64_t i = 0; i < deg; ++i) {
        T c = coef[i];
        if (MAX && ((mmx[i * W + (j >> 6)] >> (j & 63)) & 1)) c += cmx[i];
        if (MIN && ((mmn[i * W + (j >> 6)] >> (j & 63)) & 1)) c += cmn[i];
        s += c * a.g[off[i] + j];
      }
      out[j] = s;
    }
  }
}

// grad_x (optional) and the per-row channel dots row_dots[c * n + u] over transposed rows [u0, u1).
// Scratch: (kNumAggCodes) * max_deg values, max_deg offsets, 2 * words * max_deg mask words.
template <typename T>
void grad_xw_rows(const BackwardArgs<T>& a, const Channels& ch, int64_t u0, int64_t u1, T* gx, double* row_dots,
                  T* scratch, int64_t* off, uint64_t* masks, int64_t max_deg) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int PB = VT::per_block, L = VT::lanes;
  const int64_t d = a.d, W = a.words, n = a.n;
  const int64_t dfull = d - d % VT::block;
  T* cf[kNumAggCodes];
  bool masked[kNumAggCodes];
  uint64_t* mk[kNumAggCodes];
  for (int c = 0; c < kNumAggCodes; ++c) {
    cf[c] = scratch + c * max_deg;
    masked[c] = c < ch.count && (ch.code[c] == kMax || ch.code[c] == kMin);
    mk[c] = nullptr;
  }
  for (int c = 0; c < ch.count; ++c)
    if (masked[c]) mk[c] = masks + (ch.code[c] == kMax ? 0 : W * max_deg);
  const uint64_t* arg_max = a.plan.max ? a.arg + a.plan.slot_max * a.e * W : nullptr;
  const uint64_t* arg_min = a.plan.min ? a.arg + a.plan.slot_min * a.e * W : nullptr;
  const typename VT::I pattern = lane_bits<T>();

  for (int64_t u = u0; u < u1; ++u) {
    const int64_t beg = a.t_rowptr[u], deg = a.t_rowptr[u + 1] - beg;
    const T du = a.dinv[u];
    for (int64_t i = 0; i < deg; ++i) {
      if (beg + i + kAhead < a.e) {
        prefetch_row(a.g + a.t_row[beg + i + kAhead] * d, d);
        const int64_t ea = a.t_eid[beg + i + kAhead];
        if (arg_max) __builtin_prefetch(arg_max + ea * W);
        if (arg_min) __builtin_prefetch(arg_min + ea * W);
      }
      const int64_t v = a.t_row[beg + i];
      const int64_t e = a.t_eid[beg + i];
      const T w = a.ew ? a.ew[e] : T(1);
      off[i] = v * d;
      for (int c = 0; c < ch.count; ++c) {
        switch (ch.code[c]) {
          case kSum: cf[c][i] = w; break;
          case kMean: cf[c][i] = w / static_cast<T>(a.rowptr[v + 1] - a.rowptr[v]); break;
          case kGcn: cf[c][i] = w * a.dinv[v] * du; break;
          case kMax: cf[c][i] = w; for (int64_t k = 0; k < W; ++k) mk[c][i * W + k] = arg_max[e * W + k]; break;
          default: cf[c][i] = w; for (int64_t k = 0; k < W; ++k) mk[c][i * W + k] = arg_min[e * W + k]; break;
        }
      }
    }
    T dots[kNumAggCodes];
    for (int c = 0; c < kNumAggCodes; ++c) dots[c] = T(0);
    const T* xu = a.x + u * d;
    for (int64_t j0 = 0; j0 < dfull; j0 += VT::block) {
      const int64_t word = j0 >> 6, shift = j0 & 63;
      V acc[kNumAggCodes][PB];
#pragma GCC unroll 8
      for (int c = 0; c < kNumAggCodes; ++c)
#pragma GCC unroll 8
        for (int b = 0; b < PB; ++b) acc[c][b] = VT::splat(0);
      for (int64_t i = 0; i < deg; ++i) {
        if (i + 4 < deg) __builtin_prefetch(a.g + off[i + 4] + j0);
        const T* gv = a.g + off[i] + j0;
        V gvec[PB];
#pragma GCC unroll 8
        for (int b = 0; b < PB; ++b) gvec[b] = VT::load(gv + b * L);
#pragma GCC unroll 8
        for (int c = 0; c < kNumAggCodes; ++c) {
          if (c >= ch.count) break;
          const V cv = VT::splat(cf[c][i]);
          if (masked[c]) {
            const uint64_t bits = mk[c][i * W + word] >> shift;
#pragma GCC unroll 8
            for (int b = 0; b < PB; ++b) acc[c][b] += VT::select(lane_mask<T>(bits >> (b * L), pattern), cv * gvec[b], VT::splat(0));
          } else {
#pragma GCC unroll 8
            for (int b = 0; b < PB; ++b) acc[c][b] += cv * gvec[b];
          }
        }
      }
      V total[PB];
#pragma GCC unroll 8
      for (int b = 0; b < PB; ++b) total[b] = VT::splat(0);
#pragma GCC unroll 8
      for (int c = 0; c < kNumAggCodes; ++c) {
        if (c >= ch.count) break;
        V dv = VT::splat(0);
#pragma GCC unroll 8
        for (int b = 0; b < PB; ++b) {
          dv += acc[c][b] * VT::load(xu + j0 + b * L);
          total[b] += a.c[ch.code[c]] * acc[c][b];
        }
        dots[c] += VT::hsum(dv);
      }
      if (gx)
#pragma GCC unroll 8
        for (int b = 0; b < PB; ++b) VT::store(gx + u * d + j0 + b * L, total[b]);
    }
    for (int64_t j = dfull; j < d; ++j) {
      T total = 0;
      for (int c = 0; c < ch.count; ++c) {
        T s = 0;
        for (int64_t i = 0; i < deg; ++i) {
          if (masked[c] && !((mk[c][i * W + (j >> 6)] >> (j & 63)) & 1)) continue;
          s += cf[c][i] * a.g[off[i] + j];
        }
        dots[c] += s * xu[j];
        total += a.c[ch.code[c]] * s;
      }
      if (gx) gx[u * d + j] = total;
    }
    for (int c = 0; c < ch.count; ++c) row_dots[c * n + u] = static_cast<double>(dots[c]);
  }
}

template <typename T>
void grad_x_chunk(const BackwardArgs<T>& a, const T* A, const T* B, int64_t u0, int64_t u1, T* gx, T* scratch,
                  int64_t* off, uint64_t* masks, int64_t max_deg) {
  const bool lin = a.plan.sum || a.plan.gcn, mx = a.plan.max, mn = a.plan.min;
#define DARTS_GNN_GX(LIN, MAX, MIN) \
  if (lin == LIN && mx == MAX && mn == MIN) return grad_x_rows<T, LIN, MAX, MIN>(a, A, B, u0, u1, gx, scratch, off, masks, max_deg)
  DARTS_GNN_GX(true, false, false);
  DARTS_GNN_GX(true, true, false);
  DARTS_GNN_GX(true, false, true);
  DARTS_GNN_GX(true, true, true);
  DARTS_GNN_GX(false, true, false);
  DARTS_GNN_GX(false, false, true);
  DARTS_GNN_GX(false, true, true);
#undef DARTS_GNN_GX
}

// grad_ew over destination rows [v0, v1): for edge e = (v <- u),
//   (A + B * dinv[u]) * <g[v], x[u]> + c_max * <g[v], x[u]>_{max mask of e} + c_min * <g[v], x[u]>_{min mask of e}.
template <typename T>
void grad_edge_weight_chunk(const BackwardArgs<T>& a, int64_t v0, int64_t v1, T* gew) {
  using VT = Vec<T>;
  using V = typename VT::V;
  constexpr int L = VT::lanes;
  const int64_t d = a.d, W = a.words;
  const int64_t dv = d - d % L;
  const bool lin = a.plan.sum || a.plan.gcn, mx = a.plan.max, mn = a.plan.min;
  const uint64_t* arg_max = mx ? a.arg + a.plan.slot_max * a.e * W : nullptr;
  const uint64_t* arg_min = mn ? a.arg + a.plan.slot_min * a.e * W : nullptr;
  const typename VT::I pattern = lane_bits<T>();
  for (int64_t v = v0; v < v1; ++v) {
    const int64_t beg = a.rowptr[v], end = a.rowptr[v + 1];
    if (beg == end) continue;
    const T* gv = a.g + v * d;
    const T A = a.c[kSum] + a.c[kMean] / static_cast<T>(end - beg);
    const T B = a.c[kGcn] * a.dinv[v];
    for (int64_t e = beg; e < end; ++e) {
      const int64_t u = a.col[e];
      if (e + kAhead < a.e) prefetch_row(a.x + a.col[e + kAhead] * d, d);
      const T* xu = a.x + u * d;
      V sl = VT::splat(0), sx = VT::splat(0), sn = VT::splat(0);
      for (int64_t j = 0; j < dv; j += L) {
        const V p = VT::load(gv + j) * VT::load(xu + j);
        sl += p;
        if (mx) sx += VT::select(lane_mask<T>(arg_max[e * W + (j >> 6)] >> (j & 63), pattern), p, VT::splat(0));
        if (mn) sn += VT::select(lane_mask<T>(arg_min[e * W + (j >> 6)] >> (j & 63), pattern), p, VT::splat(0));
      }
      T tl = VT::hsum(sl), tx = VT::hsum(sx), tn = VT::hsum(sn);
      for (int64_t j = dv; j < d; ++j) {
        const T p = gv[j] * xu[j];
        tl += p;
        if (mx && ((arg_max[e * W + (j >> 6)] >> (j & 63)) & 1)) tx += p;
        if (mn && ((arg_min[e * W + (j >> 6)] >> (j & 63)) & 1)) tn += p;
      }
      T r = lin ? (A + B * a.dinv[u]) * tl : T(0);
      if (mx) r += a.c[kMax] * tx;
      if (mn) r += a.c[kMin] * tn;
      gew[e] = r;
    }
  }
}

