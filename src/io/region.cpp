#include "qbound/io/region.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/io/nnet.hpp"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>
#include <system_error>

namespace qbound::io {

namespace {
// Named, so that the unity build's batches cannot mix these helpers with
// another source's anonymous ones.
namespace region_detail {

using arith::rational;

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw core::invalid_argument(where + ": " + what); }

std::string at_line(const std::string& path, std::size_t line) { return path + ":" + std::to_string(line); }

std::string plural(std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// Text from a file, for a message: quoted, blank runs as one space, bytes
// outside printable ASCII as \xNN, at most 80 characters.
std::string quote(std::string_view text) {
    std::string out = "'";
    std::size_t shown = 0;
    bool pending_blank = false;
    for (const char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            pending_blank = shown > 0;
            continue;
        }
        if (shown >= 80) {
            out += "...";
            break;
        }
        if (pending_blank) out += ' ';
        pending_blank = false;
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(u));
            out += buf;
        } else {
            out += c;
        }
        ++shown;
    }
    return out + "'";
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

// The whole file, refused beyond max_region_file_bytes before it is read.
std::string read_text(const std::string& path, const limits& lim) {
    const auto size = check_file_size(path, lim.max_region_file_bytes, "max_region_file_bytes");
    if (!size.error.empty()) fail(path, size.error);
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open file");
    std::string text(static_cast<std::size_t>(size.bytes), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (static_cast<std::uint64_t>(in.gcount()) != size.bytes) fail(path, "cannot read file");
    return text;
}

void check_inputs(const std::string& where, std::size_t inputs, const limits& lim) {
    if (inputs == 0) fail(where, "the network takes no inputs");
    if (inputs > lim.max_region_coordinates)
        fail(where, limit_message("inputs of one box", inputs, "max_region_coordinates", lim.max_region_coordinates));
}

constexpr std::size_t max_number_chars = 4096;

// One number of a data file, exactly; `where` ("p.box:3: input 2 lower
// bound") starts the message of a refusal.
rational number(std::string_view token, const std::string& where) {
    if (token.size() > max_number_chars)
        fail(where, quote(token) + " is longer than " + std::to_string(max_number_chars) + " characters");
    for (const char c : token)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            fail(where, quote(token) + " is not a number (decimal, fraction p/q or hex float such as 0x1.8p-3)");
    std::string lower(token.substr(!token.empty() && (token[0] == '+' || token[0] == '-') ? 1 : 0));
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "inf" || lower == "infinity" || lower.rfind("nan", 0) == 0)
        fail(where, quote(token) + " is not finite");
    const rational q = arith::parse_number(std::string(token), where.c_str());
    if (arith::compare(q, DBL_MAX) > 0 || arith::compare(q, -DBL_MAX) < 0)
        fail(where, quote(token) + " is beyond the largest double (not finite in double precision)");
    return q;
}

// The lines of a text file without their '#' comments, numbered from 1.
template <class F>
void for_each_line(const std::string& text, F&& f) {
    std::size_t start = 0, line = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        ++line;
        std::string_view content(text.data() + start, end - start);
        content = content.substr(0, content.find('#'));
        f(line, trim(content));
        start = end + 1;
    }
}

rational_box make_box(std::size_t inputs) {
    rational_box b;
    b.lower.resize(inputs);
    b.upper.resize(inputs);
    return b;
}

// ---- box files --------------------------------------------------------------

// "lo hi", "lo, hi" or "[lo, hi]" (content without comment, trimmed).
std::pair<rational, rational> box_line(std::string_view s, const std::string& where) {
    const std::string whole(s);
    const auto bad = [&] { fail(where, "expected 'lo hi', 'lo, hi' or '[lo, hi]', found " + quote(whole)); };
    const bool open = !s.empty() && s.front() == '[', close = !s.empty() && s.back() == ']';
    if (open != close) bad();
    if (open) s = trim(s.substr(1, s.size() - 2));
    std::string_view lo, hi;
    const std::size_t comma = s.find(',');
    if (comma != std::string_view::npos) {
        lo = trim(s.substr(0, comma));
        hi = trim(s.substr(comma + 1));
    } else {
        std::size_t gap = 0;
        while (gap < s.size() && !is_blank(s[gap])) ++gap;
        lo = s.substr(0, gap);
        hi = trim(s.substr(gap));
    }
    const auto single = [](std::string_view t) {
        return !t.empty() && std::none_of(t.begin(), t.end(), [](char c) { return is_blank(c) || c == ',' || c == '[' || c == ']'; });
    };
    if (!single(lo) || !single(hi)) bad();
    rational l = number(lo, where + " lower bound"), h = number(hi, where + " upper bound");
    if (l > h)
        fail(where, "lower bound " + std::string(lo) + " > upper bound " + std::string(hi) + " (the region is empty)");
    return {std::move(l), std::move(h)};
}

