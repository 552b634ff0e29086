// Negative controls: each checker must refute a deliberately weakened claim.
// If one of these passes silently, the corresponding property test could not
// fail either, and its green result would mean nothing.
#include "property_support.hpp"
#include "qbound/testing/negative_control.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_seed;

namespace {

// An "interval" that widens only the upper bound: half sound, still wrong.
struct upper_only_rounding : detail::rounded_arith_eft {
    double add_down(double x, double y) { return x + y; }
    double sub_down(double x, double y) { return x - y; }
    double mul_down(double x, double y) { return x * y; }
    double div_down(double x, double y) { return x / y; }
};
using upper_only_interval = boost::numeric::interval<
    double, boost::numeric::interval_lib::policies<
                boost::numeric::interval_lib::save_state_nothing<upper_only_rounding>, detail::checking_qbound>>;

// An interval type (sound arithmetic) whose activations are wrong: found by
// argument-dependent lookup through its rounding policy's namespace, so the
// generic checker calls these instead of qbound's.
struct wrong_activation_rounding : detail::rounded_arith_eft {};
using wrong_activation_interval = boost::numeric::interval<
    double, boost::numeric::interval_lib::policies<
                boost::numeric::interval_lib::save_state_nothing<wrong_activation_rounding>, detail::checking_qbound>>;

// relu forgets to clamp the upper end when the whole interval is negative.
wrong_activation_interval relu(const wrong_activation_interval& x) {
    return wrong_activation_interval(x.lower() > 0 ? x.lower() : 0.0, x.upper(), true);
}
// relu6 forgets the upper clamp at 6.
wrong_activation_interval relu6(const wrong_activation_interval& x) {
    return wrong_activation_interval(x.lower() > 0 ? x.lower() : 0.0, x.upper() > 0 ? x.upper() : 0.0, true);
}
// abs takes |.| of the endpoints only, wrong when the interval straddles 0.
wrong_activation_interval abs(const wrong_activation_interval& x) {
    const double a = std::fabs(x.lower()), b = std::fabs(x.upper());
    return wrong_activation_interval(std::min(a, b), std::max(a, b), true);
}

}  // namespace

TEST_CASE("the enclosure checker rejects wrong activations and abs", "[arith][negative]") {
    for (auto op : {unary_op::relu, unary_op::relu6, unary_op::abs}) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_REFUTED(check_unary<wrong_activation_interval>(op, 10000, property_seed()));
        }
    }
}

TEST_CASE("the enclosure checker rejects round-to-nearest intervals", "[arith][negative]") {
    // 10,000 cases are plenty: most hostile cases are inexact.
    for (auto op : {binary_op::add, binary_op::sub, binary_op::mul, binary_op::div}) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_REFUTED(check_binary<round_to_nearest_interval>(op, 10000, property_seed()));
        }
    }
    QBOUND_REQUIRE_REFUTED(check_dot<round_to_nearest_interval>(2000, property_seed()));
}

TEST_CASE("the enclosure checker rejects intervals rounded on one side only", "[arith][negative]") {
    for (auto op : {binary_op::add, binary_op::sub, binary_op::mul, binary_op::div}) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_REFUTED(check_binary<upper_only_interval>(op, 10000, property_seed()));
        }
    }
}

TEST_CASE("the negative control's counterexample is shrunk and replayable", "[arith][negative]") {
    const auto r = check_binary<round_to_nearest_interval>(binary_op::add, 1000, 42);
    REQUIRE(r.failures > 0);
    INFO(r.counterexample);
    CHECK(r.counterexample.find("seed 42") != std::string::npos);
    CHECK(r.counterexample.find("misses the exact value") != std::string::npos);
    const auto d = check_dot<round_to_nearest_interval>(200, 42);
    REQUIRE(d.failures > 0);
    INFO(d.counterexample);
    // Shrinking keeps only the entries needed: at most a handful.
    CHECK(d.counterexample.find("dot of length ") != std::string::npos);
    CHECK(d.counterexample.find("; ...") == std::string::npos);
}

TEST_CASE("the MPFR checker rejects faithful but not correctly rounded results", "[arith][negative]") {
    // Rounding toward zero is within one ulp (faithful) but not to nearest.
    const mpfr_binary_impl toward_zero = [](binary_op op, const mpfr_real& x, const mpfr_real& y) {
        mpfr_real r = make_mpfr_result(std::max(x.precision(), y.precision()));
        switch (op) {
            case binary_op::add: mpfr_add(r.get(), x.get(), y.get(), MPFR_RNDZ); break;
            case binary_op::sub: mpfr_sub(r.get(), x.get(), y.get(), MPFR_RNDZ); break;
            case binary_op::mul: mpfr_mul(r.get(), x.get(), y.get(), MPFR_RNDZ); break;
            case binary_op::div:
                if (mpfr_zero_p(y.get())) throw domain_error("division by zero");
                mpfr_div(r.get(), x.get(), y.get(), MPFR_RNDZ);
                break;
            case binary_op::max: mpfr_max(r.get(), x.get(), y.get(), MPFR_RNDZ); break;
        }
        return r;
    };
    for (auto op : {binary_op::add, binary_op::sub, binary_op::mul, binary_op::div}) {
        DYNAMIC_SECTION(to_string(op)) {
            QBOUND_REQUIRE_REFUTED(check_mpfr_binary(op, 10000, property_seed(), toward_zero));
        }
    }
    // Ties must go to even: rounding ties away from zero is caught.
    const mpfr_binary_impl ties_away = [](binary_op op, const mpfr_real& x, const mpfr_real& y) {
        mpfr_real r = make_mpfr_result(std::max(x.precision(), y.precision()));
        if (op == binary_op::add) {
            mpfr_round_nearest_away_begin(r.get());
            const int t = mpfr_add(r.get(), x.get(), y.get(), MPFR_RNDN);
            mpfr_round_nearest_away_end(r.get(), t);
        } else {
            r = mpfr_apply(op, x, y);
        }
        return r;
    };
    QBOUND_REQUIRE_REFUTED(check_mpfr_binary(binary_op::add, 20000, property_seed(), ties_away));
}

TEST_CASE("the MPFR dot checker rejects a dot product that rounds at every step", "[arith][negative]") {
    const mpfr_dot_impl stepwise = [](std::span<const mpfr_real> a, std::span<const mpfr_real> b, long bits) {
        mpfr_real acc = make_mpfr_result(bits), term = make_mpfr_result(bits);
        for (std::size_t i = 0; i < a.size(); ++i) {
            mpfr_mul(term.get(), a[i].get(), b[i].get(), MPFR_RNDN);
            mpfr_add(acc.get(), acc.get(), term.get(), MPFR_RNDN);
        }
        return acc;
    };
    QBOUND_REQUIRE_REFUTED(check_mpfr_dot(2000, property_seed(), 4096, stepwise));
}
