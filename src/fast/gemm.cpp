// The packed matrix-product kernels (include/qbound/fast/gemm.hpp).
#include "qbound/fast/gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace qbound::fast {

namespace {

// Every kernel sums c = fma(a, b, c) over k in order (gemm.hpp); the three
// instruction sets share one blocked product (gemm_blocked.inc), compiled
// once per set in its own namespace.

// Baseline (SSE2, every x86-64 and any other CPU): vectors of 2 doubles,
// each lane through std::fma (the C library's, which uses the FMA
// instruction where the CPU has one and exact software otherwise).
namespace isa_baseline {
using v2 = double __attribute__((vector_size(16)));
#define QBOUND_GEMM_ATTR
[[gnu::always_inline]] inline v2 fmadd(v2 c, double a, v2 b) { return v2{std::fma(a, b[0], c[0]), std::fma(a, b[1], c[1])}; }
#include "gemm_blocked.inc"
#undef QBOUND_GEMM_ATTR
}  // namespace isa_baseline

void gemm_baseline(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C, std::size_t ldc, bool abs_a) {
    // 2 rows x 1 tile: 8 accumulators.
    isa_baseline::gemm_blocked<isa_baseline::v2, 2, 2, 1>(A, M, K, Bp, tiles, C, ldc, abs_a);
}

#if defined(__x86_64__)
#define QBOUND_GEMM_X86 1

namespace isa_avx2 {
using v4 = double __attribute__((vector_size(32)));
#define QBOUND_GEMM_ATTR __attribute__((target("avx2,fma")))
[[gnu::always_inline]] QBOUND_GEMM_ATTR inline v4 fmadd(v4 c, double a, v4 b) {
    return reinterpret_cast<v4>(_mm256_fmadd_pd(_mm256_set1_pd(a), reinterpret_cast<__m256d>(b), reinterpret_cast<__m256d>(c)));
}
#include "gemm_blocked.inc"
#undef QBOUND_GEMM_ATTR
}  // namespace isa_avx2

namespace isa_avx512 {
using v8 = double __attribute__((vector_size(64)));
#define QBOUND_GEMM_ATTR __attribute__((target("avx512f")))
[[gnu::always_inline]] QBOUND_GEMM_ATTR inline v8 fmadd(v8 c, double a, v8 b) {
    return reinterpret_cast<v8>(_mm512_fmadd_pd(_mm512_set1_pd(a), reinterpret_cast<__m512d>(b), reinterpret_cast<__m512d>(c)));
}
#include "gemm_blocked.inc"
#undef QBOUND_GEMM_ATTR
}  // namespace isa_avx512

// AVX2 + FMA: 6 rows x 1 tile, 12 ymm accumulators of 16 (a fused product
// needs no temporaries; on one Intel Xeon core, bench/fast_paths_bench.cpp
// gemm_kernel: 6 rows 51 GFLOP/s, 5 rows 49, 4 rows 46; 35 with separate
// multiply and add).
[[gnu::target("avx2,fma")]] void gemm_avx2(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                                           std::size_t ldc, bool abs_a) {
    isa_avx2::gemm_blocked<isa_avx2::v4, 4, 6, 1>(A, M, K, Bp, tiles, C, ldc, abs_a);
}

// AVX-512F: 12 rows x 2 tiles, 24 zmm accumulators of 32 (same machine:
// 77 GFLOP/s; 8 x 2 72, 8 x 3 73, 16 x 1 61; 49 with separate multiply and add).
[[gnu::target("avx512f")]] void gemm_avx512(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                                            std::size_t ldc, bool abs_a) {
    isa_avx512::gemm_blocked<isa_avx512::v8, 8, 12, 2>(A, M, K, Bp, tiles, C, ldc, abs_a);
}
#endif

using gemm_fn = void (*)(const double*, std::size_t, std::size_t, const double*, std::size_t, double*, std::size_t, bool);

gemm_fn function_of(gemm_kernel k) {
    switch (k) {
#ifdef QBOUND_GEMM_X86
        case gemm_kernel::avx2: return gemm_avx2;
        case gemm_kernel::avx512: return gemm_avx512;
#else
        case gemm_kernel::avx2:
        case gemm_kernel::avx512: return nullptr;
#endif
        case gemm_kernel::baseline: return gemm_baseline;
    }
    return nullptr;
}

// The self-check: sizes that take every path (row remainders 1..7, odd tile
// counts, a K over two blocks), values with signed zeros, subnormal
// products and cancellation; bit-for-bit against the baseline.
bool passes_self_check(gemm_kernel k) {
    const gemm_fn f = function_of(k);
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    const auto next = [&state] {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return state;
    };
    const auto value = [&](std::uint64_t r) {
        switch (r % 8) {
            case 0: return 0.0;
            case 1: return -0.0;
            case 2: return 0x1p-1070 * static_cast<double>(static_cast<std::int64_t>(r >> 40) % 7);
            default: return static_cast<double>(static_cast<std::int64_t>(r >> 11)) * 0x1p-52 - 1024.0;
        }
    };
    const std::size_t sizes[][3] = {{17, 300, 3}, {8, 5, 2}, {7, 1, 1}, {13, 513, 5}, {1, 0, 2}};
    for (const auto& s : sizes) {
        const std::size_t M = s[0], K = s[1], tiles = s[2], ldc = tiles * 8 + 3;
        std::vector<double> A(M * K), B(tiles * K * 8), want(M * ldc, 1.5), got(M * ldc, 1.5);
        for (double& a : A) a = value(next());
        for (double& b : B) b = value(next());
        for (const bool abs_a : {false, true}) {
            gemm_baseline(A.data(), M, K, B.data(), tiles, want.data(), ldc, abs_a);
            f(A.data(), M, K, B.data(), tiles, got.data(), ldc, abs_a);
            if (std::memcmp(want.data(), got.data(), want.size() * sizeof(double)) != 0) return false;
        }
    }
    return true;
}

struct choice {
    gemm_kernel kernel = gemm_kernel::baseline;
    std::string description;
};

const choice& chosen() {
    static const choice c = [] {
        choice r;
        const char* env = std::getenv("QBOUND_GEMM_KERNEL");
        int cap = 2;
        if (env && *env) {
            const std::string e = env;
            if (e == "baseline") cap = 0;
            else if (e == "avx2") cap = 1;
            else if (e == "avx512") cap = 2;
            else
                throw std::invalid_argument("QBOUND_GEMM_KERNEL=" + e + ": expected baseline, avx2 or avx512");
        }
        std::string notes;
        for (int level = 2; level >= 1; --level) {
            const auto k = static_cast<gemm_kernel>(level);
            const std::string name = gemm_kernel_name(k);
            if (level > cap) {
                notes += (notes.empty() ? "" : "; ") + name + ": excluded by QBOUND_GEMM_KERNEL";
                continue;
            }
            if (!gemm_kernel_supported(k)) {
                notes += (notes.empty() ? "" : "; ") + name + ": not supported by this CPU";
                continue;
            }
            if (!passes_self_check(k)) {
                notes += (notes.empty() ? "" : "; ") + name + ": FAILED its bit-for-bit self-check against the baseline (compiler bug?), not used";
                continue;
            }
            r.kernel = k;
            break;
        }
        r.description = gemm_kernel_name(r.kernel);
        if (!notes.empty()) r.description += " (" + notes + ")";
        return r;
    }();
    return c;
}

}  // namespace

