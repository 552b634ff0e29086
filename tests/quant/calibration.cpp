// Calibration inputs: CSV and .npy files (good and hostile), sampling from
// Omega, and the errors AdaRound reports for bad calibration data.
#include "qbound/net/init.hpp"
#include "qbound/net/zoo.hpp"
#include "qbound/quant/calibration.hpp"
#include "qbound/quant/quantize.hpp"

#include "property_support.hpp"
#include "test_files.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

using namespace qbound;
using Catch::Matchers::Contains;

namespace {

// A .npy file: magic, version, little-endian header length, the header
// dict padded with spaces to a multiple of 64 bytes, then the data.
std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& data, int major = 1,
                      const std::string& fortran = "False") {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    const std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    const std::size_t len = header.size();
    for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
    return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& values) {
    std::string out;
    for (T v : values) {
        using U = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
        const U bits = std::bit_cast<U>(v);
        for (std::size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
    }
    return out;
}

std::string temp(const std::string& bytes, const std::string& tag, const std::string& ext) {
    return qbound::test::write_temp_file(bytes, "calib-" + tag, ext);
}

}  // namespace

TEST_CASE("CSV calibration files: values, comments, blank lines, signs", "[quant][calibration]") {
    const auto path = temp("# two inputs of dimension 3\n0.5, -1.25,3e-2\n\n  +1,0x1p-3 ,-0\r\n", "good", ".csv");
    // 0x1p-3 is not decimal: from_chars (general format) stops at 'x'.
    CHECK_THROWS_WITH(quant::read_calibration(path, 3), Contains("line 4, column 2") && Contains("not a number"));
    const auto good = temp("# two inputs of dimension 3\n0.5, -1.25,3e-2\n\n  +1,0.125 ,-0\r\n", "good2", ".csv");
    const auto rows = quant::read_calibration(good, 3);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] == std::vector<double>{0.5, -1.25, 3e-2});
    CHECK(rows[1] == std::vector<double>{1, 0.125, -0.0});
    CHECK(std::signbit(rows[1][2]));
}

TEST_CASE("bad CSV calibration files name the file, line and column", "[quant][calibration]") {
    CHECK_THROWS_WITH(quant::read_calibration(temp("", "empty", ".csv"), 2), Contains("calib-empty.csv") && Contains("no calibration inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("# only a comment\n\n", "comment", ".csv"), 2), Contains("no calibration inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("1,2\n1,2,3\n", "wide", ".csv"), 2),
                      Contains("line 2: 3 values, the network takes 2 inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("1\n", "narrow", ".csv"), 2), Contains("line 1: 1 values, the network takes 2 inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("1,abc\n", "text", ".csv"), 2), Contains("line 1, column 2: 'abc' is not a number"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("1,2\n3,nan\n", "nan", ".csv"), 2), Contains("line 2, column 2: value is NaN"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("-inf,2\n", "inf", ".csv"), 2), Contains("line 1, column 1: value is infinite"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("1e999,2\n", "big", ".csv"), 2), Contains("out of the double range"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("1,,2\n", "hole", ".csv"), 3), Contains("line 1, column 2: empty value"));
    CHECK_THROWS_WITH(quant::read_calibration("/nonexistent/qbound-calib.csv", 2), Contains("cannot be opened"));
}

TEST_CASE(".npy calibration files: float64, float32, [n, d] and [n, C, H, W], versions 1 and 2", "[quant][calibration]") {
    const std::vector<double> v64{0.5, -1.0, 0.1, 2.0, -0.0, 3.25};
    auto rows = quant::read_calibration(temp(npy_bytes("<f8", "(3, 2)", raw(v64)), "f8", ".npy"), 2);
    REQUIRE(rows.size() == 3);
    CHECK(rows[1] == std::vector<double>{0.1, 2.0});
    const std::vector<float> v32{0.1f, -2.5f, 1e-40f, 7.0f};
    rows = quant::read_calibration(temp(npy_bytes("<f4", "(1, 1, 2, 2)", raw(v32), 2), "f4", ".npy"), 4);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0] == static_cast<double>(0.1f));  // float widens exactly
    CHECK(rows[0][2] == static_cast<double>(1e-40f));
}

