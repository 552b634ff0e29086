// Reproducer: the compiler fuses a*b + c into one fused multiply-add although
// qbound compiles with -ffp-contract=off. qbound's enclosures and error-free
// transformations assume that every product and every sum is rounded on its
// own (they call std::fma explicitly where they want one rounding); a fused
// a*b + c rounds once and can fall outside an enclosure computed for two
// roundings. GCC in GNU mode (-std=gnu++20) and clang (whose default is
// -ffp-contract=on) fuse wherever the target has FMA (x86-64-v3, v4, native)
// unless -ffp-contract=off comes last.
//
// Run by cmake/toolchain_guard.cmake at configure time with the build's own
// compiler and flags. Exit 0 and print QBOUND-REPRO-OK when no expression
// was fused; exit 1 and print each fused one otherwise.
//
// guard-advice: make sure nothing in CMAKE_CXX_FLAGS, the build type's flags or QBOUND_EXTRA_FLAGS re-enables contraction after -ffp-contract=off (a #pragma, -ffp-model=..., a wrapper script adding flags)
// guard-advice: if the compiler ignores -ffp-contract=off, use another compiler (g++ 12 and clang++-14 honour it).
#include <cstdio>

#if defined(__has_attribute)
#if __has_attribute(noipa)
#define QB_OPAQUE __attribute__((noinline, noipa))
#endif
#endif
#ifndef QB_OPAQUE
#define QB_OPAQUE __attribute__((noinline))
#endif

namespace {

int failures = 0;

// a = 1 + 2^-30, b = 1 - 2^-30: a*b = 1 - 2^-60 rounds to 1, so with two
// roundings a*b - 1 = 0, while one rounding gives -2^-60.
volatile double va = 1.0 + 0x1p-30, vb = 1.0 - 0x1p-30, vc = -1.0;

void expect(const char* what, double got, double want) {
    if (got != want) {
        std::printf("CONTRACTED: %s = %a, expected %a (rounded twice)\n", what, got, want);
        ++failures;
    }
}

QB_OPAQUE double mul_add(double a, double b, double c) { return a * b + c; }
QB_OPAQUE double mul_sub(double a, double b, double c) { return a * b - c; }
QB_OPAQUE double neg_mul_add(double a, double b, double c) { return c - a * b; }
QB_OPAQUE double two_products(double a, double b, double c, double d) { return a * b + c * d; }

constexpr int n = 64;
double x[n], w[n], y[n];
// A loop the vectorizer turns into vfmadd...pd when contraction is allowed.
QB_OPAQUE void axpy(int len) {
    for (int i = 0; i < len; ++i) y[i] = x[i] * w[i] + y[i];
}
QB_OPAQUE double dot(int len) {
    double s = 0;
    for (int i = 0; i < len; ++i) s = s + x[i] * w[i];
    return s;
}

}  // namespace

int main() {
    const double a = va, b = vb, c = vc;
    expect("a*b + c", mul_add(a, b, c), 0.0);
    expect("a*b - c", mul_sub(a, b, -c), 0.0);
    expect("c - a*b", neg_mul_add(a, b, -c), 0.0);
    expect("a*b + c*d", two_products(a, b, -a, b), 0.0);
    const double inline_sum = a * b + c;  // in main itself, values from volatiles
    expect("a*b + c (inline)", inline_sum, 0.0);
    for (int i = 0; i < n; ++i) {
        x[i] = a;
        w[i] = b;
        y[i] = c;
    }
    axpy(n);
    for (int i = 0; i < n; ++i)
        if (y[i] != 0.0) {
            expect("y[i] = x[i]*w[i] + y[i] (loop)", y[i], 0.0);
            break;
        }
    for (int i = 0; i < n; ++i) {
        x[i] = (i % 2 == 0) ? a : -1.0;
        w[i] = (i % 2 == 0) ? b : 1.0;
    }
    expect("sum of x[i]*w[i] (loop)", dot(n), 0.0);
    if (failures != 0) {
        std::printf("%d expressions fused: -ffp-contract=off is not in effect with these flags\n", failures);
        return 1;
    }
    std::printf("QBOUND-REPRO-OK\n");
    return 0;
}
