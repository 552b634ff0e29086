// dot and matvec written once over the scalar types: each exact or enclosure
// type contains the exact output of a matrix-vector product plus bias followed
// by ReLU (plain double may overflow to NaN on these hostile inputs, and its
// ReLU then throws, so it is exercised separately below).
#include "property_support.hpp"

using namespace qbound::arith;
using namespace qbound::testing;
using qbound::test::property_seed;

namespace {

template <class T>
std::vector<T> convert(const std::vector<double>& v) {
    std::vector<T> out;
    for (double x : v) out.push_back(scalar_traits<T>::from_double(x));
    return out;
}

// relu(A x + b) in type T, compared to the exact rational result.
template <class T>
void check_layer(const std::vector<double>& A, std::size_t rows, std::size_t cols, const std::vector<double>& x,
                 const std::vector<double>& b, const std::vector<rational>& exact) {
    const auto tA = convert<T>(A), tx = convert<T>(x), tb = convert<T>(b);
    const auto y = matvec<T>(tA, rows, cols, tx, tb);
    REQUIRE(y.size() == rows);
    for (std::size_t i = 0; i < rows; ++i) {
        const T out = relu(y[i]);
        if constexpr (scalar_traits<T>::kind == guarantee::exact || scalar_traits<T>::kind == guarantee::enclosure) {
            INFO("type " << scalar_traits<T>::name << ", row " << i);
            REQUIRE(contains(out, exact[i]));
        }
    }
}

}  // namespace

TEST_CASE("matvec + bias + ReLU: exact and enclosure types contain the exact layer output", "[arith][linalg]") {
    operand_generator gen(property_seed());
    for (int trial = 0; trial < 300; ++trial) {
        const auto rows = static_cast<std::size_t>(gen.uniform_int(1, 12));
        const auto cols = static_cast<std::size_t>(gen.uniform_int(1, 40));
        std::vector<double> A(rows * cols), x(cols), b(rows);
        for (auto& v : A) v = gen.moderate();
        for (auto& v : x) v = gen.chance(0.2) ? gen.special() : gen.moderate();
        for (auto& v : b) v = gen.moderate();
        std::vector<rational> exact(rows);
        for (std::size_t i = 0; i < rows; ++i) {
            std::vector<double> row(A.begin() + static_cast<std::ptrdiff_t>(i * cols),
                                    A.begin() + static_cast<std::ptrdiff_t>((i + 1) * cols));
            exact[i] = relu(exact_dot(row, x) + to_rational(b[i]));
        }
        INFO("seed " << property_seed() << ", trial " << trial);
        check_layer<rational>(A, rows, cols, x, b, exact);
        check_layer<interval_double>(A, rows, cols, x, b, exact);
        check_layer<mpfi_interval>(A, rows, cols, x, b, exact);
        check_layer<mpfr_real>(A, rows, cols, x, b, exact);
    }
}

TEST_CASE("mpfr dot within a matvec is correctly rounded", "[arith][linalg]") {
    // A single row without bias: exactly one rounding.
    const std::vector<double> row{1e16, 1.0, -1e16}, x{1.0, 1.0, 1.0};
    const auto y = matvec<mpfr_real>(convert<mpfr_real>(row), 1, 3, convert<mpfr_real>(x));
    CHECK(y[0].to_rational() == 1);
    CHECK(matvec<double>(row, 1, 3, x)[0] == 0.0);  // plain double loses it
}
