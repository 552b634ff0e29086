#include "qbound/arith/precision.hpp"

#include "qbound/arith/errors.hpp"

#include <string>

namespace qbound::arith {

namespace {
thread_local long current_working_precision = default_precision_bits;
}

mpfr_prec_t checked_precision(long bits, const char* what) {
    if (bits < min_precision_bits || bits > max_precision_bits) {
        throw core::invalid_argument(std::string(what) + " must be between " + std::to_string(min_precision_bits) +
                               " and " + std::to_string(max_precision_bits) + " bits, got " +
                               std::to_string(bits));
    }
    return static_cast<mpfr_prec_t>(bits);
}

long working_precision() { return current_working_precision; }

void set_working_precision(long bits) {
    checked_precision(bits, "working precision");
    current_working_precision = bits;
}

precision_scope::precision_scope(long bits) : saved_(current_working_precision) {
    set_working_precision(bits);
}

precision_scope::~precision_scope() { current_working_precision = saved_; }

}  // namespace qbound::arith
