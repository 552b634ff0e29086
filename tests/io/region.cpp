// Input regions: box files, vnnlib properties, point files and balls, read
// exactly (0.1 is 1/10, hex floats are their doubles); every malformed file
// is refused with core::invalid_argument naming the file, the line and the
// input, variable or constraint; random files in every syntax read back
// exactly, and random bytes never crash a reader.
#include "qbound/io/region.hpp"
#include "qbound/core/errors.hpp"

#include "property_support.hpp"
#include "test_files.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

using namespace qbound;
using arith::rational;
using Catch::Matchers::Contains;

// Refused with the project's error type, with a message matching `matcher`.
#define QBOUND_CHECK_REFUSED(expr, matcher)                 \
    do {                                                    \
        CHECK_THROWS_AS(expr, core::invalid_argument);      \
        CHECK_THROWS_WITH(expr, matcher);                   \
    } while (false)

namespace {

std::string write(const std::string& content, const std::string& tag, const std::string& ext) {
    return qbound::test::write_temp_file(content, "region-" + tag, ext);
}

rational q(long p, long d = 1) { return rational(p) / rational(d); }

const std::string acas_nnet = std::string(QBOUND_TEST_NETWORKS) + "/ACASXU_experimental_v2a_2_1.nnet";
const std::string acas_onnx = std::string(QBOUND_TEST_NETWORKS) + "/ACASXU_experimental_v2a_2_1.onnx";

// ACAS Xu property 1 (VNN-COMP 2021 style, normalized inputs).
std::string acas_property_1() {
    std::string s = "; ACAS Xu property 1\n";
    for (int i = 0; i < 5; ++i) s += "(declare-const X_" + std::to_string(i) + " Real)\n";
    for (int i = 0; i < 5; ++i) s += "(declare-const Y_" + std::to_string(i) + " Real)\n";
    s += "; Unscaled Input 0: (55947.691, 60760)\n"
         "(assert (<= X_0 0.6798577687))\n(assert (>= X_0 0.6))\n"
         "(assert (<= X_1 0.5))\n(assert (>= X_1 -0.5))\n"
         "(assert (<= X_2 0.5))\n(assert (>= X_2 -0.5))\n"
         "(assert (<= X_3 0.5))\n(assert (>= X_3 0.45))\n"
         "(assert (<= X_4 -0.45))\n(assert (>= X_4 -0.5))\n"
         "; unsafe if COC >= 1500\n"
         "(assert (>= Y_0 3.991125645861615))\n";
    return s;
}

std::string declarations(std::size_t x, std::size_t y) {
    std::string s;
    for (std::size_t i = 0; i < x; ++i) s += "(declare-const X_" + std::to_string(i) + " Real)\n";
    for (std::size_t i = 0; i < y; ++i) s += "(declare-const Y_" + std::to_string(i) + " Real)\n";
    return s;
}

}  // namespace

TEST_CASE("parse_number reads decimals, fractions and hex floats exactly", "[io][region][number]") {
    CHECK(arith::parse_number("0.1") == q(1, 10));
    CHECK(arith::parse_number("-2.5e-3") == q(-25, 10000));
    CHECK(arith::parse_number("1/3") == q(1, 3));
    CHECK(arith::parse_number("0x1.8p-3") == q(3, 16));
    CHECK(arith::parse_number("-0X.Ap+2") == q(-5, 2));
    CHECK(arith::parse_number("0x10") == 16);
    CHECK(arith::parse_number("+0x1p0") == 1);
    CHECK(arith::parse_number("0x1p-2/3") == q(1, 12));
    CHECK(arith::parse_number("0x1.999999999999ap-4") == arith::to_rational(0.1));
    CHECK(arith::parse_number("0x1p-1074") == arith::to_rational(4.9406564584124654e-324));
    CHECK(arith::parse_number("0x1.fffffffffffffp+1023") == arith::to_rational(1.7976931348623157e308));
    for (const char* bad : {"", "0x", "0x.p1", "0x1p", "0x1p+", "0x1.8q3", "0xg", "0x1p100000", "0x1 ", " 0x1", "0x1.2.3", "0x1p1.5",
                            "inf", "nan", "1e99999", "1/0", "0x0/0x0", "0x1//2", "--1", "1e", "abc"})
        CHECK_THROWS_AS(arith::parse_number(bad, "n"), core::invalid_argument);
    CHECK_THROWS_WITH(arith::parse_number("0x1.8q3", "field"), Contains("field") && Contains("'0x1.8q3'") && Contains("hex float"));
    // parse_rational is unchanged: decimals and fractions only.
    CHECK_THROWS_WITH(arith::parse_rational("0x1p-3", "--D"), Contains("--D: '0x1p-3' is not a decimal number or a fraction p/q"));
    CHECK(arith::parse_rational("0.25") == q(1, 4));
}