// ---- vnnlib ------------------------------------------------------------------

struct token {
    enum class kind { open, close, symbol, end } k = kind::end;
    std::string_view text;
    std::size_t line = 0, offset = 0;
};

// Bounds on the inputs, each with the line that set it (0: none yet).
struct partial_bounds {
    std::vector<rational> lo, hi;
    std::vector<std::size_t> lo_line, hi_line;
    std::size_t line = 0;  // where the disjunct starts (0 for the top-level bounds)
};

struct term {
    enum class kind { number, x, y, expression } k = kind::number;
    rational value;
    std::size_t index = 0;
    bool has_x = false, has_y = false;
};

// A conjunction being read: the top-level asserts, or one disjunct.
struct conjunction {
    partial_bounds* bounds = nullptr;  // allocated on the first bound (a disjunct's own)
    std::size_t x_atoms = 0, y_atoms = 0;
    std::string first_x, first_y;  // the first constraint of each kind, quoted
};

constexpr int max_depth = 64;

class vnnlib_reader {
public:
    vnnlib_reader(const std::string& path, std::size_t inputs, const limits& lim)
        : path_(path), inputs_(inputs), lim_(lim), text_(read_text(path, lim)), declared_x_(inputs, 0) {}

    input_region read() {
        top_ = new_bounds(0);
        for (;;) {
            const token t = next();
            if (t.k == token::kind::end) break;
            if (t.k != token::kind::open) fail(at_line(path_, t.line), "expected '(' to start a command, found " + quote(t.text));
            const token head = next();
            if (head.k != token::kind::symbol) fail(at_line(path_, head.line), "expected a command name after '('");
            if (head.text == "declare-const") {
                declare();
            } else if (head.text == "assert") {
                conjunction top;
                top.bounds = &top_;
                constraint(t, 1, top, true);
                expect_close("assert takes one constraint");
                outputs_ += top.y_atoms;
            } else if (head.text == "set-logic" || head.text == "set-info" || head.text == "set-option" || head.text == "check-sat" ||
                       head.text == "get-model" || head.text == "exit") {
                skip_to_close(t);
                skipped_.insert("(" + std::string(head.text) + ")");
            } else {
                fail(at_line(path_, head.line), "unsupported command " + quote(head.text) +
                                                    " (qbound reads declare-const and assert)");
            }
        }
        return finish();
    }

private:
    // ---- tokens
    token lex() {
        for (;;) {
            while (pos_ < text_.size() && is_blank(text_[pos_])) {
                if (text_[pos_] == '\n') ++line_;
                ++pos_;
            }
            if (pos_ < text_.size() && text_[pos_] == ';') {
                while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
                continue;
            }
            break;
        }
        token t;
        t.line = line_;
        t.offset = pos_;
        if (pos_ == text_.size()) return t;
        const char c = text_[pos_];
        if (c == '(' || c == ')') {
            t.k = c == '(' ? token::kind::open : token::kind::close;
            t.text = std::string_view(text_).substr(pos_++, 1);
            return t;
        }
        const std::size_t start = pos_;
        while (pos_ < text_.size() && !is_blank(text_[pos_]) && text_[pos_] != '(' && text_[pos_] != ')' && text_[pos_] != ';') ++pos_;
        t.k = token::kind::symbol;
        t.text = std::string_view(text_).substr(start, pos_ - start);
        return t;
    }
    const token& peek() {
        if (!peeked_) {
            ahead_ = lex();
            peeked_ = true;
        }
        return ahead_;
    }
    token next() {
        peek();
        peeked_ = false;
        return ahead_;
    }
    [[noreturn]] void unbalanced(const token& t) {
        fail(at_line(path_, t.line), "the file ends inside an expression (unbalanced parentheses)");
    }
    void expect_close(const char* what) {
        const token t = next();
        if (t.k == token::kind::end) unbalanced(t);
        if (t.k != token::kind::close) fail(at_line(path_, t.line), std::string(what) + ": expected ')', found " + quote(t.text));
    }
    // The text from `open` to the current position, quoted.
    std::string text_from(const token& open) const {
        const std::size_t end = peeked_ ? ahead_.offset : pos_;
        return quote(std::string_view(text_).substr(open.offset, end - open.offset));
    }
    void skip_to_close(const token& open) {
        std::size_t depth = 1;
        while (depth > 0) {
            const token t = next();
            if (t.k == token::kind::end) unbalanced(open);
            if (t.k == token::kind::open) ++depth;
            if (t.k == token::kind::close) --depth;
        }
    }

