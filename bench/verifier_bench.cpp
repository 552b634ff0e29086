// Benchmark (not a test) of the differential verifier (qbound issue 17), in
// one run, each figure the median of --runs runs:
//   acas   ACAS Xu 2_1 against its 16-bit nearest copy on property 1's box:
//          `check` (per-output search, per-output branch and bound for
//          --seconds), per output the certified lower, upper and upper /
//          lower; beside it the peer a user would pick instead, a uniform
//          sampler of --samples points (both cores), per output.
//   mlp    the engine issue's 6 x 50 MLP (5 inputs, zero biases, He-normal
//          seed 1) against its 16-bit copy on [-1, 1]^5, the same columns.
//   mnist  cnn_max_mninst2 against its 8-bit copy on L_inf balls of radius
//          2/255 around --points seeded random points of [0, 1]^784 (the
//          repository ships no MNIST images), --seconds each.
//   passes the linear relaxation pass's modes against the symbolic and the
//          interval pass on ACAS Xu boxes: bound and time per pass.
//   cnn    the campaign's random-cnn and mixed-cnn pairs 0..--points-1
//          (seed 1) on [-1, 1]^n: per-output branch and bound with --nodes
//          boxes (default 300, the campaign's) splitting inputs, splitting
//          inputs with the linear program, and splitting ReLUs with the
//          linear program: largest lower and upper over outputs, relative
//          gap, wall time (one run: each figure is a count-bounded search).
//   qbound_bench_verifier [--runs N] [--seconds S] [--samples N] [--points N] [--nodes N] [--only acas|mlp|mnist|passes|cnn]
// Run from the repository root (it reads tests/data/networks).
#include "qbound/io/load.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/verify/branch_and_bound.hpp"
#include "qbound/verify/campaign.hpp"
#include "qbound/verify/check.hpp"
#include "qbound/verify/differential.hpp"
#include "qbound/verify/linear_relaxation.hpp"
#include "qbound/verify/symbolic_difference.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace qbound;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

struct options {
    int runs = 3;
    double seconds = 12;
    std::size_t samples = 1'000'000;
    std::size_t points = 10;
    std::size_t nodes = 300;
    std::string only;
};

// Per output, the largest |d_k| over `samples` uniform points of the box (double, both cores).
std::vector<double> sampler(const net::network& theta, const net::network& quant, const verify::input_box& box, std::size_t samples) {
    const std::size_t m = theta.output_shape().size(), d = box.lower.size();
    std::vector<std::vector<double>> best(2, std::vector<double>(m, 0.0));
    const auto work = [&](unsigned t) {
        std::mt19937_64 rng(1000 + t);
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        std::vector<double> x(d);
        for (std::size_t i = t; i < samples; i += 2) {
            for (std::size_t j = 0; j < d; ++j) x[j] = box.lower[j] + (box.upper[j] - box.lower[j]) * unit(rng);
            const auto y = net::forward<double>(theta, x), yq = net::forward<double>(quant, x);
            for (std::size_t k = 0; k < m; ++k) best[t][k] = std::max(best[t][k], std::fabs(yq[k] - y[k]));
        }
    };
    std::thread other(work, 1u);
    work(0);
    other.join();
    for (std::size_t k = 0; k < m; ++k) best[0][k] = std::max(best[0][k], best[1][k]);
    return best[0];
}

verify::check_options check_setup(const std::vector<verify::input_box>& boxes, double seconds) {
    verify::check_options c;
    arith::rational D = 0;
    for (const auto& b : boxes) {
        verify::region_box rb{b, b};
        c.region.push_back(rb);
        for (std::size_t j = 0; j < b.lower.size(); ++j)
            D = arith::max(D, arith::max(arith::abs(arith::to_rational(b.lower[j])), arith::abs(arith::to_rational(b.upper[j]))));
    }
    c.D = D;
    c.per_output_samples = 20000;
    c.branch.max_nodes = 100'000'000;
    c.branch.max_seconds = seconds;
    c.branch.threads = 0;
    c.search.max_seconds = 60;
    return c;
}

