#include "qbound/experiments/check_report.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/report/plot.hpp"

namespace qbound::experiments {

void write_bracket_plot(const verify::check_result& r, const std::filesystem::path& stem) {
    if (r.trace.empty())
        throw core::invalid_argument("--plot: this check has no bracket against time to draw (only per-output branch and bound records one; upper side: " +
                                     r.upper_method + ")");
    report::series upper{"certified upper (max over outputs)", {}, {}}, lower{"certified lower (max over outputs)", {}, {}};
    upper.color = "#d62728";
    lower.color = "#1f77b4";
    for (const auto& t : r.trace) {
        // Time 0 is not on a log axis of seconds: the plot's x is linear.
        upper.x.push_back(t.seconds), upper.y.push_back(t.upper);
        lower.x.push_back(t.seconds), lower.y.push_back(t.lower);
    }
    report::plot_spec spec{"Certified bracket on sup |R_theta - R_theta'| against time", "seconds", "bracket (log scale)", true, {upper, lower}};
    spec.key = "top right";
    report::write_plot(spec, stem);
}

}  // namespace qbound::experiments
