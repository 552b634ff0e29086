#include "qbound/net/network_check.hpp"

#include "qbound/arith/rational.hpp"
#include "qbound/net/architecture.hpp"
#include "qbound/net/forward.hpp"
#include "qbound/net/zoo.hpp"

#include <cstdio>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace qbound::net {

namespace {

// What a builder node was asked for, read back from its name (written next
// to the literal geometry at the call site): the expected values never go
// through a conv_geometry or pool_geometry aggregate.
struct builder_spec {
    bool ok = false;
    bool conv = false, max = false, include_pad = true;
    std::size_t out_channels = 0, kh = 0, kw = 0, stride = 0, padding = 0, dilation = 0, groups = 0;
    std::size_t top = 0, left = 0, bottom = 0, right = 0;  // a conv's padding: uniform `padding` or p[t,l,b,r]
};

builder_spec parse_spec(const std::string& name) {
    builder_spec s;
    char tail[8] = {};
    if (std::sscanf(name.c_str(), "conv c%zu k%zux%zu s%zu p%zu d%zu g%zu", &s.out_channels, &s.kh, &s.kw, &s.stride, &s.padding,
                    &s.dilation, &s.groups) == 7) {
        s.conv = s.ok = true;
        s.top = s.left = s.bottom = s.right = s.padding;
        return s;
    }
    if (std::sscanf(name.c_str(), "conv c%zu k%zux%zu s%zu p[%zu,%zu,%zu,%zu] d%zu g%zu", &s.out_channels, &s.kh, &s.kw, &s.stride,
                    &s.top, &s.left, &s.bottom, &s.right, &s.dilation, &s.groups) == 10) {
        s.conv = s.ok = true;
        return s;
    }
    if (std::sscanf(name.c_str(), "maxpool k%zu s%zu p%zu", &s.kh, &s.stride, &s.padding) == 3) {
        s.max = s.ok = true;
    } else if (std::sscanf(name.c_str(), "avgpool k%zu s%zu p%zu %7s", &s.kh, &s.stride, &s.padding, tail) == 4) {
        s.ok = true;
        s.include_pad = std::string(tail) == "incl";
    }
    s.kw = s.kh, s.dilation = 1, s.groups = 1;
    s.top = s.left = s.bottom = s.right = s.padding;
    return s;
}

// The same helper shape as the zoo's (a geometry returned by value).
conv_geometry square_geometry(std::size_t kernel, std::size_t stride, std::size_t padding, std::size_t groups = 1) {
    return {kernel, kernel, stride, padding, 1, groups};
}

// Every node reads the input {4, 10, 9} (non-square, so height and width
// cannot be swapped unnoticed). The literal geometries cover what the zoo
// and the tests build: 1x1 stride 1 padding 0 (the pattern GCC 12.2 broke),
// the default geometry, the zoo's helper, strides, paddings 0..3, dilation,
// groups 2 / 4 / depthwise, non-square kernels, pools.
network builder_network() {
    network n("selfcheck-builders", {4, 10, 9});
    n.conv2d(0, 6, {1, 1, 1, 0, 1, 1}, "conv c6 k1x1 s1 p0 d1 g1");
    n.conv2d(0, 3, conv_geometry{}, "conv c3 k1x1 s1 p0 d1 g1");
    n.conv2d(0, 8, square_geometry(1, 1, 0), "conv c8 k1x1 s1 p0 d1 g1");
    n.conv2d(0, 4, square_geometry(1, 2, 0), "conv c4 k1x1 s2 p0 d1 g1");
    n.conv2d(0, 4, square_geometry(3, 1, 1), "conv c4 k3x3 s1 p1 d1 g1");
    n.conv2d(0, 5, square_geometry(3, 2, 1), "conv c5 k3x3 s2 p1 d1 g1");
    n.conv2d(0, 4, square_geometry(3, 2, 1, 4), "conv c4 k3x3 s2 p1 d1 g4");
    n.conv2d(0, 2, square_geometry(7, 2, 3), "conv c2 k7x7 s2 p3 d1 g1");
    n.conv2d(0, 5, {3, 3, 1, 0, 1, 1}, "conv c5 k3x3 s1 p0 d1 g1");
    n.conv2d(0, 6, {3, 3, 1, 1, 1, 2}, "conv c6 k3x3 s1 p1 d1 g2");
    n.conv2d(0, 3, {3, 3, 1, 2, 2, 1}, "conv c3 k3x3 s1 p2 d2 g1");
    n.conv2d(0, 4, {2, 3, 2, 1, 1, 1}, "conv c4 k2x3 s2 p1 d1 g1");
    n.conv2d(0, 2, {1, 1, 1, 1, 1, 1}, "conv c2 k1x1 s1 p1 d1 g1");
    n.conv2d(0, 8, {3, 3, 2, 0, 1, 4}, "conv c8 k3x3 s2 p0 d1 g4");
    n.conv2d(0, 4, {1, 1, 1, 0, 1, 4}, "conv c4 k1x1 s1 p0 d1 g4");
    n.conv2d(0, 3, {2, 2, 1, {0, 0, 1, 1}, 1, 1}, "conv c3 k2x2 s1 p[0,0,1,1] d1 g1");
    n.conv2d(0, 4, {3, 2, 2, {1, 0, 1, 1}, 1, 2}, "conv c4 k3x2 s2 p[1,0,1,1] d1 g2");
    n.conv2d(0, 2, {2, 2, 1, {1, 1, 0, 0}, 2, 1}, "conv c2 k2x2 s1 p[1,1,0,0] d2 g1");
    n.max_pool(0, {3, 2, 1, true}, "maxpool k3 s2 p1");
    n.max_pool(0, {2, 2, 0, true}, "maxpool k2 s2 p0");
    n.avg_pool(0, {3, 1, 1, false}, "avgpool k3 s1 p1 excl");
    n.avg_pool(0, {2, 2, 0, true}, "avgpool k2 s2 p0 incl");
    n.avg_pool(0, {3, 2, 1, true}, "avgpool k3 s2 p1 incl");
    const std::size_t f = n.flatten(0, "flatten");
    n.dense(f, 7, "dense");
    return n;
}

std::vector<structure_finding> check_builders_or_throw(std::uint64_t seed);

std::size_t expected_extent(std::size_t in, std::size_t kernel, std::size_t stride, std::size_t before, std::size_t after,
                            std::size_t dilation) {
    return (in + before + after - dilation * (kernel - 1) - 1) / stride + 1;
}

// Small dyadic weights and inputs: exact rationals stay cheap.
double small_dyadic(std::mt19937_64& rng, int range, int shift) {
    const auto v = static_cast<int>(rng() % static_cast<std::uint64_t>(2 * range + 1)) - range;
    return static_cast<double>(v) / static_cast<double>(1 << shift);
}

// The node's exact output by a direct loop over the expected geometry.
std::vector<arith::rational> direct_output(const node& n, const builder_spec& s, std::size_t c_in, std::size_t h_in, std::size_t w_in,
                                           const std::vector<arith::rational>& x) {
    const std::size_t oh_n = expected_extent(h_in, s.kh, s.stride, s.top, s.bottom, s.dilation);
    const std::size_t ow_n = expected_extent(w_in, s.kw, s.stride, s.left, s.right, s.dilation);
    const std::size_t c_out = s.conv ? s.out_channels : c_in;
    std::vector<arith::rational> y;
    y.reserve(c_out * oh_n * ow_n);
    for (std::size_t o = 0; o < c_out; ++o)
        for (std::size_t oh = 0; oh < oh_n; ++oh)
            for (std::size_t ow = 0; ow < ow_n; ++ow) {
                arith::rational acc = s.conv ? arith::to_rational(n.bias.at(o)) : arith::rational(0);
                bool first = true;
                std::size_t taps = 0;
                const std::size_t per_group = s.conv ? c_in / s.groups : 1;
                for (std::size_t ic = 0; ic < per_group; ++ic) {
                    const std::size_t c = s.conv ? (o / (s.out_channels / s.groups)) * per_group + ic : o;
                    for (std::size_t i = 0; i < s.kh; ++i)
                        for (std::size_t j = 0; j < s.kw; ++j) {
                            const long r = static_cast<long>(oh * s.stride + i * s.dilation) - static_cast<long>(s.top);
                            const long q = static_cast<long>(ow * s.stride + j * s.dilation) - static_cast<long>(s.left);
                            if (r < 0 || q < 0 || r >= static_cast<long>(h_in) || q >= static_cast<long>(w_in)) continue;
                            const auto& v = x.at((c * h_in + static_cast<std::size_t>(r)) * w_in + static_cast<std::size_t>(q));
                            ++taps;
                            if (s.conv)
                                acc += arith::to_rational(n.weight.at(((o * per_group + ic) * s.kh + i) * s.kw + j)) * v;
                            else if (s.max) {
                                if (first || v > acc) acc = v;
                                first = false;
                            } else
                                acc += v;
                        }
                }
                if (!s.conv && !s.max) acc /= arith::rational(static_cast<long>(s.include_pad ? s.kh * s.kw : taps));
                y.push_back(acc);
            }
    return y;
}

std::string describe_node(const node& n) {
    const auto& g = n.conv;
    if (n.kind == op::conv2d)
        return "stored c" + std::to_string(n.out_features) + " k" + std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + " s" +
               std::to_string(g.stride) + " " + to_string(g.padding) + " d" + std::to_string(g.dilation) + " g" +
               std::to_string(g.groups) + ", output " + to_string(n.output);
    return "stored k" + std::to_string(n.pool.kernel) + " s" + std::to_string(n.pool.stride) + " p" + std::to_string(n.pool.padding) +
           (n.pool.count_include_pad ? " incl" : " excl") + ", output " + to_string(n.output);
}

void fnv(std::uint64_t& h, std::uint64_t v) {
    for (int k = 0; k < 8; ++k) {
        h ^= (v >> (8 * k)) & 0xffu;
        h *= 0x100000001b3ull;
    }
}

// The zoo's numbers (from the -O2 build; the named layers and L, widths
// and counts checked by hand against torchvision, THEOREMS.md section 5 and
// tests/golden/). `affine` counts shortcut projections too.
struct zoo_expectation {
    const char* model;
    std::size_t resolution;
    std::size_t depth, affine, sum_n_out, max_n_out, parameters, largest_feature_map, max_dense_count, max_group_count;
    std::uint64_t checksum;
};

constexpr zoo_expectation zoo_table[] = {
    // model, resolution, L, affine, sum N_l, max N_l, parameters (BN folded: torchvision's count minus one per BN
    // channel, e.g. 11,689,512 - 4,800), largest feature map, max p^2 c + 1, max p^2 c / g + 1, checksum of every
    // node (from the shipped -O2 build; the ImageNet models have a flatten node before the classifier)
    {"resnet18", 224, 18, 21, 2484712, 802816, 11684712, 802816, 4609, 4609, 0xb432018f4d8987c4ull},
    {"resnet50", 224, 50, 54, 11114984, 802816, 25530472, 802816, 4609, 4609, 0xb1359d808d35d431ull},
    {"mobilenetv2", 224, 53, 53, 6679112, 1204224, 3487816, 1204224, 8641, 1281, 0x2f6cda84a6e11406ull},
    {"resnet18", 32, 18, 21, 51688, 16384, 11684712, 16384, 4609, 4609, 0xc0e57d54056d065eull},
    {"resnet50", 32, 50, 54, 227816, 16384, 25530472, 16384, 4609, 4609, 0xfa1064441c58c0a6ull},
    {"mobilenetv2", 32, 53, 53, 137288, 24576, 3487816, 24576, 8641, 1281, 0x32c90ab04fdb7441ull},
    {"cnn", 224, 3, 3, 2314, 2048, 3818, 2048, 257, 257, 0xd8db5816c656e64full},
    {"mlp:2,25,25,2", 224, 3, 3, 52, 25, 777, 25, 26, 26, 0x618ea598bd6c08e6ull},
};

// Named layers, N_{l-1} and N_l worked out by hand from torchvision's shapes.
struct layer_expectation {
    const char* model;
    std::size_t resolution;
    const char* layer;
    std::size_t n_in, n_out;
};

constexpr layer_expectation layer_table[] = {
    {"mobilenetv2", 224, "features.0.conv", 3 * 224 * 224, 32 * 112 * 112},
    {"mobilenetv2", 224, "features.1.depthwise", 32 * 112 * 112, 32 * 112 * 112},
    {"mobilenetv2", 224, "features.2.expand", 16 * 112 * 112, 96 * 112 * 112},
    {"mobilenetv2", 224, "features.2.depthwise", 96 * 112 * 112, 96 * 56 * 56},
    {"mobilenetv2", 224, "features.17.project", 960 * 7 * 7, 320 * 7 * 7},
    {"mobilenetv2", 224, "features.18.conv", 320 * 7 * 7, 1280 * 7 * 7},  // 62,720
    {"mobilenetv2", 224, "classifier", 1280, 1000},
    {"mobilenetv2", 32, "features.18.conv", 320, 1280},
    {"resnet50", 224, "conv1", 3 * 224 * 224, 64 * 112 * 112},
    {"resnet50", 224, "layer1.0.conv1", 64 * 56 * 56, 64 * 56 * 56},
    {"resnet50", 224, "layer1.0.downsample", 64 * 56 * 56, 256 * 56 * 56},
    {"resnet50", 224, "layer2.0.conv2", 128 * 56 * 56, 128 * 28 * 28},
    {"resnet50", 224, "layer2.0.downsample", 256 * 56 * 56, 512 * 28 * 28},
    {"resnet50", 224, "layer4.2.conv3", 512 * 7 * 7, 2048 * 7 * 7},
    {"resnet50", 224, "fc", 2048, 1000},
    {"resnet50", 32, "conv1", 3 * 32 * 32, 64 * 16 * 16},
    {"resnet50", 32, "layer4.2.conv3", 512, 2048},
    {"resnet18", 224, "layer1.1.conv2", 64 * 56 * 56, 64 * 56 * 56},
    {"resnet18", 224, "layer3.0.downsample", 128 * 28 * 28, 256 * 14 * 14},
    {"resnet18", 224, "fc", 512, 1000},
};

}  // namespace

