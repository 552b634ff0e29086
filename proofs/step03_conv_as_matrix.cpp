// Proof step 3 (THEOREMS.md section 4, step 3): a conv layer is a sparse matrix.
//
// Statement. Let K be the explicit matrix of a conv2d layer (c_in input and
// c_out output channels, kernel kh x kw, any stride, zero padding, dilation
// and g groups) acting on the flattened CHW input. Then
//   (a) K x + b equals the conv evaluation, exactly, for every input x;
//   (b) every row of K has at most kh kw c_in / g non-zeros, and the
//       architecture view's max_row_nonzeros is the exact structural maximum;
//   (c) ||[K | b]||_{inf->inf} <= max_o (sum |k_o| + |b_o|), with equality as
//       soon as one output pixel sees its whole receptive field.
// Proof sketch: output (o, h, w) is the sum over the group's input channels
// and the kernel taps that fall inside the input of k[o, c, u, v] x[c, h', w'];
// those taps are a subset of the kernel, so the row sum of |entries| is at
// most sum |k_o|, all of it when no tap falls in the padding.
//
// Checked exactly in rationals on random geometries (stride 1..3, padding
// 0..2, dilation 1..2, groups 1..3, rectangular kernels, inputs barely larger
// than the window) and hostile weights. Negative controls claim equality in
// (c) without a full receptive field, and one non-zero fewer in (b).
#include "qbound/bounds/norms.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/forward.hpp"

#include "property_support.hpp"

using namespace qbound;
using arith::rational;
using arith::to_rational;
using qbound::test::property_cases;
using qbound::test::property_seed;

