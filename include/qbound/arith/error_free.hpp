#pragma once
// Error-free transformations of IEEE binary64: a sum or a product of two
// doubles as its rounded result plus the exact rounding error, itself a
// double. The one definition for the library (interval_double's directed
// endpoints, the exact sums, the refined point engine, the differential
// verifier); tests/arith/error_free.cpp checks the identities with exact
// rationals.
//
// Assumes what the whole library assumes (see interval_double.hpp):
// round-to-nearest (the tie rule does not matter), IEEE binary64 with
// subnormals (no flush-to-zero), and no contraction or reassociation of the
// operations below (the build uses -ffp-contract=off and refuses
// -ffast-math and its relatives).
#include <cmath>

namespace qbound::arith {

struct sum_and_error {
    double sum, error;
};

struct product_and_error {
    double product, error;
};

// Knuth's TwoSum (six operations, no branch, no FMA, no ordering of |a| and
// |b| needed): sum = fl(a + b) and a + b == sum + error exactly, for finite a
// and b, whenever sum and error are both finite. An overflow in any of the
// six operations makes error +-inf or NaN, so a finite error certifies that
// none occurred; underflow never makes a sum of doubles inexact, so there is
// no lower limit. |error| <= ulp(sum) / 2.
inline sum_and_error two_sum(double a, double b) {
    const double s = a + b;
    const double bv = s - a, av = s - bv;
    return {s, (a - av) + (b - bv)};
}

// The FMA residual: product = fl(a * b) and a * b == product + error exactly,
// for finite a and b, when product is finite and either a * b == 0 or
// |product| >= 2^-968. Then ulp(a) ulp(b) >= 2^-1074, so the residual is a
// multiple of 2^-1074 with at most 53 significant bits: fma(a, b, -product)
// computes it without rounding. Closer to zero the residual can need bits
// below 2^-1074 (underflow) and error is then only the rounded residual;
// callers handle that range themselves (interval_double and the refined
// engine widen by a rounding bound below 2^-960). On overflow product is
// +-inf and error is meaningless.
inline product_and_error two_prod(double a, double b) {
    const double p = a * b;
    return {p, std::fma(a, b, -p)};
}

}  // namespace qbound::arith
