// Markdown tables of the reports: a cell can never break the table.
#include "qbound/report/markdown.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>

using qbound::report::fraction_text;
using qbound::report::inline_code;
using qbound::report::markdown_table;
using qbound::report::to_markdown;

TEST_CASE("pipe tables with alignment and escaped cells") {
    markdown_table t{{"bound", "value"}, {{"A|B", "1e3"}, {"multi\nline", ""}}, {false, true}};
    CHECK(to_markdown(t) == "| bound | value |\n|---|---:|\n| A\\|B | 1e3 |\n| multi line |   |\n");
}

TEST_CASE("every row has as many cells as the header") {
    markdown_table t{{"a", "b"}, {{"1"}}, {}};
    CHECK_THROWS_AS(to_markdown(t), std::invalid_argument);
    markdown_table no_columns{{}, {}, {}};
    CHECK_THROWS_AS(to_markdown(no_columns), std::invalid_argument);
    markdown_table bad_alignment{{"a"}, {}, {true, false}};
    CHECK_THROWS_AS(to_markdown(bad_alignment), std::invalid_argument);
}

TEST_CASE("inline code survives backticks inside") {
    CHECK(inline_code("qbound replay x") == "`qbound replay x`");
    CHECK(inline_code("a`b") == "``a`b``");
    CHECK(inline_code("`x`") == "`` `x` ``");
}

TEST_CASE("fractions strictly inside (0, 1) never print as 0 or 1") {
    CHECK(fraction_text(0.99995) == "0.99995");
    CHECK(fraction_text(0.9999999999) == "0.9999999999");
    CHECK(fraction_text(0.999, 2) == "0.999");
    CHECK(fraction_text(0.5) == "0.5");
    CHECK(fraction_text(0.785, 2) == "0.79");  // ordinary rounding where it stays inside
    CHECK(fraction_text(1.0) == "1");
    CHECK(fraction_text(0.0) == "0");
    CHECK(fraction_text(1e-300) == "1e-300");
    CHECK(fraction_text(std::nextafter(1.0, 0.0)) == "0.9999999999999999");
}
