#pragma once
// Internal to src/fast: outward-stepping helpers, the thread pool and the
// im2col packing shared by the a-priori and refined engines.
#include "qbound/arith/outward.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/fast/gemm.hpp"
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

// gemm_packed: include/qbound/fast/gemm.hpp.

// Output rows per convolution task. All of a group's rows when the column
// chunks alone give every thread several tasks (each chunk's im2col is then
// packed once), else blocks of 64, so that late layers (few columns, many
// channels) still give every thread work. Rows are independent: the bits do
// not depend on the split.
inline std::size_t conv_row_block(std::size_t rows_per_group, std::size_t column_tasks, unsigned threads) {
    if (column_tasks >= 4 * static_cast<std::size_t>(threads)) return std::max<std::size_t>(rows_per_group, 1);
    return 64;
}

// im2col of channels [group * ipg, (group + 1) * ipg) of v (shape in) for
// output columns [p0, p0 + width) into 8-column tiles (zeros for padding
// and past the end); K = ipg * kh * kw rows.
void pack_columns(const std::vector<double>& v, const net::shape3& in, const net::conv_geometry& g, std::size_t out_width,
                  std::size_t group, std::size_t p0, std::size_t width, std::vector<double>& buf);

// The im2col panels of one input tensor for every (group, column chunk) of
// a convolution. When several row blocks share a chunk, the panels are
// packed once, in parallel, up front; otherwise each task packs its own
// into a scratch buffer (better locality, no extra memory).
class column_panels {
public:
    column_panels(const std::vector<double>& v, const net::shape3& in, const net::conv_geometry& g, std::size_t out_width, std::size_t columns,
                  std::size_t chunk, bool shared, unsigned threads)
        : v_(&v), in_(&in), g_(&g), out_width_(out_width), columns_(columns), chunk_(chunk), shared_(shared) {
        if (!shared_) return;
        const std::size_t chunks = (columns + chunk - 1) / chunk;
        panels_.resize(g.groups * chunks);
        parallel_for(panels_.size(), threads, [&](std::size_t task, unsigned) {
            const std::size_t group = task / chunks, p0 = (task % chunks) * chunk;
            pack_columns(v, in, g, out_width, group, p0, std::min(chunk, columns - p0), panels_[task]);
        });
    }

    // The panel of (group, columns from p0); scratch is used when not shared.
    const double* panel(std::size_t group, std::size_t p0, std::vector<double>& scratch) const {
        const std::size_t chunks = (columns_ + chunk_ - 1) / chunk_;
        if (shared_) return panels_[group * chunks + p0 / chunk_].data();
        pack_columns(*v_, *in_, *g_, out_width_, group, p0, std::min(chunk_, columns_ - p0), scratch);
        return scratch.data();
    }

private:
    const std::vector<double>* v_;
    const net::shape3* in_;
    const net::conv_geometry* g_;
    std::size_t out_width_, columns_, chunk_;
    bool shared_;
    std::vector<std::vector<double>> panels_;
};

}  // namespace qbound::fast::detail
