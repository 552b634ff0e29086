#pragma once
// Markdown pieces for qbound's reports (report.md of `qbound demo`).
#include <cstddef>
#include <string>
#include <vector>

namespace qbound::report {

struct markdown_table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;  // each as long as header
    std::vector<bool> right_aligned;             // per column; empty: all left
};

// A GitHub-flavoured pipe table. '|' inside a cell is escaped and newlines
// become spaces, so a cell never breaks the table. Throws
// std::invalid_argument when a row's length differs from the header's.
std::string to_markdown(const markdown_table& table);

// `text` as inline code (backticks that survive any backticks inside).
std::string inline_code(const std::string& text);

// 1234567 -> "1,234,567"
std::string grouped(std::size_t v);

// A fraction such as a relative gap with `digits` significant digits, and
// more where rounding would print a value strictly inside (0, 1) as 0 or 1:
// 0.99995 -> "0.99995", not "1"; 0.5 -> "0.5"; 1 -> "1".
std::string fraction_text(double v, int digits = 3);

}  // namespace qbound::report
