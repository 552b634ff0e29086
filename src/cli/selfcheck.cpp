// `qbound selfcheck`: is this binary's arithmetic sound, here and now?
#include "commands.hpp"

#include "qbound/arith/enclosure_check.hpp"
#include "qbound/arith/environment_check.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <vector>

namespace qbound::cli {

namespace {

using namespace qbound::arith;
using namespace qbound::arith::check;

std::vector<property_result> run_properties(std::size_t cases, std::uint64_t seed, bool progress) {
    std::vector<property_result> results;
    auto record = [&](property_result r) {
        if (progress) fmt::print(stderr, "  {:<24} {:<16} {:>9} cases  {}\n", r.property, r.type, r.cases, r.passed() ? "ok" : "FAILED");
        results.push_back(std::move(r));
    };
    for (auto op : all_binary_ops) {
        record(check_binary<interval_double>(op, cases, seed));
        record(check_binary<mpfi_interval>(op, cases, seed));
        record(check_mpfr_binary(op, cases, seed));
    }
    for (auto op : all_unary_ops) {
        record(check_unary<interval_double>(op, cases, seed));
        record(check_unary<mpfi_interval>(op, cases, seed));
        record(check_mpfr_unary(op, cases, seed));
    }
    // Dot products up to length 4096; fewer cases since each is long.
    const std::size_t dot_cases = std::max<std::size_t>(1, cases / 10);
    record(check_dot<interval_double>(dot_cases, seed));
    record(check_dot<mpfi_interval>(dot_cases, seed));
    record(check_mpfr_dot(dot_cases, seed));
    return results;
}

}  // namespace

int run_selfcheck(const selfcheck_options& opt) {
    const auto start = std::chrono::steady_clock::now();
    const auto environment = check_environment();
    if (!opt.json) fmt::print(stderr, "qbound selfcheck: {} cases per operation and type, seed {}\n", opt.cases, opt.seed);
    const auto properties = run_properties(opt.cases, opt.seed, !opt.json);
    // The checker must reject an interval type that rounds to nearest only.
    const auto control = check_binary<round_to_nearest_interval>(binary_op::add, opt.cases, opt.seed);
    const bool control_caught = !control.passed();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    bool ok = control_caught;
    for (const auto& f : environment) ok = ok && f.ok;
    for (const auto& p : properties) ok = ok && p.passed();

    if (opt.json) {
        nlohmann::json j;
        j["verdict"] = ok ? "SOUND" : "UNSOUND";
        j["seed"] = opt.seed;
        j["seconds"] = seconds;
        for (const auto& f : environment) j["environment"].push_back({{"check", f.name}, {"ok", f.ok}, {"detail", f.detail}});
        for (const auto& p : properties)
            j["properties"].push_back({{"property", p.property}, {"type", p.type}, {"cases", p.cases},
                                       {"failures", p.failures}, {"counterexample", p.counterexample}});
        j["negative_control"] = {{"type", "round-to-nearest interval (unsound on purpose)"},
                                 {"caught", control_caught}, {"failures", control.failures},
                                 {"cases", control.cases}, {"counterexample", control.counterexample}};
        std::cout << j.dump(2) << "\n";
    } else {
        fmt::print("\nFloating-point environment\n");
        for (const auto& f : environment) fmt::print("  [{}] {:<44} {}\n", f.ok ? " ok " : "FAIL", f.name, f.detail);
        std::size_t total = 0;
        for (const auto& p : properties) total += p.cases;
        fmt::print("\nProperties: {} checks, {} cases in all\n", properties.size(), total);
        for (const auto& p : properties)
            if (!p.passed()) fmt::print("  FAILED {} / {}: {}\n", p.property, p.type, p.counterexample);
        fmt::print("\nNegative control (interval rounding to nearest, no widening): {}\n",
                   control_caught ? fmt::format("caught, {} of {} cases fail", control.failures, control.cases)
                                  : std::string("NOT caught: the checker is too weak"));
        if (control_caught) fmt::print("  e.g. {}\n", control.counterexample);
        fmt::print("\nselfcheck {} in {:.1f} s\n", ok ? "passed: enclosures are sound in this binary" : "FAILED: do not trust this binary's enclosures", seconds);
    }
    if (!ok) std::cerr << "qbound selfcheck: FAILED (see the report above)\n";
    return ok ? 0 : 1;
}

}  // namespace qbound::cli
