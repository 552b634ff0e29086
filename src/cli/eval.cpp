// `qbound eval MODEL (--point v1,v2,... | --input FILE) [--against MODEL2] [--json]`:
// a network's outputs at one input, in double and certified (verify/evaluate.hpp).
#include "commands.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/experiments/models.hpp"
#include "qbound/io/region.hpp"
#include "qbound/verify/evaluate.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <optional>

namespace qbound::cli {

namespace {

std::vector<arith::rational> point_from_text(const std::string& text, std::size_t inputs) {
    std::vector<arith::rational> x;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        x.push_back(arith::parse_number(item, ("--point coordinate " + std::to_string(x.size())).c_str()));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (x.size() != inputs)
        throw core::invalid_argument("--point: " + std::to_string(x.size()) + " coordinates given, the network takes " + std::to_string(inputs));
    return x;
}

std::string enclosure_text(const arith::rational& lo, const arith::rational& hi) {
    if (lo == hi) return arith::to_decimal(lo, 17) + " (exact)";
    return "[" + arith::to_decimal(lo, 17) + ", " + arith::to_decimal(hi, 17) + "]";
}

}  // namespace

int run_eval(const eval_options& opt) {
    if (opt.point.empty() == opt.input.empty()) throw core::invalid_argument("eval: give exactly one of --point and --input");
    const auto loaded = experiments::load_model_with_weights(opt.model, opt.resolution, opt.seed, 0.0);
    const net::network& theta = loaded.network;
    const std::size_t inputs = theta.input_shape().size();
    const auto x = opt.point.empty() ? io::read_point_file(opt.input, inputs) : point_from_text(opt.point, inputs);
    const verify::evaluation e = verify::evaluate_point(theta, x);
    std::optional<verify::evaluation> q;
    std::optional<verify::difference_enclosure> d;
    if (!opt.against.empty()) {
        const auto other_loaded = experiments::load_model_with_weights(opt.against, opt.resolution, opt.seed, 0.0);
        const net::network& other = other_loaded.network;
        if (!(other.input_shape() == theta.input_shape()) || !(other.output_shape() == theta.output_shape()))
            throw core::invalid_argument("eval: '" + opt.against + "' has input " + net::to_string(other.input_shape()) + " and output " +
                                         net::to_string(other.output_shape()) + ", '" + opt.model + "' " + net::to_string(theta.input_shape()) +
                                         " and " + net::to_string(theta.output_shape()));
        q = verify::evaluate_point(other, x);
        d = verify::enclose_difference(e, *q);
    }
    if (opt.json) {
        nlohmann::json j{{"model", loaded.described}, {"inputs", inputs}, {"arithmetic", e.arithmetic}, {"point_is_double", e.point_is_double}};
        for (std::size_t k = 0; k < e.plain.size(); ++k) {
            nlohmann::json o{{"index", k}, {"double", e.plain[k]}, {"lower", arith::to_decimal(e.lower[k], 20)},
                             {"upper", arith::to_decimal(e.upper[k], 20)}, {"exact", e.lower[k] == e.upper[k]}};
            if (q) {
                o["against_double"] = q->plain[k];
                o["against_lower"] = arith::to_decimal(q->lower[k], 20);
                o["against_upper"] = arith::to_decimal(q->upper[k], 20);
                o["difference_lower"] = arith::to_decimal(d->lower[k], 20);
                o["difference_upper"] = arith::to_decimal(d->upper[k], 20);
            }
            j["outputs"].push_back(o);
        }
        if (q) j["against"] = {{"model", opt.against}, {"arithmetic", q->arithmetic}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    fmt::print("{} at a point of {} inputs{} ({}{})\n\n", loaded.described, inputs, e.point_is_double ? "" : " (not all doubles: the double column uses the nearest doubles)",
               e.arithmetic, q ? "; against " + opt.against + ": " + q->arithmetic : std::string());
    if (q) {
        fmt::print("{:>4}  {:>24}  {:>24}  {}\n", "k", "double", "against (double)", "certified difference R'(x)_k - R(x)_k (exact values shown to 17 digits)");
        for (std::size_t k = 0; k < e.plain.size(); ++k)
            fmt::print("{:>4}  {:>24.17g}  {:>24.17g}  {}\n", k, e.plain[k], q->plain[k], enclosure_text(d->lower[k], d->upper[k]));
    } else {
        fmt::print("{:>4}  {:>24}  {}\n", "k", "double", "certified value R(x)_k (exact values shown to 17 digits)");
        for (std::size_t k = 0; k < e.plain.size(); ++k)
            fmt::print("{:>4}  {:>24.17g}  {}\n", k, e.plain[k], enclosure_text(e.lower[k], e.upper[k]));
    }
    return 0;
}

}  // namespace qbound::cli
