// NNet import: the real ACAS Xu file, exact evaluation, and hostile files
// (truncated at every line, corrupted bytes) that must give clear errors.
#include "qbound/io/load.hpp"
#include "qbound/io/nnet.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/net/forward.hpp"

#include "property_support.hpp"
#include "test_files.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace qbound;
using Catch::Matchers::Contains;

namespace {

const std::string acas_path = std::string(QBOUND_TEST_NETWORKS) + "/ACASXU_experimental_v2a_2_1.nnet";


std::string write_temp(const std::string& content, const std::string& tag) {
    return qbound::test::write_temp_file(content, tag, ".nnet");
}

}  // namespace

TEST_CASE("the ACAS Xu NNet file loads with its normalization", "[io][nnet]") {
    const io::nnet_model m = io::read_nnet(acas_path);
    const net::architecture a = net::describe_architecture(m.network);
    CHECK(a.depth == 7);
    CHECK(a.input.size() == 5);
    CHECK(a.output.size() == 5);
    CHECK(a.has_input_normalization);
    CHECK(a.max_width == 50);
    CHECK(m.input_min[3] == 100.0);
    CHECK(m.output_mean == 7.5188840201005975);
    CHECK(m.network.at(2).weight[0] == 2.42586e-02);  // first weight, nearest double
    CHECK(m.network.at(2).kind == net::op::dense);
    // Exact evaluation at a point inside the input box, and enclosures of it.
    const std::vector<double> x{30000.0, 0.5, -0.5, 500.0, 400.0};
    const auto exact = net::forward<arith::rational>(m.network, net::input_from_doubles<arith::rational>(x));
    const auto enc = net::forward<arith::interval_double>(m.network, net::input_from_doubles<arith::interval_double>(x));
    const auto plain = net::forward<double>(m.network, x);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(arith::contains(enc[i], exact[i]));
        CHECK(std::fabs(plain[i] - arith::nearest_double(exact[i])) < 1e-9);
    }
    CHECK(io::load_network(acas_path).nodes().size() == m.network.nodes().size());
}

TEST_CASE("a file truncated at any line gives an error naming the file and line", "[io][nnet][bad-input]") {
    const std::string content = qbound::test::read_file_bytes(acas_path);
    std::vector<std::size_t> line_ends;
    for (std::size_t i = 0; i < content.size(); ++i)
        if (content[i] == '\n') line_ends.push_back(i);
    REQUIRE(line_ends.size() > 100);
    std::size_t refused = 0;
    for (std::size_t k = 0; k + 1 < line_ends.size(); k += 7) {
        const std::string path = write_temp(content.substr(0, line_ends[k] + 1), "truncated");
        try {
            io::read_nnet(path);
        } catch (const net::model_error& e) {
            ++refused;
            REQUIRE_THAT(e.what(), Contains(path));
        }
    }
    CHECK(refused == (line_ends.size() - 1 + 6) / 7);
    // Cut in the middle of a number too.
    CHECK_THROWS_AS(io::read_nnet(write_temp(content.substr(0, content.size() / 2), "cut")), net::model_error);
}

TEST_CASE("corrupted bytes never crash the reader", "[io][nnet][bad-input]") {
    const std::string content = qbound::test::read_file_bytes(acas_path);
    std::mt19937_64 rng(qbound::test::property_seed());
    const char junk[] = {'x', ',', '-', 'e', '\n', '9', '.', '\0', ' ', 'n'};
    for (int trial = 0; trial < 150; ++trial) {
        std::string corrupted = content;
        for (int k = 0; k < 3; ++k) corrupted[rng() % corrupted.size()] = junk[rng() % sizeof junk];
        const std::string path = write_temp(corrupted, "corrupt");
        try {
            const auto m = io::read_nnet(path);
            net::check_finite_weights(m.network);
        } catch (const net::model_error&) {
            // a clear error is the expected outcome for most corruptions
        }
    }
}

TEST_CASE("malformed headers are named", "[io][nnet][bad-input]") {
    CHECK_THROWS_WITH(io::read_nnet("/nonexistent/file.nnet"), Contains("cannot open"));
    CHECK_THROWS_WITH(io::read_nnet(write_temp("// only a comment\n", "empty")), Contains("truncated"));
    CHECK_THROWS_WITH(io::read_nnet(write_temp("2,3,1,5,\n3,5,2,\n", "sizes")), Contains("header says"));
    CHECK_THROWS_WITH(io::read_nnet(write_temp("1e12,3,1,5,\n", "absurd")), Contains("numLayers"));
    CHECK_THROWS_WITH(io::read_nnet(write_temp("1,2,1,2,\n2,1,\n0,\n0,0,\n1,1,\n0,0,0,\n1,nan,1,\n", "nan")),
                      Contains("not finite"));
    CHECK_THROWS_WITH(io::read_nnet(write_temp("1,2,1,2,\n2,1,\n0,\n0,0,\n1,1,\n0,0,0,\n1,0,1,\n", "zero")),
                      Contains("range 1 is zero"));
    CHECK_THROWS_WITH(io::load_network(write_temp("x", "ext") + ".bin"), Contains("unknown model"));
}