// `check` --runs times on one pair and region, then the sampler once; one table row per output.
void bracket_table(const std::string& name, const net::network& theta, const net::network& quant, const verify::input_box& box,
                   const options& o) {
    const std::size_t m = theta.output_shape().size();
    std::vector<std::vector<double>> lower(m), upper(m), ratio(m);
    std::vector<double> wall, boxes, first_upper;
    for (int run = 0; run < o.runs; ++run) {
        const auto t0 = clock_type::now();
        const auto r = verify::check_pair(theta, quant, check_setup({box}, o.seconds));
        wall.push_back(seconds_since(t0));
        boxes.push_back(static_cast<double>(r.boxes));
        if (!r.trace.empty()) first_upper.push_back(r.trace.front().upper);
        for (std::size_t k = 0; k < m; ++k) {
            const double lo = static_cast<double>(r.outputs[k].lower), up = static_cast<double>(r.outputs[k].upper);
            lower[k].push_back(lo);
            upper[k].push_back(up);
            ratio[k].push_back(lo > 0 ? up / lo : std::numeric_limits<double>::infinity());
        }
    }
    const auto t0 = clock_type::now();
    const auto sampled = sampler(theta, quant, box, o.samples);
    const double sampler_seconds = seconds_since(t0);
    fmt::print("\n## {} (median of {} runs; check: {:.1f} s wall, {:.0f} boxes, root upper {:.4g}; sampler: {} points, {:.1f} s)\n\n", name,
               o.runs, median(wall), median(boxes), median(first_upper), o.samples, sampler_seconds);
    fmt::print("| output | certified lower | certified upper | upper / lower | sampler max | lower / sampler |\n");
    fmt::print("|---:|---:|---:|---:|---:|---:|\n");
    for (std::size_t k = 0; k < m; ++k)
        fmt::print("| {} | {:.4e} | {:.4e} | {:.3g} | {:.4e} | {:.3f} |\n", k, median(lower[k]), median(upper[k]), median(ratio[k]), sampled[k],
                   sampled[k] > 0 ? median(lower[k]) / sampled[k] : 0.0);
}

void acas(const options& o) {
    const net::network theta = io::load_network("tests/data/networks/ACASXU_experimental_v2a_2_1.onnx");
    quant::options q;
    q.bits = 16;
    const net::network quant = quant::quantize(theta, q).network;
    const verify::input_box box{{0.6, -0.5, -0.5, 0.45, -0.5}, {0.6798577687, 0.5, 0.5, 0.5, -0.45}};
    bracket_table("ACAS Xu 2_1, 16-bit nearest copy, property 1 box, " + fmt::format("{:g}", o.seconds) + " s", theta, quant, box, o);
}

void mlp(const options& o) {
    net::network theta = net::make_mlp({5, 50, 50, 50, 50, 50, 50, 5});
    net::init_he_normal(theta, 1, 0.0);
    quant::options q;
    q.bits = 16;
    const net::network quant = quant::quantize(theta, q).network;
    bracket_table("6 x 50 MLP (zero biases, He-normal seed 1), 16-bit nearest copy, [-1, 1]^5, " + fmt::format("{:g}", o.seconds) + " s", theta,
                  quant, verify::centered_box(5, 1.0), o);
}

void mnist(const options& o) {
    const net::network theta = io::load_network("tests/data/networks/cnn_max_mninst2.onnx");
    quant::options q;
    q.bits = 8;
    const net::network quant = quant::quantize(theta, q).network;
    const std::size_t d = theta.input_shape().size();
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> gaps, walls;
    fmt::print("\n## cnn_max_mninst2, 8-bit nearest copy, L_inf balls of radius 2/255 (clipped to [0, 1]) around {} random points, {:g} s each\n\n",
               o.points, o.seconds);
    fmt::print("| point | certified lower | certified upper | relative gap | method |\n|---:|---:|---:|---:|---|\n");
    for (std::size_t p = 0; p < o.points; ++p) {
        verify::input_box box{std::vector<double>(d), std::vector<double>(d)};
        for (std::size_t j = 0; j < d; ++j) {
            const double c = unit(rng);
            box.lower[j] = std::max(0.0, c - 2.0 / 255);
            box.upper[j] = std::min(1.0, c + 2.0 / 255);
        }
        const auto t0 = clock_type::now();
        const auto r = verify::check_pair(theta, quant, check_setup({box}, o.seconds));
        walls.push_back(seconds_since(t0));
        gaps.push_back(r.relative_gap);
        fmt::print("| {} | {:.4e} | {:.4e} | {:.3g} | {} |\n", p, static_cast<double>(r.witness.lower), static_cast<double>(r.upper), r.relative_gap,
                   r.upper_method);
    }
    fmt::print("\nmedian relative gap {:.3g}, median wall {:.1f} s\n", median(gaps), median(walls));
}