namespace {

struct conv_case {
    net::network net{"conv", {1, 1, 1}};
    std::string description;
};

conv_case draw_conv(testing::operand_generator& gen) {
    const auto g = static_cast<std::size_t>(gen.uniform_int(1, 3));
    const std::size_t c_in = g * static_cast<std::size_t>(gen.uniform_int(1, 2));
    const std::size_t c_out = g * static_cast<std::size_t>(gen.uniform_int(1, 2));
    net::conv_geometry geo;
    geo.kernel_h = static_cast<std::size_t>(gen.uniform_int(1, 4));
    geo.kernel_w = static_cast<std::size_t>(gen.uniform_int(1, 4));
    geo.stride = static_cast<std::size_t>(gen.uniform_int(1, 3));
    geo.dilation = static_cast<std::size_t>(gen.uniform_int(1, 2));
    const auto pad = [&] { return static_cast<std::size_t>(gen.uniform_int(0, 2)); };
    if (gen.chance(0.5)) geo.padding = pad();
    else geo.padding = {pad(), pad(), pad(), pad()};  // top, left, bottom, right
    geo.groups = g;
    auto fit = [&](std::size_t k, std::size_t pads) {  // smallest input the window fits, plus 0..3
        const std::size_t span = geo.dilation * (k - 1) + 1;
        const std::size_t least = span > pads ? span - pads : 1;
        return least + static_cast<std::size_t>(gen.uniform_int(0, 3));
    };
    conv_case c;
    c.net = net::network("conv", {c_in, fit(geo.kernel_h, geo.padding.top + geo.padding.bottom),
                                    fit(geo.kernel_w, geo.padding.left + geo.padding.right)});
    const std::size_t idx = c.net.conv2d(0, c_out, geo, "conv");
    for (double& w : c.net.weights(idx)) w = gen.chance(0.15) ? 0.0 : (gen.chance(0.1) ? std::ldexp(gen.moderate(), 200) : gen.moderate());
    for (double& b : c.net.bias(idx)) b = gen.chance(0.3) ? 0.0 : gen.moderate();
    const auto& in = c.net.input_shape();
    c.description = "input " + net::to_string(in) + ", " + std::to_string(c_out) + " filters " + std::to_string(geo.kernel_h) + "x" +
                    std::to_string(geo.kernel_w) + ", stride " + std::to_string(geo.stride) + ", padding " +
                    net::to_string(geo.padding) + ", dilation " + std::to_string(geo.dilation) + ", groups " + std::to_string(g);
    return c;
}

// `claim_equality_always` and `nnz_slack` weaken the statement for the
// negative controls.
testing::property_result check_conv_matrix(bool claim_equality_always, std::size_t nnz_slack, std::size_t cases,
                                                std::uint64_t seed) {
    auto res = testing::start_result(std::string("conv as a sparse matrix") + (claim_equality_always ? " (equality always)" : "") +
                                              (nnz_slack ? " (nnz slack)" : ""),
                                          "rational", seed);
    testing::operand_generator gen(seed);
    for (std::size_t k = 0; k < cases; ++k) {
        const conv_case c = draw_conv(gen);
        const net::node& n = c.net.at(1);
        const net::shape3 in = c.net.input_shape();
        const bounds::sparse_matrix K = bounds::conv_as_matrix(n, in);
        std::string failure;
        // (a) K x + b == conv(x) exactly.
        std::vector<double> x(in.size());
        for (auto& v : x) v = gen.chance(0.1) ? gen.few_bits() : gen.moderate();
        const auto conv_out = net::forward<rational>(c.net, net::input_from_doubles<rational>(x));
        const std::size_t plane = n.output.height * n.output.width;
        for (std::size_t r = 0; r < K.rows && failure.empty(); ++r) {
            rational y = to_rational(n.bias[r / plane]);
            for (const auto& [col, v] : K.entries[r]) y += to_rational(v) * to_rational(x[col]);
            if (y != conv_out[r]) failure = "(a) K x + b differs from the conv at row " + std::to_string(r);
        }
        // (b) row non-zeros.
        const std::size_t bound_b = n.conv.kernel_h * n.conv.kernel_w * (in.channels / n.conv.groups);
        std::size_t structural = 0;
        for (const auto& row : K.entries) structural = std::max(structural, row.size());
        const auto arch = net::describe_architecture(c.net);
        if (failure.empty() && (structural + nnz_slack > bound_b || bounds::max_row_nonzeros(K) > structural))
            failure = "(b) a row has more than kh kw c_in / g non-zeros";
        if (failure.empty() && arch.layers.at(0).max_row_nonzeros != structural)
            failure = "(b) architecture view reports " + std::to_string(arch.layers.at(0).max_row_nonzeros) +
                      " non-zeros per row, the matrix has " + std::to_string(structural);
        // (c) the norm bound, and equality with a full receptive field.
        if (failure.empty()) {
            std::vector<double> row_bias(K.rows);  // the bias of each output element
            for (std::size_t r = 0; r < K.rows; ++r) row_bias[r] = n.bias[r / plane];
            const rational norm = bounds::operator_norm_inf(K, row_bias);
            const rational kernel = bounds::conv_kernel_norm(n, true);
            if (norm > kernel) failure = "(c) ||[K|b]|| exceeds max_o (sum |k_o| + |b_o|)";
            const bool full_field = structural == bound_b;
            if ((full_field || claim_equality_always) && norm != kernel)
                failure = "(c) equality fails" + std::string(full_field ? " with a full receptive field" : "");
        }
        ++res.cases;
        if (!failure.empty() && res.failures++ == 0)
            res.counterexample = testing::failure_header(seed, k, "conv") + c.description + ": " + failure;
    }
    return res;
}

}  // namespace

TEST_CASE("step 3: a conv layer is a sparse matrix with the stated rows and norm", "[proofs][step3]") {
    QBOUND_REQUIRE_PROPERTY(check_conv_matrix(false, 0, property_cases(3000), property_seed()));
}

TEST_CASE("step 3 negative controls: equality without a full field, one non-zero fewer", "[proofs][step3][negative]") {
    QBOUND_REQUIRE_REFUTED(check_conv_matrix(true, 0, 2000, property_seed()));
    QBOUND_REQUIRE_REFUTED(check_conv_matrix(false, 1, 2000, property_seed()));
}