    // ---- variables
    // X_i or Y_j (decimal index without leading zeros): 'X' or 'Y', else 0.
    static char variable(std::string_view s, std::uint64_t& index) {
        if (s.size() < 3 || (s[0] != 'X' && s[0] != 'Y') || s[1] != '_') return 0;
        const std::string_view digits = s.substr(2);
        if (digits.size() > 18 || (digits.size() > 1 && digits[0] == '0')) return 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
        if (ec != std::errc() || end != digits.data() + digits.size()) return 0;
        return s[0];
    }
    void check_x_index(const token& t, std::uint64_t index) const {
        if (index >= inputs_)
            fail(at_line(path_, t.line), std::string(t.text) + ": input index out of range (the network takes " +
                                             plural(inputs_, "input", "inputs") + ", X_0 ... X_" + std::to_string(inputs_ - 1) + ")");
    }
    void declare() {
        const token name = next(), type = next();
        if (name.k != token::kind::symbol || type.k != token::kind::symbol)
            fail(at_line(path_, name.line), "expected (declare-const NAME Real)");
        std::uint64_t index = 0;
        const char kind = variable(name.text, index);
        if (kind == 0)
            fail(at_line(path_, name.line), "unsupported variable " + quote(name.text) + " (qbound reads inputs X_i and outputs Y_j)");
        if (type.text != "Real") fail(at_line(path_, type.line), std::string(name.text) + " has type " + quote(type.text) + ", expected Real");
        if (kind == 'X') {
            check_x_index(name, index);
            if (declared_x_[index]) fail(at_line(path_, name.line), std::string(name.text) + " is declared twice");
            declared_x_[index] = 1;
            ++x_declared_;
        } else if (!declared_y_.insert(index).second) {
            fail(at_line(path_, name.line), std::string(name.text) + " is declared twice");
        }
        expect_close("declare-const takes a name and a type");
    }

    // ---- constraints
    partial_bounds new_bounds(std::size_t line) {
        coordinates_ += inputs_;
        if (coordinates_ > lim_.max_region_coordinates)
            fail(at_line(path_, line), limit_message("boxes x inputs", coordinates_, "max_region_coordinates", lim_.max_region_coordinates));
        partial_bounds b;
        b.lo.resize(inputs_);
        b.hi.resize(inputs_);
        b.lo_line.assign(inputs_, 0);
        b.hi_line.assign(inputs_, 0);
        b.line = line;
        return b;
    }

    term operand(int depth) {
        const token t = next();
        if (t.k == token::kind::end) unbalanced(t);
        if (t.k == token::kind::close) fail(at_line(path_, t.line), "a comparison lacks an operand");
        term r;
        if (t.k == token::kind::symbol) {
            std::uint64_t index = 0;
            const char kind = variable(t.text, index);
            if (kind == 'X') {
                check_x_index(t, index);
                if (!declared_x_[index]) fail(at_line(path_, t.line), std::string(t.text) + " is used before its declare-const");
                r.k = term::kind::x;
                r.index = static_cast<std::size_t>(index);
                r.has_x = true;
            } else if (kind == 'Y') {
                if (!declared_y_.count(index)) fail(at_line(path_, t.line), std::string(t.text) + " is used before its declare-const");
                r.k = term::kind::y;
                r.has_y = true;
            } else {
                r.value = number(t.text, at_line(path_, t.line));
            }
            return r;
        }
        // (op operand ...): only (- number) is a number; anything else is an
        // expression, read for the variables it uses.
        if (depth > max_depth) fail(at_line(path_, t.line), "expressions nested deeper than " + std::to_string(max_depth));
        const token op = next();
        if (op.k != token::kind::symbol) fail(at_line(path_, op.line), "expected an operator after '('");
        std::vector<term> args;
        bool any_var = false;
        while (peek().k != token::kind::close) {
            if (peek().k == token::kind::end) unbalanced(peek());
            term a = operand(depth + 1);
            r.has_x = r.has_x || a.has_x;
            r.has_y = r.has_y || a.has_y;
            any_var = any_var || a.has_x || a.has_y;
            if (args.size() < 2) args.push_back(std::move(a));
        }
        next();
        if (op.text == "-" && args.size() == 1 && !any_var && args[0].k == term::kind::number) {
            r.value = -args[0].value;
            return r;
        }
        r.k = term::kind::expression;
        return r;
    }

