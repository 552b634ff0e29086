#pragma once
// Built-in networks (no files needed). Batch norm is folded: every conv has
// a bias. ImageNet models follow torchvision's layer shapes at any input
// resolution (default 224) with 1000 classes.
#include "qbound/net/network.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace qbound::net {

// widths = {N_0, N_1, ..., N_L}: dense layers with ReLU between them.
network make_mlp(const std::vector<std::size_t>& widths, bool with_weights = true);

// A small CNN family: convs (each followed by ReLU, optionally by a 2x2 max
// pool), then global average pooling or flatten, then dense layers.
struct cnn_config {
    shape3 input{1, 16, 16};
    struct conv_spec {
        std::size_t out_channels = 8;
        conv_geometry geometry{3, 3, 1, 1, 1, 1};
        bool max_pool_after = false;
    };
    std::vector<conv_spec> convs{{8, {3, 3, 1, 1, 1, 1}, true}, {16, {3, 3, 2, 1, 1, 1}, false}};
    bool global_pool = false;  // else flatten
    std::vector<std::size_t> dense{10};
};
network make_cnn(const cnn_config& config, bool with_weights = true);

network make_resnet18(std::size_t resolution = 224, std::size_t classes = 1000, bool with_weights = true);
network make_resnet50(std::size_t resolution = 224, std::size_t classes = 1000, bool with_weights = true);
network make_mobilenet_v2(std::size_t resolution = 224, std::size_t classes = 1000, bool with_weights = true);

// By name: "resnet18", "resnet50", "mobilenetv2" (at `resolution`), "cnn"
// (the default cnn_config), or "mlp:2,25,25,2". Throws model_error listing
// the known names otherwise.
network make_zoo_model(const std::string& name, std::size_t resolution = 224, bool with_weights = true);

// True when `name` is a zoo name (not a file path).
bool is_zoo_name(const std::string& name);

}  // namespace qbound::net
