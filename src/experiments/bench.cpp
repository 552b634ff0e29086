#include "qbound/experiments/bench.hpp"

#include "qbound/core/parallel.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/verify/branch_and_bound.hpp"
#include "qbound/verify/differential.hpp"
#include "qbound/experiments/models.hpp"
#include "qbound/fast/gemm.hpp"
#include "qbound/fast/enclosure.hpp"
#include "qbound/io/onnx_export.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/verify/point_difference.hpp"

#include <fmt/core.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string_view>

#ifndef QBOUND_ORT_RUNNER_SCRIPT
#define QBOUND_ORT_RUNNER_SCRIPT "tools/ort/run_onnx.js"
#endif

namespace qbound::experiments {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median_seconds(std::size_t runs, const std::function<void()>& body) {
    std::vector<double> t;
    for (std::size_t i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        body();
        t.push_back(seconds_since(start));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

std::vector<double> bench_input(std::size_t n) {
    std::mt19937_64 rng(7);
    std::vector<double> x(n);
    for (auto& v : x) v = static_cast<double>(static_cast<float>(static_cast<double>(rng() >> 11) * 0x1p-52 - 1.0));
    return x;
}

// ONNX Runtime (float32, CPU, through node and tools/ort/run_onnx.js):
// median of `runs` session.run calls after one warm-up, timed inside node.
double onnx_runtime_seconds(const net::network& net, const std::vector<double>& x, std::size_t runs, std::string& error) {
    namespace fs = std::filesystem;
    const fs::path runner = QBOUND_ORT_RUNNER_SCRIPT;
    if (!fs::exists(runner)) {
        error = "ONNX Runtime runner not found: " + runner.string();
        return 0;
    }
    if (!fs::exists(runner.parent_path() / "node_modules" / "onnxruntime-node")) {
        error = "onnxruntime-node is not installed in " + runner.parent_path().string() + " (run npm ci there)";
        return 0;
    }
    const fs::path dir = fs::temp_directory_path() / ("qbound-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string model = (dir / "model.onnx").string(), input = (dir / "input.bin").string();
    try {
        net::network rounded = net;  // ONNX Runtime runs float32: weights rounded to float
        io::round_weights_to_float(rounded);
        io::write_onnx(rounded, model, io::onnx_element_type::float32);
    } catch (const std::exception& e) {
        error = std::string("export failed: ") + e.what();
        return 0;
    }
    {
        std::ofstream out(input, std::ios::binary);
        for (double v : x) {
            const float f = static_cast<float>(v);
            out.write(reinterpret_cast<const char*>(&f), 4);
        }
    }
    const auto& s = net.input_shape();
    const std::string cmd = "node '" + runner.string() + "' --runs " + std::to_string(runs) + " '" + model + "' '" + input + "' 1 " +
                            std::to_string(s.channels) + " " + std::to_string(s.height) + " " + std::to_string(s.width) + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string text;
    if (pipe) {
        char buf[4096];
        while (std::fgets(buf, sizeof buf, pipe)) text += buf;
        if (::pclose(pipe) != 0) error = "node failed: " + text.substr(0, 300);
    } else {
        error = "cannot run node";
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (!error.empty()) return 0;
    try {
        return nlohmann::json::parse(text).at("median_seconds").get<double>();
    } catch (const std::exception&) {
        error = std::string("unreadable node output: ") + text.substr(0, 300);
        return 0;
    }
}

// A line "Name:  N kB" of /proc/self/status, in bytes (0 if absent).
double status_bytes(const char* name) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(name) + ":";
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + key.size(), nullptr) * 1024.0;
    return 0;
}

// Runs `work` in a child process (a copy of this one, so call it before this
// process grows) and returns its values and the child's peak resident
// memory: its high-water mark, reset when the child starts
// (/proc/self/clear_refs), so the peak is the child's own (its copy of
// this process's resident pages included), not the parent's.
struct child_result {
    bool ok = false;
    double peak_bytes = 0;
    std::array<double, 4> values{};
};
child_result measure_in_child(const std::function<std::array<double, 4>()>& work) {
    child_result r;
    int fds[2];
    if (::pipe(fds) != 0) return r;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        double out[5] = {0, 0, 0, 0, 0};
        try {
            std::ofstream("/proc/self/clear_refs") << "5";  // reset the high-water mark
            const auto v = work();
            std::copy(v.begin(), v.end(), out + 1);
            out[0] = status_bytes("VmHWM");
        } catch (...) {
            ::_exit(1);
        }
        if (::write(fds[1], out, sizeof out) != static_cast<ssize_t>(sizeof out)) ::_exit(1);
        ::_exit(0);
    }
    ::close(fds[1]);
    double out[5] = {0, 0, 0, 0, 0};
    const bool read_ok = pid > 0 && ::read(fds[0], out, sizeof out) == static_cast<ssize_t>(sizeof out);
    ::close(fds[0]);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    r.ok = read_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 && out[0] > 0;
    r.peak_bytes = out[0];
    std::copy(out + 1, out + 5, r.values.begin());
    return r;
}

// ResNet50's refined certified point enclosure at 250 bits (check needs
// about 200-230 at this depth with random weights) in a child process; its
// peak memory.
bench_memory resnet50_peak_memory(std::size_t resolution) {
    const child_result c = measure_in_child([resolution] {
        auto start = std::chrono::steady_clock::now();
        const auto model = load_model_with_weights("resnet50", resolution, 1, 0);
        const double build = seconds_since(start);
        const auto x = bench_input(model.network.input_shape().size());
        start = std::chrono::steady_clock::now();
        fast::options deep;
        deep.refined_bits = 250;
        (void)fast::enclose_point_refined(model.network, x, deep);
        return std::array<double, 4>{build, seconds_since(start), 0, 0};
    });
    bench_memory m;
    m.ok = c.ok;
    m.peak_gib = c.peak_bytes / (1024.0 * 1024.0 * 1024.0);
    m.build_seconds = c.values[0];
    m.enclose_seconds = c.values[1];
    return m;
}

// The work of `qbound bounds resnet50` after the model is built: quantize
// (8-bit nearest, per tensor, theta' streamed layer by layer as `qbound
// bounds` does), ingredients, every bound variant.
void bounds_work(const net::network& model) {
    quant::options q;
    q.bits = 8;
    q.keep_codes = false;
    const auto p = bounds::collect_ingredients(model, q, 1);
    (void)bounds::compute_bounds(p, model);
}

// The whole of `qbound bounds resnet50` (the model built, then bounds_work)
// in a child process: its peak memory against the memory of ResNet50's
// weights and biases.
bounds_memory bounds_resnet50_memory() {
    const child_result c = measure_in_child([] {
        const auto model = load_model_with_weights("resnet50", 224, 1, 0);
        bounds_work(model.network);
        return std::array<double, 4>{static_cast<double>(model.network.parameter_count() * sizeof(double)), 0, 0, 0};
    });
    bounds_memory m;
    m.ok = c.ok;
    m.peak_bytes = c.peak_bytes;
    m.weight_bytes = c.values[0];
    return m;
}

// The time of bounds_work on ResNet50 (the model built once, outside it).
double bounds_resnet50_seconds(std::size_t runs) {
    const auto model = load_model_with_weights("resnet50", 224, 1, 0);
    return median_seconds(std::max<std::size_t>(runs, 1), [&] { bounds_work(model.network); });
}

std::vector<bab_rate> branch_and_bound_rates(std::size_t nodes) {
    net::network theta = net::make_mlp({5, 50, 50, 50, 50, 50, 50, 5});
    net::init_he_normal(theta, 1, 0.0);
    quant::options q;
    q.bits = 16;
    const net::network quantized = quant::quantize(theta, q).network;
    std::vector<bab_rate> rates;
    for (const auto& [method, depth] : {std::pair<std::string, std::size_t>{"linear relaxation, intermediate back-substitution to depth 5", 5},
                                        std::pair<std::string, std::size_t>{"linear relaxation, forward intermediate bounds only", 0}}) {
        verify::per_output_options o;
        o.max_nodes = nodes;
        o.max_seconds = 1e9;
        o.threads = 1;
        o.intermediate_depth = depth;
        bab_rate r{method, 0, 0};
        r.seconds = median_seconds(1, [&] { r.boxes = verify::per_output_branch_and_bound(theta, quantized, {verify::centered_box(5, 1.0)}, o).nodes; });
        rates.push_back(r);
    }
    return rates;
}

}  // namespace

machine_info describe_machine() {
    machine_info m;
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string flags;
    for (std::string line; std::getline(cpuinfo, line);) {
        const auto colon = line.find(':');
        const std::string value = colon == std::string::npos || colon + 2 > line.size() ? std::string() : line.substr(colon + 2);
        if (m.cpu.empty() && line.rfind("model name", 0) == 0) m.cpu = value;
        if (flags.empty() && line.rfind("flags", 0) == 0) flags = " " + value + " ";
        if (!m.cpu.empty() && !flags.empty()) break;
    }
    if (m.cpu.empty()) m.cpu = "unknown CPU";
    // The x86-64 levels by the kernel's flags, as scripts/test.sh decides them.
    const auto has = [&](std::initializer_list<const char*> names) {
        return std::all_of(names.begin(), names.end(), [&](const char* f) { return flags.find(" " + std::string(f) + " ") != std::string::npos; });
    };
    const std::vector<std::vector<const char*>> levels = {{"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"},
                                                         {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
                                                         {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}};
    m.isa_supported = 1;
    for (const auto& level : levels) {
        for (const char* f : level)
            if (!has({f})) m.isa_next_missing.emplace_back(f);
        if (!m.isa_next_missing.empty()) break;
        ++m.isa_supported;
    }
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    m.isa_compiled = 4;
#elif defined(__AVX2__) && defined(__FMA__)
    m.isa_compiled = 3;
#elif defined(__SSE4_2__)
    m.isa_compiled = 2;
#else
    m.isa_compiled = 1;
#endif
    m.kernel = fast::gemm_kernel_description();
    m.threads = core::thread_count(0);
    return m;
}

bench_report run_bench(const bench_options& opt, const progress_sink& progress) {
    bench_report report;
    report.options = opt;
    report.machine = describe_machine();
    // Memory first, before this process grows (the child is a copy of it).
    auto& mem = report.memory;
    if (!opt.skip_memory) mem = resnet50_peak_memory(opt.resolution);
    if (!opt.skip_bounds) report.bounds_memory = bounds_resnet50_memory();

    const auto model = load_model_with_weights("resnet18", opt.resolution, 1, 0);
    const net::network& net = model.network;
    const std::size_t macs = report.macs = verify::forward_cost(net);
    const auto x = bench_input(net.input_shape().size());
    std::vector<double> lo(x.size()), hi(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) lo[k] = x[k] - 0x1p-8, hi[k] = x[k] + 0x1p-8;
    report.threads = core::thread_count(0);
    progress.status(fmt::format("bench: ResNet18 at {}, {} MACs, {} threads", opt.resolution, qbound::report::grouped(macs), report.threads));

    // The fast rows run interleaved (run 1 of every path, then run 2, ...), so
    // that load from other processes spreads over all of them alike.
    double width = 0, refined_width = 0, box_width = 0, refined200_width = 0, pair_width = 0;
    net::network quantized = net;  // a 2^-8 grid copy for the pair pass
    for (std::size_t i : quantized.affine_nodes())
        for (double& w : quantized.weights(i)) w = std::ldexp(std::nearbyint(std::ldexp(w, 8)), -8);
    const auto max_width = [](const fast::enclosure& e) {
        double w = 0;
        for (std::size_t i = 0; i < e.lower.size(); ++i) w = std::max(w, e.upper[i] - e.lower[i]);
        return w;
    };
    fast::options one, bits200;
    one.threads = 1;
    bits200.refined_bits = 200;
    const std::vector<std::pair<std::string, std::function<void()>>> fast_paths{
        {"plain double forward (fast engine)", [&] { (void)fast::forward_plain(net, x); }},
        {"certified point enclosure (fast)", [&] { width = max_width(fast::enclose_point(net, x)); }},
        {"certified point, refined (fast)", [&] { refined_width = max_width(fast::enclose_point_refined(net, x)); }},
        {"box IBP (fast, x +- 2^-8)", [&] { box_width = max_width(fast::enclose_box(net, lo, hi)); }},
        {"certified point enclosure, 1 thread", [&] { (void)fast::enclose_point(net, x, one); }},
        {"certified point, refined 200 bits", [&] { refined200_width = max_width(fast::enclose_point_refined(net, x, bits200)); }},
        {"pair pass theta, theta', d (x +- 2^-8)", [&] { pair_width = max_width(fast::enclose_box_difference(net, quantized, lo, hi)); }},
    };
    std::vector<std::vector<double>> times(fast_paths.size());
    for (std::size_t run = 0; run < opt.runs; ++run)
        for (std::size_t p = 0; p < fast_paths.size(); ++p) times[p].push_back(median_seconds(1, fast_paths[p].second));
    auto& rows = report.rows;
    for (std::size_t p = 0; p < fast_paths.size(); ++p) {
        std::sort(times[p].begin(), times[p].end());
        rows.push_back({fast_paths[p].first, "", times[p][times[p].size() / 2]});
    }
    const double plain = rows[0].seconds;
    rows[1].note = fmt::format("max output width {:.2e}", width);
    rows[2].note = fmt::format("max output width {:.2e}", refined_width);
    rows[3].note = fmt::format("max output width {:.2e}", box_width);
    rows[5].note = fmt::format("max output width {:.2e}", refined200_width);
    rows[6].note = fmt::format("both networks; max width of d {:.2e}", pair_width);

    // The slow reference paths at a smaller resolution, scaled by MAC count.
    const auto small = load_model_with_weights("resnet18", opt.slow_resolution, 1, 0);
    const std::size_t small_macs = verify::forward_cost(small.network);
    const double scale = static_cast<double>(macs) / static_cast<double>(small_macs);
    const auto xs = bench_input(small.network.input_shape().size());
    const std::string scaled = opt.slow_resolution == opt.resolution
                                   ? std::string()
                                   : fmt::format("measured at {} ({} MACs), scaled x{:.1f}", opt.slow_resolution, qbound::report::grouped(small_macs), scale);
    progress.status(fmt::format("bench: slow paths at {} ({} runs)", opt.slow_resolution, opt.slow_runs));
    rows.push_back({"Boost.Interval element-wise", scaled, scale * median_seconds(opt.slow_runs, [&] {
                        (void)net::forward<arith::interval_double>(small.network, net::input_from_doubles<arith::interval_double>(xs));
                    })});
    {
        const arith::precision_scope scope(128);
        rows.push_back({"MPFI 128-bit", scaled, scale * median_seconds(opt.slow_runs, [&] {
                            (void)net::forward<arith::mpfi_interval>(small.network, net::input_from_doubles<arith::mpfi_interval>(xs));
                        })});
    }
    if (!opt.skip_ort) {
        std::string error;
        const double t = onnx_runtime_seconds(net, x, opt.runs, error);
        if (error.empty()) report.ort = t;
        rows.push_back({"ONNX Runtime float32 (node, CPU)", error.empty() ? "session.run only" : error, t, error.empty()});
    }

    const auto seconds_of = [&](std::string_view prefix) {
        for (const auto& r : rows)
            if (r.path.rfind(prefix, 0) == 0) return r.seconds;
        return 0.0;
    };
    if (opt.bab_nodes > 0) {
        progress.status(fmt::format("bench: branch and bound, {} boxes per method, one thread", opt.bab_nodes));
        report.branch_and_bound = branch_and_bound_rates(opt.bab_nodes);
    }
    if (!opt.skip_bounds) {
        progress.status("bench: qbound bounds resnet50 (quantize, ingredients, every variant)");
        report.bounds_resnet50 = bounds_resnet50_seconds(opt.slow_runs);
    }
    progress.done();
    const double point = rows[1].seconds, refined = rows[2].seconds, box = rows[3].seconds, mpfi = seconds_of("MPFI 128-bit");
    report.plain = plain, report.point = point, report.refined = refined, report.box = box, report.mpfi = mpfi;
    report.goal_point = point <= 3 * plain, report.goal_box = box <= 5 * plain, report.goal_mpfi = mpfi >= 50 * point;
    report.goal_refined = refined <= 3 * plain, report.goal_refined_mpfi = mpfi >= 50 * refined;
    report.goal_memory = mem.ok && mem.peak_gib < 3;
    return report;
}

std::vector<bench_target> issue_targets(const bench_report& r) {
    const auto ratio = [&](const std::string& name, double seconds, double base, double limit, bool measured) {
        return bench_target{name, base > 0 ? seconds / base : 0, limit, "x", measured && base > 0};
    };
    const auto row = [&](std::size_t i) { return i < r.rows.size() ? r.rows[i].seconds : 0.0; };
    return {ratio("plain double forward / ONNX Runtime float32", r.plain, r.ort, 2, r.ort > 0),
            ratio("a-priori certified point / plain", r.point, r.plain, 2, true),
            ratio("refined certified point / plain", r.refined, r.plain, 6, true),
            ratio("box IBP / plain", r.box, r.plain, 2, true),
            ratio("pair pass / plain", row(6), r.plain, 4, r.rows.size() > 6),
            bench_target{"qbound bounds resnet50 (quantize, ingredients, every variant)", r.bounds_resnet50, 3, "s", r.bounds_resnet50 > 0},
            ratio("qbound bounds resnet50: peak memory / its weights' memory", r.bounds_memory.peak_bytes, r.bounds_memory.weight_bytes, 2,
                  r.bounds_memory.ok)};
}

nlohmann::json to_json(const bench_report& r) {
    const auto& opt = r.options;
    nlohmann::json j{{"model", "resnet18"}, {"resolution", opt.resolution}, {"macs", r.macs}, {"runs", opt.runs},
                     {"slow_resolution", opt.slow_resolution}, {"slow_runs", opt.slow_runs}, {"threads", r.threads}};
    for (const auto& row : r.rows)
        j["rows"].push_back({{"path", row.path}, {"seconds", row.measured ? nlohmann::json(row.seconds) : nlohmann::json()},
                             {"ratio_to_plain", row.measured ? nlohmann::json(row.seconds / r.plain) : nlohmann::json()}, {"note", row.note}});
    j["ratio_plain_to_ort"] = r.ort > 0 ? nlohmann::json(r.plain / r.ort) : nlohmann::json();
    j["machine"] = {{"cpu", r.machine.cpu}, {"isa_supported", "x86-64-v" + std::to_string(r.machine.isa_supported)},
                    {"isa_next_missing", r.machine.isa_next_missing},
                    {"isa_compiled", "x86-64-v" + std::to_string(r.machine.isa_compiled)}, {"kernel", r.machine.kernel},
                    {"threads", r.machine.threads}};
    j["bounds_resnet50_seconds"] = r.bounds_resnet50 > 0 ? nlohmann::json(r.bounds_resnet50) : nlohmann::json();
    j["branch_and_bound"] = nlohmann::json::array();
    for (const auto& b : r.branch_and_bound)
        j["branch_and_bound"].push_back({{"method", b.method}, {"boxes", b.boxes}, {"seconds", b.seconds},
                                         {"boxes_per_second_per_core", b.boxes_per_second()}});
    j["targets"] = nlohmann::json::array();
    for (const auto& t : issue_targets(r))
        j["targets"].push_back({{"target", t.name}, {"value", t.measured ? nlohmann::json(t.value) : nlohmann::json()}, {"limit", t.limit},
                                {"unit", t.unit}, {"met", t.met()}});
    j["bounds_resnet50_memory"] = {{"measured", r.bounds_memory.ok}, {"peak_bytes", r.bounds_memory.peak_bytes},
                                   {"weight_bytes", r.bounds_memory.weight_bytes}};
    j["resnet50_memory"] = {{"measured", r.memory.ok}, {"peak_gib", r.memory.peak_gib}, {"enclose_seconds", r.memory.enclose_seconds}};
    j["goals"] = {{"point_within_3x_plain", r.goal_point}, {"refined_point_within_3x_plain", r.goal_refined},
                  {"ibp_within_5x_plain", r.goal_box}, {"at_least_50x_faster_than_mpfi", r.goal_mpfi},
                  {"refined_at_least_50x_faster_than_mpfi", r.goal_refined_mpfi}, {"resnet50_peak_below_3_gib", r.goal_memory}};
    return j;
}

}  // namespace qbound::experiments