    static bool is_comparison(std::string_view s) { return s == "<=" || s == ">=" || s == "<" || s == ">" || s == "="; }

    // (op a b) after the op; `open` is its '('.
    void comparison(const token& open, const token& op, int depth, conjunction& c) {
        const term a = operand(depth + 1), b = operand(depth + 1);
        if (peek().k != token::kind::close) {
            if (peek().k == token::kind::end) unbalanced(peek());
            fail(at_line(path_, open.line), "comparison " + text_from(open) + " has more than two operands (not supported)");
        }
        next();
        const std::string what = text_from(open);
        const std::string where = at_line(path_, open.line);
        const bool has_x = a.has_x || b.has_x, has_y = a.has_y || b.has_y;
        if (has_x && has_y) fail(where, "constraint " + what + " mixes inputs X and outputs Y (not supported)");
        if (has_y) {
            if (c.y_atoms++ == 0) c.first_y = what;
            return;
        }
        if (!has_x) fail(where, "constraint " + what + " constrains no variable");
        const bool x_left = a.k == term::kind::x && b.k == term::kind::number;
        const bool x_right = a.k == term::kind::number && b.k == term::kind::x;
        if (!x_left && !x_right)
            fail(where, "constraint " + what + " on the inputs is not a bound of one X_i by a number (qbound reads input constraints as boxes)");
        if (c.x_atoms++ == 0) c.first_x = what;
        if (op.text == "<" || op.text == ">") strict_ = true;
        const bool less = op.text == "<=" || op.text == "<";
        const bool upper = op.text == "=" || (less == x_left);
        const bool lower = op.text == "=" || (less != x_left);
        const std::size_t i = x_left ? a.index : b.index;
        const rational& v = x_left ? b.value : a.value;
        if (c.bounds == nullptr) {
            disjuncts_.push_back(new_bounds(disjunct_line_));
            c.bounds = &disjuncts_.back();
        }
        partial_bounds& pb = *c.bounds;
        if (lower && (pb.lo_line[i] == 0 || v > pb.lo[i])) {
            pb.lo[i] = v;
            pb.lo_line[i] = open.line;
        }
        if (upper && (pb.hi_line[i] == 0 || v < pb.hi[i])) {
            pb.hi[i] = v;
            pb.hi_line[i] = open.line;
        }
    }

    // One constraint: `top` for an assert (or one of its and-ed parts), else
    // inside a disjunct (no or allowed).
    void constraint(const token& parent, int depth, conjunction& c, bool top) {
        const token open = next();
        if (open.k == token::kind::end) unbalanced(open);
        if (open.k != token::kind::open)
            fail(at_line(path_, open.line), "expected a constraint '(...)' in " + text_from(parent) + ", found " + quote(open.text));
        if (depth > max_depth) fail(at_line(path_, open.line), "constraints nested deeper than " + std::to_string(max_depth));
        const token head = next();
        if (head.k != token::kind::symbol) fail(at_line(path_, head.line), "expected an operator after '('");
        if (head.text == "and") {
            while (peek().k != token::kind::close) constraint(open, depth + 1, c, top);
            next();
        } else if (head.text == "or") {
            if (!top) fail(at_line(path_, open.line), "a disjunction (or ...) inside a disjunct is not supported");
            disjunction(open, depth);
        } else if (is_comparison(head.text)) {
            comparison(open, head, depth, c);
        } else {
            skip_to_close(open);
            fail(at_line(path_, open.line), "unsupported constraint " + text_from(open) +
                                                " (qbound reads <=, >=, <, >, = , and, or)");
        }
    }

