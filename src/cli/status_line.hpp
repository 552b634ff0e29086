#pragma once
// The CLI's progress display on stderr: section titles with the elapsed
// time, and one transient status line (thread-safe).
#include "qbound/experiments/progress.hpp"

#include <chrono>
#include <mutex>
#include <string>

namespace qbound::cli {

class status_line {
public:
    explicit status_line(bool enabled);
    void section(const std::string& title);
    void update(const std::string& text);
    void clear();
    double seconds() const;
    // A sink that draws on this line (which must outlive it).
    experiments::progress_sink sink();

private:
    bool enabled_;
    bool dirty_ = false;
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
};

}  // namespace qbound::cli
