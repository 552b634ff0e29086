// Google Benchmark (not a test): the fast engine's paths on ResNet18 and the
// verifier's per-box work on an ACAS Xu-size pair, one benchmark per path.
// `qbound bench` prints the summary table of issue 19 (ratios in one run);
// this binary is for timing one path at a time and for profiling:
//   build/qbound_bench_fast_paths --benchmark_filter=plain
//   build/qbound_bench_fast_paths --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// ResNet18 runs at 224 and 64 (the Arg); times are wall time (the engine uses
// every core).
#include "qbound/core/allocator.hpp"
#include "qbound/experiments/models.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/fast/gemm.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/verify/branch_and_bound.hpp"
#include "qbound/verify/linear_relaxation.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace {

using namespace qbound;

// One ResNet18 per resolution, its 2^-8 grid copy and an input in [-1, 1).
struct resnet_case {
    net::network theta, quantized;
    std::vector<double> x, lo, hi;
};

const resnet_case& resnet18(std::size_t resolution) {
    static std::map<std::size_t, resnet_case> cache;
    auto it = cache.find(resolution);
    if (it != cache.end()) return it->second;
    net::network theta = experiments::load_model_with_weights("resnet18", resolution, 1, 0).network;
    resnet_case c{theta, theta, {}, {}, {}};
    for (std::size_t i : c.quantized.affine_nodes())
        for (double& w : c.quantized.weights(i)) w = std::ldexp(std::nearbyint(std::ldexp(w, 8)), -8);
    std::mt19937_64 rng(7);
    c.x.resize(c.theta.input_shape().size());
    for (auto& v : c.x) v = static_cast<double>(static_cast<float>(static_cast<double>(rng() >> 11) * 0x1p-52 - 1.0));
    for (double v : c.x) c.lo.push_back(v - 0x1p-8), c.hi.push_back(v + 0x1p-8);
    return cache.emplace(resolution, std::move(c)).first->second;
}

void set_macs(benchmark::State& state, const net::network& n) {
    double macs = 0;
    for (const auto& node : n.nodes())
        if (node.kind == net::op::conv2d)
            macs += static_cast<double>(node.weight.size()) * static_cast<double>(node.output.height * node.output.width);
        else if (node.kind == net::op::dense)
            macs += static_cast<double>(node.weight.size());
    state.counters["GFLOP/s"] = benchmark::Counter(2 * macs * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

// One fast path on ResNet18 at the resolution state.range(0).
template <class Path>
void resnet_path(benchmark::State& state, Path path) {
    const auto& c = resnet18(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(path(c));
    set_macs(state, c.theta);
}

const auto plain_forward = [](const resnet_case& c) { return fast::forward_plain(c.theta, c.x); };
const auto point_a_priori = [](const resnet_case& c) { return fast::enclose_point(c.theta, c.x); };
const auto point_refined_100_bits = [](const resnet_case& c) { return fast::enclose_point_refined(c.theta, c.x); };
const auto box_ibp = [](const resnet_case& c) { return fast::enclose_box(c.theta, c.lo, c.hi); };
const auto pair_pass = [](const resnet_case& c) { return fast::enclose_box_difference(c.theta, c.quantized, c.lo, c.hi); };

// The matrix product alone, one thread, per kernel (Arg: the kernel): a
// layer3-like block, 256 rows, K = 256 * 9, 128 columns.
void gemm_kernel(benchmark::State& state) {
    const auto kernel = static_cast<fast::gemm_kernel>(state.range(0));
    if (!fast::gemm_kernel_supported(kernel)) {
        state.SkipWithError("this CPU does not support the kernel");
        return;
    }
    const std::size_t M = 256, K = 2304, tiles = 16;
    std::mt19937_64 rng(3);
    const auto value = [&rng] { return static_cast<double>(rng() >> 11) * 0x1p-53 - 0.5; };
    std::vector<double> A(M * K), B(tiles * K * 8), C(M * tiles * 8);
    for (double& a : A) a = value();
    for (double& b : B) b = value();
    for (auto _ : state) {
        fast::gemm_packed_with(kernel, A.data(), M, K, B.data(), tiles, C.data(), tiles * 8);
        benchmark::DoNotOptimize(C.data());
    }
    state.SetLabel(fast::gemm_kernel_name(kernel));
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * K * tiles * 8 * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

// The ACAS Xu-size pair of `qbound bench`'s branch-and-bound rows.
struct mlp_pair {
    net::network theta, quantized;
};

const mlp_pair& acas_size_pair() {
    static const mlp_pair p = [] {
        net::network theta = net::make_mlp({5, 50, 50, 50, 50, 50, 50, 5});
        net::init_he_normal(theta, 1, 0.0);
        quant::options q;
        q.bits = 16;
        net::network quantized = quant::quantize(theta, q).network;
        return mlp_pair{std::move(theta), std::move(quantized)};
    }();
    return p;
}

// One linear-relaxation pass on a sub-box of [-1, 1]^5 of side 2^-Arg, one output.
void linear_pass(benchmark::State& state, bool intermediate) {
    const auto& p = acas_size_pair();
    const verify::linear_relaxation relaxation(p.theta, p.quantized);
    const double half = std::ldexp(1.0, -static_cast<int>(state.range(0)));
    verify::input_box box{{0.1 - half, -0.2 - half, 0.3 - half, 0 - half, -0.4 - half}, {0.1 + half, -0.2 + half, 0.3 + half, half, -0.4 + half}};
    verify::linear_options o;
    o.output = 0;
    o.interval_pass = false;
    o.intermediate = intermediate;
    for (auto _ : state) benchmark::DoNotOptimize(relaxation.bounds(box, o));
}

// Branch and bound on [-1, 1]^5, one thread, Arg boxes; boxes per second.
void branch_and_bound(benchmark::State& state, std::size_t intermediate_depth) {
    const auto& p = acas_size_pair();
    verify::per_output_options o;
    o.max_nodes = static_cast<std::size_t>(state.range(0));
    o.max_seconds = 1e9;
    o.threads = 1;
    o.intermediate_depth = intermediate_depth;
    std::size_t boxes = 0;
    for (auto _ : state) boxes += verify::per_output_branch_and_bound(p.theta, p.quantized, {verify::centered_box(5, 1.0)}, o).nodes;
    state.counters["boxes/s"] = benchmark::Counter(static_cast<double>(boxes), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(resnet_path, plain_forward, plain_forward)->Arg(64)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(resnet_path, point_a_priori, point_a_priori)->Arg(64)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(resnet_path, point_refined_100_bits, point_refined_100_bits)->Arg(64)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(resnet_path, box_ibp, box_ibp)->Arg(64)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(resnet_path, pair_pass, pair_pass)->Arg(64)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(gemm_kernel)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(linear_pass, intermediate, true)->Arg(0)->Arg(6)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(linear_pass, forward_intermediate_only, false)->Arg(0)->Arg(6)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(branch_and_bound, intermediate_depth_5, 5)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(branch_and_bound, forward_intermediate_only, 0)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
    qbound::core::keep_freed_memory();  // as the CLI does
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