void passes(const options& o) {
    const net::network theta = io::load_network("tests/data/networks/ACASXU_experimental_v2a_2_1.onnx");
    quant::options q;
    q.bits = 16;
    const net::network quant = quant::quantize(theta, q).network;
    const verify::input_box box{{0.6, -0.5, -0.5, 0.45, -0.5}, {0.6798577687, 0.5, 0.5, 0.5, -0.45}};
    const verify::linear_relaxation pass(theta, quant);
    fmt::print("\n## One pass on ACAS Xu boxes around x = (0.68, 0, -0.5, 0.5, -0.5), sides 2^-s of property 1's (median of {} runs)\n\n", o.runs);
    fmt::print("| s | forward only | + backward | + intermediate | + interval pass | symbolic | interval |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    const std::vector<double> at{0.679857769, 0, -0.5, 0.5, -0.5};
    for (int s : {0, 3, 6, 9, 12}) {
        verify::input_box b = box;
        for (std::size_t j = 0; j < 5; ++j) {
            const double w = (box.upper[j] - box.lower[j]) * std::ldexp(1.0, -s);
            b.lower[j] = std::max(box.lower[j], at[j] - w / 2);
            b.upper[j] = std::min(box.upper[j], at[j] + w / 2);
        }
        const auto cell = [&](auto f) {
            std::vector<double> t;
            double bound = 0;
            for (int r = 0; r < o.runs; ++r) {
                const auto t0 = clock_type::now();
                bound = f();
                t.push_back(seconds_since(t0));
            }
            return fmt::format("{:.3e} ({:.2f} ms)", bound, median(t) * 1e3);
        };
        const auto linear = [&](bool backward, bool intermediate, bool interval) {
            verify::linear_options lo;
            lo.backward = backward;
            lo.intermediate = intermediate;
            lo.interval_pass = interval;
            const auto r = pass.bounds(b, lo);
            double mx = 0;
            for (std::size_t k = 0; k < r.lower.size(); ++k) mx = std::max(mx, r.magnitude(k));
            return mx;
        };
        fmt::print("| {} | {} | {} | {} | {} | {} | {} |\n", s, cell([&] { return linear(false, false, false); }),
                   cell([&] { return linear(true, false, false); }), cell([&] { return linear(true, true, false); }),
                   cell([&] { return linear(true, true, true); }),
                   cell([&] {
                       const auto v = verify::symbolic_difference_bounds(theta, quant, b);
                       return *std::max_element(v.begin(), v.end());
                   }),
                   cell([&] { return verify::differential_upper_bound(theta, quant, b); }));
    }
}

void cnn(const options& o) {
    fmt::print("\n## Campaign CNN pairs (seed 1), per-output branch and bound, {} boxes\n\n", o.nodes);
    fmt::print("| pair | inputs | inputs: bracket | gap | s | inputs + LP: bracket | gap | s | ReLUs + LP: bracket | gap | s |\n");
    fmt::print("|---|---:|---|---:|---:|---|---:|---:|---|---:|---:|\n");
    std::vector<std::vector<double>> gaps(3);
    for (const char* family : {"random-cnn", "mixed-cnn"})
        for (std::size_t i = 0; i < o.points; ++i) {
            const auto p = verify::draw_campaign_pair(family, 1, i);
            const std::size_t d = p.theta.input_shape().size();
            std::string row = fmt::format("| {} {} | {} ", family, i, d);
            for (int mode = 0; mode < 3; ++mode) {
                verify::per_output_options b;
                b.max_nodes = o.nodes;
                b.max_seconds = 1e9;  // the count decides
                b.threads = 0;
                b.lp = mode > 0;
                if (mode == 2) b.relu_split_above_inputs = 0;
                const auto t0 = clock_type::now();
                const auto r = verify::per_output_branch_and_bound(p.theta, p.quant, {verify::centered_box(d, static_cast<double>(p.D))}, b);
                const double wall = seconds_since(t0), lo = r.max_lower(), up = r.max_upper();
                const double gap = up > 0 ? (up - lo) / up : 0;
                gaps[static_cast<std::size_t>(mode)].push_back(gap);
                row += fmt::format("| [{:.4g}, {:.4g}] | {:.3f} | {:.1f} ", lo, up, gap, wall);
            }
            fmt::print("{}|\n", row);
        }
    const char* names[] = {"inputs", "inputs + LP", "ReLUs + LP"};
    for (std::size_t m = 0; m < 3; ++m) {
        const auto below = std::count_if(gaps[m].begin(), gaps[m].end(), [](double g) { return g < 0.1; });
        fmt::print("\n{}: median relative gap {:.3f}, {} of {} pairs below 0.1", names[m], median(gaps[m]), below, gaps[m].size());
    }
    fmt::print("\n");
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const auto next = [&](const char* what) -> std::string {
            if (i + 1 >= argc) {
                fmt::print(stderr, "{} needs a value\n", what);
                std::exit(2);
            }
            return argv[++i];
        };
        if (!std::strcmp(argv[i], "--runs")) o.runs = std::max(1, std::stoi(next("--runs")));
        else if (!std::strcmp(argv[i], "--seconds")) o.seconds = std::stod(next("--seconds"));
        else if (!std::strcmp(argv[i], "--samples")) o.samples = std::stoul(next("--samples"));
        else if (!std::strcmp(argv[i], "--points")) o.points = std::stoul(next("--points"));
        else if (!std::strcmp(argv[i], "--nodes")) o.nodes = std::stoul(next("--nodes"));
        else if (!std::strcmp(argv[i], "--only")) o.only = next("--only");
        else {
            fmt::print(stderr, "unknown option {}\nusage: qbound_bench_verifier [--runs N] [--seconds S] [--samples N] [--points N] [--nodes N] [--only acas|mlp|mnist|passes|cnn]\n",
                       argv[i]);
            return 2;
        }
    }
    fmt::print("# qbound verifier benchmark ({} threads)\n", std::thread::hardware_concurrency());
    if (o.only.empty() || o.only == "passes") passes(o);
    if (o.only.empty() || o.only == "acas") acas(o);
    if (o.only.empty() || o.only == "mlp") mlp(o);
    if (o.only.empty() || o.only == "mnist") mnist(o);
    if (o.only.empty() || o.only == "cnn") cnn(o);
    return 0;
}
