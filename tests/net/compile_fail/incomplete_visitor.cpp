// Built by the CTest net/walk_incomplete_visitor (must fail to compile, with
// the static_assert naming op::relu6) and, with -DQBOUND_COMPLETE_VISITOR,
// by net/walk_complete_visitor (must compile): a visitor that handles every
// operator kind but relu6 is refused at compile time.
#include "qbound/net/walk.hpp"

#include <cstddef>

namespace {

struct counting_engine {
    static constexpr qbound::net::op_set refused{qbound::net::op::batch_norm};
    using visit_t = qbound::net::node_visit<std::size_t>;
    template <qbound::net::op K>
        requires(K != qbound::net::op::relu6)
    std::size_t visit(qbound::net::op_tag<K>, const visit_t& c) const { return c.input() + 1; }
#ifdef QBOUND_COMPLETE_VISITOR
    std::size_t visit(qbound::net::op_tag<qbound::net::op::relu6>, const visit_t& c) const { return c.input() + 6; }
#endif
};

}  // namespace

std::size_t count_nodes(const qbound::net::network& net) {
    const counting_engine engine;
    return qbound::net::walk(net, std::size_t{0}, engine, {"counting engine", true}).back();
}