TEST_CASE("a box file reads exactly in its three syntaxes", "[io][region][box]") {
    const std::string path = write("# lo hi per input\n"
                                   "0.1 0.2\n"
                                   "\n"
                                   "  1/3, 1/2   # a fraction\n"
                                   "[0x1.8p-3, 1]\n"
                                   "[-1e-2 7]\r\n",
                                   "box", ".box");
    const io::input_region r = io::read_box_file(path, 4);
    REQUIRE(r.boxes.size() == 1);
    const auto& b = r.boxes[0];
    CHECK(b.lower == std::vector<rational>{q(1, 10), q(1, 3), q(3, 16), q(-1, 100)});
    CHECK(b.upper == std::vector<rational>{q(1, 5), q(1, 2), q(1), q(7)});
    CHECK(r.described == "box file " + path + " (4 inputs)");
    CHECK(r.notes.empty());
    CHECK(io::covering_D(r) == 7);
}

TEST_CASE("ACAS Xu property 1 as vnnlib gives its box, the output constraint noted", "[io][region][vnnlib]") {
    const std::string path = write(acas_property_1(), "acas-p1", ".vnnlib");
    const io::input_region r = io::read_vnnlib(path, 5);
    REQUIRE(r.boxes.size() == 1);
    CHECK(r.boxes[0].lower == std::vector<rational>{q(6, 10), q(-1, 2), q(-1, 2), q(45, 100), q(-1, 2)});
    CHECK(r.boxes[0].upper == std::vector<rational>{q(6798577687, 10000000000), q(1, 2), q(1, 2), q(1, 2), q(-45, 100)});
    CHECK(r.described == "vnnlib file " + path + " (5 inputs)");
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0] == "vnnlib: 1 output constraint ignored (qbound bounds the whole output difference)");
    CHECK(io::covering_D(r) == q(6798577687, 10000000000));
}

TEST_CASE("vnnlib: a disjunction of boxes, (<= c X), (= X c), (- c), strict bounds", "[io][region][vnnlib]") {
    const std::string text = declarations(3, 2) +
                             "(assert (<= 0 X_0))            ; (<= c X): a lower bound\n"
                             "(assert (>= 1 X_0))            ; (>= c X): an upper bound\n"
                             "(assert (and (<= -0x1p1 X_2) (< X_2 3)))\n"
                             "(assert (or (and (<= X_0 1/2) (>= X_1 (- 1)) (<= X_1 0))\n"
                             "            (and (>= X_0 0.25) (<= X_0 2) (= X_1 5) (> X_2 -1))))\n"
                             "(assert (or (and (>= Y_0 Y_1)) (and (<= (+ Y_0 (* 2 Y_1)) 1))))\n"
                             "(check-sat)\n";
    const std::string path = write(text, "disjunction", ".vnnlib");
    const io::input_region r = io::read_vnnlib(path, 3);
    REQUIRE(r.boxes.size() == 2);
    // Disjunct 1 intersected with the top level: X_0 in [0, 1/2], X_1 in [-1, 0], X_2 in [-2, 3].
    CHECK(r.boxes[0].lower == std::vector<rational>{q(0), q(-1), q(-2)});
    CHECK(r.boxes[0].upper == std::vector<rational>{q(1, 2), q(0), q(3)});
    // Disjunct 2: X_0 in [1/4, 1] (the top-level upper bound 1 is tighter than 2), X_1 = 5, X_2 in [-1, 3].
    CHECK(r.boxes[1].lower == std::vector<rational>{q(1, 4), q(5), q(-1)});
    CHECK(r.boxes[1].upper == std::vector<rational>{q(1), q(5), q(3)});
    CHECK(r.described == "vnnlib file " + path + " (3 inputs, union of 2 boxes)");
    REQUIRE(r.notes.size() == 3);
    CHECK(r.notes[0] == "vnnlib: 2 output constraints ignored (qbound bounds the whole output difference)");
    CHECK_THAT(r.notes[1], Contains("strict input bounds"));
    CHECK(r.notes[2] == "vnnlib: skipped (check-sat)");
    CHECK(io::covering_D(r) == 5);
}

TEST_CASE("a point file reads numbers separated by blanks and commas", "[io][region][point]") {
    const std::string path = write("# an image, flattened\n0.1, 1/3 0x1.8p-3\n\t-2,\n7e1 ,", "point", ".txt");
    CHECK(io::read_point_file(path, 5) == std::vector<rational>{q(1, 10), q(1, 3), q(3, 16), q(-2), q(70)});
}

