#include "qbound/quant/calibration.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/io/limits.hpp"

#include "text.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string_view>

namespace qbound::quant {

namespace {

using detail::text;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw core::invalid_argument("calibration file " + path + ": " + what);
}

std::string read_bytes(const std::string& path, const io::limits& lim) {
    const auto size = io::check_file_size(path, lim.max_file_bytes, "max_file_bytes");
    if (!size.error.empty()) fail(path, size.error == "cannot open file" ? "cannot be opened" : size.error);
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot be opened");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail(path, "read error");
    return bytes;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

const char* non_finite_name(double v) { return std::isnan(v) ? "NaN" : "infinite"; }

// ---- CSV ----------------------------------------------------------------------

std::vector<std::vector<double>> read_csv(const std::string& path, std::size_t dim, const io::limits& lim) {
    const std::string contents = read_bytes(path, lim);
    std::vector<std::vector<double>> rows;
    std::istringstream lines(contents);
    std::string line;
    for (std::size_t line_no = 1; std::getline(lines, line); ++line_no) {
        const std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;
        if (rows.size() == lim.max_calibration_samples)
            fail(path, io::limit_message(text("line ", line_no, ": calibration inputs"), rows.size() + 1, "max_calibration_samples",
                                         lim.max_calibration_samples));
        std::vector<double> row;
        std::size_t column = 1;
        std::string_view rest = content;
        while (true) {
            const std::size_t comma = rest.find(',');
            std::string_view field = trim(rest.substr(0, comma));
            const std::string where = text("line ", line_no, ", column ", column);
            if (field.empty()) fail(path, where + ": empty value");
            std::string_view number = field;
            if (number.front() == '+') number.remove_prefix(1);
            double v = 0;
            const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
            if (ec == std::errc::result_out_of_range) fail(path, where + ": '" + std::string(field) + "' is out of the double range");
            if (ec != std::errc() || end != number.data() + number.size())
                fail(path, where + ": '" + std::string(field) + "' is not a number");
            if (!std::isfinite(v)) fail(path, where + ": value is " + non_finite_name(v));
            row.push_back(v);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
            ++column;
        }
        if (row.size() != dim)
            fail(path, text("line ", line_no, ": ", row.size(), " values, the network takes ", dim, " inputs"));
        rows.push_back(std::move(row));
    }
    if (rows.empty()) fail(path, "no calibration inputs (empty file)");
    return rows;
}

// ---- .npy ---------------------------------------------------------------------

std::uint64_t little_endian(const char* p, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}

// The value after 'key': in the header dict, up to the next ',' at depth 0
// (or the closing parenthesis of a tuple).
std::string header_field(const std::string& path, const std::string& header, const std::string& key) {
    std::size_t pos = header.find("'" + key + "'");
    if (pos == std::string::npos) pos = header.find("\"" + key + "\"");
    if (pos == std::string::npos) fail(path, "header has no '" + key + "' field");
    pos = header.find(':', pos);
    if (pos == std::string::npos) fail(path, "malformed header near '" + key + "'");
    ++pos;
    while (pos < header.size() && header[pos] == ' ') ++pos;
    if (pos < header.size() && header[pos] == '(') {
        const std::size_t close = header.find(')', pos);
        if (close == std::string::npos) fail(path, "malformed header: unterminated '" + key + "' tuple");
        return header.substr(pos, close - pos + 1);
    }
    const std::size_t end = header.find_first_of(",}", pos);
    if (end == std::string::npos) fail(path, "malformed header near '" + key + "'");
    return std::string(trim(header.substr(pos, end - pos)));
}

std::vector<std::vector<double>> read_npy(const std::string& path, std::size_t dim, const io::limits& lim) {
    const std::string bytes = read_bytes(path, lim);
    if (bytes.empty()) fail(path, "no calibration inputs (empty file)");
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail(path, "not a .npy file (bad magic)");
    const int major = static_cast<unsigned char>(bytes[6]);
    if (major < 1 || major > 3) fail(path, text("unsupported .npy format version ", major));
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    const std::size_t prefix = 8 + len_bytes;
    if (bytes.size() < prefix) fail(path, "truncated header");
    const std::size_t header_len = little_endian(bytes.data() + 8, len_bytes);
    if (bytes.size() < prefix + header_len) fail(path, "truncated header");
    const std::string header = bytes.substr(prefix, header_len);

    std::string descr = header_field(path, header, "descr");
    if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) descr = descr.substr(1, descr.size() - 2);
    std::size_t item = 0;
    if (descr == "<f8") item = 8;
    else if (descr == "<f4") item = 4;
    else fail(path, "unsupported dtype '" + descr + "' (supported: '<f4' float32, '<f8' float64, little-endian)");
    if (header_field(path, header, "fortran_order") != "False") fail(path, "Fortran-order arrays are not supported (save in C order)");

    const std::string shape_text = header_field(path, header, "shape");
    std::vector<std::size_t> shape;
    {
        std::string_view rest(shape_text);
        if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') fail(path, "malformed shape " + shape_text);
        rest = rest.substr(1, rest.size() - 2);
        while (!trim(rest).empty()) {
            const std::size_t comma = rest.find(',');
            const std::string_view part = trim(rest.substr(0, comma));
            std::size_t v = 0;
            const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
            if (part.empty() || ec != std::errc() || end != part.data() + part.size()) fail(path, "malformed shape " + shape_text);
            shape.push_back(v);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    if (shape.size() != 2 && shape.size() != 4)
        fail(path, "shape " + shape_text + " is not [n, d] or [n, C, H, W]");
    std::size_t per_sample = 1;
    for (std::size_t k = 1; k < shape.size(); ++k) {
        if (shape[k] != 0 && per_sample > std::numeric_limits<std::size_t>::max() / shape[k]) fail(path, "absurd shape " + shape_text);
        per_sample *= shape[k];
    }
    const std::size_t n = shape[0];
    if (n == 0) fail(path, "no calibration inputs (shape " + shape_text + ")");
    if (n > lim.max_calibration_samples)
        fail(path, io::limit_message("shape " + shape_text + ": calibration inputs", n, "max_calibration_samples", lim.max_calibration_samples));
    if (per_sample != dim) fail(path, text("shape ", shape_text, " has ", per_sample, " values per input, the network takes ", dim, " inputs"));
    if (n > (std::numeric_limits<std::size_t>::max() / item) / dim) fail(path, "absurd shape " + shape_text);
    const std::size_t expected = n * dim * item, found = bytes.size() - prefix - header_len;
    if (found < expected) fail(path, text("truncated data: shape ", shape_text, " needs ", expected, " bytes, the file has ", found));
    if (found > expected) fail(path, text(found - expected, " bytes of data beyond shape ", shape_text));

    std::vector<std::vector<double>> rows(n, std::vector<double>(dim));
    const char* p = bytes.data() + prefix + header_len;
    for (std::size_t s = 0; s < n; ++s) {
        for (std::size_t j = 0; j < dim; ++j, p += item) {
            const std::uint64_t raw = little_endian(p, item);
            const double v = item == 8 ? std::bit_cast<double>(raw)
                                       : static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
            if (!std::isfinite(v)) fail(path, text("input ", s + 1, ", value ", j + 1, ": ", non_finite_name(v)));
            rows[s][j] = v;
        }
    }
    return rows;
}

}  // namespace

std::vector<std::vector<double>> read_calibration(const std::string& path, std::size_t expected_dim, const io::limits& lim) {
    if (expected_dim == 0) throw core::invalid_argument("read_calibration: the network takes no inputs");
    const bool npy = path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
    return npy ? read_npy(path, expected_dim, lim) : read_csv(path, expected_dim, lim);
}

std::vector<std::vector<double>> sample_calibration(std::size_t dim, std::size_t n, double D, std::uint64_t seed) {
    if (n == 0) throw core::invalid_argument("--calib-samples must be at least 1");
    if (dim == 0) throw core::invalid_argument("sample_calibration: the network takes no inputs");
    if (!std::isfinite(D) || !(D > 0)) throw core::invalid_argument(text("--D must be positive and finite (got ", D, ")"));
    std::mt19937_64 engine(seed);
    std::vector<std::vector<double>> rows(n, std::vector<double>(dim));
    for (auto& row : rows)
        for (auto& v : row) v = D * (static_cast<double>(engine() >> 11) * 0x1p-52 - 1.0);  // [-D, D)
    return rows;
}

}  // namespace qbound::quant
