#pragma once
// A tiny ONNX graph builder for tests that write graphs in exporters' styles.
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace qbound::test {

// <tmp>/qbound-<pid>/ : a scratch folder of this test process (tests of
// several builds may run at once); file names stay as the tests name them.
inline std::filesystem::path process_temp_directory() {
    const auto dir = std::filesystem::temp_directory_path() / ("qbound-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

inline std::string temp_onnx_path(const std::string& tag) {
    return (process_temp_directory() / ("qbound-test-" + tag + ".onnx")).string();
}

// A tiny ONNX graph builder for the tests.
struct graph_builder {
    onnx::ModelProto model;
    onnx::GraphProto* g;
    graph_builder() : g(model.mutable_graph()) {
        model.set_ir_version(7);
        model.add_opset_import()->set_version(13);
        g->set_name("test");
    }
    void input(const std::string& name, std::vector<std::int64_t> dims) {
        auto* t = g->add_input();
        t->set_name(name);
        auto* tt = t->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        for (auto d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
    }
    void output(const std::string& name) { g->add_output()->set_name(name); }
    void constant(const std::string& name, std::vector<std::int64_t> dims, const std::vector<float>& data) {
        auto* t = g->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        for (auto d : dims) t->add_dims(d);
        for (float v : data) t->add_float_data(v);
    }
    // A 1-D int64 initializer (shapes, pads, slice bounds).
    void int64s(const std::string& name, const std::vector<std::int64_t>& values) {
        auto* t = g->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::INT64);
        t->add_dims(static_cast<std::int64_t>(values.size()));
        for (auto v : values) t->add_int64_data(v);
    }
    onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, const std::string& out) {
        auto* n = g->add_node();
        n->set_op_type(op);
        n->set_name(op + "_" + out);
        for (auto& i : in) n->add_input(i);
        n->add_output(out);
        return n;
    }
    static void ints(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (auto x : v) a->add_ints(x);
    }
    static void text(onnx::NodeProto* n, const std::string& name, const std::string& v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(v);
    }
    std::string save(const std::string& tag) {
        const std::string path = temp_onnx_path(tag);
        std::ofstream out(path, std::ios::binary);
        model.SerializeToOstream(&out);
        return path;
    }
};

}  // namespace qbound::test