TEST_CASE("balls with and without a clip, [-D, D]^n and covering_D", "[io][region][ball]") {
    const std::vector<rational> c{q(0), q(1, 2), q(1)};
    const rational eps = q(2, 255);
    const io::input_region open = io::ball_region(c, eps, std::nullopt, "L_inf ball of radius 2/255 around c.txt");
    REQUIRE(open.boxes.size() == 1);
    CHECK(open.boxes[0].lower == std::vector<rational>{q(-2, 255), q(251, 510), q(253, 255)});
    CHECK(open.boxes[0].upper == std::vector<rational>{q(2, 255), q(259, 510), q(257, 255)});
    CHECK(open.described == "L_inf ball of radius 2/255 around c.txt");
    CHECK(io::covering_D(open) == q(257, 255));
    const io::input_region clipped = io::ball_region(c, eps, std::make_pair(q(0), q(1)), "clipped");
    CHECK(clipped.boxes[0].lower == std::vector<rational>{q(0), q(251, 510), q(253, 255)});
    CHECK(clipped.boxes[0].upper == std::vector<rational>{q(2, 255), q(259, 510), q(1)});
    CHECK(io::covering_D(clipped) == 1);
    // A centre outside the clip is fine while the ball still meets it.
    const io::input_region outside = io::ball_region({q(11, 10)}, q(1, 5), std::make_pair(q(0), q(1)), "outside");
    CHECK(outside.boxes[0].lower[0] == q(9, 10));
    CHECK(outside.boxes[0].upper[0] == 1);
    CHECK(io::ball_region({q(1, 3)}, q(0), std::nullopt, "eps 0").boxes[0].lower[0] == q(1, 3));

    const io::input_region centered = io::centered_region(4, q(1, 4));
    CHECK(centered.boxes[0].lower == std::vector<rational>(4, q(-1, 4)));
    CHECK(centered.boxes[0].upper == std::vector<rational>(4, q(1, 4)));
    CHECK(centered.described == "[-D, D]^4 with D = 0.25");
    CHECK(io::covering_D(centered) == q(1, 4));
    CHECK(io::covering_D(io::input_region{}) == 0);
    io::input_region two{{{{q(-3), q(0)}, {q(1), q(2)}}, {{q(0), q(1)}, {q(1, 2), q(7, 2)}}}, "", {}};
    CHECK(io::covering_D(two) == q(7, 2));
}

TEST_CASE("the default region of an NNet file is its input box; other models have none", "[io][region][default]") {
    const auto r = io::default_region(acas_nnet, 5);
    REQUIRE(r.has_value());
    REQUIRE(r->boxes.size() == 1);
    CHECK(r->boxes[0].lower ==
          std::vector<rational>{q(0), arith::to_rational(-3.141593), arith::to_rational(-3.141593), q(100), q(0)});
    CHECK(r->boxes[0].upper ==
          std::vector<rational>{q(60760), arith::to_rational(3.141593), arith::to_rational(3.141593), q(1200), q(1200)});
    CHECK_THAT(r->described, Contains(acas_nnet) && Contains("5 inputs"));
    CHECK(io::covering_D(*r) == 60760);
    CHECK_FALSE(io::default_region(acas_onnx, 5).has_value());
    CHECK_FALSE(io::default_region("cnn", 3).has_value());
    QBOUND_CHECK_REFUSED(io::default_region(acas_nnet, 4), Contains(acas_nnet) && Contains("5 inputs, expected 4"));
}

