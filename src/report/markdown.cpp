#include "qbound/report/markdown.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace qbound::report {

namespace {

std::string cell(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '|') out += "\\|";
        else if (c == '\n' || c == '\r') out += ' ';
        else out += c;
    }
    return out.empty() ? " " : out;
}

}  // namespace

std::string to_markdown(const markdown_table& table) {
    const std::size_t columns = table.header.size();
    if (columns == 0) throw std::invalid_argument("markdown table without columns");
    if (!table.right_aligned.empty() && table.right_aligned.size() != columns)
        throw std::invalid_argument("markdown table: alignment for " + std::to_string(table.right_aligned.size()) +
                                    " columns, header has " + std::to_string(columns));
    std::string out = "|";
    for (const auto& h : table.header) out += " " + cell(h) + " |";
    out += "\n|";
    for (std::size_t c = 0; c < columns; ++c)
        out += (!table.right_aligned.empty() && table.right_aligned[c]) ? "---:|" : "---|";
    out += "\n";
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
        const auto& row = table.rows[r];
        if (row.size() != columns)
            throw std::invalid_argument("markdown table: row " + std::to_string(r + 1) + " has " + std::to_string(row.size()) +
                                        " cells, header has " + std::to_string(columns));
        out += "|";
        for (const auto& v : row) out += " " + cell(v) + " |";
        out += "\n";
    }
    return out;
}

std::string inline_code(const std::string& text) {
    // The longest run of backticks inside decides the fence.
    std::size_t longest = 0, run = 0;
    for (char c : text) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    const std::string fence(longest + 1, '`');
    const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
    return fence + (pad ? " " : "") + text + (pad ? " " : "") + fence;
}

std::string grouped(std::size_t v) {
    const std::string digits = std::to_string(v);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string fraction_text(double v, int digits) {
    const bool inside = v > 0 && v < 1;
    for (int d = std::max(digits, 1);; ++d) {
        char buffer[40];
        std::snprintf(buffer, sizeof buffer, "%.*g", d, v);
        const std::string text = buffer;
        if (!inside || d >= 17) return text;
        const double shown = std::stod(text);
        if (shown > 0 && shown < 1) return text;
    }
}

}  // namespace qbound::report
