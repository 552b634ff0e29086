#pragma once
#include <stdexcept>

namespace qbound::net {

// A network that cannot be built, loaded or evaluated; the message names the
// file, node or field at fault.
class model_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace qbound::net