std::uint64_t structure_checksum(const network& net) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const auto& n : net.nodes()) {
        fnv(h, static_cast<std::uint64_t>(n.kind));
        for (char c : n.name) fnv(h, static_cast<unsigned char>(c));
        fnv(h, n.output.channels), fnv(h, n.output.height), fnv(h, n.output.width);
        for (std::size_t i : n.inputs) fnv(h, i);
        fnv(h, n.main_path);
        if (n.is_affine()) {
            fnv(h, n.in_features), fnv(h, n.out_features);
            const auto& g = n.conv;
            // Uniform padding hashes as one number, as before padding_2d (the zoo table's checksums).
            for (std::size_t v : {g.kernel_h, g.kernel_w, g.stride, g.padding.top}) fnv(h, v);
            if (!g.padding.uniform())
                for (std::size_t v : {g.padding.left, g.padding.bottom, g.padding.right}) fnv(h, v);
            for (std::size_t v : {g.dilation, g.groups}) fnv(h, v);
        }
        if (n.kind == op::max_pool || n.kind == op::avg_pool)
            for (std::size_t v : {n.pool.kernel, n.pool.stride, n.pool.padding, std::size_t{n.pool.count_include_pad}}) fnv(h, v);
    }
    const architecture a = describe_architecture(net);
    for (const auto& l : a.layers)
        for (std::size_t v : {l.node_index, l.depth, std::size_t{l.main_path}, l.n_in, l.n_out, l.kernel_h, l.kernel_w, l.channels_in,
                              l.groups, l.max_row_nonzeros, l.dense_count, l.group_count})
            fnv(h, v);
    return h;
}

