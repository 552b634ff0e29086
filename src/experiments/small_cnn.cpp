#include "qbound/experiments/small_cnn.hpp"

#include "qbound/core/parallel.hpp"
#include "qbound/experiments/verdicts.hpp"
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/quantize.hpp"
#include "qbound/report/markdown.hpp"
#include "qbound/verify/case_file.hpp"
#include "support.hpp"

#include <fmt/core.h>

#include <atomic>

namespace qbound::experiments {

using detail::dec;
using detail::ratio_text;
using detail::sci;

small_cnn_section run_small_cnn(const small_cnn_options& opt, const progress_sink& progress) {
    net::network theta = net::make_zoo_model("cnn");
    net::init_he_normal(theta, opt.seed, 0.05);
    small_cnn_section s;
    s.seed = opt.seed;
    s.out = opt.out;
    auto& cases = s.cases;
    for (const std::string method : {"floor", "nearest", "adaround"})
        for (unsigned bits : {4u, 8u}) cases.push_back({method, bits, fmt::format("cnn-{}-{}bit", method, bits), 0, {}});
    std::atomic<std::size_t> done{0};
    core::parallel_for(cases.size(), opt.threads, [&](std::size_t i, unsigned) {
        auto& c = cases[i];
        quant::options q;
        q.kind = c.method == "floor" ? quant::method::floor : c.method == "nearest" ? quant::method::nearest : quant::method::adaround;
        q.bits = c.bits;
        q.seed = opt.seed;
        q.calib_samples = opt.calib_samples;
        const auto quantized = quant::quantize(theta, q);
        c.max_change = quantized.max_change;
        c.check = verify::check_pair(theta, quantized.network,
                                     detail::counted_check(1, opt.nodes, opt.seed, opt.search_scale, theta.input_shape().size()));
        verify::save_case(opt.out / "cases" / c.name, theta, quantized.network, 1, c.check.witness,
                          fmt::format("qbound demo: zoo cnn (He-normal, seed {}, bias std 0.05) vs {} at {} bits", opt.seed, c.method, c.bits));
        progress.status(fmt::format("small CNN: {}/{} quantized copies checked", ++done, cases.size()));
    });
    progress.done();
    return s;
}

nlohmann::json to_json(const small_cnn_section& s) {
    nlohmann::json cj = nlohmann::json::array();
    for (const auto& c : s.cases)
        cj.push_back({{"method", c.method}, {"bits", c.bits}, {"max_change", dec(c.max_change, 10)},
                      {"lower", dec(c.check.witness.lower, 12)}, {"upper", dec(c.check.upper, 12)},
                      {"relative_gap", c.check.relative_gap}, {"witness_arithmetic", c.check.witness.arithmetic},
                      {"boxes", c.check.boxes}, {"case", "cases/" + c.name}, {"verdicts", verdicts_json(c.check.verdicts)}});
    return cj;
}

std::size_t violated_proved(const small_cnn_section& s) {
    std::size_t n = 0;
    for (const auto& c : s.cases) n += count_verdicts(c.check).violated_proved;
    return n;
}

std::string to_markdown(const small_cnn_section& s) {
    report::markdown_table t{{"method", "bits", "||theta - theta'||", "certified sup in", "gap", "best proved bound", "bound / lower",
                              "HOLDS", "VIOLATED", "UNDECIDED", "replay"},
                             {},
                             {false, true, true, false, true, false, true, true, true, true, false}};
    for (const auto& c : s.cases) {
        const auto counts = count_verdicts(c.check);
        const auto* best = best_proved(c.check);
        t.rows.push_back({c.method, std::to_string(c.bits), dec(c.max_change, 4),
                          fmt::format("[{}, {}]", dec(c.check.witness.lower, 4), dec(c.check.upper, 4)),
                          report::fraction_text(c.check.relative_gap, 2), best ? best->bound + " = " + sci(best->value) : "-",
                          best ? ratio_text(best->ratio_to_lower) : "-", std::to_string(counts.holds), std::to_string(counts.violated),
                          std::to_string(counts.undecided), report::inline_code("qbound replay " + (s.out / "cases" / c.name).string())});
    }
    return fmt::format("## 5. A quantized small CNN\n\nThe zoo `cnn` (1x16x16 input, conv 8 + max pool, conv 16 "
                       "stride 2, dense 10; He-normal, seed {}, bias std 0.05), quantized per tensor; Omega = [-1, 1]^256. "
                       "The lower end is certified at the witness ({}); the upper end comes from differential "
                       "branch and bound, which is loose in 256 dimensions: read the gap.\n\n",
                       s.seed, s.cases.front().check.witness.arithmetic) +
           report::to_markdown(t) + "\n";
}

std::string summary_row(const small_cnn_section& s) {
    return fmt::format("| small CNN | 6 quantized copies; best proved bound / certified sup from {} to {}; {} proved bounds violated |\n",
                       ratio_text(best_proved(s.cases.front().check)->ratio_to_lower),
                       ratio_text(best_proved(s.cases.back().check)->ratio_to_lower), violated_proved(s));
}

}  // namespace qbound::experiments
