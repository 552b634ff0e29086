#include "qbound/net/zoo.hpp"

#include "qbound/net/errors.hpp"

#include <string>

namespace qbound::net {

namespace {

conv_geometry square(std::size_t kernel, std::size_t stride, std::size_t padding, std::size_t groups = 1) {
    return {kernel, kernel, stride, padding, 1, groups};
}

}  // namespace

network make_mlp(const std::vector<std::size_t>& widths, bool with_weights) {
    if (widths.size() < 2) throw model_error("mlp: needs at least an input and an output width");
    for (std::size_t w : widths)
        if (w == 0) throw model_error("mlp: widths must be positive");
    std::string name = "mlp";
    for (std::size_t k = 0; k < widths.size(); ++k) name += (k ? "-" : ":") + std::to_string(widths[k]);
    network net(name, {widths[0], 1, 1}, with_weights);
    std::size_t x = 0;
    for (std::size_t l = 1; l < widths.size(); ++l) {
        x = net.dense(x, widths[l], "fc" + std::to_string(l));
        if (l + 1 < widths.size()) x = net.activation(x, op::relu, "relu" + std::to_string(l));
    }
    return net;
}

network make_cnn(const cnn_config& config, bool with_weights) {
    network net("cnn", config.input, with_weights);
    std::size_t x = 0;
    for (std::size_t k = 0; k < config.convs.size(); ++k) {
        const auto& c = config.convs[k];
        x = net.conv2d(x, c.out_channels, c.geometry, "conv" + std::to_string(k + 1));
        x = net.activation(x, op::relu, "relu_conv" + std::to_string(k + 1));
        if (c.max_pool_after) x = net.max_pool(x, {2, 2, 0, true}, "pool" + std::to_string(k + 1));
    }
    x = config.global_pool ? net.global_avg_pool(x, "gap") : net.flatten(x, "flatten");
    for (std::size_t k = 0; k < config.dense.size(); ++k) {
        x = net.dense(x, config.dense[k], "fc" + std::to_string(k + 1));
        if (k + 1 < config.dense.size()) x = net.activation(x, op::relu, "relu_fc" + std::to_string(k + 1));
    }
    return net;
}

namespace {

// torchvision's stem: conv 7x7/2 (64), ReLU, max pool 3x3/2 pad 1.
std::size_t resnet_stem(network& net) {
    std::size_t x = net.conv2d(0, 64, square(7, 2, 3), "conv1");
    x = net.activation(x, op::relu, "relu");
    return net.max_pool(x, {3, 2, 1, true}, "maxpool");
}

std::size_t basic_block(network& net, std::size_t x, std::size_t planes, std::size_t stride, const std::string& name) {
    const std::size_t in_channels = net.at(x).output.channels;
    std::size_t y = net.conv2d(x, planes, square(3, stride, 1), name + ".conv1");
    y = net.activation(y, op::relu, name + ".relu1");
    y = net.conv2d(y, planes, square(3, 1, 1), name + ".conv2");
    std::size_t shortcut = x;
    if (stride != 1 || in_channels != planes) shortcut = net.conv2d(x, planes, square(1, stride, 0), name + ".downsample", false);
    y = net.add(y, shortcut, name + ".add");
    return net.activation(y, op::relu, name + ".relu2");
}

std::size_t bottleneck_block(network& net, std::size_t x, std::size_t planes, std::size_t stride, const std::string& name) {
    const std::size_t in_channels = net.at(x).output.channels;
    const std::size_t out_channels = planes * 4;
    std::size_t y = net.conv2d(x, planes, square(1, 1, 0), name + ".conv1");
    y = net.activation(y, op::relu, name + ".relu1");
    y = net.conv2d(y, planes, square(3, stride, 1), name + ".conv2");  // torchvision v1.5: stride in the 3x3
    y = net.activation(y, op::relu, name + ".relu2");
    y = net.conv2d(y, out_channels, square(1, 1, 0), name + ".conv3");
    std::size_t shortcut = x;
    if (stride != 1 || in_channels != out_channels)
        shortcut = net.conv2d(x, out_channels, square(1, stride, 0), name + ".downsample", false);
    y = net.add(y, shortcut, name + ".add");
    return net.activation(y, op::relu, name + ".relu3");
}

template <class Block>
network make_resnet(const std::string& name, std::size_t resolution, std::size_t classes, bool with_weights,
                    const std::size_t (&blocks)[4], Block block) {
    network net(name, {3, resolution, resolution}, with_weights);
    std::size_t x = resnet_stem(net);
    const std::size_t planes[4] = {64, 128, 256, 512};
    for (std::size_t stage = 0; stage < 4; ++stage)
        for (std::size_t b = 0; b < blocks[stage]; ++b)
            x = block(net, x, planes[stage], (stage > 0 && b == 0) ? 2 : 1,
                      "layer" + std::to_string(stage + 1) + "." + std::to_string(b));
    x = net.global_avg_pool(x, "avgpool");
    net.dense(x, classes, "fc");
    return net;
}

}  // namespace

network make_resnet18(std::size_t resolution, std::size_t classes, bool with_weights) {
    const std::size_t blocks[4] = {2, 2, 2, 2};
    return make_resnet("resnet18@" + std::to_string(resolution), resolution, classes, with_weights, blocks, basic_block);
}

network make_resnet50(std::size_t resolution, std::size_t classes, bool with_weights) {
    const std::size_t blocks[4] = {3, 4, 6, 3};
    return make_resnet("resnet50@" + std::to_string(resolution), resolution, classes, with_weights, blocks, bottleneck_block);
}

network make_mobilenet_v2(std::size_t resolution, std::size_t classes, bool with_weights) {
    network net("mobilenetv2@" + std::to_string(resolution), {3, resolution, resolution}, with_weights);
    std::size_t x = net.conv2d(0, 32, square(3, 2, 1), "features.0.conv");
    x = net.activation(x, op::relu6, "features.0.relu6");
    // torchvision's inverted residual settings: expansion t, channels c, repeats n, stride s.
    const std::size_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    std::size_t index = 1;
    for (const auto& s : settings) {
        for (std::size_t i = 0; i < s[2]; ++i, ++index) {
            const std::string name = "features." + std::to_string(index);
            const std::size_t in_channels = net.at(x).output.channels;
            const std::size_t hidden = in_channels * s[0];
            const std::size_t stride = i == 0 ? s[3] : 1;
            std::size_t y = x;
            if (s[0] != 1) {
                y = net.conv2d(y, hidden, square(1, 1, 0), name + ".expand");
                y = net.activation(y, op::relu6, name + ".expand.relu6");
            }
            y = net.conv2d(y, hidden, square(3, stride, 1, hidden), name + ".depthwise");
            y = net.activation(y, op::relu6, name + ".depthwise.relu6");
            y = net.conv2d(y, s[1], square(1, 1, 0), name + ".project");  // linear bottleneck
            if (stride == 1 && in_channels == s[1]) y = net.add(y, x, name + ".add");
            x = y;
        }
    }
    x = net.conv2d(x, 1280, square(1, 1, 0), "features.18.conv");
    x = net.activation(x, op::relu6, "features.18.relu6");
    x = net.global_avg_pool(x, "avgpool");
    net.dense(x, classes, "classifier");
    return net;
}

bool is_zoo_name(const std::string& name) {
    return name == "resnet18" || name == "resnet50" || name == "mobilenetv2" || name == "cnn" || name.rfind("mlp:", 0) == 0;
}

network make_zoo_model(const std::string& name, std::size_t resolution, bool with_weights) {
    if (resolution < 32 || resolution > 4096)
        throw model_error("zoo: resolution must be in 32..4096, got " + std::to_string(resolution));
    if (name == "resnet18") return make_resnet18(resolution, 1000, with_weights);
    if (name == "resnet50") return make_resnet50(resolution, 1000, with_weights);
    if (name == "mobilenetv2") return make_mobilenet_v2(resolution, 1000, with_weights);
    if (name == "cnn") return make_cnn(cnn_config{}, with_weights);
    if (name.rfind("mlp:", 0) == 0) {
        std::vector<std::size_t> widths;
        std::string rest = name.substr(4);
        std::size_t pos = 0;
        while (pos <= rest.size()) {
            const std::size_t comma = rest.find(',', pos);
            const std::string part = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 9)
                throw model_error("zoo: bad width '" + part + "' in '" + name + "' (expected e.g. mlp:2,25,25,2)");
            widths.push_back(std::stoul(part));
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
        return make_mlp(widths, with_weights);
    }
    throw model_error("unknown model '" + name + "': expected a file or one of resnet18, resnet50, mobilenetv2, cnn, mlp:N0,N1,...");
}

}  // namespace qbound::net
