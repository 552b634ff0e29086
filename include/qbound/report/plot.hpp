#pragma once
// Plots through gnuplot (Debian's gnuplot-nox): each plot is written as
// STEM.png and STEM.svg, with the data (STEM.dat) and the script (STEM.gp)
// beside them so a reader can re-render or restyle it.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace qbound::report {

struct series {
    std::string title;
    std::vector<double> x, y;  // same length; non-finite or (on a log axis) non-positive y are skipped
    bool points = true;        // markers as well as lines
    bool lines = true;         // false: markers only (a scatter)
    std::string color{};       // e.g. "#1f77b4"; empty: gnuplot's cycle
    int point_type = 0;        // gnuplot pt; 0: one per series (filled circle, square, triangle, ...)
    bool dashed = false;
};
// An empty series title is drawn without a key entry.

struct plot_spec {
    std::string title, x_label, y_label;
    bool log_y = false;
    std::vector<series> lines;
    // Optional (new fields go last so existing brace-initializations keep working):
    std::vector<std::pair<double, std::string>> x_tics{};  // labelled x positions (replace the numeric tics)
    double x_tic_rotation = 0;                           // degrees, e.g. 45 for long labels
    bool log_x = false;                                  // non-positive x are then skipped
    std::string key = "top left";                        // gnuplot key position, e.g. "outside right top"
    int width = 900, height = 600;                       // pixels
};

// Throws std::runtime_error when gnuplot is missing or fails (with its
// message), or when the series are malformed.
void write_plot(const plot_spec& spec, const std::filesystem::path& stem);

}  // namespace qbound::report
