// `qbound demo --quick` end to end: the report folder exists, report.json
// parses and holds every section with the numbers the paper's table and the
// architecture view must print exactly, report.md has every section, the
// plots are real PNG/SVG files, the counterexamples it lists replay, and a
// second run on one thread gives the same numbers. The hunt (section 7, and
// the campaign's family `hunt`) refutes G as cited once biases are
// quantized (L = 1: the bias coordinate is not counted in W), so the demo
// exits 1 and says so; no menu family violates a bound whose hypotheses hold,
// and no other theorem is refuted.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// report.json without what may differ between runs (time, thread count, the folder's name).
std::string normalized_report(const fs::path& out) {
    auto j = nlohmann::json::parse(slurp(out / "report.json"));
    j.erase("seconds");
    j.erase("threads");
    std::string text = j.dump();
    for (std::size_t at; (at = text.find(out.string())) != std::string::npos;) text.replace(at, out.string().size(), "OUT");
    return text;
}

int run(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const nlohmann::json* find_model(const nlohmann::json& rows, const std::string& model) {
    for (const auto& r : rows)
        if (r.at("model") == model) return &r;
    return nullptr;
}

}  // namespace

TEST_CASE("qbound demo --quick writes a complete, readable report") {
    const fs::path out = fs::temp_directory_path() / ("qbound-demo-report-test-" + std::to_string(::getpid()));
    fs::remove_all(out);
    const std::string cli = QBOUND_CLI;
    REQUIRE(run(cli + " demo --quick --threads 2 --out " + out.string() + " > " + (out.string() + ".log") + " 2>&1") == 1);

    // report.json: every section, parseable.
    REQUIRE(fs::exists(out / "report.json"));
    const auto j = nlohmann::json::parse(slurp(out / "report.json"));
    for (const char* key : {"number_types", "campaign", "paper_table", "depth", "small_cnn", "equalization", "hunt", "theorem_violated"})
        CHECK(j.contains(key));
    CHECK(j.at("mode") == "quick");
    CHECK(j.at("theorem_violated") == true);

    // The hunt: G[r=max] violated on a pair where its hypotheses hold, saved and replayable (exit 1: hypotheses
    // met); the theorems that count the bias coordinate (A', B-bias) and A (biases shared) are not violated.
    bool found_g = false;
    for (const auto& v : j.at("hunt").at("variants")) {
        const auto& holding = v.at("holding");
        const std::string name = v.at("variant");
        if (name == "G[r=max]") {
            found_g = true;
            REQUIRE(holding.at("verdict") == "VIOLATED");
            CHECK(holding.at("hypotheses_hold") == true);
            CHECK(holding.at("certified_ratio").get<double>() > 1);
            const fs::path folder = out / holding.at("saved").get<std::string>();
            CHECK(run(cli + " replay " + folder.string() + " > /dev/null") == 1);
        }
        if (name == "A-per-layer[r=max]" || name == "A'-per-layer[r=max]" || name == "B-bias[r=max]" || name == "residual-aware[r=max]")
            CHECK(holding.at("verdict") != "VIOLATED");
    }
    CHECK(found_g);
    CHECK(j.at("hunt").at("frontier").at("cells").size() == 4 * 3);  // depths 1..4, widths 1, 2, 4

    // Number types: no enclosure misses the exact value.
    for (const auto& r : j.at("number_types").at("results"))
        if (r.at("guarantee") != "approximate") CHECK(r.at("contains_exact") == true);

    // The paper's table (a): exact widths and depths of the three ImageNet models at 224.
    const auto& a = j.at("paper_table").at("paper_norms");
    const auto* resnet18 = find_model(a, "resnet18");
    const auto* resnet50 = find_model(a, "resnet50");
    const auto* mobilenet = find_model(a, "mobilenetv2");
    REQUIRE(resnet18);
    REQUIRE(resnet50);
    REQUIRE(mobilenet);
    CHECK(resnet18->at("L") == 18);
    CHECK(resnet18->at("old_width") == 802816);
    CHECK(resnet18->at("new_width") == 4609);
    CHECK(resnet50->at("L") == 50);
    CHECK(resnet50->at("old_width") == 802816);
    CHECK(resnet50->at("new_width") == 4609);
    CHECK(mobilenet->at("L") == 53);
    CHECK(mobilenet->at("old_width") == 1204224);
    CHECK(mobilenet->at("new_width") == 8641);
    CHECK(mobilenet->at("new_width_group_aware") == 1281);
    CHECK(j.at("paper_table").at("computed_norms").size() == 3);

    // Campaign: G-entrywise is refuted by a saved, replayable counterexample;
    // no pair of the menu violates a bound whose hypotheses hold (only hunted pairs do, G as cited).
    const auto& campaign = j.at("campaign");
    CHECK(campaign.at("families").back() == "hunt");
    for (const auto& f : campaign.at("violations_by_family"))
        if (f.at("family") != "hunt") CHECK(f.at("variant").get<std::string>().rfind("G[", 0) != 0);
    bool found_entrywise = false;
    for (const auto& v : campaign.at("variants")) {
        if (v.at("variant").get<std::string>().rfind("G[", 0) != 0) CHECK(v.at("violated_with_hypotheses") == 0);
        CHECK(v.at("pairs") == campaign.at("pairs"));
        if (v.at("variant") == "G-entrywise[r=max]") {
            found_entrywise = true;
            CHECK(v.at("violated").get<int>() > 0);
            REQUIRE(v.contains("counterexample"));
            const fs::path folder = out / v.at("counterexample").get<std::string>();
            CHECK(fs::exists(folder / "witness.json"));
            CHECK(run(cli + " replay " + folder.string() + " > /dev/null") == 0);
        }
    }
    CHECK(found_entrywise);

    // Depth: the bracket is ordered and A-per-layer holds at every depth.
    for (const auto& p : j.at("depth").at("checks")) {
        CHECK(std::stod(p.at("lower").get<std::string>()) <= std::stod(p.at("upper").get<std::string>()));
        for (const auto& v : p.at("verdicts"))
            if (v.at("hypotheses_hold") == true) CHECK(v.at("verdict") != "VIOLATED");
    }
    CHECK(j.at("depth").at("constants").at("rows").size() == 11);  // L = 2..12 in quick mode

    // The small CNN: six quantized copies, each saved and replayable.
    const auto& cnn = j.at("small_cnn");
    REQUIRE(cnn.size() == 6);
    for (const auto& c : cnn) {
        CHECK(std::stod(c.at("lower").get<std::string>()) <= std::stod(c.at("upper").get<std::string>()));
        CHECK(fs::exists(out / c.at("case").get<std::string>() / "theta_q.onnx"));
    }

    // Equalization leaves the function unchanged (exact rationals).
    CHECK(j.at("equalization").at("outputs_identical") == true);
    CHECK(j.at("equalization").at("stages").size() == 3);

    // report.md: every section.
    const std::string md = slurp(out / "report.md");
    for (const char* section : {"# qbound demo report", "## What the verdicts mean", "## Summary", "## 1. Number types",
                                "## 2. Campaign", "## 3. The paper's table", "## 4. Bounds against depth",
                                "## 5. A quantized small CNN", "## 6. Rescaling", "## 7. Hunt", "### Tightness frontier", "## Reproduce", "| resnet18 | 18 | 802,816 |",
                                "qbound replay"})
        CHECK(md.find(section) != std::string::npos);

    // Plots: real PNG and SVG files.
    for (const char* stem : {"bounds_vs_depth", "depth_sweep_constants", "depth_sweep_gain", "equalization_norms", "campaign_tightness",
                             "campaign_depth", "hunt_frontier", "hunt_history"}) {
        const std::string png = slurp(out / (std::string(stem) + ".png"));
        REQUIRE(png.size() > 1000);
        CHECK(png.substr(1, 3) == "PNG");
        CHECK(slurp(out / (std::string(stem) + ".svg")).find("<svg") != std::string::npos);
        CHECK(md.find(std::string("(") + stem + ".png)") != std::string::npos);
    }

    // Budgets are counts, not times: the numbers do not depend on --threads.
    const fs::path single = fs::temp_directory_path() / ("qbound-demo-report-test-1-thread-" + std::to_string(::getpid()));
    fs::remove_all(single);
    REQUIRE(run(cli + " demo --quick --threads 1 --out " + single.string() + " > /dev/null 2>&1") == 1);
    CHECK(normalized_report(single) == normalized_report(out));
}

