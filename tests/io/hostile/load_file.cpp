// qbound_load_file KIND FILE: reads one file with one of qbound's readers and
// prints what happened, for the hostile-corpus test (tests/io/hostile_corpus.cpp),
// which runs it under a memory limit:
//   refused: <message>     the reader refused the file with its documented
//                          error (net::model_error or core::invalid_argument); exit 0
//   loaded: <summary>      the reader accepted it; exit 3
//   unexpected <what>      any other exception; exit 4 (a crash is a signal)
// KIND: onnx, nnet, calib:<inputs>, case.
#include "qbound/core/errors.hpp"
#include "qbound/io/nnet.hpp"
#include "qbound/io/onnx.hpp"
#include "qbound/net/errors.hpp"
#include "qbound/quant/calibration.hpp"
#include "qbound/verify/case_file.hpp"

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: qbound_load_file onnx|nnet|calib:<inputs>|case FILE\n";
        return 2;
    }
    const std::string kind = argv[1], file = argv[2];
    try {
        std::string summary;
        if (kind == "onnx") {
            summary = std::to_string(qbound::io::read_onnx(file).network.parameter_count()) + " parameters";
        } else if (kind == "nnet") {
            summary = std::to_string(qbound::io::read_nnet(file).network.parameter_count()) + " parameters";
        } else if (kind.rfind("calib:", 0) == 0) {
            summary = std::to_string(qbound::quant::read_calibration(file, std::stoul(kind.substr(6))).size()) + " inputs";
        } else if (kind == "case") {
            summary = std::to_string(qbound::verify::load_case(file).x.size()) + " inputs";
        } else {
            std::cerr << "unknown kind '" << kind << "'\n";
            return 2;
        }
        std::cout << "loaded: " << summary << "\n";
        return 3;
    } catch (const qbound::net::model_error& e) {
        std::cout << "refused: " << e.what() << "\n";
    } catch (const qbound::core::invalid_argument& e) {
        std::cout << "refused: " << e.what() << "\n";
    } catch (const std::exception& e) {
        std::cout << "unexpected exception: " << e.what() << "\n";
        return 4;
    }
    return 0;
}
