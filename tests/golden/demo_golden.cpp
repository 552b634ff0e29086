// `qbound demo --quick --seed 1` against the report of the code before the
// experiments moved into their library (tests/golden/demo_quick_seed1.json
// and .md, first written by e2e47c1; regenerated when the demo gained the hunt (section 7 and the
// campaign family `hunt`), the out folder removed from paths):
//   report.json  keys, list lengths, strings, integers and booleans exactly;
//                floating-point numbers within relative 1e-12 (another CPU's
//                libm may differ in the last bit); timing keys (`seconds`,
//                `*_seconds`) and `threads` ignored; the out folder is
//                removed from paths before comparing;
//   report.md    identical after the out folder is written OUT and the
//                timing line ("Generated in N s.") is dropped.
// To regenerate (only after checking a changed report by hand): run the
// command above, strip "<out>/" from report.json and write <out> as OUT in
// report.md.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    INFO("reading " << p);
    REQUIRE(in.good());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
    return text;
}

bool ignored_key(const std::string& key) {
    const std::string suffix = "_seconds";
    return key == "seconds" || key == "threads" || (key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0);
}

const char* kind(const json& j) {
    if (j.is_object()) return "object";
    if (j.is_array()) return "array";
    if (j.is_string()) return "string";
    if (j.is_boolean()) return "boolean";
    if (j.is_null()) return "null";
    if (j.is_number_float()) return "float";
    return "integer";
}

// Appends every difference between expected and actual (at `path`) to `out`.
void compare(const json& expected, const json& actual, const std::string& path, std::vector<std::string>& out) {
    if (std::string(kind(expected)) != kind(actual)) {
        out.push_back(path + ": " + kind(expected) + " " + expected.dump() + " vs " + kind(actual) + " " + actual.dump());
        return;
    }
    if (expected.is_object()) {
        std::set<std::string> keys;
        for (const auto& [k, v] : expected.items()) keys.insert(k);
        for (const auto& [k, v] : actual.items()) keys.insert(k);
        for (const auto& k : keys) {
            if (ignored_key(k)) continue;
            if (!expected.contains(k) || !actual.contains(k)) {
                out.push_back(path + "." + k + ": only in " + (expected.contains(k) ? "the golden file" : "the new report"));
                continue;
            }
            compare(expected.at(k), actual.at(k), path + "." + k, out);
        }
    } else if (expected.is_array()) {
        if (expected.size() != actual.size())
            out.push_back(path + ": " + std::to_string(expected.size()) + " entries vs " + std::to_string(actual.size()));
        for (std::size_t i = 0; i < std::min(expected.size(), actual.size()); ++i)
            compare(expected[i], actual[i], path + "[" + std::to_string(i) + "]", out);
    } else if (expected.is_number_float()) {
        const double e = expected.get<double>(), a = actual.get<double>();
        if (!(e == a || std::fabs(e - a) <= 1e-12 * std::max(std::fabs(e), std::fabs(a))))
            out.push_back(path + ": " + expected.dump() + " vs " + actual.dump() + " (beyond relative 1e-12)");
    } else if (expected != actual) {
        out.push_back(path + ": " + expected.dump() + " vs " + actual.dump());
    }
}

// report.md without the timing line.
std::string without_timing(const std::string& md) {
    std::istringstream in(md);
    std::string line, out;
    while (std::getline(in, line))
        if (line.rfind("Generated in ", 0) != 0) out += line + "\n";
    return out;
}

int run(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("qbound demo --quick --seed 1 reproduces the golden report") {
    const fs::path out = fs::temp_directory_path() / ("qbound-" + std::to_string(::getpid())) / "demo-golden";
    fs::remove_all(out);
    fs::create_directories(out.parent_path());
    const std::string log = out.string() + ".log";
    INFO("log: " << log);
    // Exit 1: the hunt refutes G as cited once biases are quantized (README, "What the hunt found").
    REQUIRE(run(std::string(QBOUND_CLI) + " demo --quick --seed 1 --out " + out.string() + " > " + log + " 2>&1") == 1);

    const fs::path golden = QBOUND_GOLDEN_DIR;
    const json expected = json::parse(slurp(golden / "demo_quick_seed1.json"));
    const json actual = json::parse(replace_all(slurp(out / "report.json"), out.string() + "/", ""));
    std::vector<std::string> differences;
    compare(expected, actual, "", differences);
    std::string shown;
    for (std::size_t i = 0; i < differences.size() && i < 40; ++i) shown += differences[i] + "\n";
    INFO(differences.size() << " differences in report.json:\n" << shown);
    CHECK(differences.empty());

    const std::string md_expected = without_timing(slurp(golden / "demo_quick_seed1.md"));
    const std::string md_actual = without_timing(replace_all(slurp(out / "report.md"), out.string(), "OUT"));
    if (md_expected != md_actual) {
        std::ofstream(out / "report.normalized.md") << md_actual;
        UNSCOPED_INFO("report.md differs; normalized copy in " << (out / "report.normalized.md"));
    }
    CHECK(md_expected == md_actual);
}
