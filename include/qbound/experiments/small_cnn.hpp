#pragma once
// Section 5 of `qbound demo`: the zoo `cnn` (He-normal, bias std 0.05)
// quantized by floor, nearest and AdaRound at 4 and 8 bits, each copy checked
// and saved as a replayable case.
#include "qbound/arith/rational.hpp"
#include "qbound/experiments/progress.hpp"
#include "qbound/verify/check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qbound::experiments {

struct small_cnn_options {
    std::uint64_t seed = 1;
    std::size_t nodes = 400, calib_samples = 64;  // branch-and-bound boxes per check; AdaRound calibration samples
    double search_scale = 1;                      // of the counted search budget
    unsigned threads = 1;
    std::filesystem::path out;                    // cases are saved in out/cases/NAME
};

struct cnn_case {
    std::string method;
    unsigned bits = 0;
    std::string name;  // case folder name
    arith::rational max_change;
    verify::check_result check;
};

struct small_cnn_section {
    std::uint64_t seed = 1;
    std::filesystem::path out;
    std::vector<cnn_case> cases;  // floor, nearest, adaround; 4 then 8 bits each
};

small_cnn_section run_small_cnn(const small_cnn_options& opt, const progress_sink& progress);

nlohmann::json to_json(const small_cnn_section& s);  // one object per case
std::string to_markdown(const small_cnn_section& s);
std::string summary_row(const small_cnn_section& s);
std::size_t violated_proved(const small_cnn_section& s);  // verdicts the policy flags

}  // namespace qbound::experiments
