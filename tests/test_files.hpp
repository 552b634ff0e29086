#pragma once
// File helpers for import tests: read a whole file (failing clearly when it
// is missing) and write scratch files under the temp directory.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace qbound::test {

inline std::string read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    INFO("reading " << path << " (the shared data folder must sit beside the checkout)");
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    REQUIRE_FALSE(ss.str().empty());
    return ss.str();
}

// Writes `bytes` to <tmp>/qbound-<pid>/qbound-test-<tag><extension> (a folder
// of this test process) and returns the path.
inline std::string write_temp_file(const std::string& bytes, const std::string& tag, const std::string& extension) {
    const auto dir = std::filesystem::temp_directory_path() / ("qbound-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / ("qbound-test-" + tag + extension);
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
}

}  // namespace qbound::test