TEST_CASE("unreadable files and wrong input counts are named", "[io][region][bad-input]") {
    const std::string missing = "/nonexistent/region.box";
    QBOUND_CHECK_REFUSED(io::read_box_file(missing, 2), Contains(missing) && Contains("cannot open file"));
    QBOUND_CHECK_REFUSED(io::read_vnnlib(missing, 2), Contains(missing) && Contains("cannot open file"));
    QBOUND_CHECK_REFUSED(io::read_point_file(missing, 2), Contains(missing) && Contains("cannot open file"));
    const std::string folder = std::filesystem::temp_directory_path().string();
    QBOUND_CHECK_REFUSED(io::read_box_file(folder, 2), Contains(folder) && Contains("not a regular file"));

    const std::string box = write("0 1\n0 1\n0 1\n", "three-lines", ".box");
    QBOUND_CHECK_REFUSED(io::read_box_file(box, 5), Contains(box) && Contains("3 bound lines") && Contains("takes 5 inputs"));
    QBOUND_CHECK_REFUSED(io::read_box_file(box, 2),
                         Contains(box) && Contains("3 bound lines") && Contains("takes 2 inputs") && Contains("extra line is line 3"));
    QBOUND_CHECK_REFUSED(io::read_box_file(box, 0), Contains(box) && Contains("no inputs"));
    const std::string p1 = write(acas_property_1(), "acas-p1-count", ".vnnlib");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(p1, 6), Contains(p1) && Contains("declares 5 input variables") && Contains("takes 6 inputs") &&
                                                      Contains("X_5 is not declared"));
    QBOUND_CHECK_REFUSED(io::read_vnnlib(p1, 4), Contains(p1 + ":6") && Contains("X_4: input index out of range") && Contains("4 inputs"));
    const std::string point = write("1 2 3", "point-count", ".txt");
    QBOUND_CHECK_REFUSED(io::read_point_file(point, 4), Contains(point) && Contains("3 values") && Contains("takes 4 inputs"));
    QBOUND_CHECK_REFUSED(io::read_point_file(point, 2), Contains(point) && Contains("3 values") && Contains("expected 2"));

    io::limits small;
    small.max_region_file_bytes = 8;
    QBOUND_CHECK_REFUSED(io::read_box_file(box, 3, small), Contains(box) && Contains("max_region_file_bytes = 8"));
    small = io::limits{};
    small.max_region_coordinates = 5;
    QBOUND_CHECK_REFUSED(io::read_box_file(box, 6, small), Contains("max_region_coordinates = 5"));
    const std::string two_boxes = write(declarations(2, 0) + "(assert (or (and (<= X_0 1)) (and (<= X_0 2))))\n", "coords", ".vnnlib");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(two_boxes, 2, small), Contains(two_boxes + ":3") && Contains("max_region_coordinates = 5"));
}

TEST_CASE("bad numbers and empty boxes in box and point files are named", "[io][region][bad-input]") {
    const auto box_with = [](const std::string& line2, const std::string& tag) { return write("0 1\n" + line2 + "\n", tag, ".box"); };
    for (const char* bad : {"inf", "-inf", "nan", "NaN", "Infinity"}) {
        const std::string path = box_with(std::string("0 ") + bad, "nonfinite");
        QBOUND_CHECK_REFUSED(io::read_box_file(path, 2),
                             Contains(path + ":2: input 1 upper bound") && Contains("'" + std::string(bad) + "' is not finite"));
    }
    std::string path = box_with("1e99999 2", "huge-exponent");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2: input 1 lower bound") && Contains("'1e99999' is not a number"));
    path = box_with("-1e400 0", "beyond-double");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2: input 1 lower bound") && Contains("beyond the largest double"));
    path = box_with("0 abc", "garbage");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2: input 1 upper bound") && Contains("'abc' is not a number"));
    path = box_with("0 0x1.8q3", "bad-hex");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2") && Contains("'0x1.8q3'"));
    path = box_with("0 1/0", "zero-denominator");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2") && Contains("divides by zero"));
    path = box_with("0.5 0.25", "lo-above-hi");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2: input 1: lower bound 0.5 > upper bound 0.25") && Contains("empty"));
    for (const char* shape : {"1", "1 2 3", "[1, 2", "1, 2, 3", "[1,]", ", 2"}) {
        path = box_with(shape, "shape");
        QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2: input 1: expected 'lo hi', 'lo, hi' or '[lo, hi]'"));
    }
    path = box_with(std::string("0 1\x01"), "control-byte");
    QBOUND_CHECK_REFUSED(io::read_box_file(path, 2), Contains(path + ":2") && Contains("'1\\x01'"));

    path = write("1, 2, nan", "point-nan", ".txt");
    QBOUND_CHECK_REFUSED(io::read_point_file(path, 3), Contains(path + ":1: value 2") && Contains("'nan' is not finite"));
    path = write("1\n2 x3", "point-garbage", ".txt");
    QBOUND_CHECK_REFUSED(io::read_point_file(path, 3), Contains(path + ":2: value 2") && Contains("'x3' is not a number"));
}