    void disjunction(const token& open, int depth) {
        std::size_t x_line = 0, y_line = 0, count = 0, y_atoms = 0;
        while (peek().k != token::kind::close) {
            if (peek().k == token::kind::end) unbalanced(peek());
            const token start = peek();
            disjunct_line_ = start.line;
            conjunction c;
            constraint(open, depth + 1, c, false);
            ++count;
            if (c.x_atoms > 0 && c.y_atoms > 0)
                fail(at_line(path_, start.line), "disjunct " + std::to_string(count) + " mixes inputs X (" + c.first_x + ") and outputs Y (" +
                                                     c.first_y + ") (not supported)");
            if (c.y_atoms > 0) {
                y_line = y_line ? y_line : start.line;
                y_atoms += c.y_atoms;
            } else {
                x_line = x_line ? x_line : start.line;
                if (c.bounds == nullptr) disjuncts_.push_back(new_bounds(start.line));  // (and): no bound of its own
            }
        }
        next();
        if (count == 0) fail(at_line(path_, open.line), "an empty disjunction (or) is false: the region is empty");
        if (x_line && y_line)
            fail(at_line(path_, open.line), "disjunction mixes disjuncts on the inputs X (line " + std::to_string(x_line) +
                                                ") and on the outputs Y (line " + std::to_string(y_line) + ") (not supported)");
        if (y_line) {
            outputs_ += y_atoms;
            return;
        }
        if (disjunction_line_ != 0)
            fail(at_line(path_, open.line), "a second disjunction over the inputs (the first is at line " + std::to_string(disjunction_line_) +
                                                "): only one is supported");
        disjunction_line_ = open.line;
    }

    // ---- the region
    rational_box box_of(partial_bounds& d, std::size_t number) {
        const bool own = &d != &top_;
        const std::string where = own ? at_line(path_, d.line) + ": disjunct " + std::to_string(number) : path_;
        rational_box box = make_box(inputs_);
        for (std::size_t i = 0; i < inputs_; ++i) {
            const std::string x = "X_" + std::to_string(i);
            const bool has_lo = d.lo_line[i] != 0 || top_.lo_line[i] != 0, has_hi = d.hi_line[i] != 0 || top_.hi_line[i] != 0;
            const char* scope = own ? " (neither in the disjunct nor at the top level)" : "";
            if (!has_lo) fail(where, x + " has no lower bound" + scope);
            if (!has_hi) fail(where, x + " has no upper bound" + scope);
            if (own) {
                box.lower[i] = d.lo_line[i] == 0 ? top_.lo[i] : (top_.lo_line[i] == 0 ? d.lo[i] : std::max(d.lo[i], top_.lo[i]));
                box.upper[i] = d.hi_line[i] == 0 ? top_.hi[i] : (top_.hi_line[i] == 0 ? d.hi[i] : std::min(d.hi[i], top_.hi[i]));
            } else {
                box.lower[i] = std::move(d.lo[i]);
                box.upper[i] = std::move(d.hi[i]);
            }
            if (box.lower[i] > box.upper[i]) {
                if (own)
                    throw core::invalid_argument(where + " is empty: " + x + " >= " + exact_text(box.lower[i]) + " and " + x + " <= " + exact_text(box.upper[i]) +
                                    " (after intersecting with the top-level bounds)");
                fail(at_line(path_, std::max(d.lo_line[i], d.hi_line[i])),
                     x + ": lower bound " + exact_text(box.lower[i]) + " > upper bound " + exact_text(box.upper[i]) + " (the region is empty)");
            }
        }
        return box;
    }