std::vector<structure_finding> check_builders(std::uint64_t seed) {
    try {
        return check_builders_or_throw(seed);
    } catch (const std::exception& error) {
        return {{"builders: networks with literal geometries", false, std::string("building or evaluating them failed: ") + error.what()}};
    }
}

namespace {

std::vector<structure_finding> check_builders_or_throw(std::uint64_t seed) {
    network n = builder_network();
    std::mt19937_64 rng(seed);
    for (std::size_t i : n.affine_nodes()) {
        for (double& w : n.weights(i)) w = small_dyadic(rng, 8, 3);
        for (double& b : n.bias(i)) b = small_dyadic(rng, 4, 2);
    }
    const std::size_t c_in = 4, h_in = 10, w_in = 9;
    std::vector<arith::rational> x;
    for (std::size_t k = 0; k < c_in * h_in * w_in; ++k) x.push_back(arith::to_rational(small_dyadic(rng, 16, 2)));
    const auto values = forward_all<arith::rational>(n, x);

    std::string geometry_error, shape_error, value_error;
    std::size_t checked = 0;
    const auto note = [](std::string& error, const std::string& text) {
        if (error.empty()) error = text;
    };
    for (std::size_t i = 1; i < n.nodes().size(); ++i) {
        const node& nd = n.at(i);
        if (nd.kind == op::flatten) continue;
        const std::string where = "'" + nd.name + "': ";
        if (nd.kind == op::dense) {
            if (nd.in_features != c_in * h_in * w_in || nd.out_features != 7 || nd.output.channels != 7 || nd.output.size() != 7)
                note(shape_error, where + "in " + std::to_string(nd.in_features) + ", out " + std::to_string(nd.out_features) +
                                      ", expected 360 -> 7");
            ++checked;
            continue;
        }
        const builder_spec s = parse_spec(nd.name);
        if (!s.ok || s.conv != (nd.kind == op::conv2d)) {
            note(geometry_error, where + "unexpected node kind " + std::string(to_string(nd.kind)));
            continue;
        }
        ++checked;
        const bool geometry_ok =
            s.conv ? nd.conv.kernel_h == s.kh && nd.conv.kernel_w == s.kw && nd.conv.stride == s.stride &&
                         nd.conv.padding == padding_2d{s.top, s.left, s.bottom, s.right} &&
                         nd.conv.dilation == s.dilation && nd.conv.groups == s.groups && nd.out_features == s.out_channels &&
                         nd.in_features == c_in && nd.weight.size() == s.out_channels * (c_in / s.groups) * s.kh * s.kw
                   : nd.pool.kernel == s.kh && nd.pool.stride == s.stride && nd.pool.padding == s.padding &&
                         nd.pool.count_include_pad == s.include_pad;
        if (!geometry_ok) note(geometry_error, where + describe_node(nd));
        const std::size_t oc = s.conv ? s.out_channels : c_in;
        const std::size_t oh = expected_extent(h_in, s.kh, s.stride, s.top, s.bottom, s.dilation);
        const std::size_t ow = expected_extent(w_in, s.kw, s.stride, s.left, s.right, s.dilation);
        if (nd.output.channels != oc || nd.output.height != oh || nd.output.width != ow)
            note(shape_error, where + describe_node(nd) + ", expected " + std::to_string(oc) + "x" + std::to_string(oh) + "x" +
                                  std::to_string(ow));
        if (!geometry_ok || values[i].size() != oc * oh * ow) {
            note(value_error, where + "not evaluated (wrong geometry or size)");
            continue;
        }
        const auto direct = direct_output(nd, s, c_in, h_in, w_in, x);
        for (std::size_t k = 0; k < direct.size(); ++k)
            if (direct[k] != values[i][k]) {
                note(value_error, where + "output " + std::to_string(k) + " is " + arith::to_decimal(values[i][k], 12) +
                                      ", a direct loop gives " + arith::to_decimal(direct[k], 12));
                break;
            }
    }
    const std::string count = std::to_string(checked) + " nodes as written";
    return {
        {"builders: stored conv / pool / dense geometry", geometry_error.empty(), geometry_error.empty() ? count : geometry_error},
        {"builders: output shapes (plain integer arithmetic)", shape_error.empty(), shape_error.empty() ? count : shape_error},
        {"builders: exact outputs = direct convolution loops", value_error.empty(),
         value_error.empty() ? "every output of " + count : value_error},
    };
}

}  // namespace

