#pragma once
// `qbound bench` (issue 8): ResNet18, one image, through every evaluation
// path, as median times and ratios to plain double, plus the peak memory of
// ResNet50's refined certified point enclosure (measured in a child process,
// so the rest of the benchmark does not count). Times are measurements, not
// results: nothing here is deterministic.
#include "qbound/experiments/progress.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace qbound::experiments {

struct bench_options {
    std::size_t resolution = 224, slow_resolution = 32;  // the Boost.Interval and MPFI rows run at slow_resolution, scaled
    std::size_t runs = 5, slow_runs = 1;
    bool skip_ort = false, skip_memory = false;
    bool skip_bounds = false;         // the `qbound bounds resnet50` row
    std::size_t bab_nodes = 2000;     // boxes per branch-and-bound rate measurement (0: skip)
};

// The machine the numbers come from.
struct machine_info {
    std::string cpu;                 // /proc/cpuinfo's model name
    int isa_supported = 1;           // highest x86-64 level this CPU runs (1..4)
    std::vector<std::string> isa_next_missing;  // the /proc/cpuinfo flags the next level needs and this CPU does not list
    int isa_compiled = 1;            // the level this binary was compiled for
    std::string kernel;              // the fast engine's matrix kernel in use (fast::gemm_kernel_description)
    unsigned threads = 0;
};
machine_info describe_machine();

// Branch and bound on an ACAS Xu-size pair (5 inputs, 6 hidden layers of 50,
// He-normal seed 1, zero biases, 16-bit nearest copy, [-1, 1]^5) on one
// thread, for each upper-side method: boxes per second per core.
struct bab_rate {
    std::string method;
    std::size_t boxes = 0;
    double seconds = 0;
    double boxes_per_second() const { return seconds > 0 ? static_cast<double>(boxes) / seconds : 0; }
};

struct bench_row {
    std::string path, note;
    double seconds = 0;  // at the benchmark resolution (scaled when measured smaller)
    bool measured = true;
};

struct bench_memory {
    double peak_gib = 0, build_seconds = 0, enclose_seconds = 0;
    bool ok = false;  // the child ran to the end
};

// `qbound bounds resnet50`'s peak resident memory (the whole run, in a
// child process) and the memory of ResNet50's weights and biases as doubles.
struct bounds_memory {
    double peak_bytes = 0, weight_bytes = 0;
    bool ok = false;
};

struct bench_report {
    bench_options options;
    std::size_t macs = 0;
    unsigned threads = 0;
    // Fast paths first (plain, a-priori point, refined point, box IBP, 1
    // thread, refined 200 bits, pair pass), then Boost.Interval, MPFI 128-bit
    // and ONNX Runtime (unless skipped).
    std::vector<bench_row> rows;
    bench_memory memory;  // zero when skipped
    machine_info machine;
    double ort = 0;             // ONNX Runtime's median seconds (0: not measured)
    double bounds_resnet50 = 0; // seconds of quantize + ingredients + every bound on ResNet50 at 224 (0: skipped)
    struct bounds_memory bounds_memory;  // not measured (ok false) when skipped
    std::vector<bab_rate> branch_and_bound;
    double plain = 0, point = 0, refined = 0, box = 0, mpfi = 0;  // medians of those rows
    bool goal_point = false, goal_refined = false, goal_box = false, goal_mpfi = false, goal_refined_mpfi = false, goal_memory = false;
};

// The speed targets of qbound issue 19, evaluated on this run: "plain
// double forward <= 2x ONNX Runtime", "a-priori point <= 2x plain", "refined
// point <= 6x plain", "IBP <= 2x plain", "pair pass <= 4x plain", "bounds
// resnet50 <= 3 s", "bounds resnet50's peak memory <= 2x its weights'".
// `measured` false when a row was skipped.
struct bench_target {
    std::string name;
    double value = 0, limit = 0;  // value <= limit meets it
    std::string unit;             // "x" (a ratio) or "s"
    bool measured = false;
    bool met() const { return measured && value <= limit; }
};
std::vector<bench_target> issue_targets(const bench_report& r);

// progress.status tells what is being measured.
bench_report run_bench(const bench_options& opt, const progress_sink& progress);

nlohmann::json to_json(const bench_report& r);  // what `qbound bench --json` prints

}  // namespace qbound::experiments