    input_region finish() {
        if (x_declared_ != inputs_) {
            std::size_t missing = 0;
            while (declared_x_[missing]) ++missing;
            fail(path_, "declares " + plural(x_declared_, "input variable", "input variables") + " X_i, but the network takes " +
                            plural(inputs_, "input", "inputs") + " (expected X_0 ... X_" + std::to_string(inputs_ - 1) + "; X_" +
                            std::to_string(missing) + " is not declared)");
        }
        input_region r;
        if (disjunction_line_ == 0) {
            r.boxes.push_back(box_of(top_, 0));
        } else {
            r.boxes.reserve(disjuncts_.size());
            std::size_t k = 0;
            for (auto& d : disjuncts_) r.boxes.push_back(box_of(d, ++k));
        }
        r.described = "vnnlib file " + path_ + " (" + plural(inputs_, "input", "inputs") +
                      (r.boxes.size() > 1 ? ", union of " + std::to_string(r.boxes.size()) + " boxes" : std::string()) + ")";
        if (outputs_ > 0)
            r.notes.push_back("vnnlib: " + plural(outputs_, "output constraint", "output constraints") +
                              " ignored (qbound bounds the whole output difference)");
        if (strict_)
            r.notes.push_back("vnnlib: strict input bounds (< and >) read as <= and >= (the closed box: a continuous network has the same "
                              "supremum there)");
        if (!skipped_.empty()) {
            std::string s = "vnnlib: skipped";
            for (const auto& c : skipped_) s += " " + c;
            r.notes.push_back(s);
        }
        return r;
    }

    std::string path_;
    std::size_t inputs_;
    const limits& lim_;
    std::string text_;
    std::size_t pos_ = 0, line_ = 1;
    token ahead_;
    bool peeked_ = false;
    std::vector<char> declared_x_;
    std::size_t x_declared_ = 0;
    std::set<std::uint64_t> declared_y_;
    partial_bounds top_;
    std::vector<partial_bounds> disjuncts_;  // the boxes of the disjunction over X
    std::size_t disjunct_line_ = 0, disjunction_line_ = 0;
    std::uint64_t coordinates_ = 0;
    std::size_t outputs_ = 0;
    bool strict_ = false;
    std::set<std::string> skipped_;
};

}  // namespace region_detail
}  // namespace

input_region read_box_file(const std::string& path, std::size_t inputs, const limits& lim) {
    using namespace region_detail;
    check_inputs(path, inputs, lim);
    const std::string text = read_text(path, lim);
    input_region r;
    r.boxes.push_back(make_box(inputs));
    rational_box& box = r.boxes.back();
    std::size_t found = 0, first_extra = 0;
    for_each_line(text, [&](std::size_t line, std::string_view content) {
        if (content.empty()) return;
        if (found < inputs) {
            auto [lo, hi] = box_line(content, at_line(path, line) + ": input " + std::to_string(found));
            box.lower[found] = std::move(lo);
            box.upper[found] = std::move(hi);
        } else if (first_extra == 0) {
            first_extra = line;
        }
        ++found;
    });
    if (found != inputs)
        fail(path, plural(found, "bound line", "bound lines") + ", but the network takes " + plural(inputs, "input", "inputs") +
                       " (expected " + std::to_string(inputs) + " lines 'lo hi', one per input" +
                       (first_extra ? "; the first extra line is line " + std::to_string(first_extra) : std::string()) + ")");
    r.described = "box file " + path + " (" + plural(inputs, "input", "inputs") + ")";
    return r;
}

input_region read_vnnlib(const std::string& path, std::size_t inputs, const limits& lim) {
    region_detail::check_inputs(path, inputs, lim);
    return region_detail::vnnlib_reader(path, inputs, lim).read();
}

std::vector<arith::rational> read_point_file(const std::string& path, std::size_t inputs, const limits& lim) {
    using namespace region_detail;
    check_inputs(path, inputs, lim);
    const std::string text = read_text(path, lim);
    std::vector<arith::rational> point;
    point.reserve(inputs);
    std::size_t found = 0;
    for_each_line(text, [&](std::size_t line, std::string_view content) {
        std::size_t i = 0;
        while (i < content.size()) {
            while (i < content.size() && (is_blank(content[i]) || content[i] == ',')) ++i;
            const std::size_t start = i;
            while (i < content.size() && !is_blank(content[i]) && content[i] != ',') ++i;
            if (i == start) continue;
            if (found < inputs) point.push_back(number(content.substr(start, i - start), at_line(path, line) + ": value " + std::to_string(found)));
            ++found;
        }
    });
    if (found != inputs)
        fail(path, plural(found, "value", "values") + ", but the network takes " + plural(inputs, "input", "inputs") + " (expected " +
                       std::to_string(inputs) + " values)");
    return point;
}

