#pragma once
// Internal to src/fast: outward-stepping helpers, the thread pool and the
// packed matrix-product kernel shared by the a-priori and refined engines.
#include "qbound/arith/outward.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/core/parallel.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace qbound::fast::detail {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double unit_roundoff = 0x1p-52;              // any IEEE rounding mode
constexpr double eta = arith::smallest_subnormal;
using arith::next_down;
using arith::next_up;  // the next double above x (arith/outward.hpp)

inline double add_up(double a, double b) { return next_up(a + b); }
inline double add_down(double a, double b) { return next_down(a + b); }
inline double mul_up(double a, double b) { return next_up(a * b); }

// ---- values: balls and intervals ---------------------------------------------

struct ball_tensor {
    std::vector<double> mid, rad;  // rad empty in plain mode
};

struct interval {
    double lo, hi;
};

inline interval to_interval(double m, double r) {
    if (r == 0) return {m, m};
    return {next_down(m - r), next_up(m + r)};
}

// A ball containing [lo, hi]; the whole line when an end is infinite.
inline void from_interval(interval v, double& m, double& r) {
    if (v.lo == v.hi) {
        m = v.lo, r = 0;
    } else {
        m = v.lo * 0.5 + v.hi * 0.5;
        r = std::max(next_up(v.hi - m), next_up(m - v.lo));
    }
    if (!std::isfinite(m) || !(r <= std::numeric_limits<double>::max())) m = 0, r = inf;
}

inline void sanitize(double& m, double& r) {
    if (!std::isfinite(m) || !(r <= std::numeric_limits<double>::max())) m = 0, r = inf;
}

// ---- threads -----------------------------------------------------------------

inline unsigned thread_count(const options& opt) { return core::thread_count(opt.threads); }

// Tasks write their own outputs only, so results do not depend on the thread count.
using core::parallel_for;

// C (M x 8*tiles, row stride ldc) = A (M x K, row stride K) * B, B packed as
// tiles of 8 columns: Bp[(t * K + k) * 8 + c]. Every C element is summed over
// k = 0, 1, ..., K-1 in that order from 0, whatever the row block, so any
// partition gives the same bits.
void gemm_packed(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C, std::size_t ldc);

// im2col of channels [group * ipg, (group + 1) * ipg) of v (shape in) for
// output columns [p0, p0 + width) into 8-column tiles (zeros for padding
// and past the end); K = ipg * kh * kw rows.
void pack_columns(const std::vector<double>& v, const net::shape3& in, const net::conv_geometry& g, std::size_t out_width,
                  std::size_t group, std::size_t p0, std::size_t width, std::vector<double>& buf);

}  // namespace qbound::fast::detail
