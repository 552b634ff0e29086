// libFuzzer target: io::read_nnet on arbitrary bytes. Refusals are
// net::model_error; everything else is a finding.
#include "qbound/io/nnet.hpp"
#include "qbound/net/errors.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = qbound::fuzz::write_input(data, size, "model.nnet");
    try {
        const auto model = qbound::io::read_nnet(path);
        (void)model.network.parameter_count();
    } catch (const qbound::net::model_error&) {
    }
    return 0;
}
