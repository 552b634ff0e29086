// qbound command-line interface: a thin layer over the library.
#include "cli_support.hpp"
#include "commands.hpp"
#include "quant_options.hpp"

#include "qbound/core/allocator.hpp"
#include "qbound/core/errors.hpp"
#include "qbound/core/parallel.hpp"
#include "qbound/arith/precision.hpp"
#include "qbound/bounds/variant.hpp"
#include "qbound/verify/campaign.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <limits>

int main(int argc, char** argv) {
    qbound::core::keep_freed_memory();
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
    auto* demo = app.add_subcommand("demo", "The main job: campaign, paper table, depth, a quantized CNN, equalization -> a report folder");
    demo->add_option("--out", demo_opt.out, "Report folder (default ./qbound-report)");
    demo->add_flag("--quick", demo_opt.quick, "Smaller budgets: about a minute instead of a few");
    demo->add_option("--seed", demo_opt.seed, "Seed of every network, quantizer and search in the report");
    demo->add_option("--threads", demo_opt.threads, "Worker threads (default: all cores; results do not depend on it)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1024}));
    demo->add_option("--precision", demo_opt.precision, "MPFR/MPFI precision in bits of the number-types section")
        ->check(CLI::Range(qbound::arith::min_precision_bits, qbound::arith::max_precision_bits));
    demo->add_flag("--numbers-only", demo_opt.numbers_only, "Only show each number type on hostile small computations");
    demo->add_flag("--json", demo_opt.json, "Print report.json to stdout (the folder is written as well)");
    demo->footer("Writes OUT/report.md, OUT/report.json, plots (PNG and SVG) and replayable cases (OUT/cases).\n"
                 "Exit status: 0 every verdict as expected, 1 a bound whose hypotheses hold was violated, 2 usage or input error.\n"
                 "Examples:\n  qbound demo\n  qbound demo --quick --out /tmp/report --seed 7\n  qbound demo --numbers-only --precision 64");

    qbound::cli::info_options info_opt;
    auto* info = app.add_subcommand("info", "Depth L, per-layer sizes and counts the bounds need, and a QDQ file's quantizer");
    info->add_option("model", info_opt.model, "Zoo name (resnet18, resnet50, mobilenetv2, cnn, mlp:N0,N1,...) or a network file (.onnx, .nnet)")->required();
    info->add_option("--resolution", info_opt.resolution, "Input resolution of ImageNet zoo models")
        ->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    info->add_flag("--json", info_opt.json, "Print the report as JSON");

    qbound::cli::eval_options eval_opt;
    auto* eval = app.add_subcommand("eval", "A network's outputs at one input: in double, certified, and the certified difference with --against");
    eval->add_option("model", eval_opt.model, "Zoo name or a network file (.onnx, .nnet)")->required();
    eval->add_option("--point", eval_opt.point, "The input, comma-separated exact numbers (decimals, fractions, hex floats), in the network's input order");
    eval->add_option("--input", eval_opt.input, "A file of the input's numbers (blanks or commas, '#' comments)");
    eval->add_option("--against", eval_opt.against, "A second network (e.g. the quantized copy): its outputs and the certified difference");
    eval->add_option("--resolution", eval_opt.resolution, "Input resolution of ImageNet zoo models")->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    eval->add_option("--seed", eval_opt.seed, "He-normal seed of zoo models' weights");
    eval->add_flag("--json", eval_opt.json, "Print the result as JSON");
    eval->footer("Exit status: 0, or 2 for a bad option, model or point.\n"
                 "Examples:\n  qbound eval model.onnx --point 0.1,0.2,1/3,0x1p-4,0\n  qbound eval model.onnx --input x.txt --against model_qdq.onnx --json");

    qbound::cli::bounds_options bounds_opt;
    auto* bounds = app.add_subcommand("bounds", "Every published bound for a pair (theta, theta'), certified, with hypotheses");
    qbound::cli::add_pair_options(*bounds, bounds_opt.pair);
    bounds->add_flag("--layers", bounds_opt.layers, "Also print the per-layer ingredients");
    bounds->add_flag("--json", bounds_opt.json, "Print the report as JSON");
    bounds->footer("theta' is --against MODEL2, or else theta quantized with --method/--bits/--eta (default: nearest, 8 bits, per tensor).\n"
                   "Examples:\n  qbound bounds mlp:2,16,16,1 --method floor --bits 4\n"
                   "  qbound bounds cnn --method adaround --bits 4 --per-channel\n  qbound bounds a.onnx --against b.onnx --D 0.5");

    qbound::cli::table_options table_opt;
    auto* table = app.add_subcommand("table", "The paper's G vs B comparison for MobileNetV2, ResNet18, ResNet50 at 224");
    table->add_option("files", table_opt.files, "Networks for part (b) (default: the zoo models with He-normal weights)");
    table->add_option("--seed", table_opt.seed, "He-normal seed of the zoo models in part (b)");
    table->add_option("--bias-std", table_opt.bias_std, "Bias standard deviation of the zoo models in part (b)")
        ->check(CLI::Range(0.0, 1e6));
    table->add_flag("--json", table_opt.json, "Print the report as JSON");

    qbound::cli::quantize_command_options quant_opt;
    auto* quantize = app.add_subcommand("quantize", "Quantize every affine layer (floor, nearest, stochastic, AdaRound) and write ONNX");
    quantize->add_option("model", quant_opt.model, "Zoo name or .onnx/.nnet file")->required();
    quantize->add_option("-o,--output", quant_opt.output,
                         "Output file (float64 ONNX, or float32 with --float32; weights bit-exact; an ONNX source's input name, "
                         "NHWC layout and output name kept)")->required();
    quantize->add_option("--resolution", quant_opt.resolution, "Input resolution of ImageNet zoo models")
        ->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    quantize->add_option("--init-seed", quant_opt.init_seed, "He-normal seed of a zoo model's weights");
    quantize->add_option("--bias-std", quant_opt.bias_std, "Bias standard deviation of a zoo model (default 0)")
        ->check(CLI::Range(0.0, 1e6));
    quantize->add_flag("--json", quant_opt.json, "Print the report as JSON");
    quantize->add_flag("--float32", quant_opt.float32,
                       "Write float32 (ONNX Runtime has no double Conv): steps get at most 24 - bits(code) significant bits, "
                       "so every weight is still exact; refused if a bias or normalization constant is not a float");
    qbound::cli::add_quant_options(*quantize, quant_opt.quant, quant_opt.method_name);

    qbound::cli::depth_sweep_options sweep_opt;
    auto* sweep = app.add_subcommand("depth-sweep", "G / A for constant-width MLPs of growing depth: table, JSON and plots");
    sweep->add_option("--width", sweep_opt.width, "Width of every layer (default 16)");
    sweep->add_option("--min-depth", sweep_opt.min_depth, "Smallest L (default 2)");
    sweep->add_option("--max-depth", sweep_opt.max_depth, "Largest L (default 40)");
    sweep->add_option("--seed", sweep_opt.seed, "He-normal seed of the deepest network (shallower ones reuse its layers)");
    sweep->add_option("--bias-std", sweep_opt.bias_std, "Bias standard deviation (default 0.01)")->check(CLI::Range(0.0, 1e6));
    sweep->add_option("--out", sweep_opt.out, "Output folder for JSON and plots (default ./depth-sweep)");
    sweep->add_flag("--json", sweep_opt.json, "Print the report as JSON");

    qbound::cli::check_command_options verify_opt;
    auto* check = app.add_subcommand("check", "Certified bracket on the worst output change, witness, and a verdict per bound");
    qbound::cli::add_pair_options(*check, verify_opt.pair);
    check->add_option("--search-seed", verify_opt.search_seed, "Seed of the worst-case search");
    check->add_option("--search-seconds", verify_opt.search_seconds, "Time cap of the search (default 5)")->check(CLI::Range(0.0, 1e6));
    check->add_option("--search-evaluations", verify_opt.search_evaluations,
                      "Evaluation budget of the search (default: its counts decide; reproducible, unlike the time cap)")
        ->check(CLI::Range(std::size_t{1}, std::numeric_limits<std::size_t>::max()));
    check->add_option("--samples", verify_opt.samples,
                      "Lower side: a uniform draw of this many points per box of Omega (fewer on large networks), each output's best\n"
                      "starting a coordinate ascent with exact line sweeps (default 20000; 0: none)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000000}));
    check->add_option("--sweep-starts", verify_opt.sweep_starts, "Lower side: line-sweep ascents per output (default 8)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
    check->add_option("--seconds", verify_opt.seconds, "Time cap of branch and bound (default 20)")->check(CLI::Range(0.0, 1e6));
    check->add_option("--nodes", verify_opt.nodes, "Box budget of branch and bound (default 2000; 0: the root box only)")->check(CLI::Range(std::size_t{0}, std::size_t{100000000}));
    check->add_flag("--relu-splits", verify_opt.relu_splits,
                    "Branch and bound (linear relaxation pass) splits unstable ReLU elements, not inputs (for many inputs; see README)");
    check->add_flag("--lp", verify_opt.lp,
                    "Branch and bound also bounds every box by a linear program (COIN-OR CLP; certified by its dual; tighter, "
                    "10 to 30 times the cost per box; see README)");
    check->add_option("--gap", verify_opt.gap, "Stop when (upper - lower) <= gap * upper (default 0)")->check(CLI::Range(0.0, 1.0));
    qbound::cli::add_region_options(*check, verify_opt.region);
    check->add_option("--plot", verify_opt.plot, "Draw the bracket against time into STEM.png and STEM.svg (gnuplot)");
    check->add_option("--save-case", verify_opt.save_case, "Save both networks and the witness in this folder (qbound replay reads it)");
    check->add_flag("--json", verify_opt.json, "Print the report as JSON");
    check->footer("Exit status: 0 no theorem violated, 1 a bound whose hypotheses hold is VIOLATED, or UNSOUND (two certified\n"
                  "values contradict each other: a bug in qbound, named on stderr), 2 usage or input error.\n"
                  "Budgets: --nodes and --search-evaluations are counts (a seed gives the same bracket on any machine);\n"
                  "--seconds and --search-seconds are caps. A larger budget never widens the bracket.\n"
                  "Omega: --box, --vnnlib or --center with --eps (and --clip); else [-D, D]^d, or for a .nnet model its\n"
                  "[min, max] box in raw input units. An ONNX model's region is on its input tensor. The bounds use the\n"
                  "smallest D that covers Omega (or --D, which must cover it).\n"
                  "Examples:\n  qbound check mlp:2,16,16,1 --method floor --bits 4\n"
                  "  qbound check a.onnx --against b.onnx --vnnlib prop_1.vnnlib --seconds 12 --json\n"
                  "  qbound check a.onnx --against b.onnx --D 1 --save-case case1 && qbound replay case1");

    qbound::cli::campaign_command_options campaign_opt;
    auto* campaign = app.add_subcommand("campaign", "Every bound variant against random and adversarial pairs, with certified counterexamples");
    campaign->add_option("--pairs", campaign_opt.pairs, "Pairs per family (default 40)")->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    campaign->add_option("--seed", campaign_opt.seed, "Campaign seed");
    campaign->add_option("--family", campaign_opt.families,
                         "Only these families (default all): " + qbound::verify::campaign_family_list());
    campaign->add_option("--threads", campaign_opt.threads, "Pairs checked in parallel (default: all cores; results do not depend on it)")
        ->check(CLI::Range(0u, 1024u));
    campaign->add_option("--nodes", campaign_opt.nodes, "Branch-and-bound boxes per pair (default 300)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
    campaign->add_option("--out", campaign_opt.out, "Folder for counterexamples (default ./campaign)");
    campaign->add_option("--shard", campaign_opt.shard, "Run shard i/n (pairs with index % n == i); merge the --json reports with qbound merge");
    campaign->add_option("--plots", campaign_opt.plots, "Write campaign_tightness and campaign_depth plots (PNG, SVG) into this folder");
    campaign->add_option("--shrink", campaign_opt.shrink_candidates, "Candidates tried when shrinking a counterexample (default 300; 0: keep as drawn)");
    campaign->add_option("--hunt", campaign_opt.hunt_pairs, "Also N hunted pairs per variant (qbound hunt, space mlp), as family 'hunt' (default 0)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1000}));
    campaign->add_option("--hunt-budget", campaign_opt.hunt_budget, "Candidates the --hunt search scores (default 4000)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    campaign->add_flag("--json", campaign_opt.json, "Print the report as JSON");
    qbound::cli::merge_options merge_opt;
    auto* merge = app.add_subcommand("merge", "Sum campaign shards (their --json reports) into one table");
    merge->add_option("reports", merge_opt.files, "campaign --json outputs")->required();
    merge->add_option("--plots", merge_opt.plots, "Write the campaign plots of the merged report into this folder");
    merge->add_flag("--json", merge_opt.json, "Print the merged report as JSON");
    campaign->footer("Exit status: 0 no theorem refuted (violations only of readings whose hypotheses fail), 1 a bound whose\n"
                     "hypotheses hold was violated, 2 usage error.\nExample: qbound campaign --pairs 20 --family entrywise-G --out cex");

    qbound::cli::replay_options replay_opt;
    qbound::cli::hunt_command_options hunt_opt;
    auto* hunt = app.add_subcommand("hunt", "Search the space of networks for the pairs that push each bound hardest (certified)");
    hunt->add_option("--variant", hunt_opt.variants, "Bound variants to hunt, or all (default): " + qbound::bounds::variant_name_list());
    hunt->add_option("--space", hunt_opt.space, "Architectures searched: mlp (default), cnn, residual");
    hunt->add_option("--depth", hunt_opt.depth, "Affine layers on the main path, N or LO-HI (default mlp 1-8, cnn 1-3, residual 3-6)");
    hunt->add_option("--width", hunt_opt.width, "Hidden widths (cnn: channels), N or LO-HI (default mlp 1-16, cnn 1-4, residual 1-6)");
    hunt->add_option("--inputs", hunt_opt.inputs, "Inputs (cnn: input channels, at most 3), N or LO-HI (default mlp 1-4, cnn 1-2, residual 1-3)");
    qbound::cli::add_region_options(*hunt, hunt_opt.region);
    hunt->add_option("--outputs", hunt_opt.outputs, "At most this many outputs (default 2)")->check(CLI::Range(std::size_t{1}, std::size_t{64}));
    hunt->add_option("--perturbation", hunt_opt.perturbation, "theta' - theta: free (any signs, ||.||_inf <= eps), grid (a quantizer), any (default: both)");
    hunt->add_flag("--initializer", hunt_opt.initializer, "Keep He-normal weights (only their scale moves) instead of free scale and signs");
    hunt->add_option("--budget", hunt_opt.budget, "Candidate pairs scored (default 4000; counts, so a seed gives the same result anywhere)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
    hunt->add_option("--seed", hunt_opt.seed, "Hunt seed");
    hunt->add_option("--nodes", hunt_opt.nodes, "Branch-and-bound boxes when certifying each variant's best pair (default 300)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
    hunt->add_option("--out", hunt_opt.out, "Folder for violations, shrunk and replayable (default ./hunt)");
    hunt->add_option("--shrink", hunt_opt.shrink_candidates, "Candidates tried when shrinking a violation (default 300; 0: keep as found)");
    hunt->add_option("--frontier", hunt_opt.frontier_budget, "Also the tightness frontier: this many candidates per (depth, width) cell (default 0: none)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{10000000}));
    hunt->add_option("--plots", hunt_opt.plots, "Write hunt_history (and hunt_frontier) plots (PNG, SVG) into this folder");
    hunt->add_option("--threads", hunt_opt.threads, "Runs in parallel (default: all cores; results do not depend on it)")->check(CLI::Range(0u, 1024u));
    hunt->add_flag("--json", hunt_opt.json, "Print the report as JSON");
    hunt->footer("Exit status: 0 no theorem refuted (violations only of readings whose hypotheses fail), 1 a bound whose\n"
                 "hypotheses hold was violated, 2 usage error.\n"
                 "Examples:\n  qbound hunt --variant all --space mlp --budget 20000\n"
                 "  qbound hunt --variant 'A-per-layer[r=max]' --depth 1-8 --width 1-16 --frontier 2000 --plots hunt-plots");

    auto* replay = app.add_subcommand("replay", "Re-certify a saved case (from check --save-case or campaign) and its verdicts");
    replay->add_option("case", replay_opt.path, "A case folder or its witness.json")->required();
    replay->add_flag("--json", replay_opt.json, "Print the report as JSON");

    qbound::cli::bench_options bench_opt;
    auto* bench = app.add_subcommand("bench", "ResNet18, one image: plain, certified point, IBP, Boost.Interval, MPFI, ONNX Runtime");
    bench->add_option("--resolution", bench_opt.resolution, "Input resolution (default 224)")->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    bench->add_option("--runs", bench_opt.runs, "Runs per fast path; the median is shown (default 5)")->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
    bench->add_option("--slow-resolution", bench_opt.slow_resolution, "Resolution of the Boost.Interval and MPFI rows, scaled by MACs (default 32)")
        ->check(CLI::Range(std::size_t{32}, std::size_t{4096}));
    bench->add_option("--slow-runs", bench_opt.slow_runs, "Runs of the slow rows (default 1)")->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
    bench->add_flag("--no-ort", bench_opt.skip_ort, "Skip ONNX Runtime");
    bench->add_flag("--no-memory", bench_opt.skip_memory, "Skip the ResNet50 peak-memory run");
    bench->add_flag("--no-bounds", bench_opt.skip_bounds, "Skip `qbound bounds resnet50` (its time: quantize, ingredients, every variant; its peak memory)");
    bench->add_option("--bab-nodes", bench_opt.bab_nodes, "Boxes per branch-and-bound rate measurement, one thread (default 2000; 0 skips)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000000}));
    bench->add_flag("--json", bench_opt.json, "Print the report as JSON");

    // --threads on every subcommand: demo and campaign run independent checks
    // in parallel; the fast certified path (check, bounds and bench on large
    // networks) splits its layers over threads; results never depend on it.
    // The other subcommands are sequential and accept it for uniform scripts.
    unsigned threads = 0;
    for (CLI::App* sub : {selfcheck, info, eval, bounds, table, quantize, sweep, check, merge, replay, bench})
        sub->add_option("--threads", threads, "Threads (default: all cores; results do not depend on it)")
            ->check(CLI::Range(0u, 1024u));

    // Examples and exit status for the subcommands whose footers are not set above.
    selfcheck->footer("Exit status: 0 SOUND, 1 UNSOUND (an enclosure missed the exact value), 2 usage error.\n"
                      "Examples:\n  qbound selfcheck\n  qbound selfcheck --cases 100000 --seed 7 --json");
    info->footer("Exit status: 0, or 2 for an unknown model or a bad file.\n"
                 "Examples:\n  qbound info resnet18\n  qbound info mobilenetv2 --resolution 96 --json\n  qbound info model.onnx");
    table->footer("Exit status: 0, or 2 for a bad file.\nExamples:\n  qbound table\n  qbound table resnet18.onnx --json");
    quantize->footer("Exit status: 0, or 2 for a bad option, model or calibration file.\n"
                     "Examples:\n  qbound quantize cnn --method nearest --bits 8 -o cnn-q8.onnx\n"
                     "  qbound quantize model.onnx --method adaround --bits 4 --per-channel --calib inputs.npy -o q4.onnx");
    sweep->footer("Exit status: 0, or 2 for a bad option.\nExamples:\n  qbound depth-sweep\n  qbound depth-sweep --width 32 --max-depth 80 --out sweep32");
    merge->footer("Exit status: 0 no theorem refuted in the merged reports, 1 one is, 2 bad input.\n"
                  "Example:\n  qbound campaign --shard 0/2 --json > a.json; qbound campaign --shard 1/2 --json > b.json; qbound merge a.json b.json");
    replay->footer("Exit status: 0 no bound whose hypotheses hold is violated at the witness, 1 one is, 2 bad input.\n"
                   "Examples:\n  qbound replay qbound-report/cases/cnn-floor-4bit\n  qbound replay campaign/entrywise-G-0/witness.json --json");
    bounds->footer(bounds->get_footer() + "\nExit status: 0, or 2 for a bad option or model.");

    // Usage errors exit 2, as every footer documents (CLI11's own codes,
    // 105, 106, 109, ..., are not part of qbound's interface); --help exits 0.
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }
    qbound::core::default_threads() = threads;
    try {
        if (*selfcheck) return qbound::cli::run_selfcheck(check_opt);
        if (*demo) return qbound::cli::run_demo(demo_opt);
        if (*info) return qbound::cli::run_info(info_opt);
        if (*eval) return qbound::cli::run_eval(eval_opt);
        if (*quantize) return qbound::cli::run_quantize(quant_opt);
        if (*bounds) return qbound::cli::run_bounds(bounds_opt);
        if (*check) return qbound::cli::run_check(verify_opt);
        if (*campaign) return qbound::cli::run_campaign(campaign_opt);
        if (*hunt) return qbound::cli::run_hunt(hunt_opt);
        if (*replay) return qbound::cli::run_replay(replay_opt);
        if (*merge) return qbound::cli::run_merge(merge_opt);
        if (*table) return qbound::cli::run_table(table_opt);
        if (*sweep) return qbound::cli::run_depth_sweep(sweep_opt);
        if (*bench) return qbound::cli::run_bench(bench_opt);
    } catch (const qbound::core::unsound_error& e) {  // two certified results contradict: a bug, like selfcheck's UNSOUND
        std::cerr << "qbound: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "qbound: error: " << e.what() << "\n";
        return 2;
    }
    return 0;
}
