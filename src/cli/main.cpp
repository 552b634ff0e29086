// qbound command-line interface: a thin layer over the library.
#include "commands.hpp"

#include "qbound/arith/errors.hpp"
#include "qbound/arith/precision.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"qbound: rigorous checks of what quantizing a ReLU network's weights does to its outputs"};
    app.require_subcommand(1);

    qbound::cli::selfcheck_options check_opt;
    auto* selfcheck = app.add_subcommand(
        "selfcheck", "Verify at run time that this binary's enclosures are sound (exit 1 if not)");
    selfcheck->add_option("--cases", check_opt.cases, "Random and hostile cases per operation and type")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    selfcheck->add_option("--seed", check_opt.seed, "Seed of the case generator");
    selfcheck->add_flag("--json", check_opt.json, "Print the report as JSON");

    qbound::cli::demo_options demo_opt;
    auto* demo = app.add_subcommand("demo", "Show each number type on hostile small computations");
    demo->add_option("--precision", demo_opt.precision, "MPFR/MPFI precision in bits")
        ->check(CLI::Range(qbound::arith::min_precision_bits, qbound::arith::max_precision_bits));
    demo->add_flag("--json", demo_opt.json, "Print the report as JSON");

    qbound::cli::info_options info_opt;
    auto* info = app.add_subcommand("info", "Depth L, per-layer sizes and counts the bounds need, for a zoo model");
    info->add_option("model", info_opt.model, "Zoo name: resnet18, resnet50, mobilenetv2, cnn, mlp:N0,N1,...")->required();
    info->add_option("--resolution", info_opt.resolution, "Input resolution of ImageNet zoo models")
        ->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    info->add_flag("--json", info_opt.json, "Print the report as JSON");

    CLI11_PARSE(app, argc, argv);
    try {
        if (*selfcheck) return qbound::cli::run_selfcheck(check_opt);
        if (*demo) return qbound::cli::run_demo(demo_opt);
        if (*info) return qbound::cli::run_info(info_opt);
    } catch (const std::exception& e) {
        std::cerr << "qbound: error: " << e.what() << "\n";
        return 2;
    }
    return 0;
}
