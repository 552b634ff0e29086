#pragma once
// Dot products and matrix-vector products over any scalar type.
//
//   dot<T>(a, b)                    sum_i a_i b_i
//   matvec<T>(A, rows, cols, x, b)  A x (+ b), A dense row-major rows x cols
//
// Guarantees follow the type: rational is exact; interval_double and
// mpfi_interval enclose the exact result for every choice of reals in the
// operand enclosures; mpfr_real rounds the whole dot product once
// (mpfr_dot), so each dot is within half an ulp of the exact value (matvec
// with a bias rounds once more when adding it); double is plain
// left-to-right evaluation. Sizes that do not match throw
// core::invalid_argument.
#include "qbound/arith/scalar.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace qbound::arith {

void check_matvec_sizes(std::size_t matrix, std::size_t rows, std::size_t cols, std::size_t x,
                        std::size_t bias);

// A zero of type T compatible with `like` (same precision for MPFR/MPFI).
template <class T>
T zero_like(const T&) { return T(0.0); }

template <class T>
T dot(std::span<const T> a, std::span<const T> b) {
    check_same_size(a.size(), b.size(), "dot");
    if constexpr (std::is_same_v<T, mpfr_real>) {
        return correctly_rounded_dot(a, b);
    } else if constexpr (std::is_same_v<T, mpfi_interval>) {
        return enclosing_dot(a, b);
    } else {
        T acc = a.empty() ? T(0.0) : zero_like(a[0]);
        for (std::size_t i = 0; i < a.size(); ++i) acc += a[i] * b[i];
        return acc;
    }
}

// y = A x + bias (bias may be empty). A has rows*cols entries, row-major.
template <class T>
std::vector<T> matvec(std::span<const T> A, std::size_t rows, std::size_t cols,
                      std::span<const T> x, std::span<const T> bias = {}) {
    check_matvec_sizes(A.size(), rows, cols, x.size(), bias.size());
    std::vector<T> y;
    y.reserve(rows);
    for (std::size_t i = 0; i < rows; ++i) {
        T yi = dot<T>(A.subspan(i * cols, cols), x);
        if (!bias.empty()) yi += bias[i];
        y.push_back(std::move(yi));
    }
    return y;
}

}  // namespace qbound::arith
