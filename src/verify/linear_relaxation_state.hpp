#pragma once
// Internal to src/verify: the linear relaxation pass's per-node plans and
// states (verify/linear_relaxation.hpp), shared by the pass and by the
// linear program that tightens its bounds (lp_relaxation.cpp).
#include "qbound/arith/outward.hpp"
#include "qbound/net/network.hpp"
#include "qbound/verify/box_bounds.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

namespace qbound::verify::linrelax {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double eta = arith::smallest_subnormal;

// One step up / down (arith/outward.hpp): a rounded result is within one step of the exact value.
[[gnu::always_inline]] inline double up(double x) { return arith::next_up(x); }
[[gnu::always_inline]] inline double down(double x) { return arith::next_down(x); }

enum bound_kind : std::size_t { zL = 0, zU = 1, dL = 2, dU = 3 };

// A relaxation line: value <= (or >=) az z_in + ad d_in + c, exactly in the reals.
struct line {
    double az = 0, ad = 0, c = 0;
};

// One term of an affine-like node (dense, conv, pooling, add, identity,
// normalize): z_out += w z_in, d_out += wq d_in + (s + es) z_in, where the
// real weights may differ from w (= wq) by at most r (pooling, normalize).
struct tap {
    std::size_t idx;
    double w, wq, s, es, r;
    unsigned slot;
};

enum class record_kind { none, affine, relu, select, constant };

// What an affine-like node does, built once per pair of networks (the
// taps hold both networks' weights and their exact TwoSum difference).
struct node_plan {
    record_kind kind = record_kind::none;
    std::vector<std::size_t> start;             // affine: taps of output o in [start[o], start[o+1])
    std::vector<tap> taps;
    std::vector<double> bz, rbz, bd, rbd;       // affine constants and their radii
};

struct node_state {
    std::size_t elements = 0, n1 = 0;
    std::vector<double> coef;  // (elements * 4) bounds of n1 coefficients (the last is the constant)
    std::vector<double> err, mag;
    std::vector<double> zlo, zhi, dlo, dhi, zabs, dabs;
    std::vector<line> lines;                    // relu: 4 per element (zL, zU, dL, dU order), for the backward pass
    std::vector<double> loss;                   // relu: per line, an estimate of its largest gap to the function (split scores)
    std::vector<unsigned char> unstable;        // relu: bit 0 z, bit 1 z + d unstable over the box (under the splits)
    std::vector<std::size_t> source;            // select (max pool): per line, the input element it reads
    std::vector<double> pre;                    // relu, only when linear_options::lp: per element zl, zu, ql, qu, dl, du of its input, as the relaxation used them

    void allocate(std::size_t e, std::size_t n_plus_1) {
        elements = e;
        n1 = n_plus_1;
        coef.assign(e * 4 * n1, 0.0);
        err.assign(e * 4, 0.0);
        mag.assign(e * 4, 0.0);
        for (auto* v : {&zlo, &zhi, &dlo, &dhi, &zabs, &dabs}) v->assign(e, 0.0);
    }
    double* c(std::size_t e, std::size_t b) { return coef.data() + (e * 4 + b) * n1; }
    const double* c(std::size_t e, std::size_t b) const { return coef.data() + (e * 4 + b) * n1; }
    std::size_t at(std::size_t e, std::size_t b) const { return e * 4 + b; }
};

// The upper chord of max(0, v) on [l, u] (l < 0 < u): any double slope, the
// constant stepped so the line is >= 0 at l and >= u at u. The slope is a
// multiple of 2^-52 in [0, 1] ((t + 1) - 1 rounds t in [0, 1] to one, the
// subtraction exact by Sterbenz), so 1 - slope is a double too (exact): the
// difference lines of relu_lines subtract it from 1.
inline line upper_chord(double l, double u) {
    if (!std::isfinite(l) || !std::isfinite(u)) return {0, 0, inf};
    const double lambda = (std::clamp(u / (u - l), 0.0, 1.0) + 1.0) - 1.0;
    return {lambda, 0, std::max(up(-(lambda * l)), up(u - down(lambda * u)))};
}

// The lower chord of min(0, d) on [l, u] (l < 0 < u), as a line in d: <= l at l, <= 0 at u.
inline line lower_chord_in_d(double l, double u) {
    if (!std::isfinite(l) || !std::isfinite(u)) return {0, 0, -inf};
    const double nu = std::clamp(-l / (u - l), 0.0, 1.0);
    return {0, nu, std::min(down(l - up(nu * l)), -up(nu * u))};
}


// The linear program over the box (lp_relaxation.cpp): one column per
// element of every node of both networks (the input shared), rows for the
// affine nodes (exact where the weights are), each ReLU element's triangle
// and, coupling the two networks, the difference facts of every element
// (d in its certified range; relu(z + d) - relu(z) between the chords of
// min(0, d) and max(0, d)), max pooling's taps; the columns bounded by the
// pass's certified bounds (which hold on the split part of the box). The
// solver (COIN-OR CLP, floating point) only proposes the multipliers; the
// bound is the weak-duality certificate
//   c.v <= sum_r max(y_r lo_r, y_r hi_r) + sum_j max over [l_j, u_j] of (c - A^T y)_j v_j
// evaluated in interval arithmetic, valid for every y (a multiplier whose
// row side is infinite is set to 0). An infeasible program is proven empty
// by the same certificate with c = 0 and the solver's Farkas ray.
struct lp_goal {
    std::size_t k = 0;  // output element
    double sign = 1;    // maximize sign * d_k
    // Magnitude only: goals 2i and 2i + 1 are the two sides of one output,
    // `known` each side's bound before the program. The side with the larger
    // known bound is solved first; the other is skipped (not bounded) when
    // its known bound is at most the first's certified one, because
    // max(|lower|, |upper|) is then decided.
    double known = inf;
};
struct lp_outcome {
    bool bounded = false;     // bound holds (certified)
    bool infeasible = false;  // certified: no point of the box satisfies the relaxation (so none satisfies the splits)
    double bound = inf;       // certified upper bound of sign * d_k over the box (under the splits)
    std::vector<double> x;    // the solver's maximizer in the box (a lower-side candidate); empty when none
    // The unstable ReLU element whose relaxation rows' constants carry the
    // largest part of the bound (|multiplier| x side), to split next.
    bool has_split = false;
    relu_split split;
    double split_score = 0;
};
// Empty when the network has a node the program does not model (ReLU6).
// drop_column_term_for_test: the negative control (an unsound certificate).
std::vector<lp_outcome> lp_upper(const input_box& box, const net::network& theta, const std::vector<node_plan>& plans,
                                 const std::function<const node_state&(std::size_t)>& state, std::size_t last,
                                 const std::vector<lp_goal>& goals, bool magnitude_only = false, bool drop_column_term_for_test = false);

}  // namespace qbound::verify::linrelax