TEST_CASE("bad vnnlib constraints are named", "[io][region][vnnlib][bad-input]") {
    const std::string decl = declarations(2, 2);  // lines 1..4
    const auto vnn = [&](const std::string& body, const std::string& tag) { return write(decl + body, tag, ".vnnlib"); };
    const std::string bounds = "(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n";  // lines 5..8

    std::string path = vnn(bounds + "(assert (<= X_0 Y_0))\n", "mixed");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("'(<= X_0 Y_0)' mixes inputs X and outputs Y"));
    path = vnn(bounds + "(assert (<= (+ X_0 Y_1) 1))\n", "mixed-sum");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("mixes inputs X and outputs Y"));
    path = vnn(bounds + "(assert (<= X_0 X_1))\n", "non-box");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("'(<= X_0 X_1)'") && Contains("not a bound of one X_i"));
    path = vnn(bounds + "(assert (<= (+ X_0 X_1) 1))\n", "non-box-sum");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("'(<= (+ X_0 X_1) 1)'") && Contains("not a bound"));
    path = vnn(bounds + "(assert (or (and (<= X_0 1) (>= Y_0 2)) (and (<= X_0 0))))\n", "mixed-disjunct");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: disjunct 1 mixes inputs X ('(<= X_0 1)') and outputs Y ('(>= Y_0 2)')"));
    path = vnn(bounds + "(assert (or (and (<= X_0 1))\n (and (>= Y_0 2))))\n", "mixed-disjunction");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2),
                         Contains(path + ":9: disjunction mixes disjuncts on the inputs X (line 9) and on the outputs Y (line 10)"));
    path = vnn(bounds + "(assert (or (and (<= X_0 0.25))\n  (and (>= X_0 0.5) (<= X_0 0.375))))\n", "empty-disjunct");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":10: disjunct 2 is empty: X_0 >= 0.5 and X_0 <= 0.375"));
    path = vnn(bounds + "(assert (or (and (<= X_0 1)) (and (>= X_0 1.5))))\n", "empty-after-top");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2),
                         Contains(path + ":9: disjunct 2 is empty: X_0 >= 1.5 and X_0 <= 1") && Contains("top-level bounds"));
    path = vnn("(assert (>= X_0 0.75))\n(assert (<= X_0 0.5))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n", "empty-top");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":6: X_0: lower bound 0.75 > upper bound 0.5"));
    path = vnn("(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n", "missing-upper");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ": X_1 has no upper bound"));
    path = vnn("(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n", "missing-lower");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ": X_0 has no lower bound"));
    path = vnn("(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (or (and (>= X_1 0)) (and (>= X_1 0) (<= X_1 1))))\n", "missing-in-disjunct");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":7: disjunct 1: X_1 has no upper bound"));
    path = vnn(bounds + "(assert (<= X_2 1))\n", "index");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: X_2: input index out of range (the network takes 2 inputs, X_0 ... X_1)"));
    path = write("(declare-const X_0 Real)\n(declare-const X_7 Real)\n", "declared-index", ".vnnlib");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":2: X_7: input index out of range"));
    path = vnn(bounds + "(assert (<= Y_5 1))\n", "undeclared");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: Y_5 is used before its declare-const"));
    path = vnn(bounds + "(assert (<= X_0 inf))\n", "inf");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("'inf' is not finite"));
    path = vnn(bounds + "(assert (<= X_0 1e99999))\n", "huge");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("'1e99999' is not a number"));
    path = vnn(bounds + "(assert (or (and (<= X_0 1) (or (<= X_1 1) (<= X_1 0)))))\n", "nested-or");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("inside a disjunct is not supported"));
    path = vnn(bounds + "(assert (or (<= X_0 1) (<= X_0 0)))\n(assert (or (<= X_1 1) (<= X_1 0)))\n", "two-or");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":10: a second disjunction over the inputs (the first is at line 9)"));
    path = vnn(bounds + "(assert (not (<= X_0 1)))\n", "not");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: unsupported constraint '(not (<= X_0 1))'"));
    path = vnn(bounds + "(assert (<= X_0 1)\n", "unbalanced");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path) && Contains("unbalanced parentheses"));
    path = vnn(bounds + "(define-fun f () Real 1)\n", "command");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: unsupported command 'define-fun'"));
    path = vnn(bounds + "(assert (or))\n", "empty-or");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: an empty disjunction"));
    path = write("(declare-const X_0 Real)\n(declare-const X_0 Real)\n", "twice", ".vnnlib");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 1), Contains(path + ":2: X_0 is declared twice"));
    path = write("(declare-const X_0 Int)\n", "int", ".vnnlib");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 1), Contains(path + ":1: X_0 has type 'Int', expected Real"));
    path = write("(declare-const Z Real)\n", "name", ".vnnlib");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 1), Contains(path + ":1: unsupported variable 'Z'"));
    path = vnn(bounds + "(assert (<= 0 1))\n", "no-variable");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: constraint '(<= 0 1)' constrains no variable"));
    path = vnn(bounds + "(assert (<= 0 X_0 1))\n", "chain");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9") && Contains("more than two operands"));
    std::string deep = "(assert ";
    for (int k = 0; k < 200; ++k) deep += "(and ";
    path = vnn(bounds + deep + "(<= X_0 1)" + std::string(201, ')') + "\n", "deep");
    QBOUND_CHECK_REFUSED(io::read_vnnlib(path, 2), Contains(path + ":9: constraints nested deeper than 64"));
}

