#pragma once
// The CLI's subcommands; main.cpp parses arguments and calls these.
#include <cstddef>
#include <cstdint>
#include <string>

namespace qbound::cli {

struct selfcheck_options {
    std::size_t cases = 20000;  // per operation and type
    std::uint64_t seed = 20261127;
    bool json = false;
};

struct demo_options {
    long precision = 256;
    bool json = false;
};

struct info_options {
    std::string model;
    std::size_t resolution = 224;
    bool json = false;
};

int run_info(const info_options& opt);
int run_selfcheck(const selfcheck_options& opt);
int run_demo(const demo_options& opt);

}  // namespace qbound::cli
