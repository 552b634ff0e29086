// `qbound selfcheck`: runs experiments::run_selfcheck
// (qbound/experiments/selfcheck.hpp) and prints its findings, or its JSON.
#include "commands.hpp"

#include "qbound/experiments/selfcheck.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace qbound::cli {

int run_selfcheck(const selfcheck_options& opt) {
    using testing::property_result;
    if (!opt.json) fmt::print(stderr, "qbound selfcheck: {} cases per operation and type, seed {}\n", opt.cases, opt.seed);
    std::function<void(const property_result&)> on_property;
    if (!opt.json)
        on_property = [](const property_result& r) {
            fmt::print(stderr, "  {:<24} {:<16} {:>9} cases  {}\n", r.property, r.type, r.cases, r.passed() ? "ok" : "FAILED");
        };
    const auto r = experiments::run_selfcheck({opt.cases, opt.seed}, on_property);
    if (opt.json) {
        std::cout << experiments::to_json(r).dump(2) << "\n";
    } else {
        fmt::print("\nFloating-point environment\n");
        for (const auto& f : r.environment) fmt::print("  [{}] {:<44} {}\n", f.ok ? " ok " : "FAIL", f.name, f.detail);
        fmt::print("\nNetworks built by this binary (builders, zoo shapes, fast path against exact rationals; {:.2f} s)\n",
                   r.network_seconds);
        for (const auto& f : r.networks) fmt::print("  [{}] {:<44} {}\n", f.ok ? " ok " : "FAIL", f.name, f.detail);
        std::size_t total = 0;
        for (const auto& p : r.properties) total += p.cases;
        fmt::print("\nProperties: {} checks, {} cases in all\n", r.properties.size(), total);
        for (const auto& p : r.properties)
            if (!p.passed()) fmt::print("  FAILED {} / {}: {}\n", p.property, p.type, p.counterexample);
        fmt::print("\nNegative control (interval rounding to nearest, no widening): {}\n",
                   r.control_caught ? fmt::format("caught, {} of {} cases fail", r.control.failures, r.control.cases)
                                    : std::string("NOT caught: the checker is too weak"));
        if (r.control_caught) fmt::print("  e.g. {}\n", r.control.counterexample);
        fmt::print("\nselfcheck {} in {:.1f} s\n", r.ok ? "passed: enclosures are sound in this binary" : "FAILED: do not trust this binary's enclosures",
                   r.seconds);
    }
    if (!r.ok) {
        for (const auto& f : r.environment)
            if (!f.ok) std::cerr << "qbound selfcheck: UNSOUND: " << f.name << ": " << f.detail << "\n";
        for (const auto& f : r.networks)
            if (!f.ok) std::cerr << "qbound selfcheck: UNSOUND: " << f.name << ": " << f.detail << "\n";
        std::cerr << "qbound selfcheck: FAILED (see the report above)\n";
    }
    return r.ok ? 0 : 1;
}

}  // namespace qbound::cli
