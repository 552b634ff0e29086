#pragma once
// The fast float-sound path (issue 8): enclosures of R_theta(x) for whole
// networks in plain binary64 arithmetic, with an a-priori error bound
// instead of interval arithmetic per operation.
//
// Every value is a ball: the exact real value lies in [mid - rad, mid + rad]
// (mid, rad doubles, rad >= 0 or +inf). An affine node y = A x + b (dense,
// or conv2d as a matrix product over im2col columns, K = in/groups * kh * kw
// terms per output) with input ball (m, r) gives
//   mid_i = fl(sum_k A_ik m_k + b_i)                 any summation order
//   rad_i = (fl(sum_k |A_ik| z_k) + 2K eta)(1 + 2 gamma_K)
//           + gamma_{K+1} |b_i| + 2K eta,            z_k >= r_k + gamma_{K+1} |m_k|
// every step of rad and z rounded upward by stepping to the next double.
//
// Proof sketch. Unit roundoff u = 2^-52 and eta = 2^-1074 hold in EVERY IEEE
// rounding mode: fl(a op b) = (a op b)(1 + d) + e, |d| <= u, |e| <= eta, and
// e = 0 for + and - (subnormal sums are exact). A fused multiply-add obeys
// the same model with one rounding. In any summation tree (any order,
// blocked, vectorized, FMA or not, as a BLAS would do it) each of the K + 1
// summands passes through at most K + 1 roundings, so (Higham, Thm 3.1 /
// Lemma 3.1) |fl(b + sum A m) - (b + sum A m)| <= gamma_{K+1} (|b| + sum |A||m|)
// + 2K eta, gamma_n = n u / (1 - n u) (the underflow errors of the K products
// are amplified by at most (1 + u)^K < 2). The exact output differs from the
// exact b + A m by at most sum |A| r. Together: |y - mid| <= sum |A| (r +
// gamma_{K+1} |m|) + gamma_{K+1} |b| + 2K eta <= sum |A| z + ... . The
// computed fl(sum |A| z) of non-negative terms is >= (1 - gamma_K) sum |A| z
// - 2K eta, hence sum |A| z <= (fl + 2K eta) / (1 - gamma_K) <= (fl + 2K
// eta)(1 + 2 gamma_K) for gamma_K <= 1/2. "Rounded upward" means: compute in
// the current mode, then step to the next double up; since any rounding
// error is below one ulp (eta in the subnormal range), the step reaches a
// value >= the exact one. No rounding mode is ever changed.
// Overflow: +-inf and NaN absorb, so a finite mid and a finite fl(sum |A| z)
// prove that no operation overflowed; otherwise the ball becomes
// (0, +inf), the whole real line, never a wrong finite enclosure.
// Elementwise nodes (ReLU, ReLU6, pooling, add, normalize) go through
// intervals [next_down(mid - rad), next_up(mid + rad)] with every endpoint
// operation stepped outward, then back to a ball.
//
// Refined point mode (enclose_point_refined). The a-priori bound is cheap but
// its radius grows through |A| at every layer (about 2^4 per random 3x3 conv:
// sum_k |A_ik| is ~sqrt(K) times the typical |sum_k A_ik x_k|), so after ~15
// layers nothing of binary64's 53 bits is left. The refined mode keeps each
// value as an expansion m + d_0 + ... + d_{C-1} +- r: m the plain double
// forward pass, d_j double corrections (C = refined_corrections(bits)), r a
// radius. An affine node computes
//   m' = fl(A m + b);  rho = A (m + sum d) + b - m' exactly up to 2^-(levels
//   beta): A = sum_s A_s (per row, unit 2^(e_i-(s+1)beta)) and the whole
//   value m + sum d = sum_t X_t (each component sliced on one per-tensor
//   grid of unit 2^(F-(t+1)beta), the C + 1 slices of a level summed
//   exactly), 2 beta + ceil(log2 K) + ceil(log2 (C+1)) <= 53, so every
//   product A_s X_t (s + t < levels) is computed EXACTLY by the same double
//   kernel; they, b and -m' are summed by a cascade of C error-free TwoSum
//   levels and one plain level (gamma_N times its terms' magnitudes); the
//   omitted products and split remainders are bounded by
//   (C + 1) K 2^(e_i + F - levels beta)(2 levels + 2);
//   d' = the cascade's levels, r' = |A| r (as above) + the bounds.
// Elementwise nodes are exact expansion arithmetic: TwoSum and FMA residuals
// through the same cascade, long division for pooling and normalization
// (every remainder exact by FMA away from underflow; near it an explicit
// rounding bound is added). The radius still grows through |A|, but from
// about 2^-bits instead of 2^-53: 100 bits (one correction) certify ResNet18
// with random weights (~70 bits of growth); MobileNetV2 (~100) and ResNet50
// (~150) need about 200 (certify_difference raises the bits until the
// difference is certified or max_refined_bits is reached). This mode
// assumes round-to-nearest (checked by `qbound selfcheck`); the a-priori
// mode does not.
//
// Threads: outputs are partitioned (conv: column chunks x blocks of 64
// output channels per group; dense: rows); a reduction is never split, and every output is summed by the same
// code in the same order whatever the partition, so results are
// bit-identical for any thread count.
#include "qbound/net/network.hpp"

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <memory>
#include <vector>

