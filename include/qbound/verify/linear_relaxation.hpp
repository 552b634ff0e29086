#pragma once
// Differential linear relaxation (qbound issue 17, item 3): certified
// per-output bounds of d(x) = R_theta'(x) - R_theta(x) over an input box,
// by linear bounds in x with DOUBLE coefficients plus one scalar error term
// per bound, a forward pass and a CROWN / DeepPoly style backward
// substitution for the outputs. It replaces the interval-coefficient
// symbolic pass (verify/symbolic_difference.hpp): same difference rules,
// about 1/50 of its cost, and the backward pass lets coefficients cancel
// across neurons.
//
// Forward pass. Every node element carries linear bounds of theta's value z
// and of the difference d (theta''s value is z + d):
//   zL(x) - eL <= z(x) <= zU(x) + eU,   dL(x) - fL <= d(x) <= dU(x) + fU,
// each zL, zU, dL, dU a double vector (c_1..c_n, c_0) read as the REAL
// function c.x + c_0, and e, f >= 0 doubles. A node's bounds are linear
// combinations of its inputs' bounds, chosen per term by the sign of the
// weight:
//   affine   z_out = W z + b,   d_out = W' d + (W' - W) z + (b' - b)
//            (W' - W = s + e exactly by TwoSum; s is used, |e| |z| goes to
//            the error term with |z| <= the certified max |z| on the box)
//   ReLU     z: triangle relaxation, upper chord, lower slope 1 or 0 by the
//            DeepPoly area rule (u >= -l); d = relu(z + d) - relu(z): the exact
//            cases (both active: d; both inactive: 0; z active, z' inactive:
//            -z; z inactive, z' active: z + d), else the chords of max(0, d)
//            above and min(0, d) below on [d_lo, d_hi], sharpened by one
//            network's stability (z active: >= d; z' active: <= d; z
//            inactive: >= 0; z' inactive: <= 0), as the symbolic pass does;
//            or the two networks' own relaxations subtracted, U'(z + d) - L(z)
//            above and L'(z + d) - U(z) below (U, U' their chords, L, L' the
//            line 0 or the identity), whose gap is the triangles' (about the
//            widths of z and z') where the lines above lose about |d|: each
//            side keeps the line tighter at the centre of the element's
//            (z, d) box (chord slopes are multiples of 2^-52 in [0, 1], so
//            1 - slope is exact and so is every line)
//   avg / global pooling, normalize: the real weights 1/divisor and
//            scale/divisor are replaced by their nearest double w~ with
//            |w - w~| <= r; r |value| goes to the error term
//   add, identity, flatten: weights 1
//   max pool per window, t the tap with the largest lower bound of z:
//            z >= z_t; z = z_t when t dominates (its lower bound >= every
//            other tap's upper bound); d = d_t when t dominates in both
//            networks; else constants z in [max zl, max zu], d in [min dl,
//            max du] and in [max ql - max zu, max qu - max zl] (q = z')
//   ReLU6:   constant bounds from the interval pass (no linear rule)
// A chord is any double slope lambda with a constant chosen by directed
// steps so that the line is >= (<=) the function at both ends of the
// interval, which suffices for a convex (concave) function: the line is
// sound whatever lambda's rounding was.
// Every concrete bound (which decides stability, and the chords) is the
// linear bound evaluated on the box with directed steps, minus/plus its
// error, intersected with interval propagation of the node's inputs' own
// concrete bounds (the same forward kernel on one-coefficient views, so the
// same error analysis; ReLU by its exact cases and 1-Lipschitz hull) and,
// with linear_options::interval_pass, with the separate interval pass
// (verify/differential.hpp): an empty intersection is core::unsound_error
// naming node, element and both. With linear_options::intermediate, the
// bounds of each ReLU input element that is unstable in either network are
// first tightened by back-substitution to the input (z, d and z + d, both
// sides, one backward sweep per node for all its such elements).
//
// Rounding (proof sketch). u = 2^-52, eta = 2^-1074, gamma_n = n u / (1 - n u),
// the model of fast/enclosure.hpp: fl(a op b) = (a op b)(1 + delta) + eps,
// |delta| <= u, |eps| <= eta, eps = 0 for + and -; valid in every summation
// order and with FMA. A combination out = sum_{t<K} a_t B_t + b of bounds
// B_t = (c_t, err_t) computes c_out_j = fl(sum_t a_t c_tj (+ b for j = 0)),
// so (Higham Lemma 3.1, underflow of the K products amplified < 2)
//   |c_out_j - exact_j| <= gamma_{K+1} (sum_t |a_t c_tj| (+ |b|)) + 2(K+1) eta.
// Over the box, with m_j = max(|lo_j|, |hi_j|) and M_t = sum_j |c_tj| m_j + |c_t0|:
//   |c_out(x) - exact(x)| <= gamma_{K+1} (sum_t |a_t| M_t + |b|) + 2(K+1) eta (1 + sum_j m_j)
// which costs O(K) per output, not O(K n). The output error is that plus
// sum_t |a_t| err_t plus the TwoSum / weight-radius terms. Sums of
// non-negative terms A computed in floating point satisfy exact <= (fl(A) +
// 2K eta)(1 + 2 gamma_K); every such bound, every M, and every concrete
// bound is rounded outward by stepping to the next double (a
// round-to-nearest result is within one step of the exact value). Overflow:
// a non-finite coefficient or error makes the bound (0, +inf): sound, empty.
//
// Backward pass (per output k and side; the lower side is minus the upper
// of -d_k). The state is a pair of double coefficient vectors (on z and d)
// on each node, plus a constant C and an error E >= 0:
//   objective <= sum (cz z + cd d) + C + E.
// Through an affine node: cz_prev += W^T cz + s^T cd, cd_prev += W'^T cd,
// C += cz.b + cd.(b' - b) (each product stepped upward); through a ReLU each
// coefficient picks the element's upper or lower relaxation line by its
// sign (so signs cancel across neurons). The exact new coefficients differ
// from the computed ones by at most gamma_K times the computed sum of the
// terms' magnitudes (+ underflow, + |e| |cd| <= u |s cd|, absorbed by
// counting one more term), K the node element's term count; E gains that
// times the element's certified max |value|. At the input z = x and d = 0,
// so d_k <= max over the box of cz.x + C + E, evaluated with upward steps.
// The result per output is the tighter of the forward and backward bounds.
//
// ReLU splits (linear_options::splits). A split constrains the pre-
// activation g of one ReLU element (z, or z' = z + d, or their negations) to
// be >= 0; the pass then bounds d over S = {x in the box : every split holds}.
// Every statement the pass derives after a split node holds for x in S
// (statements over the box hold on S a fortiori), so: (1) the split element's
// concrete bounds are clipped (z >= 0: zl = max(zl, 0), ...; d to [ql - zu,
// qu - zl]), which makes its relaxation exact; (2) each split keeps a linear
// upper bound g <= a.x + c valid on S (its forward bound, or its back-
// substitution when that is tighter); (3) each objective's backward bound
// f(x) is replaced by the Lagrangian bound
//   max over the box of f(x) + sum_i beta_i (a_i.x + c_i),   beta_i >= 0,
// valid on S because every added term is >= g_i(x) beta_i >= 0 there; beta
// is chosen by coordinate descent (exact minimization along each beta_i over
// the breakpoints of the piecewise-linear convex function; any beta >= 0 is
// sound) and the bound is evaluated with the rounding analysis above (the
// combined coefficients are sums of m + 1 products: gamma_{2(m+1)} times
// their magnitudes times m_j). This is applied to the outputs and to the
// intermediate back-substitutions. When every element is stable the
// relaxation is exact and the Lagrangian bound is the dual of the linear
// program over S, so splitting converges. S may be empty: a split whose
// upper bound is negative over the box, or an empty intersection of two
// enclosures at or after the first split node, makes the result
// `infeasible` (no core::unsound_error there: on an empty S any two
// enclosures are consistent; before that node the check stays).
//
// Linear program (linear_options::lp). After the backward pass, each
// backward bound is also bounded by the linear program over the box (under
// the splits): one column per element of every node of both networks (the
// input shared), bounded by the pass's certified bounds; rows for every
// affine node (exact where the weights are; pooling's and normalize's
// rounded weights and the bias difference's TwoSum error widen the row by
// their radius), every unstable ReLU element's triangle (relu >= z, >= 0,
// <= its upper chord), max pooling (>= every tap, <= max lower + sum of the
// taps above their lower bounds) and, coupling the networks, every
// element's difference in its certified range and relu(z + d) - relu(z)
// between the chords of min(0, d) and max(0, d). Every row holds for every
// point of S. COIN-OR CLP solves it in floating point, which only proposes
// the multipliers y; the bound is the weak-duality certificate
//   c.v <= sum_r max(y_r lo_r, y_r hi_r) + sum_j max over [l_j, u_j] of (c - A^T y)_j v_j
// in interval arithmetic (outward rounding), valid for any y (a multiplier
// whose row side is infinite counts as 0; y and -y are both tried, for the
// solver's sign convention). An infeasible program is certified empty by
// the same sum with c = 0 and the solver's Farkas ray (an empty S under
// splits; with no split, UNSOUND). The program's maximizer becomes the
// output's candidate, and under ReLU splitting the element whose
// relaxation rows carry the most of the bound (|y_r| times the row's
// side, summed per element) becomes the split candidate.
#include "qbound/verify/box_bounds.hpp"

