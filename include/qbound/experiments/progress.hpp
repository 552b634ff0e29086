#pragma once
// Where a long experiment reports how far it is. The experiments never
// print; the CLI draws a status line on stderr. Every member may be empty.
#include <functional>
#include <string>

namespace qbound::experiments {

struct progress_sink {
    std::function<void(const std::string& title)> section;  // a new step begins
    std::function<void(const std::string& text)> update;    // transient status; may be called from worker threads
    std::function<void()> clear;                            // the transient status is done

    void begin(const std::string& title) const {
        if (section) section(title);
    }
    void status(const std::string& text) const {
        if (update) update(text);
    }
    void done() const {
        if (clear) clear();
    }
};

}  // namespace qbound::experiments
