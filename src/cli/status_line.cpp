#include "status_line.hpp"

#include <fmt/core.h>

#include <iostream>

namespace qbound::cli {

status_line::status_line(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

void status_line::section(const std::string& title) {
    if (!enabled_) return;
    clear();
    std::cerr << fmt::format("[{:6.1f} s] {}\n", seconds(), title);
}

void status_line::update(const std::string& text) {
    if (!enabled_) return;
    std::lock_guard lock(mutex_);
    std::cerr << "\r  " << text << std::string(text.size() < 70 ? 70 - text.size() : 0, ' ') << std::flush;
    dirty_ = true;
}

void status_line::clear() {
    if (!enabled_ || !dirty_) return;
    std::cerr << "\r" << std::string(74, ' ') << "\r" << std::flush;
    dirty_ = false;
}

double status_line::seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

experiments::progress_sink status_line::sink() {
    return {[this](const std::string& title) { section(title); }, [this](const std::string& text) { update(text); },
            [this] { clear(); }};
}

}  // namespace qbound::cli