const char* gemm_kernel_name(gemm_kernel k) {
    switch (k) {
        case gemm_kernel::baseline: return "baseline";
        case gemm_kernel::avx2: return "avx2";
        case gemm_kernel::avx512: return "avx512";
    }
    return "?";
}

bool gemm_kernel_supported(gemm_kernel k) {
    if (k == gemm_kernel::baseline) return true;
#ifdef QBOUND_GEMM_X86
    __builtin_cpu_init();  // libgcc's test includes the OS's saving of the wide registers (XGETBV)
    if (k == gemm_kernel::avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == gemm_kernel::avx512) return __builtin_cpu_supports("avx512f");
#endif
    return false;
}

gemm_kernel gemm_kernel_in_use() { return chosen().kernel; }

std::string gemm_kernel_description() { return chosen().description; }

void gemm_packed(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C, std::size_t ldc, gemm_a a_form) {
    static const gemm_fn f = function_of(chosen().kernel);
    f(A, M, K, Bp, tiles, C, ldc, a_form == gemm_a::absolute);
}

void gemm_packed_with(gemm_kernel kernel, const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                      std::size_t ldc, gemm_a a_form) {
    if (!gemm_kernel_supported(kernel))
        throw std::invalid_argument(std::string("gemm kernel ") + gemm_kernel_name(kernel) + " is not supported by this CPU");
    function_of(kernel)(A, M, K, Bp, tiles, C, ldc, a_form == gemm_a::absolute);
}

}  // namespace qbound::fast
