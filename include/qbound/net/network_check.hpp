#pragma once
// Run-time checks that this binary builds networks as written (`qbound
// selfcheck`). A compiler that miscompiles the library's builders or the
// zoo (GCC 12.2 with AVX-512 passed conv_geometry{1, 1, 1, 0, 1, 1} by value
// as padding 1) gives every later enclosure the wrong network: each number
// is then "sound" for a network nobody asked about. These checks compare
// what was built against values computed independently here.
#include "qbound/net/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace qbound::net {

struct structure_finding {
    std::string name;
    bool ok = false;
    std::string detail;
};

// Builders with literal constant geometries (conv2d with padding 0 / 1 / 2
// / 3, stride 1 / 2, groups 1 / 2 / c, dilation 2, non-square kernels, the
// default geometry; max / average pools; dense): each node's stored
// geometry and output shape against plain integer arithmetic, and each
// conv's exact rational output against a direct convolution loop written
// with the expected geometry.
std::vector<structure_finding> check_builders(std::uint64_t seed);

// The zoo (resnet18, resnet50, mobilenetv2 at 224 and 32, cnn, an mlp):
// depth L, number of affine layers, sum and max of N_l, parameters, the
// architecture's maxima, a few named layers' shapes, and a checksum of the
// whole per-layer table and of every node's shape and geometry, against a
// table embedded here (from the -O2 build, key numbers checked by hand
// against torchvision; see tests/golden/).
std::vector<structure_finding> check_zoo_shapes();

// FNV-1a over every node (kind, output shape, conv and pool geometry,
// inputs, main_path) and every affine layer row of describe_architecture;
// what check_zoo_shapes compares.
std::uint64_t structure_checksum(const network& net);

}  // namespace qbound::net
