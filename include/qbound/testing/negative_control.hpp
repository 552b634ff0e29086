#pragma once
// Negative control for the enclosure checkers: Boost.Interval that rounds
// endpoints to nearest without widening. It is *unsound* (0.1 + 0.2 becomes a
// point that misses the exact sum); the checkers of enclosure_check.hpp must
// catch it (tests/arith/negative_controls.cpp, `qbound selfcheck`). Never use
// it for anything else.
#include "qbound/arith/interval_double.hpp"

#include <boost/numeric/interval.hpp>

namespace qbound::testing {

using round_to_nearest_interval = boost::numeric::interval<
    double, boost::numeric::interval_lib::policies<
                boost::numeric::interval_lib::save_state_nothing<boost::numeric::interval_lib::rounded_arith_exact<
                    double, boost::numeric::interval_lib::rounding_control<double>>>,
                arith::detail::checking_qbound>>;

}  // namespace qbound::testing
