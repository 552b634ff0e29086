#include "qbound/experiments/number_types.hpp"

#include "qbound/arith/exact_dot.hpp"
#include "qbound/arith/linalg.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/arith/scalar.hpp"
#include "qbound/report/markdown.hpp"

#include <fmt/core.h>

namespace qbound::experiments {

namespace {

using namespace qbound::arith;

std::string show(double x) { return fmt::format("{:.17g}", x); }
std::string show(const rational& q) { return to_decimal(q, 17); }
std::string show(const mpfr_real& x) { return x.to_string(17); }
std::string show_width(double w) { return fmt::format("{:.3g}", w); }
std::string show_width(const rational& w) { return show_width(nearest_double(w)); }
std::string show_width(const mpfr_real& w) { return show_width(w.to_double()); }

template <class T>
number_row describe_result(const std::string& computation, const T& value, const rational& exact) {
    using traits = scalar_traits<T>;
    return {computation,       std::string(traits::name), std::string(to_string(traits::kind)), show(lower(value)),
            show(upper(value)), show_width(width(value)),        contains(value, exact)};
}

// sum_i a_i b_i, then ReLU, computed in type T from double data.
template <class T>
T relu_of_dot(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<T> ta, tb;
    for (double v : a) ta.push_back(scalar_traits<T>::from_double(v));
    for (double v : b) tb.push_back(scalar_traits<T>::from_double(v));
    return relu(dot<T>(ta, tb));
}

template <class... Ts>
void add_each_type(std::vector<number_row>& rows, const std::string& name, const std::vector<double>& a,
                   const std::vector<double>& b) {
    const rational exact = relu(exact_dot(a, b));
    (rows.push_back(describe_result(name, relu_of_dot<Ts>(a, b), exact)), ...);
}

struct number_misses {
    std::size_t by_enclosure = 0, by_double = 0, rigorous = 0;
};

number_misses misses(const number_types_section& s) {
    number_misses m;
    for (const auto& r : s.rows) {
        if (r.guarantee != "approximate") ++m.rigorous;
        if (!r.contains_exact) (r.guarantee == "approximate" ? m.by_double : m.by_enclosure)++;
    }
    return m;
}

}  // namespace

number_types_section run_number_types() {
    struct computation {
        std::string name;
        std::vector<double> a, b;
    };
    const std::vector<computation> computations = {
        {"relu(0.1*1 + 0.2*1)", {0.1, 0.2}, {1, 1}},
        {"relu(1e16 + 1 - 1e16)", {1e16, 1, -1e16}, {1, 1, 1}},
        {"relu(2^-1074 * 0.5 + 2^-1074 * 0.25)", {0x1p-1074, 0x1p-1074}, {0.5, 0.25}},
        {"relu(1 - 3 * (1/3))", {1, -3}, {1, 1.0 / 3.0}},
    };
    number_types_section s;
    s.precision_bits = arith::working_precision();
    for (const auto& c : computations)
        add_each_type<double, rational, mpfr_real, interval_double, mpfi_interval>(s.rows, c.name, c.a, c.b);
    return s;
}

nlohmann::json to_json(const number_types_section& s) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : s.rows)
        results.push_back({{"computation", r.computation}, {"type", r.type}, {"guarantee", r.guarantee}, {"lower", r.lower},
                           {"upper", r.upper}, {"width", r.width}, {"contains_exact", r.contains_exact}});
    return {{"precision_bits", s.precision_bits}, {"results", results}};
}

std::string to_markdown(const number_types_section& s) {
    report::markdown_table t{{"computation", "type", "guarantee", "lower", "upper", "contains exact?"}, {}, {}};
    for (const auto& r : s.rows) t.rows.push_back({r.computation, r.type, r.guarantee, r.lower, r.upper, r.contains_exact ? "yes" : "NO"});
    const auto m = misses(s);
    return "## 1. Number types on hostile computations\n\nEach computation is a dot product followed by ReLU, in each "
           "of qbound's number types; the exact result is computed in rationals (GMP).\n\n" +
           report::to_markdown(t) +
           fmt::format("\nEnclosures missing the exact result: {} (must be 0). Plain double missing it: {}.\n\n", m.by_enclosure,
                       m.by_double);
}

std::string summary_row(const number_types_section& s) {
    const auto m = misses(s);
    return fmt::format("| number types | {} results in rational, MPFR and interval types: {} miss the exact result; "
                       "plain double misses it in {} of 4 computations |\n",
                       m.rigorous, m.by_enclosure, m.by_double);
}

}  // namespace qbound::experiments
