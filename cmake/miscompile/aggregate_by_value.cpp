// Reproducer: GCC 12.2 (Debian 12's g++) with AVX-512 enabled (-march=native
// on an AVX-512 CPU, -march=x86-64-v4) builds some constant aggregates of
// 8-byte fields passed by value as a broadcast of one value: the one field
// that differs is lost when it is the last of a 256- or 512-bit chunk (seen:
// {1,1,1,0,1,1} passes {1,1,1,1,1,1}). qbound's layer geometries are such
// aggregates, so the bug builds wrong networks.
//
// Run by cmake/toolchain_guard.cmake at configure time with the build's own
// compiler and flags. Exit 0 and print QBOUND-REPRO-OK when every aggregate
// arrives intact; exit 1 and print each wrong field otherwise.
//
// The callees are noinline and (GCC) noipa, so that neither inlining nor
// interprocedural constant propagation hides the caller's argument
// construction at -O2/-O3; the callees store into volatiles, which the caller
// reads back: nothing folds away.
//
// guard-advice: keep the ISA but without AVX-512: add -mno-avx512f to QBOUND_EXTRA_FLAGS (e.g. -DQBOUND_EXTRA_FLAGS="-O3 -march=x86-64-v4 -mno-avx512f" or "-O3 -march=native -mno-avx512f")
// guard-advice: or build for -march=x86-64-v3 or lower (the shipped build uses no -march at all)
// guard-advice: or use another compiler, e.g. -DCMAKE_CXX_COMPILER=clang++-14 (a fresh build folder), which compiles this reproducer correctly at x86-64-v4.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <utility>

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

template <class T>
void expect(const char* what, int field, T got, T want) {
    if (got != want) {
        std::printf("MISCOMPILED: %s, field %d: got %g, expected %g\n", what, field, double(got), double(want));
        ++failures;
    }
}

}  // namespace

// ---- The pattern of the bug report, verbatim in shape ------------------------
struct geom {
    std::size_t kh = 1, kw = 1, stride = 1, padding = 0, dilation = 1, groups = 1;
};
volatile std::size_t geom_sink[6];
QB_OPAQUE void callee(std::size_t, geom g) { geom_sink[3] = g.padding; }
QB_OPAQUE void callee_all(std::size_t, geom g) {
    geom_sink[0] = g.kh; geom_sink[1] = g.kw; geom_sink[2] = g.stride;
    geom_sink[3] = g.padding; geom_sink[4] = g.dilation; geom_sink[5] = g.groups;
}
QB_OPAQUE void callee_second(std::size_t, geom g, std::size_t) { geom_sink[3] = g.padding; }
QB_OPAQUE void callee_third(std::size_t, std::size_t, geom g) { geom_sink[3] = g.padding; }
QB_OPAQUE void callee_only(geom g) { geom_sink[3] = g.padding; }

QB_OPAQUE void pattern_verbatim() {
    callee(1, {1, 1, 1, 0, 1, 1});
    expect<std::size_t>("callee(1, {1, 1, 1, 0, 1, 1}).padding", 3, geom_sink[3], 0);
}
QB_OPAQUE void pattern_all_fields() {
    callee_all(1, {1, 1, 1, 0, 1, 1});
    for (int i = 0; i < 6; ++i) expect<std::size_t>("callee_all(1, {1, 1, 1, 0, 1, 1})", i, geom_sink[i], i == 3 ? 0 : 1);
}
QB_OPAQUE void pattern_second() {
    callee_second(1, {1, 1, 1, 0, 1, 1}, 1);
    expect<std::size_t>("callee_second(1, {1, 1, 1, 0, 1, 1}, 1).padding", 3, geom_sink[3], 0);
}
QB_OPAQUE void pattern_third() {
    callee_third(1, 1, {1, 1, 1, 0, 1, 1});
    expect<std::size_t>("callee_third(1, 1, {1, 1, 1, 0, 1, 1}).padding", 3, geom_sink[3], 0);
}
QB_OPAQUE void pattern_only() {
    callee_only({1, 1, 1, 0, 1, 1});
    expect<std::size_t>("callee_only({1, 1, 1, 0, 1, 1}).padding", 3, geom_sink[3], 0);
}
QB_OPAQUE void pattern_defaults() {
    const geom g;  // the default member initializers: the same constant
    callee(1, g);
    expect<std::size_t>("callee(1, geom{}).padding", 3, geom_sink[3], 0);
}

// ---- Every field position, several sizes and field types ---------------------
// agg<T, N>{...} with all fields equal except field P, built as a constant at
// the call site and passed by value behind a leading size_t.
template <class T, int N>
struct agg {
    T v[N];
};
template <class T>
volatile T agg_sink[16];
template <class T, int N>
QB_OPAQUE void take(std::size_t, agg<T, N> a) {
    for (int i = 0; i < N; ++i) agg_sink<T>[i] = a.v[i];
}
template <class T, int N>
QB_OPAQUE void take_second(std::size_t, agg<T, N> a, std::size_t) {
    for (int i = 0; i < N; ++i) agg_sink<T>[i] = a.v[i];
}

template <class T, int N, int P, int OneValue, int ZeroValue, std::size_t... I>
QB_OPAQUE void one_position(std::index_sequence<I...>) {
    constexpr T One = T(OneValue), Zero = T(ZeroValue);  // (clang 14: no floating template arguments)
    take<T, N>(1, agg<T, N>{{(int(I) == P ? Zero : One)...}});
    char what[96];
    std::snprintf(what, sizeof what, "take(1, agg<%zu-byte %s, %d>{%g,..,%g at %d,..})", sizeof(T),
                  T(0.5) == T(0) ? "integer" : "floating", N, double(One), double(Zero), P);
    for (int i = 0; i < N; ++i) expect<T>(what, i, agg_sink<T>[i], i == P ? Zero : One);
}
template <class T, int N, std::size_t... P>
void every_position(std::index_sequence<P...>) {
    (one_position<T, N, int(P), 1, 0>(std::make_index_sequence<N>{}), ...);
}
template <class T, int... N>
void sizes() {
    (every_position<T, N>(std::make_index_sequence<N>{}), ...);
}

int main() {
    pattern_verbatim();
    pattern_all_fields();
    pattern_second();
    pattern_third();
    pattern_only();
    pattern_defaults();
    // 8-byte fields (the ones seen miscompiled): 2..8, 12 and 16 fields, the odd
    // one at every position; 4-byte fields: one 256- and one 512-bit aggregate.
    sizes<std::uint64_t, 2, 3, 4, 5, 6, 7, 8, 12, 16>();
    sizes<double, 2, 3, 4, 5, 6, 8, 16>();
    sizes<std::uint32_t, 8, 16>();
    sizes<float, 8, 16>();
    // The odd one as the larger value, and the aggregate as a middle parameter.
    one_position<std::uint64_t, 4, 3, 0, 2>(std::make_index_sequence<4>{});
    one_position<std::uint64_t, 8, 7, 0, 2>(std::make_index_sequence<8>{});
    take_second<std::uint64_t, 8>(1, agg<std::uint64_t, 8>{{5, 5, 5, 5, 5, 5, 5, 9}}, 1);
    for (int i = 0; i < 8; ++i) expect<std::uint64_t>("take_second(1, {5,5,5,5,5,5,5,9}, 1)", i, agg_sink<std::uint64_t>[i], i == 7 ? 9 : 5);
    if (failures != 0) {
        std::printf("%d fields arrived wrong: this compiler, with these flags, miscompiles aggregates passed by value\n",
                    failures);
        return 1;
    }
    std::printf("QBOUND-REPRO-OK\n");
    return 0;
}