TEST_CASE("bad balls and centred regions are refused", "[io][region][ball][bad-input]") {
    QBOUND_CHECK_REFUSED(io::ball_region({q(0)}, q(-1, 10), std::nullopt, "ball around c.txt"),
                         Contains("ball around c.txt: the radius eps = -0.1 is negative"));
    QBOUND_CHECK_REFUSED(io::ball_region({q(0)}, q(1), std::make_pair(q(1), q(0)), "ball around c.txt"),
                         Contains("ball around c.txt: the clip interval [1, 0] is empty"));
    QBOUND_CHECK_REFUSED(io::ball_region({q(0), q(3)}, q(1, 2), std::make_pair(q(0), q(1)), "ball around c.txt"),
                         Contains("ball around c.txt: input 1: [c - eps, c + eps] = [2.5, 3.5] does not meet the clip interval [0, 1]"));
    QBOUND_CHECK_REFUSED(io::ball_region({}, q(1), std::nullopt, "ball around empty.txt"), Contains("empty.txt") && Contains("no coordinates"));
    QBOUND_CHECK_REFUSED(io::centered_region(3, q(-1)), Contains("D is negative"));
    QBOUND_CHECK_REFUSED(io::centered_region(0, q(1)), Contains("no inputs"));
}

namespace {

struct number_text {
    rational value;
    std::string text;
};

// A random exact number and a text of it: a decimal (point or exponent
// form), a fraction p/q, or a hex float written by printf's %a / %A.
number_text random_number(std::mt19937_64& rng) {
    switch (rng() % 4) {
    case 0: {
        const long long m = static_cast<long long>(rng() % 2000000001ULL) - 1000000000LL;
        const unsigned k = static_cast<unsigned>(rng() % 10);
        const rational value = rational(m) / rational(boost::multiprecision::pow(arith::integer(10), k));
        if (rng() % 2) return {value, std::to_string(m) + "e-" + std::to_string(k)};
        std::string digits = std::to_string(m < 0 ? -m : m);
        if (digits.size() <= k) digits.insert(0, k + 1 - digits.size(), '0');
        if (k > 0) digits.insert(digits.size() - k, ".");
        return {value, (m < 0 ? "-" : "") + digits};
    }
    case 1: {
        const long long p = static_cast<long long>(rng() % 2000001ULL) - 1000000LL;
        const long long d = static_cast<long long>(rng() % 1000000ULL) + 1;
        return {rational(p) / rational(d), std::to_string(p) + "/" + std::to_string(d)};
    }
    default: {
        const double mantissa = static_cast<double>(rng() >> 11) * (rng() % 2 ? 1.0 : -1.0);
        const double x = std::ldexp(mantissa, static_cast<int>(rng() % 140) - 100);
        char buf[64];
        std::snprintf(buf, sizeof buf, rng() % 2 ? "%a" : "%A", x);
        return {arith::to_rational(x), buf};
    }
    }
}

struct random_box {
    std::vector<number_text> lo, hi;
};

random_box make_random_box(std::mt19937_64& rng, std::size_t n) {
    random_box b;
    for (std::size_t i = 0; i < n; ++i) {
        number_text a = random_number(rng), c = rng() % 8 == 0 ? a : random_number(rng);
        if (a.value > c.value) std::swap(a, c);
        b.lo.push_back(a);
        b.hi.push_back(c);
    }
    return b;
}

std::string blanks(std::mt19937_64& rng) {
    static const char* const options[] = {"", " ", "  ", "\t"};
    return options[rng() % 4];
}

void require_box(const io::rational_box& got, const random_box& want) {
    REQUIRE(got.lower.size() == want.lo.size());
    REQUIRE(got.upper.size() == want.hi.size());
    for (std::size_t i = 0; i < want.lo.size(); ++i) {
        INFO("input " << i << ": want [" << want.lo[i].text << ", " << want.hi[i].text << "]");
        REQUIRE(got.lower[i] == want.lo[i].value);
        REQUIRE(got.upper[i] == want.hi[i].value);
    }
}

// The vnnlib asserts of one box (a lower and an upper bound per input, each
// in one of its two forms, sometimes with a looser bound besides).
std::vector<std::string> box_constraints(std::mt19937_64& rng, const random_box& b) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < b.lo.size(); ++i) {
        const std::string x = "X_" + std::to_string(i);
        out.push_back(rng() % 2 ? "(>= " + x + " " + b.lo[i].text + ")" : "(<= " + b.lo[i].text + " " + x + ")");
        out.push_back(rng() % 2 ? "(<= " + x + " " + b.hi[i].text + ")" : "(>= " + b.hi[i].text + " " + x + ")");
        if (rng() % 4 == 0) out.push_back("(>= " + x + " " + rational(b.lo[i].value - 1).str() + ")");
        if (rng() % 4 == 0) out.push_back("(>= " + rational(b.hi[i].value + rational(1, 3)).str() + " " + x + ")");
    }
    return out;
}

}  // namespace

