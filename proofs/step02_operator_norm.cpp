// Proof step 2 (THEOREMS.md section 4, step 2): the operator-norm inequality.
//
// Statement. For a real matrix A (rows x cols) and x in R^cols:
//   (a) ||A x||_inf <= ||A||_{inf->inf} ||x||_inf, with ||A||_{inf->inf} = max_i sum_j |A_ij|;
//   (b) equality holds at x = sign(row i*) for a heaviest row i* (sign(0) := 1);
//   (c) ||A||_{inf->inf} <= (max number of non-zeros in a row) * max_ij |A_ij|.
// Proof sketch: |(A x)_i| <= sum_j |A_ij| |x_j| <= (sum_j |A_ij|) ||x||_inf;
// at x = sign(row i*) the i*-th sum has no cancellation; each row sum has at
// most nnz terms, each at most max |A_ij|.
//
// Checked exactly in rationals (bounds::operator_norm_inf, the library's
// function) on random and hostile matrices: sparse, zero rows, one dominant
// entry, equal magnitudes, exponents from 2^-300 to 2^300. Negative controls
// weaken (a) by 2^-40 and (c) by one non-zero; both must be refuted.
#include "qbound/bounds/norms.hpp"

#include "property_support.hpp"

#include <cmath>

using namespace qbound;
using arith::rational;
using arith::to_rational;
using qbound::test::inf_norm;
using qbound::test::property_cases;
using qbound::test::property_seed;

namespace {

struct matrix_case {
    std::size_t rows = 1, cols = 1;
    std::vector<double> A;
    std::string family;
};

matrix_case draw_matrix(testing::operand_generator& gen) {
    matrix_case m;
    m.rows = static_cast<std::size_t>(gen.uniform_int(1, 10));
    m.cols = static_cast<std::size_t>(gen.uniform_int(1, 30));
    m.A.resize(m.rows * m.cols);
    switch (gen.uniform_int(0, 4)) {
        case 0:
            m.family = "random";
            for (auto& v : m.A) v = gen.moderate();
            break;
        case 1:
            m.family = "sparse with zero rows";
            for (auto& v : m.A) v = gen.chance(0.6) ? 0.0 : gen.moderate();
            for (std::size_t j = 0; j < m.cols; ++j) m.A[j] = 0.0;  // row 0 is zero
            break;
        case 2: {
            m.family = "one dominant entry";
            for (auto& v : m.A) v = std::ldexp(gen.moderate(), -200);
            m.A[static_cast<std::size_t>(gen.uniform_int(0, static_cast<std::int64_t>(m.A.size()) - 1))] = std::ldexp(gen.moderate(), 200);
            break;
        }
        case 3: {
            m.family = "equal magnitudes";
            const double c = std::fabs(gen.few_bits());
            for (auto& v : m.A) v = gen.chance(0.5) ? c : -c;
            break;
        }
        default:
            m.family = "extreme exponents";
            for (auto& v : m.A) v = std::ldexp(1.0 + static_cast<double>(gen.uniform_int(0, 1023)) / 1024, static_cast<int>(gen.uniform_int(-300, 300))) * (gen.chance(0.5) ? 1 : -1);
            break;
    }
    return m;
}

std::vector<rational> multiply(const matrix_case& m, const std::vector<rational>& x) {
    std::vector<rational> y(m.rows, rational(0));
    for (std::size_t i = 0; i < m.rows; ++i)
        for (std::size_t j = 0; j < m.cols; ++j) y[i] += to_rational(m.A[i * m.cols + j]) * x[j];
    return y;
}

// Checks (a), (b), (c) with the constants `factor_a` (1 for the true claim)
// and `nnz_slack` (0 for the true claim) and returns the property result.
testing::property_result check_operator_norm(const rational& factor_a, std::size_t nnz_slack, std::size_t cases,
                                                  std::uint64_t seed) {
    auto res = testing::start_result("operator norm inequality (factor " + arith::to_decimal(factor_a, 8) +
                                              ", nnz slack " + std::to_string(nnz_slack) + ")",
                                          "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t k = 0; k < cases; ++k) {
        const matrix_case m = draw_matrix(gen);
        const rational norm = bounds::operator_norm_inf(m.A, m.rows, m.cols);
        std::string failure;
        // (a) on random x, sometimes a vertex of the cube, sometimes tiny.
        for (int t = 0; t < 3 && failure.empty(); ++t) {
            std::vector<rational> x(m.cols);
            const double scale = gen.chance(0.2) ? 0x1p-100 : 1.0;
            for (auto& e : x) e = to_rational(gen.chance(0.5) ? (gen.chance(0.5) ? scale : -scale) : scale * (2 * std::ldexp(static_cast<double>(gen.uniform_int(0, 1 << 20)), -20) - 1));
            if (inf_norm(multiply(m, x)) > factor_a * norm * inf_norm(x)) failure = "(a) fails on a random x";
        }
        // (b) equality at sign(heaviest row).
        if (failure.empty()) {
            std::size_t heaviest = 0;
            rational best = -1;
            for (std::size_t i = 0; i < m.rows; ++i) {
                rational s = 0;
                for (std::size_t j = 0; j < m.cols; ++j) s += arith::abs(to_rational(m.A[i * m.cols + j]));
                if (s > best) best = s, heaviest = i;
            }
            std::vector<rational> x(m.cols);
            for (std::size_t j = 0; j < m.cols; ++j) x[j] = m.A[heaviest * m.cols + j] < 0 ? -1 : 1;
            const rational attained = inf_norm(multiply(m, x));
            if (attained != norm) failure = "(b) sign(row) does not attain the norm";
            else if (attained > factor_a * norm) failure = "(a) fails at sign(heaviest row)";
        }
        // (c) the non-zero count bound.
        if (failure.empty()) {
            const std::size_t nnz = bounds::max_row_nonzeros(m.A, m.rows, m.cols);
            const std::size_t counted = nnz >= nnz_slack ? nnz - nnz_slack : 0;
            if (norm > rational(counted) * bounds::max_abs_entry(m.A)) failure = "(c) norm exceeds nnz * max|A_ij|";
        }
        ++res.cases;
        if (!failure.empty() && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, k, m.family) + std::to_string(m.rows) + " x " +
                                 std::to_string(m.cols) + ": " + failure;
    }
    return res;
}

}  // namespace

TEST_CASE("step 2: ||Ax|| <= ||A|| ||x||, equality at sign(heaviest row), and the nnz bound", "[proofs][step2]") {
    QBOUND_REQUIRE_PROPERTY(check_operator_norm(1, 0, property_cases(20000), property_seed()));
}

TEST_CASE("step 2 negative controls: a smaller factor or one non-zero fewer is refuted", "[proofs][step2][negative]") {
    const rational almost_one = rational(1) - rational(1) / (arith::integer(1) << 40);
    QBOUND_REQUIRE_REFUTED(check_operator_norm(almost_one, 0, 2000, property_seed()));
    QBOUND_REQUIRE_REFUTED(check_operator_norm(1, 1, 2000, property_seed()));
}
