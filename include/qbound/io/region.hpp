#pragma once
// Input regions Omega for `qbound check`: a union of boxes with exact
// rational endpoints (the caller rounds them to doubles), read from a box
// file, a VNN-COMP vnnlib property or a centre point and a radius, or taken
// from a .nnet file's input bounds.
//
// Numbers in every file are exact: decimals ("0.1" is 1/10), fractions
// ("1/3") and hex floats ("0x1.8p-3"), as arith::parse_number reads them.
// "inf", "nan" and values beyond the largest double (1e400) are refused.
// Inputs are numbered from 0, like vnnlib's X_0.
//
// Errors: every refusal is a core::invalid_argument whose message starts with
// the file's path, then the line ("p.box:3: input 2: ..."), and names the
// input, variable or constraint at fault; files beyond `lim`
// (max_region_file_bytes, max_region_coordinates; see limits.hpp) are refused
// before they are read. default_region reads the .nnet file with read_nnet,
// which throws net::model_error for a malformed model file.
#include "qbound/arith/rational.hpp"
#include "qbound/io/limits.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qbound::io {

// lower[i] <= x_i <= upper[i] for every input i (lower[i] <= upper[i]).
struct rational_box {
    std::vector<arith::rational> lower, upper;
};

struct input_region {
    std::vector<rational_box> boxes;  // Omega = union of the boxes (a vnnlib disjunction gives several)
    std::string described;            // one line for reports
    std::vector<std::string> notes;   // what was read but not used, and how constraints were read
};

// One line per input, in input order: "lo hi", "lo, hi" or "[lo, hi]".
// Blank lines are skipped, '#' starts a comment that runs to the end of the
// line. Exactly `inputs` lines.
input_region read_box_file(const std::string& path, std::size_t inputs, const limits& lim = limits_from_environment());

// A VNN-COMP vnnlib property: (declare-const X_i Real) for i = 0 .. inputs-1
// (and any Y_j), then asserts. Read as boxes:
//   (<= X_i c) (>= X_i c) (<= c X_i) (>= c X_i) (= X_i c); < and > as their
//     closures <= and >= (noted: the supremum of a continuous network over
//     an open box is the one over its closure); c a number or (- number);
//   (and ...) of those, at the top level or nested;
//   at most one (or (and ...) (and ...) ...) over the inputs: one box per
//     disjunct, each intersected with the top-level bounds;
//   constraints on Y only (alone or as a whole disjunction) are ignored and
//     counted in notes.
// Refused: a constraint mixing X and Y (a disjunction with some disjuncts on
// X and some on Y included), a constraint on X that is not a bound on one
// variable by a number (X_0 <= X_1, sums, ...), a nested or, an X index out
// of range, an undeclared variable, a missing declaration of some X_i, an
// empty disjunct or box, and an X_i without a lower or upper bound in the
// end. SMT-LIB commands that do not constrain (set-logic, set-info,
// set-option, check-sat, get-model, exit) are skipped; others are refused.
input_region read_vnnlib(const std::string& path, std::size_t inputs, const limits& lim = limits_from_environment());

// Exactly `inputs` numbers separated by blanks and/or commas (e.g. an image
// flattened in the network's input order), across any number of lines; '#'
// starts a comment.
std::vector<arith::rational> read_point_file(const std::string& path, std::size_t inputs,
                                             const limits& lim = limits_from_environment());

// [c_i - eps, c_i + eps] for every input i, intersected with [clip->first,
// clip->second] when clip is given. Refuses eps < 0, an empty clip (lo > hi),
// an empty centre, and an input whose interval misses the clip (naming it);
// `described` starts each message and becomes the region's description.
input_region ball_region(const std::vector<arith::rational>& center, const arith::rational& eps,
                         const std::optional<std::pair<arith::rational, arith::rational>>& clip, const std::string& described);

// [-D, D]^inputs (D >= 0, inputs >= 1).
input_region centered_region(std::size_t inputs, const arith::rational& D);

// For a model path ending in .nnet: the box [input_min, input_max] of the
// file, in raw input units (the exact doubles read_nnet reads for them);
// std::nullopt for any other model (zoo names, .onnx). Refuses a file whose
// input count is not `inputs` or whose minimum exceeds its maximum.
std::optional<input_region> default_region(const std::string& model, std::size_t inputs,
                                           const limits& lim = limits_from_environment());

// The smallest D with every box of r inside [-D, D]^inputs: the largest
// |endpoint| (0 for a region without boxes).
arith::rational covering_D(const input_region& r);

// q in a short exact form for messages and descriptions: a decimal when q has
// one of at most 30 fraction digits ("0.6", "-2.5e-3" as "-0.0025"), else p/q.
std::string exact_text(const arith::rational& q);

}  // namespace qbound::io
