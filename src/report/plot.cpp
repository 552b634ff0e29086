#include "qbound/report/plot.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
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
                if (!std::isfinite(line.x[i]) || !std::isfinite(line.y[i]) || (spec.log_y && line.y[i] <= 0) || (spec.log_x && line.x[i] <= 0))
                    continue;
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
    body += "set grid\nset key " + spec.key + " box opaque noenhanced\n";
    if (spec.log_y) body += "set logscale y\nset format y '10^{%L}'\n";
    if (spec.log_x) body += "set logscale x\n";
    if (!spec.x_tics.empty()) {
        body += "set xtics (";
        for (std::size_t i = 0; i < spec.x_tics.size(); ++i) {
            char at[64];
            std::snprintf(at, sizeof at, "%.17g", spec.x_tics[i].first);
            body += (i ? ", " : "") + quoted(spec.x_tics[i].second) + " " + at;
        }
        body += ") noenhanced";
        if (spec.x_tic_rotation != 0) body += " rotate by " + std::to_string(spec.x_tic_rotation) + " right";
        body += "\n";
    }
    body += "plot ";
    for (std::size_t s = 0; s < spec.lines.size(); ++s) {
        if (s) body += ", \\\n     ";
        const auto& line = spec.lines[s];
        // Distinct marker shapes as well as colours (gnuplot cycles 8 colours).
        static const int shapes[] = {7, 5, 9, 11, 13, 6, 4, 8, 10, 12, 1, 2, 3};
        const int pt = line.point_type ? line.point_type : shapes[s % std::size(shapes)];
        std::string style = !line.lines ? "points pt " + std::to_string(pt) + " ps 0.8"
                            : line.points ? "linespoints lw 2 pt " + std::to_string(pt)
                                          : "lines lw 2";
        if (!line.color.empty()) style += " lc rgb " + quoted(line.color);
        if (line.dashed) style += " dashtype 2";
        body += quoted(data_name) + " index " + std::to_string(s) + " using 1:2 with " + style +
                (line.title.empty() ? std::string(" notitle") : " title " + quoted(line.title));
    }
    body += "\n";
    {
        std::ofstream gp(base + ".gp");
        gp << "# Render: cd " << (stem.parent_path().empty() ? "." : stem.parent_path().string()) << " && gnuplot "
           << stem.filename().string() << ".gp\n";
        const std::string size = std::to_string(spec.width) + "," + std::to_string(spec.height);
        gp << "set terminal pngcairo size " << size << " font 'Liberation Sans,11'\nset output " << quoted(stem.filename().string() + ".png") << "\n";
        gp << body;
        gp << "set terminal svg size " << size << " dynamic font 'Liberation Sans,11'\nset output " << quoted(stem.filename().string() + ".svg") << "\n";
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