TEST_CASE("random boxes written in every syntax read back exactly", "[io][region][property]") {
    const std::uint64_t seed = qbound::test::property_seed();
    INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    const std::size_t cases = qbound::test::property_cases(300);
    for (std::size_t c = 0; c < cases; ++c) {
        const std::size_t n = 1 + rng() % 8;
        const random_box b = make_random_box(rng, n);

        // Box file.
        std::string box_text = rng() % 2 ? "# random box\n" : "";
        for (std::size_t i = 0; i < n; ++i) {
            const std::string lo = b.lo[i].text, hi = b.hi[i].text;
            switch (rng() % 3) {
            case 0: box_text += blanks(rng) + lo + " " + blanks(rng) + hi; break;
            case 1: box_text += lo + blanks(rng) + "," + blanks(rng) + hi; break;
            default: box_text += "[" + blanks(rng) + lo + ", " + hi + blanks(rng) + "]"; break;
            }
            box_text += rng() % 4 == 0 ? "  # comment\n\n" : (rng() % 2 ? "\r\n" : "\n");
        }
        {
            INFO("box file:\n" << box_text);
            const io::input_region r = io::read_box_file(write(box_text, "random", ".box"), n);
            REQUIRE(r.boxes.size() == 1);
            require_box(r.boxes[0], b);
        }

        // vnnlib: one box from top-level asserts, in random order and grouping.
        std::string vnn = declarations(n, 1 + rng() % 3);
        auto constraints = box_constraints(rng, b);
        std::shuffle(constraints.begin(), constraints.end(), rng);
        for (std::size_t k = 0; k < constraints.size();) {
            const std::size_t group = 1 + rng() % 3;
            vnn += "(assert (and";
            for (std::size_t g = 0; g < group && k < constraints.size(); ++g, ++k) vnn += " " + constraints[k];
            vnn += "))" + std::string(rng() % 2 ? " ; note\n" : "\n");
        }
        const std::size_t outputs = rng() % 3;
        for (std::size_t k = 0; k < outputs; ++k) vnn += "(assert (<= Y_0 " + random_number(rng).text + "))\n";
        {
            INFO("vnnlib:\n" << vnn);
            const io::input_region r = io::read_vnnlib(write(vnn, "random", ".vnnlib"), n);
            REQUIRE(r.boxes.size() == 1);
            require_box(r.boxes[0], b);
            REQUIRE(r.notes.size() == (outputs > 0 ? 1u : 0u));
        }

        // vnnlib: a disjunction of k boxes, the top level unconstrained.
        const std::size_t k_boxes = 1 + rng() % 3;
        std::vector<random_box> boxes;
        std::string disj = declarations(n, 1) + "(assert (or";
        for (std::size_t k = 0; k < k_boxes; ++k) {
            boxes.push_back(make_random_box(rng, n));
            disj += "\n  (and";
            for (const auto& s : box_constraints(rng, boxes.back())) disj += " " + s;
            disj += ")";
        }
        disj += "))\n(assert (or (and (>= Y_0 0)) (and (<= Y_0 -1))))\n";
        {
            INFO("vnnlib disjunction:\n" << disj);
            const io::input_region r = io::read_vnnlib(write(disj, "random-or", ".vnnlib"), n);
            REQUIRE(r.boxes.size() == k_boxes);
            for (std::size_t k = 0; k < k_boxes; ++k) require_box(r.boxes[k], boxes[k]);
            rational D = 0;
            for (const auto& rb : boxes)
                for (std::size_t i = 0; i < n; ++i) D = std::max({D, rational(abs(rb.lo[i].value)), rational(abs(rb.hi[i].value))});
            REQUIRE(io::covering_D(r) == D);
        }

        // Point file: the lower corner.
        std::string point;
        static const char* const separators[] = {" ", ",", ", ", "\n", "\t", " ,\n"};
        for (std::size_t i = 0; i < n; ++i) point += (i ? separators[rng() % 6] : "") + b.lo[i].text;
        {
            INFO("point file:\n" << point);
            const auto x = io::read_point_file(write(point, "random", ".txt"), n);
            REQUIRE(x.size() == n);
            for (std::size_t i = 0; i < n; ++i) REQUIRE(x[i] == b.lo[i].value);
        }
    }
}

