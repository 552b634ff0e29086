// libFuzzer target: quant::read_calibration on arbitrary bytes, as CSV and
// as .npy (the first byte picks the format and the network's input size, so
// both readers and the size checks are exercised). Refusals are
// core::invalid_argument; everything else is a finding.
#include "qbound/core/errors.hpp"
#include "qbound/quant/calibration.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool npy = (data[0] & 1) != 0;
    const std::size_t dim = 1 + (data[0] >> 1) % 16;
    const std::string path = qbound::fuzz::write_input(data + 1, size - 1, npy ? "calib.npy" : "calib.csv");
    try {
        const auto rows = qbound::quant::read_calibration(path, dim);
        for (const auto& r : rows)
            if (r.size() != dim) __builtin_trap();  // the reader promises rows of the network's input size
    } catch (const qbound::core::invalid_argument&) {
    }
    return 0;
}