input_region ball_region(const std::vector<arith::rational>& center, const arith::rational& eps,
                         const std::optional<std::pair<arith::rational, arith::rational>>& clip, const std::string& described) {
    using region_detail::fail;
    if (center.empty()) fail(described, "the centre has no coordinates");
    if (eps < 0) fail(described, "the radius eps = " + exact_text(eps) + " is negative");
    if (clip && clip->first > clip->second)
        fail(described, "the clip interval [" + exact_text(clip->first) + ", " + exact_text(clip->second) + "] is empty (lo > hi)");
    input_region r;
    r.boxes.push_back(region_detail::make_box(center.size()));
    rational_box& box = r.boxes.back();
    for (std::size_t i = 0; i < center.size(); ++i) {
        box.lower[i] = center[i] - eps;
        box.upper[i] = center[i] + eps;
        if (!clip) continue;
        if (box.lower[i] < clip->first) box.lower[i] = clip->first;
        if (box.upper[i] > clip->second) box.upper[i] = clip->second;
        if (box.lower[i] > box.upper[i])
            fail(described, "input " + std::to_string(i) + ": [c - eps, c + eps] = [" + exact_text(center[i] - eps) + ", " +
                                exact_text(center[i] + eps) + "] does not meet the clip interval [" + exact_text(clip->first) + ", " +
                                exact_text(clip->second) + "] (the region is empty)");
    }
    r.described = described;
    return r;
}

input_region centered_region(std::size_t inputs, const arith::rational& D) {
    const std::string described = "[-D, D]^" + std::to_string(inputs) + " with D = " + exact_text(D);
    if (inputs == 0) region_detail::fail(described, "the network takes no inputs");
    if (D < 0) region_detail::fail(described, "D is negative");
    input_region r;
    r.boxes.push_back({std::vector<arith::rational>(inputs, arith::rational(-D)), std::vector<arith::rational>(inputs, D)});
    r.described = described;
    return r;
}

std::optional<input_region> default_region(const std::string& model, std::size_t inputs, const limits& lim) {
    using region_detail::fail;
    if (std::filesystem::path(model).extension().string() != ".nnet") return std::nullopt;
    const nnet_model m = read_nnet(model, lim);
    if (m.input_min.size() != inputs)
        fail(model, "the NNet file has " + region_detail::plural(m.input_min.size(), "input", "inputs") + ", expected " +
                        std::to_string(inputs));
    input_region r;
    r.boxes.push_back(region_detail::make_box(inputs));
    rational_box& box = r.boxes.back();
    for (std::size_t i = 0; i < inputs; ++i) {
        box.lower[i] = arith::to_rational(m.input_min[i], "input minimum");
        box.upper[i] = arith::to_rational(m.input_max[i], "input maximum");
        if (box.lower[i] > box.upper[i])
            fail(model, "input " + std::to_string(i) + ": the input minimum " + core::exact_digits(m.input_min[i]) +
                            " exceeds the input maximum " + core::exact_digits(m.input_max[i]));
    }
    r.described = "the input bounds [input_min, input_max] of " + model + " (" + region_detail::plural(inputs, "input", "inputs") +
                  ", raw input units)";
    return r;
}

arith::rational covering_D(const input_region& r) {
    arith::rational D = 0;
    for (const auto& b : r.boxes) {
        for (const auto& v : b.lower) D = std::max(D, arith::rational(abs(v)));
        for (const auto& v : b.upper) D = std::max(D, arith::rational(abs(v)));
    }
    return D;
}

std::string exact_text(const arith::rational& q) {
    const arith::integer num = boost::multiprecision::numerator(q), den = boost::multiprecision::denominator(q);
    arith::integer rest = den;
    unsigned twos = 0, fives = 0;
    while (twos <= 30 && rest % 2 == 0) {
        rest /= 2;
        ++twos;
    }
    while (fives <= 30 && rest % 5 == 0) {
        rest /= 5;
        ++fives;
    }
    const unsigned k = std::max(twos, fives);
    if (rest != 1 || k > 30) return q.str();
    const arith::integer scaled = abs(num) * boost::multiprecision::pow(arith::integer(10), k) / den;
    std::string digits = scaled.str();
    if (digits.size() <= k) digits.insert(0, k + 1 - digits.size(), '0');
    if (k > 0) digits.insert(digits.size() - k, ".");
    return (num < 0 ? "-" : "") + digits;
}

}  // namespace qbound::io
