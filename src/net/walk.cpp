#include "qbound/net/walk.hpp"

namespace qbound::net {

std::string unsupported_node_text(const network& net, std::size_t index, std::string_view engine) {
    const node& n = net.nodes().at(index);
    std::string text = net.name() + ": node " + std::to_string(index) + " '" + n.name + "' (" + std::string(to_string(n.kind)) +
                       ") is not supported by " + std::string(engine);
    if (n.kind == op::batch_norm) text += ": batch norm must be folded before evaluation (fold_batch_norm)";
    if (n.kind == op::input) text += ": a second input node";
    return text;
}

void throw_unsupported_node(const network& net, std::size_t index, std::string_view engine) {
    throw model_error(unsupported_node_text(net, index, engine));
}

void throw_invalid_kind(const network& net, std::size_t index) {
    throw model_error(net.name() + ": node " + std::to_string(index) + " '" + net.nodes().at(index).name + "' has operator value " +
                      std::to_string(static_cast<int>(net.nodes()[index].kind)) + ", not an operator");
}

void throw_unsupported_kind(op kind, std::string_view engine) {
    throw model_error(std::string(engine) + ": operator " + std::string(to_string(kind)) + " is not supported");
}

void throw_invalid_kind(op kind) {
    throw model_error("operator value " + std::to_string(static_cast<int>(kind)) + " is not an operator");
}

void throw_not_earlier(std::size_t j, std::size_t index) {
    throw model_error("network walk: node " + std::to_string(index) + " asked for the value of node " + std::to_string(j) +
                      ", which is not an earlier node");
}

void check_evaluation_input(const network& net, std::size_t size) {
    if (size != net.input_shape().size())
        throw model_error(net.name() + ": input has " + std::to_string(size) + " values, expected " +
                          std::to_string(net.input_shape().size()) + " (" + to_string(net.input_shape()) + ")");
    if (!net.has_weights()) throw model_error(net.name() + ": a shape-only network cannot be evaluated");
}

std::vector<std::size_t> last_readers(const network& net) {
    const auto& nodes = net.nodes();
    std::vector<std::size_t> last(nodes.size(), 0);
    for (std::size_t i = 1; i < nodes.size(); ++i)
        for (std::size_t j : nodes[i].inputs) last.at(j) = i;
    last.back() = nodes.size();
    return last;
}

void check_lockstep(const network& a, const network& b, std::string_view engine) {
    const std::string who = std::string(engine);
    if (a.nodes().size() != b.nodes().size())
        throw model_error(who + ": the networks '" + a.name() + "' and '" + b.name() + "' differ in structure (" +
                          std::to_string(a.nodes().size()) + " and " + std::to_string(b.nodes().size()) + " nodes)");
    for (std::size_t i = 0; i < a.nodes().size(); ++i) {
        const node& n = a.nodes()[i];
        const node& m = b.nodes()[i];
        std::string what;
        if (n.kind != m.kind)
            what = "operator " + std::string(to_string(n.kind)) + " and " + std::string(to_string(m.kind));
        else if (n.inputs != m.inputs)
            what = "inputs";
        else if (n.output != m.output)
            what = "output shape " + to_string(n.output) + " and " + to_string(m.output);
        else if (n.weight.size() != m.weight.size() || n.bias.size() != m.bias.size())
            what = "weight count " + std::to_string(n.weight.size() + n.bias.size()) + " and " + std::to_string(m.weight.size() + m.bias.size());
        if (!what.empty())
            throw model_error(who + ": node " + std::to_string(i) + " ('" + n.name + "') differs between the networks '" + a.name() +
                              "' and '" + b.name() + "' (" + what + ")");
    }
}

}  // namespace qbound::net
