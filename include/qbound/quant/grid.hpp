#pragma once
// The quantization grid {k * eta : k integer} and its exact arithmetic
// (THEOREMS.md section 2). Everything here is exact: w / eta is split into
// an integer part and a remainder with integers, never rounded.
//
// Steps are doubles chosen so that k * eta is an exact double for every code
// k that can occur: a code bound K and a step whose odd mantissa M satisfies
// K * M < 2^53 make every product k * eta with |k| <= K exact (no rounding,
// also among subnormals). Codes are limited to |k| < 2^52 (code_limit).
#include "qbound/arith/rational.hpp"

#include <cstdint>

namespace qbound::quant {

// Codes must satisfy |k| < code_limit = 2^52.
inline constexpr std::int64_t code_limit = std::int64_t{1} << 52;

// w / eta = floor + remainder / denominator, exactly, with
// 0 <= remainder < denominator (eta > 0 finite, w finite).
struct exact_quotient {
    arith::integer floor, remainder, denominator;

    bool on_grid() const { return remainder == 0; }
    arith::integer ceil() const { return on_grid() ? floor : arith::integer(floor + 1); }
    // Round to nearest, ties to even (the IEEE 754 default, as torch.round
    // and numpy.round): |w/eta - k| <= 1/2, and at an exact half the even k.
    arith::integer nearest() const;
    // True when the fractional part w/eta - floor exceeds u53 / 2^53
    // (decided exactly). With u53 uniform in [0, 2^53) this is true with
    // probability ceil(frac * 2^53) / 2^53: seeded stochastic rounding.
    bool fraction_exceeds(std::uint64_t u53) const;
    // The fractional part in [0, 1), rounded to a double (approximate; for
    // AdaRound's initialisation only).
    double fraction() const;
};

// Throws core::invalid_argument if eta is not positive and finite or w is
// not finite.
exact_quotient divide(double w, double eta);

// The floor, ceiling and nearest (ties to even) codes of w / eta, as
// divide() gives them, in double arithmetic: k from the rounded quotient,
// then corrected by the SIGN of w - k eta, which fma(-k, eta, w) gets
// exactly (w and k eta are multiples of 2^-1074, so a non-zero exact
// difference is at least 2^-1074 in magnitude and rounds to a non-zero value
// of the same sign); ties by the sign of 2w - (2k + 1) eta likewise. Returns
// false, deciding nothing, when |w / eta| >= 2^51 or |w| >= 2^1022 (then use
// divide()). Needs eta > 0 and w finite.
struct rounded_codes {
    std::int64_t floor = 0, ceil = 0, nearest = 0;
};
bool round_codes_fast(double w, double eta, rounded_codes& out);

// Largest code magnitude for a bit width b in 1..32: 2^(b-1) - 1, and 1 for
// b = 1 (ternary codes {-1, 0, 1}). Throws invalid_argument outside 1..32.
std::int64_t max_code_for_bits(unsigned bits);

// Number of bits of |k| (0 for k = 0).
int bit_length(const arith::integer& k);

// Significant bits of a finite double: bit length of its odd mantissa
// (0 for zero). 0.5 has 1, 3 has 2, 0.1 has 52.
int significant_bits(double x);

// The smallest double >= q (q > 0) with at most `bits` significant bits
// (1 <= bits <= 53). Throws invalid_argument when it would overflow.
double round_up_to_significant_bits(const arith::rational& q, int bits);

// True when k * eta is an exact double for every integer |k| <= max_code.
bool products_exact(double eta, const arith::integer& max_code);

// The step for `bits` bits over a tensor or channel whose largest magnitude
// is max_abs (symmetric mapping):
//   eta = max_abs / q_max rounded UP to a double with at most
//         53 - bit_length(q_max) significant bits, q_max = max_code_for_bits(b).
// Hence eta >= max_abs / q_max (no code exceeds q_max for any rounding to
// floor, ceil or nearest: no clamping is ever needed) and every k * eta with
// |k| <= q_max is exact. max_abs == 0 gives eta = 1 (all codes 0).
// `significand` 24 instead of 53 (float's) makes every k * eta a float
// too, exponent range permitting: eta gets 24 - bit_length(q_max) bits.
double step_for_bits(double max_abs, unsigned bits, int significand = 53);

// An explicit step E for a tensor or channel with largest magnitude max_abs:
// E itself when every k * E with |k| <= K = ceil(max_abs / E) is exact;
// otherwise E rounded UP to 53 - bit_length(K) significant bits (snapped,
// which can only shrink the codes). Throws invalid_argument when E is not
// positive and finite, or K >= code_limit (E far too small for the weights).
struct explicit_step {
    double eta = 1;
    bool snapped = false;
};
// With `significand` 24 the snapped step has 24 - bit_length(K) bits (a
// step with more is snapped even if double holds its products).
explicit_step step_for_explicit(double max_abs, double eta, int significand = 53);

// k * eta as a double, checked to be exactly k * eta (rational comparison);
// throws std::logic_error if not (a broken step choice; must never happen).
double grid_point(std::int64_t code, double eta);

// code * eta when it is an exact double that the fma residual can prove
// exact (product 0, or of magnitude >= 2^-968 with residual 0): true and p
// set; false otherwise (grid_point decides those exactly).
bool grid_point_fast(std::int64_t code, double eta, double& p);

// The code as an int64 (|code| < code_limit, else invalid_argument).
std::int64_t to_code(const arith::integer& k);

}  // namespace qbound::quant
