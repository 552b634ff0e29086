#pragma once
// Section 1 of `qbound demo` (and all of `qbound demo --numbers-only`): each
// of qbound's number types on small hostile computations (a dot product, then
// ReLU), against the exact rational result.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace qbound::experiments {

struct number_row {
    std::string computation, type, guarantee, lower, upper, width;
    bool contains_exact = false;
};

struct number_types_section {
    long precision_bits = 0;  // MPFR/MPFI precision the rows were computed at
    std::vector<number_row> rows;
};

// At the current MPFR/MPFI precision (arith::precision_scope).
number_types_section run_number_types();

nlohmann::json to_json(const number_types_section& s);  // {"precision_bits", "results"}
std::string to_markdown(const number_types_section& s);
std::string summary_row(const number_types_section& s);  // its row of the demo's summary table

}  // namespace qbound::experiments
