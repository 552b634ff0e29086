#include "support.hpp"

#include <fmt/core.h>

#include <cmath>

namespace qbound::experiments::detail {

std::string sci(const bounds::upper& v) { return bounds::scientific_up(v, 3); }
std::string dec(const arith::rational& q, int digits) { return arith::to_decimal(q, digits); }
std::string ratio_text(double r) { return std::isfinite(r) ? fmt::format("{:.3g}", r) : "inf"; }

verify::check_options counted_check(const arith::rational& D, std::size_t nodes, std::uint64_t seed, double search_scale,
                                    std::size_t inputs) {
    verify::check_options c;
    c.D = D;
    c.search = verify::counted_search(inputs, search_scale, seed);
    c.branch.max_nodes = nodes;
    c.branch.max_seconds = 1e6;
    return c;
}

std::string plot_link(const std::string& stem, const std::string& alt) {
    return fmt::format("![{}]({}.png)\n\n(also [{}.svg]({}.svg); data {}.dat, gnuplot script {}.gp)\n\n", alt, stem, stem, stem, stem, stem);
}

}  // namespace qbound::experiments::detail
