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

struct bench_report {
    bench_options options;
    std::size_t macs = 0;
    unsigned threads = 0;
    // Fast paths first (plain, a-priori point, refined point, box IBP, 1
    // thread, refined 200 bits, pair pass), then Boost.Interval, MPFI 128-bit
    // and ONNX Runtime (unless skipped).
    std::vector<bench_row> rows;
    bench_memory memory;  // zero when skipped
    double plain = 0, point = 0, refined = 0, box = 0, mpfi = 0;  // medians of those rows
    bool goal_point = false, goal_refined = false, goal_box = false, goal_mpfi = false, goal_refined_mpfi = false, goal_memory = false;
};

// progress.status tells what is being measured.
bench_report run_bench(const bench_options& opt, const progress_sink& progress);

nlohmann::json to_json(const bench_report& r);  // what `qbound bench --json` prints

}  // namespace qbound::experiments
