#pragma once
// `qbound selfcheck`: is this binary's arithmetic sound, here and now? The
// floating-point environment, randomized and hostile property checks of
// every enclosure type, a negative control the checker must catch (an
// interval type rounding to nearest), and what a miscompiled library breaks
// beyond the arithmetic: network builders, zoo shapes, and the fast path's
// enclosures against exact rationals.
#include "qbound/testing/enclosure_check.hpp"
#include "qbound/testing/environment_check.hpp"
#include "qbound/net/network_check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace qbound::experiments {

struct selfcheck_options {
    std::size_t cases = 20000;  // per operation and type
    std::uint64_t seed = 20261127;
};

struct selfcheck_report {
    selfcheck_options options;
    std::vector<testing::environment_finding> environment;
    std::vector<testing::property_result> properties;
    testing::property_result control;  // the unsound-on-purpose interval type
    bool control_caught = false;
    std::vector<net::structure_finding> networks;
    double seconds = 0, network_seconds = 0;
    bool ok = false;  // every check passed and the control was caught
};

// on_property (may be empty) is told each property check as it finishes.
selfcheck_report run_selfcheck(const selfcheck_options& opt,
                               const std::function<void(const testing::property_result&)>& on_property = {});

nlohmann::json to_json(const selfcheck_report& r);  // what `qbound selfcheck --json` prints

}  // namespace qbound::experiments