std::vector<structure_finding> check_zoo_shapes() {
    std::vector<structure_finding> out;
    for (const auto& e : zoo_table) {
        // A miscompiled builder can make the zoo itself inconsistent (a residual add of 58x58 and 56x56).
        std::optional<network> built;
        try {
            built.emplace(make_zoo_model(e.model, e.resolution, /*with_weights=*/false));
        } catch (const std::exception& error) {
            out.push_back({"zoo " + std::string(e.model) + "@" + std::to_string(e.resolution) + ": layer shapes", false,
                           std::string("building it failed: ") + error.what()});
            continue;
        }
        const network& net = *built;
        const architecture a = describe_architecture(net);
        std::size_t sum = 0, max = 0;
        for (const auto& l : a.layers) sum += l.n_out, max = std::max(max, l.n_out);
        const std::uint64_t checksum = structure_checksum(net);
        std::string error;
        const auto expect = [&](const char* what, std::uint64_t got, std::uint64_t want) {
            if (error.empty() && got != want) error = std::string(what) + " " + std::to_string(got) + ", expected " + std::to_string(want);
        };
        expect("L", a.depth, e.depth);
        expect("affine layers", a.layers.size(), e.affine);
        expect("sum of N_l", sum, e.sum_n_out);
        expect("max N_l", max, e.max_n_out);
        expect("parameters", net.parameter_count(), e.parameters);
        expect("largest feature map", a.largest_feature_map, e.largest_feature_map);
        expect("max p^2 c + 1", a.max_dense_count, e.max_dense_count);
        expect("max p^2 c / g + 1", a.max_group_count, e.max_group_count);
        for (const auto& l : layer_table) {
            if (std::string(l.model) != e.model || l.resolution != e.resolution) continue;
            bool found = false;
            for (const auto& info : a.layers) {
                if (info.name != l.layer) continue;
                found = true;
                expect((std::string(l.layer) + " N_{l-1}").c_str(), info.n_in, l.n_in);
                expect((std::string(l.layer) + " N_l").c_str(), info.n_out, l.n_out);
            }
            if (!found && error.empty()) error = std::string("no layer ") + l.layer;
        }
        char hex[24];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(checksum));
        if (error.empty() && checksum != e.checksum) error = "structure checksum differs from the table's";
        const std::string summary = "L " + std::to_string(a.depth) + ", " + std::to_string(a.layers.size()) + " affine, sum N_l " +
                                    std::to_string(sum) + ", max N_l " + std::to_string(max) + ", " +
                                    std::to_string(net.parameter_count()) + " parameters, checksum " + hex;
        out.push_back({"zoo " + net.name() + ": layer shapes", error.empty(), error.empty() ? summary : error + " (" + summary + ")"});
    }
    return out;
}

}  // namespace qbound::net
