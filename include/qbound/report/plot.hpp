#pragma once
// Plots through gnuplot (Debian's gnuplot-nox): each plot is written as
// STEM.png and STEM.svg, with the data (STEM.dat) and the script (STEM.gp)
// beside them so a reader can re-render or restyle it.
#include <filesystem>
#include <string>
#include <vector>

namespace qbound::report {

struct series {
    std::string title;
    std::vector<double> x, y;  // same length; non-finite or (on a log axis) non-positive y are skipped
    bool points = true;        // markers as well as lines
};

struct plot_spec {
    std::string title, x_label, y_label;
    bool log_y = false;
    std::vector<series> lines;
};

// Throws std::runtime_error when gnuplot is missing or fails (with its
// message), or when the series are malformed.
void write_plot(const plot_spec& spec, const std::filesystem::path& stem);

}  // namespace qbound::report