namespace {

// Reads `path` with all three readers: each returns a well-formed region or
// refuses with core::invalid_argument; anything else fails the test.
void read_all_or_refuse(const std::string& path, std::size_t inputs, std::size_t& refused, std::size_t& accepted) {
    const auto check_region = [&](const io::input_region& r) {
        REQUIRE_FALSE(r.boxes.empty());
        for (const auto& b : r.boxes) {
            REQUIRE(b.lower.size() == inputs);
            REQUIRE(b.upper.size() == inputs);
            for (std::size_t i = 0; i < inputs; ++i) REQUIRE(b.lower[i] <= b.upper[i]);
        }
    };
    for (int reader = 0; reader < 3; ++reader) {
        try {
            // (Read outside the assertions: an exception inside REQUIRE( ) is a failure.)
            if (reader == 0) {
                const auto r = io::read_box_file(path, inputs);
                check_region(r);
            } else if (reader == 1) {
                const auto r = io::read_vnnlib(path, inputs);
                check_region(r);
            } else {
                const auto x = io::read_point_file(path, inputs);
                REQUIRE(x.size() == inputs);
            }
            ++accepted;
        } catch (const core::invalid_argument& e) {
            REQUIRE_THAT(e.what(), Contains(path));
            ++refused;
        } catch (const std::exception& e) {
            FAIL("reader " << reader << " threw something other than core::invalid_argument: " << e.what());
        }
    }
}

}  // namespace

TEST_CASE("random bytes and truncated files never crash a reader", "[io][region][property][bad-input]") {
    const std::uint64_t seed = qbound::test::property_seed();
    INFO("seed " << seed << " (replay: QBOUND_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);
    static const char* const pieces[] = {"(", ")", "(", ")", "declare-const ", "assert ", "X_0 ", "X_1 ", "Y_0 ", "Real", "<= ", ">= ",
                                         "= ", "< ", "or ", "and ", "- ", "0.5", "-1/3", "0x1p-3", "0x", "1e9999", "inf", " ", "\n",
                                         ";", "#", ",", "[", "]", "/", ".", "e", "p", "99999999999999999999", "X_", "\r"};
    std::size_t refused = 0, accepted = 0;
    const std::size_t cases = qbound::test::property_cases(1500);
    for (std::size_t c = 0; c < cases; ++c) {
        std::string bytes;
        const std::size_t length = rng() % 40;
        for (std::size_t k = 0; k < length; ++k) {
            if (rng() % 5 == 0)
                bytes += static_cast<char>(rng() % 256);
            else
                bytes += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
        }
        INFO("bytes: " << bytes);
        read_all_or_refuse(write(bytes, "garbage", ".in"), 1 + rng() % 2, refused, accepted);
    }
    // Every prefix of valid files, and single-byte corruptions of them.
    const std::string valid[] = {acas_property_1(), "0.1 0.2\n[1/3, 1/2]\n0x1.8p-3, 1\n-2 2\n0 0\n",
                                 declarations(5, 1) + "(assert (or (and (<= X_0 1) (>= X_0 0)) (and (<= X_0 2) (>= X_0 1))))\n"
                                                      "(assert (and (<= -1 X_1) (<= X_1 1) (<= -1 X_2) (<= X_2 1) (<= -1 X_3)"
                                                      " (<= X_3 1) (<= -1 X_4) (<= X_4 1)))\n"};
    for (const std::string& text : valid) {
        for (std::size_t cut = 0; cut <= text.size(); ++cut) {
            INFO("prefix of " << cut << " bytes: " << text.substr(0, cut));
            read_all_or_refuse(write(text.substr(0, cut), "prefix", ".in"), 5, refused, accepted);
        }
        for (int trial = 0; trial < 100; ++trial) {
            std::string corrupted = text;
            corrupted[rng() % corrupted.size()] = static_cast<char>(rng() % 256);
            INFO("corrupted: " << corrupted);
            read_all_or_refuse(write(corrupted, "corrupted", ".in"), 5, refused, accepted);
        }
    }
    CHECK(refused > 0);
    CHECK(accepted > 0);  // the complete files (and some corruptions of them) read
}
