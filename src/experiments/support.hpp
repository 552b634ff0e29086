#pragma once
// Pieces the experiments' sources share (not a public header).
#include "qbound/arith/rational.hpp"
#include "qbound/bounds/bounds.hpp"
#include "qbound/verify/check.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace qbound::experiments::detail {

std::string sci(const bounds::upper& v);                    // 3 significant digits, rounded up
std::string dec(const arith::rational& q, int digits = 6);  // decimal, `digits` significant digits
std::string ratio_text(double r);                           // "1.23" or "inf"

// Counted budgets only (verify::counted_search scaled by search_scale,
// branch-and-bound boxes): a seed gives the same report on any machine and
// thread count.
verify::check_options counted_check(const arith::rational& D, std::size_t nodes, std::uint64_t seed, double search_scale,
                                    std::size_t inputs);

// The markdown of a plot written as STEM.png/.svg/.dat/.gp, relative to the report folder.
std::string plot_link(const std::string& stem, const std::string& alt);

}  // namespace qbound::experiments::detail
