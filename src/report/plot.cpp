#include "qbound/report/plot.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace qbound::report {

namespace {

// gnuplot string literal (single quotes: only ' needs doubling).
std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

// POSIX shell single-quoted word.
std::string shell_quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

void write_plot(const plot_spec& spec, const std::filesystem::path& stem) {
    if (spec.lines.empty()) throw std::runtime_error("plot '" + spec.title + "': no data series");
    if (!stem.parent_path().empty()) std::filesystem::create_directories(stem.parent_path());
    const std::string base = stem.string();
    {
        std::ofstream dat(base + ".dat");
        dat.precision(17);
        for (std::size_t s = 0; s < spec.lines.size(); ++s) {
            const auto& line = spec.lines[s];
            if (line.x.size() != line.y.size())
                throw std::runtime_error("plot '" + spec.title + "': series '" + line.title + "' has mismatched x and y");
            dat << "# " << line.title << "\n";
            for (std::size_t i = 0; i < line.x.size(); ++i) {
                if (!std::isfinite(line.x[i]) || !std::isfinite(line.y[i]) || (spec.log_y && line.y[i] <= 0)) continue;
                dat << line.x[i] << " " << line.y[i] << "\n";
            }
            dat << "\n\n";  // gnuplot data block separator (index s)
        }
        if (!dat) throw std::runtime_error("cannot write " + base + ".dat");
    }
    const std::string data_name = stem.filename().string() + ".dat";
    std::string body;
    body += "set title " + quoted(spec.title) + " noenhanced\n";
    body += "set xlabel " + quoted(spec.x_label) + " noenhanced\nset ylabel " + quoted(spec.y_label) + " noenhanced\n";
    body += "set grid\nset key top left box opaque noenhanced\n";
    if (spec.log_y) body += "set logscale y\nset format y '10^{%L}'\n";
    body += "plot ";
    for (std::size_t s = 0; s < spec.lines.size(); ++s) {
        if (s) body += ", \\\n     ";
        body += quoted(data_name) + " index " + std::to_string(s) + " using 1:2 with " +
                (spec.lines[s].points ? "linespoints" : "lines") + " lw 2 title " + quoted(spec.lines[s].title);
    }
    body += "\n";
    {
        std::ofstream gp(base + ".gp");
        gp << "# Render: cd " << (stem.parent_path().empty() ? "." : stem.parent_path().string()) << " && gnuplot "
           << stem.filename().string() << ".gp\n";
        gp << "set terminal pngcairo size 900,600 font 'Liberation Sans,11'\nset output " << quoted(stem.filename().string() + ".png") << "\n";
        gp << body;
        gp << "set terminal svg size 900,600 dynamic font 'Liberation Sans,11'\nset output " << quoted(stem.filename().string() + ".svg") << "\n";
        gp << "replot\n";
        if (!gp) throw std::runtime_error("cannot write " + base + ".gp");
    }
    const std::string dir = stem.parent_path().empty() ? "." : stem.parent_path().string();
    const std::string command = "cd " + shell_quoted(dir) + " && gnuplot " + shell_quoted(stem.filename().string() + ".gp") + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run gnuplot (install gnuplot-nox)");
    std::string output;
    char buf[256];
    while (std::fgets(buf, sizeof buf, pipe)) output += buf;
    const int status = pclose(pipe);
    if (status != 0)
        throw std::runtime_error("gnuplot failed on " + base + ".gp" + (output.empty() ? std::string(" (is gnuplot-nox installed?)") : ": " + output));
}

}  // namespace qbound::report