namespace qbound::fast {

// What the verify layer prints as the arithmetic of a number from this path.
inline constexpr std::string_view arithmetic_name = "fast float-sound (a-priori error bound)";

inline constexpr std::string_view refined_arithmetic_name =
    "fast float-sound (a-priori error bound, residual-corrected by exact split products)";

struct options {
    unsigned threads = 0;   // 0: all cores (std::thread::hardware_concurrency)
    int refined_bits = 100; // refined mode: bits of the split products, in [53, max_refined_bits]
};

// Test only (the CLI never passes one): the box pair pass calls it with
// (node, element, lower, upper) on each node's propagated difference before
// the intersection with z' - z, so a test can narrow one wrongly.
using narrow_hook = std::function<void(std::size_t node, std::size_t element, double& lower, double& upper)>;

inline constexpr int max_refined_bits = 450;
inline constexpr int max_refined_corrections = 8;

// Correction components used at `bits` (1 at 100 bits, 3 at 200); throws
// core::invalid_argument outside [53, max_refined_bits].
int refined_corrections(int bits);

// The refined mode cannot split exactly (values or weights beyond about
// 2^+-900): use the a-priori mode.
struct refinement_not_applicable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Elementwise enclosure: lower[i] <= the exact value <= upper[i]; +-inf when
// the bound overflowed (sound, uninformative).
struct enclosure {
    std::vector<double> lower, upper;
};

// R_theta(x) in plain double, by the same kernels (approximate; for search
// and benchmarks).
std::vector<double> forward_plain(const net::network& net, const std::vector<double>& x, const options& opt = {});

// Encloses R_theta(x) for the exact real network with the double weights.
enclosure enclose_point(const net::network& net, const std::vector<double>& x, const options& opt = {});

// Encloses { R_theta(x) : lower <= x <= upper } (interval bound propagation,
// midpoint-radius form).
enclosure enclose_box(const net::network& net, const std::vector<double>& lower, const std::vector<double>& upper,
                      const options& opt = {});

// Pair mode: encloses R_theta'(x) - R_theta(x) (both networks through the
// fast path, then an outward-rounded difference).
enclosure enclose_difference(const net::network& theta, const net::network& theta_quantized, const std::vector<double>& x,
                             const options& opt = {});

// Refined point mode (see above): encloses R_theta(x), much tighter on deep
// networks; about (levels (levels + 1) / 2 + 3) matrix products per affine
// node instead of 2. Throws refinement_not_applicable.
enclosure enclose_point_refined(const net::network& net, const std::vector<double>& x, const options& opt = {});
enclosure enclose_difference_refined(const net::network& theta, const net::network& theta_quantized, const std::vector<double>& x,
                                     const options& opt = {});

// Pair mode on a box: encloses { R_theta'(x) - R_theta(x) : x in the box }
// (the correlated pair pass: both networks and their difference together).
// Two enclosures of the same values that do not overlap (the propagated
// difference and z' - z, or two forms of a ReLU difference) throw
// core::unsound_error naming the node, the element, the box and both.
enclosure enclose_box_difference(const net::network& theta, const net::network& theta_quantized, const std::vector<double>& lower,
                                 const std::vector<double>& upper, const options& opt = {}, const narrow_hook& narrow_for_test = {});

// The same pair pass for many boxes or points of one pair: each affine
// node's fl(W' - W) and the bounds of its rounding are computed once here
// (about 2 extra copies of the weights) instead of in every call (where
// they cost more than the products on small inputs). Same results as the
// functions above. Both networks must outlive the object and not change;
// box() and point() are const and may run from several threads at once.
class pair_pass {
public:
    pair_pass(const net::network& theta, const net::network& theta_quantized);
    enclosure box(const std::vector<double>& lower, const std::vector<double>& upper, const options& opt = {}) const;
    enclosure point(const std::vector<double>& x, const options& opt = {}) const;

private:
    struct plan;
    const net::network& theta_;
    const net::network& quant_;
    std::shared_ptr<const plan> plan_;
};

// gamma_n = n u / (1 - n u) with u = 2^-52, rounded upward; throws when
// n u >= 1/4 (dot products longer than 2^50).
double gamma_bound(std::size_t n);

}  // namespace qbound::fast
