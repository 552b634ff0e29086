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

namespace qbound::fast {

namespace {

// One register tile: Rows rows of A times Tiles tiles of 8 columns of B,
// vectors of Lanes doubles (V), accumulators kept in registers by full
// unrolling. Nothing is passed by value but pointers and sizes.
template <class V, int Lanes, int Rows, int Tiles, bool Abs>
[[gnu::always_inline]] inline void micro_tile(const double* A, std::size_t lda, const double* Bp, std::size_t tile_stride, std::size_t kc,
                                             double* C, std::size_t ldc, bool first) {
    constexpr int per_tile = 8 / Lanes, vecs = Tiles * per_tile;
    V c[Rows][vecs];
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 16
        for (int v = 0; v < vecs; ++v) {
            if (first)
                std::memset(&c[r][v], 0, sizeof(V));
            else
                std::memcpy(&c[r][v], C + r * ldc + v * Lanes, sizeof(V));
        }
    for (std::size_t k = 0; k < kc; ++k) {
        V b[vecs];
#pragma GCC unroll 16
        for (int t = 0; t < Tiles; ++t)
#pragma GCC unroll 16
            for (int v = 0; v < per_tile; ++v) std::memcpy(&b[t * per_tile + v], Bp + t * tile_stride + k * 8 + v * Lanes, sizeof(V));
#pragma GCC unroll 16
        for (int r = 0; r < Rows; ++r) {
            const double a = Abs ? std::fabs(A[r * lda + k]) : A[r * lda + k];  // broadcast by the scalar-vector product
#pragma GCC unroll 16
            for (int v = 0; v < vecs; ++v) c[r][v] = c[r][v] + a * b[v];
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 16
        for (int v = 0; v < vecs; ++v) std::memcpy(C + r * ldc + v * Lanes, &c[r][v], sizeof(V));
}

// `rows` (1..Rows) rows: the full tile or one instance per smaller row count.
template <class V, int Lanes, int Rows, int Tiles, bool Abs>
[[gnu::always_inline]] inline void rows_tail(std::size_t rows, const double* A, std::size_t lda, const double* Bp, std::size_t tile_stride,
                                            std::size_t kc, double* C, std::size_t ldc, bool first) {
    if constexpr (Rows > 0) {
        if (rows == static_cast<std::size_t>(Rows))
            micro_tile<V, Lanes, Rows, Tiles, Abs>(A, lda, Bp, tile_stride, kc, C, ldc, first);
        else
            rows_tail<V, Lanes, Rows - 1, Tiles, Abs>(rows, A, lda, Bp, tile_stride, kc, C, ldc, first);
    }
}

// The blocked product: rows in panels of MC, K in blocks of KC (the exact
// partial sum is stored and reloaded, so the order over k is kept), rows in blocks of Rows,
// columns in groups of Tiles tiles, then single tiles.
template <class V, int Lanes, int Rows, int Tiles, bool Abs>
[[gnu::always_inline]] inline void gemm_blocked_form(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                                               std::size_t ldc) {
    constexpr std::size_t KC = 256, MC = 64;  // a C panel of MC rows stays in cache over the K blocks
    const std::size_t tile_stride = K * 8;
    for (std::size_t i0 = 0; i0 < M; i0 += MC) {
        const std::size_t i_end = std::min(M, i0 + MC);
        for (std::size_t k0 = 0; k0 < K || (K == 0 && k0 == 0); k0 += KC) {
            const std::size_t kc = std::min(KC, K - k0);
            const bool first = k0 == 0;
            for (std::size_t i = i0; i < i_end; i += Rows) {
                const std::size_t rows = std::min<std::size_t>(Rows, i_end - i);
                const double* a = A + i * K + k0;
                double* c = C + i * ldc;
                std::size_t t = 0;
                for (; t + Tiles <= tiles; t += Tiles)
                    rows_tail<V, Lanes, Rows, Tiles, Abs>(rows, a, K, Bp + t * tile_stride + k0 * 8, tile_stride, kc, c + t * 8, ldc, first);
                for (; t < tiles; ++t)
                    rows_tail<V, Lanes, Rows, 1, Abs>(rows, a, K, Bp + t * tile_stride + k0 * 8, tile_stride, kc, c + t * 8, ldc, first);
            }
            if (K == 0) break;
        }
    }
}

// A as it is or |A|.
template <class V, int Lanes, int Rows, int Tiles>
[[gnu::always_inline]] inline void gemm_blocked(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                                               std::size_t ldc, bool abs_a) {
    if (abs_a)
        gemm_blocked_form<V, Lanes, Rows, Tiles, true>(A, M, K, Bp, tiles, C, ldc);
    else
        gemm_blocked_form<V, Lanes, Rows, Tiles, false>(A, M, K, Bp, tiles, C, ldc);
}

// Vectors of 2 (SSE2, every x86-64), 4 (AVX2) and 8 (AVX-512F) doubles.
using v2 = double __attribute__((vector_size(16)));

void gemm_baseline(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C, std::size_t ldc, bool abs_a) {
    // 2 rows x 1 tile: 8 accumulators of 16 registers.
    gemm_blocked<v2, 2, 2, 1>(A, M, K, Bp, tiles, C, ldc, abs_a);
}

#if defined(__x86_64__)
#define QBOUND_GEMM_X86 1
using v4 = double __attribute__((vector_size(32)));
using v8 = double __attribute__((vector_size(64)));

// 5 rows x 1 tile: 10 ymm accumulators of 16 (separate multiply and add need
// temporaries: 6 rows spilled and ran at 28 GFLOP/s, 5 at 48, 4 at 37,
// measured on one Zen core; bench/fast_paths_bench.cpp gemm_kernel).
[[gnu::target("avx2")]] void gemm_avx2(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                                       std::size_t ldc, bool abs_a) {
    gemm_blocked<v4, 4, 5, 1>(A, M, K, Bp, tiles, C, ldc, abs_a);
}

// 8 rows x 2 tiles: 16 zmm accumulators of 32.
[[gnu::target("avx512f")]] void gemm_avx512(const double* A, std::size_t M, std::size_t K, const double* Bp, std::size_t tiles, double* C,
                                            std::size_t ldc, bool abs_a) {
    gemm_blocked<v8, 8, 8, 2>(A, M, K, Bp, tiles, C, ldc, abs_a);
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
    if (k == gemm_kernel::avx2) return __builtin_cpu_supports("avx2");
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
