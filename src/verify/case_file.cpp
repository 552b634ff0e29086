#include "qbound/verify/case_file.hpp"

#include "qbound/core/errors.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/io/onnx_export.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

namespace qbound::verify {

namespace {

std::string hex(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    return buf;
}

// Exact text of a rational: "p/q" (or "p").
std::string exact(const arith::rational& q) {
    const auto num = boost::multiprecision::numerator(q), den = boost::multiprecision::denominator(q);
    return den == 1 ? num.str() : num.str() + "/" + den.str();
}

}  // namespace

void save_case(const std::filesystem::path& folder, const net::network& theta, const net::network& quantized, const arith::rational& D,
               const point_difference& witness, const std::string& note) {
    std::filesystem::create_directories(folder);
    io::write_onnx(theta, (folder / "theta.onnx").string());
    io::write_onnx(quantized, (folder / "theta_q.onnx").string());
    nlohmann::json w{{"format", "qbound case 1"},
                     {"note", note},
                     {"theta", "theta.onnx"},
                     {"theta_quantized", "theta_q.onnx"},
                     {"D", exact(D)},
                     {"certified_lower", arith::to_decimal(witness.lower, 20)},
                     {"certified_lower_exact", exact(witness.lower)},
                     {"arithmetic", witness.arithmetic},
                     {"output", witness.output}};
    for (double v : witness.x) w["x_hex"].push_back(hex(v));
    std::ofstream out(folder / "witness.json");
    out << w.dump(2) << "\n";
    if (!out) throw core::invalid_argument((folder / "witness.json").string() + ": cannot write the case file");
}

replay_case load_case(const std::filesystem::path& where) {
    const auto file = std::filesystem::is_directory(where) ? where / "witness.json" : where;
    const auto folder = file.parent_path();
    const std::string name = file.string();
    const io::limits lim = io::limits_from_environment();
    const auto size = io::check_file_size(file, lim.max_case_file_bytes, "max_case_file_bytes");
    if (!size.error.empty())
        throw core::invalid_argument(name + ": " + (size.error == "cannot open file" ? "cannot open the case file" : size.error));
    std::ifstream in(file);
    if (!in) throw core::invalid_argument(name + ": cannot open the case file");
    nlohmann::json j;
    try {
        in >> j;
    } catch (const std::exception& e) {
        throw core::invalid_argument(name + ": not a qbound case (JSON): " + e.what());
    }
    const auto text = [&](const char* field) {
        if (!j.contains(field) || !j[field].is_string()) throw core::invalid_argument(name + ": field '" + field + "' is missing or not a string");
        return j[field].get<std::string>();
    };
    if (!j.is_object()) throw core::invalid_argument(name + ": not a qbound case (the JSON is not an object)");
    if (!j.contains("x_hex") || !j["x_hex"].is_array()) throw core::invalid_argument(name + ": field 'x_hex' is missing");
    if (j.contains("note") && !j["note"].is_string()) throw core::invalid_argument(name + ": field 'note' is not a string");
    replay_case c{io::read_onnx((folder / text("theta")).string(), lim).network,
                  io::read_onnx((folder / text("theta_quantized")).string(), lim).network,
                  arith::parse_rational(text("D"), (name + ": D").c_str()), {}, j.value("note", std::string())};
    if (j["x_hex"].size() != c.theta.input_shape().size())
        throw core::invalid_argument(name + ": the witness has " + std::to_string(j["x_hex"].size()) + " inputs, the network " +
                                      std::to_string(c.theta.input_shape().size()));
    for (const auto& v : j["x_hex"]) {
        if (!v.is_string()) throw core::invalid_argument(name + ": 'x_hex' entries must be hex float strings");
        const std::string s = v.get<std::string>();
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !std::isfinite(d)) throw core::invalid_argument(name + ": bad 'x_hex' entry '" + s + "'");
        if (arith::to_rational(d) > c.D || arith::to_rational(d) < -c.D)
            throw core::invalid_argument(name + ": the witness entry " + s + " lies outside [-D, D]");
        c.x.push_back(d);
    }
    if (c.x.size() != c.theta.input_shape().size())
        throw core::invalid_argument(name + ": the witness has " + std::to_string(c.x.size()) + " inputs, the network " +
                                      std::to_string(c.theta.input_shape().size()));
    return c;
}

}  // namespace qbound::verify
