#pragma once
// Errors of the arithmetic layer's own domain. Every invalid operand (NaN, a
// bound that would make an enclosure meaningless) is reported by domain_error,
// an absurd configuration value (precision, mismatched sizes) by
// core::invalid_argument; never by undefined behaviour or a silent NaN.
#include "qbound/core/errors.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>

namespace qbound::arith {

// An operand outside the domain of an operation (NaN, division by an exact
// zero, an interval with lower > upper, an infinite point value, ...).
class domain_error : public std::domain_error {
public:
    using std::domain_error::domain_error;
};

// Throws core::invalid_argument "<what>: operand sizes differ (a vs b)".
inline void check_same_size(std::size_t a, std::size_t b, const char* what) {
    if (a != b)
        throw core::invalid_argument(std::string(what) + ": operand sizes differ (" + std::to_string(a) + " vs " +
                                     std::to_string(b) + ")");
}

}  // namespace qbound::arith
