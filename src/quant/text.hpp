#pragma once
// Message text for the quantizer's errors (the library does not link {fmt}).
#include <charconv>
#include <sstream>
#include <string>

namespace qbound::quant::detail {

// The shortest decimal that reads back as x ("0.1", "1e+300", "nan").
inline std::string shortest(double x) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    return std::string(buf, r.ptr);
}

// Concatenates its arguments; doubles in shortest round-trip form.
template <class... Parts>
std::string text(const Parts&... parts) {
    std::ostringstream out;
    auto put = [&out](const auto& p) {
        if constexpr (std::is_floating_point_v<std::decay_t<decltype(p)>>) {
            out << shortest(static_cast<double>(p));
        } else {
            out << p;
        }
    };
    (put(parts), ...);
    return out.str();
}

}  // namespace qbound::quant::detail
