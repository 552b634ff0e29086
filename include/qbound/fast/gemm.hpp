#pragma once
// The packed matrix product under the fast engines' convolutions, in three
// kernels (baseline x86-64 / SSE2, AVX2 with FMA, AVX-512F) chosen at run time.
//
// C (M x 8*tiles, row stride ldc) = A (M x K, row stride K) * B, B packed as
// tiles of 8 columns: Bp[(t * K + k) * 8 + c]. Every kernel computes every C
// element as c = 0; c = fma(A_ik, B_kj, c) (or fma(|A_ik|, B_kj, c)) for
// k = 0, 1, ..., K-1 in that order: one fused multiply-add per term, rounded
// once, no reassociation (explicit FMA instructions, std::fma in the
// baseline; -ffp-contract=off everywhere else). So the three kernels, any
// row or column split and any thread count give the same bits;
// tests/fast/gemm_kernels.cpp checks it bit for bit on the machine that runs
// the tests, for every kernel that machine supports. The error bounds of the
// callers (fast/enclosure.hpp) hold for any order with or without FMA; the
// refined mode's split products are exact, so fused or not gives the same.
//
// Compiler guard: before a kernel other than the baseline is first used, it
// runs a fixed self-check product (odd sizes, every remainder path, signed
// zeros, subnormals) against the baseline; a kernel that differs in one bit
// is never used, and gemm_kernel_description() says why. GCC 12 is known to
// miscompile some constant aggregates when AVX-512 is enabled (the
// trustworthiness issue; cmake/miscompile/): the kernels pass no aggregate
// by value, and the self-check catches what slips through.
#include <cstddef>
#include <string>

namespace qbound::fast {

enum class gemm_kernel { baseline, avx2, avx512 };

// "baseline", "avx2", "avx512".
const char* gemm_kernel_name(gemm_kernel k);

// True when this CPU (and the operating system) can run the kernel; the
// baseline always can.
bool gemm_kernel_supported(gemm_kernel k);

// The kernel gemm_packed uses: the widest supported one that passed its
// self-check. The environment variable QBOUND_GEMM_KERNEL=baseline|avx2|avx512
// narrows the choice (never widens it past what the CPU supports).
gemm_kernel gemm_kernel_in_use();

// One line for reports: the kernel in use and, when a wider one was refused
// or narrowed, why (e.g. "avx2 (avx512: not supported by this CPU)").
std::string gemm_kernel_description();

// A as it is, or |A| (element magnitudes taken as A is read, so the
// radius products of the enclosures need no copy of |W|).
enum class gemm_a { as_is, absolute };

// The product with the kernel in use / with a given kernel (which must be
// supported: otherwise std::invalid_argument).
void gemm_packed(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C, std::size_t ldc,
                 gemm_a a_form = gemm_a::as_is);
void gemm_packed_with(gemm_kernel kernel, const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                      std::size_t ldc, gemm_a a_form = gemm_a::as_is);

}  // namespace qbound::fast