TEST_CASE("bad .npy calibration files are refused with the reason", "[quant][calibration]") {
    const std::vector<double> v{1, 2, 3, 4};
    CHECK_THROWS_WITH(quant::read_calibration(temp("", "empty", ".npy"), 2), Contains("no calibration inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(0, 2)", ""), "zero", ".npy"), 2), Contains("no calibration inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(2, 2)", raw(v)), "dim", ".npy"), 3),
                      Contains("2 values per input, the network takes 3 inputs"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(2, 2)", raw(v).substr(0, 20)), "trunc", ".npy"), 2),
                      Contains("truncated data"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(2, 2)", raw(v)).substr(0, 40), "trunchead", ".npy"), 2),
                      Contains("truncated header"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<i4", "(2, 2)", std::string(16, '\0')), "int", ".npy"), 2),
                      Contains("unsupported dtype '<i4'"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes(">f8", "(2, 2)", raw(v)), "big", ".npy"), 2),
                      Contains("unsupported dtype '>f8'"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(2, 2)", raw(v), 1, "True"), "fortran", ".npy"), 2),
                      Contains("Fortran-order"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(4,)", raw(v)), "flat", ".npy"), 1),
                      Contains("is not [n, d] or [n, C, H, W]"));
    CHECK_THROWS_WITH(quant::read_calibration(temp("PK\x03\x04 not numpy at all", "magic", ".npy"), 2), Contains("bad magic"));
    const std::vector<double> with_nan{1, 2, std::numeric_limits<double>::quiet_NaN(), 4};
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(2, 2)", raw(with_nan)), "nan", ".npy"), 2),
                      Contains("input 2, value 1: NaN"));
    CHECK_THROWS_WITH(quant::read_calibration(temp(npy_bytes("<f8", "(1, 2)", raw(v)), "long", ".npy"), 2),
                      Contains("bytes of data beyond shape"));
}

TEST_CASE("sampled calibration inputs are seeded and lie in [-D, D]^d", "[quant][calibration]") {
    const auto a = quant::sample_calibration(5, 100, 0.25, 7), b = quant::sample_calibration(5, 100, 0.25, 7);
    CHECK(a == b);
    CHECK(a != quant::sample_calibration(5, 100, 0.25, 8));
    for (const auto& row : a)
        for (double v : row) CHECK(std::fabs(v) <= 0.25);
    CHECK_THROWS_WITH(quant::sample_calibration(5, 0, 1, 1), Contains("--calib-samples must be at least 1"));
    CHECK_THROWS_WITH(quant::sample_calibration(5, 10, 0, 1), Contains("--D must be positive"));
}

TEST_CASE("AdaRound reports bad calibration files through quantize", "[quant][calibration]") {
    net::network m = net::make_mlp({3, 4, 2});
    net::init_he_normal(m, 1);
    quant::options opt;
    opt.kind = quant::method::adaround;
    opt.bits = 4;
    opt.adaround.iterations = 10;
    opt.calib_file = temp("1,2\n", "mismatch", ".csv");
    CHECK_THROWS_WITH(quant::quantize(m, opt), Contains("line 1: 2 values, the network takes 3 inputs"));
    opt.calib_file = temp("", "adaempty", ".csv");
    CHECK_THROWS_WITH(quant::quantize(m, opt), Contains("no calibration inputs"));
    opt.calib_file = temp(npy_bytes("<f8", "(1, 2)", raw(std::vector<double>{1, 2})), "adanpy", ".npy");
    CHECK_THROWS_WITH(quant::quantize(m, opt), Contains("2 values per input, the network takes 3 inputs"));
    opt.calib_file = temp("1,2,3\n0.5,nan,1\n", "adanan", ".csv");
    CHECK_THROWS_WITH(quant::quantize(m, opt), Contains("line 2, column 2: value is NaN"));
    opt.calib_file = temp("1,2,3\n0.5,0.25,1\n", "adagood", ".csv");
    const auto r = quant::quantize(m, opt);
    CHECK(r.calibration_samples == 2);
    CHECK_THAT(r.calibration_source, Contains("adagood"));
}
