#pragma once
// The CLI's subcommands; main.cpp parses arguments and calls these.
#include "qbound/quant/quantize.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <limits>
#include <string>
#include <vector>

namespace qbound::cli {

struct selfcheck_options {
    std::size_t cases = 20000;  // per operation and type
    std::uint64_t seed = 20261127;
    bool json = false;
};

struct demo_options {
    long precision = 256;        // MPFR/MPFI bits of the number-types section
    bool json = false;           // print report.json to stdout
    bool quick = false;          // smaller budgets (about a minute)
    bool numbers_only = false;   // only the number-types table (the old demo)
    std::uint64_t seed = 1;
    std::size_t threads = 0;     // 0: all cores
    std::filesystem::path out = "qbound-report";
};

struct info_options {
    std::string model;
    std::size_t resolution = 224;
    bool json = false;
};

// A pair (theta, theta'): theta' is --against MODEL2, or theta quantized.
struct pair_options {
    std::string model, against;
    std::size_t resolution = 224;
    std::uint64_t seed = 1, against_seed = 2;  // He-normal seeds of zoo models
    double bias_std = 0;
    std::string D = "1";                       // exact decimal or fraction
    bool D_given = false;                      // --D was on the command line
    quant::options quant;                      // theta' = quantize(theta) unless --against
    std::string method_name;
};

struct bounds_options {
    pair_options pair;
    bool layers = false;
    bool json = false;
};

// An input region given on the command line: at most one of --box, --vnnlib,
// --center (with --eps, optionally --clip).
struct region_options {
    std::string box, vnnlib, center, eps, clip;
};

struct check_command_options {
    pair_options pair;
    std::uint64_t search_seed = 1;
    double search_seconds = 5, seconds = 20, gap = 0;
    std::size_t nodes = 2000;
    std::size_t search_evaluations = std::numeric_limits<std::size_t>::max();  // the search's counts decide
    std::size_t samples = 20000;       // per-output uniform draw (0: no per-output search)
    std::size_t sweep_starts = 8;      // per output, line-sweep ascents from this many best samples
    bool relu_splits = false;          // branch and bound splits ReLU elements instead of inputs
    bool lp = false;                   // branch and bound also bounds each box by a linear program
    std::string save_case;
    // Omega (at most one of box, vnnlib, center; none: [-D, D]^d, or a .nnet file's [min, max]).
    region_options region;
    std::string plot;  // the bracket against time, gnuplot PNG and SVG (stem)
    bool json = false;
};

int run_check(const check_command_options& opt);

struct replay_options {
    std::string path;  // a case folder or its witness.json
    bool json = false;
};

int run_replay(const replay_options& opt);

// `qbound eval MODEL (--point v1,v2,... | --input FILE) [--against MODEL2]`.
struct eval_options {
    std::string model, against, point, input;
    std::size_t resolution = 224;
    std::uint64_t seed = 1;  // He-normal weights of zoo models
    bool json = false;
};

int run_eval(const eval_options& opt);

struct campaign_command_options {
    std::size_t pairs = 40, nodes = 300;
    std::uint64_t seed = 1;
    std::vector<std::string> families;
    std::filesystem::path out = "campaign";
    std::string shard;  // "i/n"
    std::filesystem::path plots;  // empty: no plots
    std::size_t shrink_candidates = 300;
    std::size_t hunt_pairs = 0, hunt_budget = 4000;  // --hunt N, --hunt-budget B
    unsigned threads = 0;  // 0: all cores
    bool json = false;
};

int run_campaign(const campaign_command_options& opt);

struct hunt_command_options {
    std::vector<std::string> variants{"all"};  // printed names, or "all"
    std::string space = "mlp";                 // mlp, cnn, residual
    std::string depth, width, inputs;          // "LO-HI" or "N"; empty: the space's default
    region_options region;                     // Omega instead of [-D, D]^d (needs --inputs N)
    std::optional<std::size_t> outputs;
    std::string perturbation = "any";          // any, free, grid
    bool initializer = false;
    std::size_t budget = 4000, nodes = 300, shrink_candidates = 300;
    std::size_t frontier_budget = 0;           // candidates per frontier cell; 0: no frontier
    std::uint64_t seed = 1;
    std::filesystem::path out = "hunt";        // violations are saved here
    std::filesystem::path plots;               // empty: no plots
    unsigned threads = 0;
    bool json = false;
};

int run_hunt(const hunt_command_options& opt);

struct merge_options {
    std::vector<std::string> files;  // `qbound campaign --json` reports
    std::filesystem::path plots;     // empty: no plots
    bool json = false;
};

int run_merge(const merge_options& opt);
struct table_options {
    std::vector<std::string> files;  // ONNX/NNet files for part (b); default: the zoo models
    std::uint64_t seed = 1;
    double bias_std = 0;
    bool json = false;
};

struct depth_sweep_options {
    std::size_t width = 16, min_depth = 2, max_depth = 40;
    std::uint64_t seed = 1;
    double bias_std = 0.01;
    std::filesystem::path out = "depth-sweep";
    bool json = false;
};

int run_depth_sweep(const depth_sweep_options& opt);
int run_table(const table_options& opt);
int run_bounds(const bounds_options& opt);
struct quantize_command_options {
    std::string model, output;
    std::size_t resolution = 224;
    std::uint64_t init_seed = 1;  // He-normal seed of a zoo model (no trained weights)
    double bias_std = 0;
    bool json = false;
    bool float32 = false;  // float32 ONNX: grid points of <= 24 significant bits
    quant::options quant;
    std::string method_name = "nearest";
};

int run_quantize(const quantize_command_options& opt);
int run_info(const info_options& opt);
int run_selfcheck(const selfcheck_options& opt);
int run_demo(const demo_options& opt);

// `qbound bench` (issue 8): ResNet18 through every evaluation path.
struct bench_options {
    std::size_t resolution = 224, slow_resolution = 32;  // the Boost.Interval and MPFI rows run at slow_resolution, scaled
    std::size_t runs = 5, slow_runs = 1;
    bool skip_ort = false, skip_memory = false, skip_bounds = false, json = false;
    std::size_t bab_nodes = 2000;
};

int run_bench(const bench_options& opt);

}  // namespace qbound::cli
