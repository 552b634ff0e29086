// `qbound demo`: the same hostile computations in every number type.
#include "commands.hpp"

#include "qbound/arith/exact_dot.hpp"
#include "qbound/arith/linalg.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace qbound::cli {

namespace {

using namespace qbound::arith;

struct row {
    std::string computation, type, guarantee, lower, upper, width;
    bool contains_exact = false;
};

std::string show(double x) { return fmt::format("{:.17g}", x); }
std::string show(const rational& q) { return to_decimal(q, 17); }
std::string show(const mpfr_real& x) { return x.to_string(17); }
std::string show_width(double w) { return fmt::format("{:.3g}", w); }
std::string show_width(const rational& w) { return show_width(nearest_double(w)); }
std::string show_width(const mpfr_real& w) { return show_width(w.to_double()); }

template <class T>
row describe_result(const std::string& computation, const T& value, const rational& exact) {
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

template <class T>
void add_all(std::vector<row>& rows, const std::string& name, const std::vector<double>& a, const std::vector<double>& b) {
    const rational exact = relu(exact_dot(a, b));
    rows.push_back(describe_result(name, relu_of_dot<T>(a, b), exact));
}

template <class... Ts>
void add_each_type(std::vector<row>& rows, const std::string& name, const std::vector<double>& a, const std::vector<double>& b) {
    (add_all<Ts>(rows, name, a, b), ...);
}

}  // namespace

int run_demo(const demo_options& opt) {
    precision_scope scope(opt.precision);
    std::vector<row> rows;
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
    for (const auto& c : computations)
        add_each_type<double, rational, mpfr_real, interval_double, mpfi_interval>(rows, c.name, c.a, c.b);

    if (opt.json) {
        nlohmann::json j;
        j["precision_bits"] = opt.precision;
        for (const auto& r : rows)
            j["results"].push_back({{"computation", r.computation}, {"type", r.type}, {"guarantee", r.guarantee},
                                    {"lower", r.lower}, {"upper", r.upper}, {"width", r.width},
                                    {"contains_exact", r.contains_exact}});
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    fmt::print("qbound demo: one computation, five number types (MPFR/MPFI at {} bits)\n", opt.precision);
    fmt::print("'exact?' says whether the value (or enclosure) contains the exact real result.\n");
    std::string current;
    for (const auto& r : rows) {
        if (r.computation != current) {
            current = r.computation;
            fmt::print("\n{}\n  {:<16} {:<18} {:<25} {:<25} {:<11} {}\n", current, "type", "guarantee", "lower", "upper", "width", "exact?");
        }
        fmt::print("  {:<16} {:<18} {:<25} {:<25} {:<11} {}\n", r.type, r.guarantee, r.lower, r.upper,
                   r.width, r.contains_exact ? "yes" : "NO");
    }
    fmt::print("\nEvery enclosure contains the exact result; plain double may not (that is why qbound exists).\n");
    return 0;
}

}  // namespace qbound::cli
