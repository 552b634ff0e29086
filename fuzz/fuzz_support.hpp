#pragma once
// Shared plumbing for the libFuzzer targets: the parsers read files, so each
// input is written to a scratch file of this process (under $TMPDIR, or /tmp)
// and the parser reads it back. A parser may refuse any input, but only with
// its documented error type; anything else (another exception, a crash, a
// sanitizer report, a leak, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace qbound::fuzz {

// A folder private to this fuzzing process, created once.
inline const std::filesystem::path& scratch_folder() {
    static const std::filesystem::path folder = [] {
        const char* tmp = std::getenv("TMPDIR");
        auto f = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / ("qbound-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(f);
        return f;
    }();
    return folder;
}

// Writes the fuzzer's bytes to scratch_folder()/name and returns the path.
inline std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
    const auto path = scratch_folder() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) std::abort();  // a full scratch disk is not a parser finding: stop loudly
    return path.string();
}

}  // namespace qbound::fuzz
