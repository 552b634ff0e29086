#pragma once
// Errors raised by the arithmetic layer. Every invalid operand (NaN, a bound
// that would make an enclosure meaningless, an absurd precision) is reported
// by one of these, never by undefined behaviour or a silent NaN.
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

// A configuration value outside its accepted range (precision, counts, ...).
class invalid_argument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Throws invalid_argument "<what>: operand sizes differ (a vs b)".
inline void check_same_size(std::size_t a, std::size_t b, const char* what) {
    if (a != b)
        throw invalid_argument(std::string(what) + ": operand sizes differ (" + std::to_string(a) + " vs " +
                               std::to_string(b) + ")");
}

}  // namespace qbound::arith
