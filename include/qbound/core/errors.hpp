#pragma once
// Errors that every layer raises, and the text of doubles their messages
// quote. The base of the layering (core -> arith -> net -> ...): no layer's
// own domain lives here (arith's domain_error is in arith/errors.hpp, net's
// model_error in net/errors.hpp).
#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace qbound::core {

// A configuration value outside its accepted range (precision, counts, ...).
class invalid_argument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Two certified enclosures of the same real number that do not overlap (or a
// certified upper bound below a certified lower bound of the same quantity):
// proof of a bug in this binary, never patched over. The message starts with
// "UNSOUND:" and names what contradicted (node, box or point, both
// enclosures with 17 significant digits). The CLI exits 1 on it.
class unsound_error : public std::logic_error {
public:
    explicit unsound_error(const std::string& what) : std::logic_error("UNSOUND: " + what) {}
};

// "%.17g": enough digits to identify the double.
inline std::string exact_digits(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

// "[lo, hi]" with exact_digits.
inline std::string interval_text(double lo, double hi) { return "[" + exact_digits(lo) + ", " + exact_digits(hi) + "]"; }

// A box: "[lo, hi]^d" when every coordinate is the same interval, else the
// coordinates "[l0, h0] x [l1, h1] x ..." (the first 8, then how many more).
inline std::string box_text(const std::vector<double>& lower, const std::vector<double>& upper) {
    bool uniform = !lower.empty();
    for (std::size_t k = 0; k < lower.size() && k < upper.size(); ++k) uniform = uniform && lower[k] == lower[0] && upper[k] == upper[0];
    if (uniform) return interval_text(lower[0], upper[0]) + "^" + std::to_string(lower.size());
    std::string s;
    for (std::size_t k = 0; k < lower.size() && k < upper.size() && k < 8; ++k) s += (k ? " x " : "") + interval_text(lower[k], upper[k]);
    if (lower.size() > 8) s += " x ... (" + std::to_string(lower.size() - 8) + " more coordinates)";
    return s;
}

// A point: "(x0, x1, ...)" (the first 8 coordinates, then how many more).
inline std::string point_text(const std::vector<double>& x) {
    std::string s = "(";
    for (std::size_t k = 0; k < x.size() && k < 8; ++k) s += (k ? ", " : "") + exact_digits(x[k]);
    if (x.size() > 8) s += ", ... (" + std::to_string(x.size() - 8) + " more coordinates)";
    return s + ")";
}

}  // namespace qbound::core