#include <cstddef>
#include <functional>
#include <memory>

namespace qbound::verify {

namespace linrelax {
struct context;
struct constraint;
}  // namespace linrelax

struct linear_options {
    bool backward = true;                       // CROWN-style back-substitution for the outputs (else forward only)
    bool drop_rounding_terms_for_test = false;  // negative control only: omit every rounding-error term
    // Only this output gets the backward pass and the split score (branch
    // and bound on one output); the others keep their forward bounds.
    // npos: every output, and the split score of the largest.
    std::size_t output = npos;
    // Back-substitution to the input for the bounds of every ReLU input
    // element the forward bounds leave unstable in either network (its z,
    // d and z + d, both sides, all such elements of a node in one backward
    // sweep), before its relaxation is chosen: several times tighter on
    // wide boxes; costs about (unstable elements) x (a backward pass).
    bool intermediate = true;
    // At most this much backward state per intermediate sweep (at least one
    // objective per sweep): a node's objectives go in chunks, so a node with
    // many unstable elements cannot exhaust memory (within a sweep objectives
    // share the elements' term counts, so a chunk's error terms may be smaller).
    std::size_t intermediate_sweep_bytes = std::size_t{256} << 20;
    // Intersect every concrete bound with the interval pass (an empty
    // intersection is UNSOUND). Off: the interval pass runs only where a node
    // needs it (max pooling, ReLU6), and the pass costs about half as much.
    bool interval_pass = true;
    // Report box_bounds::has_relu_candidate / relu_candidate (each ReLU
    // element scored in the backward pass; off: that work is skipped).
    bool relu_candidate = false;
    // Tighten the backward bounds by the linear program over the pass's
    // certified bounds (both networks, every ReLU's triangle, the difference
    // facts; COIN-OR CLP proposes the multipliers, the bound is their
    // weak-duality certificate in interval arithmetic; see "Linear program"
    // above). The candidates become the program's maximizers. Costs one LP
    // solve per bound; not for networks with ReLU6 (the option is ignored).
    bool lp = false;
    // With lp: solve only what decides each bounded output's magnitude
    // max(|lower|, |upper|) (box_bounds::magnitude): the side whose backward
    // bound is larger first, the other only when its backward bound exceeds
    // the first's program bound (else that side keeps its backward bound).
    // The magnitudes are those of the full program; about half the solves.
    bool lp_magnitude_only = false;
    bool lp_drop_column_term_for_test = false;  // negative control only: the certificate without its column term
    // ReLU splits (branch and bound on neurons): the bounds hold for the x
    // of the box that satisfy all of them (see "ReLU splits" above).
    std::vector<relu_split> splits;
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

// Fills every field of box_bounds:
//   lower/upper     certified per output (the tighter of forward and backward)
//   candidates[k]   of the two box vertices, the one maximizing the linear
//                   lower bound of d_k and the one minimizing its linear
//                   upper bound, the one whose bound has the larger magnitude
//   split_score[j]  the smear of opt.output, or else of the output with the largest magnitude:
//                   (|c_j| of its lower bound + |c_j| of its upper bound) x width_j
//   output_split_score[k]  with opt.output = npos: the smear of each output k
// Throws core::invalid_argument for a box of the wrong dimension,
// net::model_error for networks that differ in structure or hold a batch
// norm, core::unsound_error when a linear bound contradicts the interval pass.
box_bounds linear_difference_bounds(const net::network& theta, const net::network& theta_quantized, const input_box& box,
                                    const linear_options& opt = {});

// About the most memory one pass with default options holds (bytes): every
// node's linear bounds, 4 (n + 1) doubles per element for n inputs, their
// side data, and one intermediate sweep (linear_options::intermediate_sweep_bytes).
std::size_t linear_pass_bytes(const net::network& theta);

// The same pass with each node's plan (its taps: both networks' weights and
// their exact difference) built once, for many boxes (branch and bound).
// bounds() is const and safe to call from several threads at once. Both
// networks must outlive the object.
class linear_relaxation {
public:
    linear_relaxation(const net::network& theta, const net::network& theta_quantized);
    box_bounds bounds(const input_box& box, const linear_options& opt = {}) const;

private:
    struct prepared;
    box_bounds bounds_under_splits(linrelax::context& ctx, const linear_options& opt, std::vector<linrelax::constraint>& constraints) const;
    const net::network& theta_;
    const net::network& quant_;
    std::shared_ptr<const prepared> prepared_;
};

// The guard around every solve of the linear program: Debian's CLP keeps
// its assertions and some fire on valid, ill-scaled programs, calling
// abort(). While a solve runs, a SIGABRT handler jumps back out of the
// solver (whose object is then abandoned) and the goals keep the pass's
// bounds; the previous handler is restored when no thread solves, so an
// abort elsewhere behaves as before. Runs body() under that guard: false
// when body called abort(). Public for its tests.
bool run_with_solver_abort_trap(const std::function<void()>& body);

}  // namespace qbound::verify
