// Benchmark (not a test): the linear relaxation pass (verify/linear_relaxation.hpp)
// against the symbolic pass and the interval pass on ACAS Xu 5-50x6-5 and its
// 16-bit nearest-rounding copy, on the property box and 64 random sub-boxes.
//   build/qbound_bench_linear_relaxation [file.onnx]
#include "qbound/io/load.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/verify/symbolic_difference.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace {

template <class F>
double seconds_per_call(F f, int repeats) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace qbound;
    const std::string file = argc > 1 ? argv[1] : "tests/data/networks/ACASXU_experimental_v2a_2_1.onnx";
    const net::network theta = io::load_network(file);
    fmt::print("{}: {} nodes, input {}\n", file, theta.nodes().size(), net::to_string(theta.input_shape()));
    for (std::size_t i = 0; i < theta.nodes().size() && i < 4; ++i) {
        const auto& n = theta.at(i);
        fmt::print("  node {} '{}' {}", i, n.name, net::to_string(n.kind));
        if (n.kind == net::op::normalize)
            for (std::size_t k = 0; k < n.norm_mean.size(); ++k)
                fmt::print(" [mean {} scale {} divisor {} offset {}]", n.norm_mean[k], n.norm_scale[k], n.norm_divisor[k], n.norm_offset[k]);
        fmt::print("\n");
    }
    quant::options q;
    q.bits = 16;
    const net::network quantized = quant::quantize(theta, q).network;
    const verify::input_box box{{0.6, -0.5, -0.5, 0.45, -0.5}, {0.6798577687, 0.5, 0.5, 0.5, -0.45}};
    std::vector<verify::input_box> boxes{box};
    std::mt19937_64 rng(2026);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int b = 0; b < 64; ++b) {
        verify::input_box s = box;
        for (std::size_t j = 0; j < 5; ++j) {
            const double w = box.upper[j] - box.lower[j], a = box.lower[j] + w * unit(rng), len = w * (0.05 + 0.45 * unit(rng));
            s.lower[j] = a;
            s.upper[j] = std::min(box.upper[j], a + len);
        }
        boxes.push_back(s);
    }
    double t_fwd = 0, t_lin = 0, t_sym = 0, t_int = 0;
    double sum_lin = 0, sum_fwd = 0, sum_sym = 0, sum_int = 0;
    std::size_t looser_than_symbolic = 0;
    for (std::size_t b = 0; b < boxes.size(); ++b) {
        const auto& x = boxes[b];
        const int reps = b == 0 ? 20 : 3;
        verify::box_bounds lin, fwd;
        std::vector<double> sym;
        double inter = 0;
        t_lin += seconds_per_call([&] { lin = verify::linear_difference_bounds(theta, quantized, x); }, reps);
        verify::linear_options forward_only;
        forward_only.backward = false;
        t_fwd += seconds_per_call([&] { fwd = verify::linear_difference_bounds(theta, quantized, x, forward_only); }, reps);
        t_sym += seconds_per_call([&] { sym = verify::symbolic_difference_bounds(theta, quantized, x); }, b == 0 ? 3 : 1);
        t_int += seconds_per_call([&] { inter = verify::differential_upper_bound(theta, quantized, x); }, reps);
        double ml = 0, mf = 0, ms = 0;
        for (std::size_t k = 0; k < lin.lower.size(); ++k) {
            ml = std::max(ml, lin.magnitude(k));
            mf = std::max(mf, fwd.magnitude(k));
            ms = std::max(ms, sym[k]);
            if (lin.magnitude(k) > sym[k]) ++looser_than_symbolic;
        }
        if (b == 0) {
            fmt::print("property box, per output k: [lower, upper] linear (backward+forward) | forward only | symbolic |d_k| bound\n");
            for (std::size_t k = 0; k < lin.lower.size(); ++k)
                fmt::print("  k={} [{:.6e}, {:.6e}] | [{:.6e}, {:.6e}] | {:.6e}\n", k, lin.lower[k], lin.upper[k], fwd.lower[k], fwd.upper[k], sym[k]);
            fmt::print("  max: linear {:.6e}, forward {:.6e}, symbolic {:.6e}, interval {:.6e}\n", ml, mf, ms, inter);
            fmt::print("  time per pass: linear {:.3f} ms, forward only {:.3f} ms, symbolic {:.3f} ms, interval {:.3f} ms\n", t_lin * 1e3,
                       t_fwd * 1e3, t_sym * 1e3, t_int * 1e3);
        }
        sum_lin += ml, sum_fwd += mf, sum_sym += ms, sum_int += inter;
    }
    const double n = static_cast<double>(boxes.size());
    fmt::print("{} boxes (property box + 64 random sub-boxes): mean max_k bound linear {:.4e}, forward {:.4e}, symbolic {:.4e}, interval {:.4e}\n",
               boxes.size(), sum_lin / n, sum_fwd / n, sum_sym / n, sum_int / n);
    fmt::print("  mean time per pass: linear {:.3f} ms, forward only {:.3f} ms, symbolic {:.3f} ms, interval {:.3f} ms\n", t_lin / n * 1e3,
               t_fwd / n * 1e3, t_sym / n * 1e3, t_int / n * 1e3);
    fmt::print("  outputs where linear is looser than symbolic: {}\n", looser_than_symbolic);
    return 0;
}
