# ---- Hardening: sanitizer build, libFuzzer targets, hostile-input corpus -----
# (issue 10). Included at the end of CMakeLists.txt.
#
#   -DQBOUND_SANITIZE=ON   every target of this directory compiled and linked
#                          with AddressSanitizer + UndefinedBehaviorSanitizer;
#                          any report aborts the test (-fno-sanitize-recover).
#                          Use with -DQBOUND_EXTRA_FLAGS=-O1 (scripts/test.sh).
#   -DQBOUND_FUZZ=ON       (clang only) the libFuzzer targets fuzz_<reader>,
#                          built against the reader sources only; the custom
#                          target `fuzz_targets` builds them all and
#                          `fuzz_seed_corpus` writes their seed corpus.
#                          scripts/fuzz.sh runs them.

option(QBOUND_SANITIZE "Build every target with ASan + UBSan" OFF)
option(QBOUND_FUZZ "Build the libFuzzer targets (clang)" OFF)

set(qbound_sanitizer_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

# The hostile corpus (tests/io/hostile_corpus.cpp, label io) runs this loader
# on each hostile file in a child process under a memory limit.
if(BUILD_TESTING)
  add_executable(qbound_load_file tests/io/hostile/load_file.cpp)
  target_link_libraries(qbound_load_file PRIVATE qbound)
  target_compile_definitions(io_hostile_corpus PRIVATE QBOUND_LOAD_FILE="$<TARGET_FILE:qbound_load_file>")
  add_dependencies(io_hostile_corpus qbound_load_file)
endif()

if(QBOUND_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "QBOUND_FUZZ needs clang (libFuzzer), e.g. -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # The readers and what they need, instrumented for coverage; not the
  # whole library (much cheaper to build).
  add_library(qbound_fuzz_readers STATIC
    src/arith/rational.cpp
    src/arith/precision.cpp
    src/arith/mpfr_real.cpp
    src/arith/mpfi_interval.cpp
    src/arith/interval_double.cpp
    src/arith/scalar.cpp
    src/net/network.cpp
    src/net/walk.cpp
    src/net/batch_norm.cpp
    src/net/architecture.cpp
    src/io/limits.cpp
    src/io/nnet.cpp
    src/io/region.cpp
    src/io/onnx_import.cpp
    src/io/onnx_qdq.cpp
    src/io/onnx_export.cpp
    src/quant/calibration.cpp
    src/verify/case_file.cpp)
  target_include_directories(qbound_fuzz_readers PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include ${MPFI_INCLUDE_DIR})
  target_link_libraries(qbound_fuzz_readers PUBLIC Boost::boost ${MPFI_LIBRARY} PkgConfig::MPFR PkgConfig::GMP
    onnx_proto protobuf::libprotobuf nlohmann_json::nlohmann_json)
  # _GLIBCXX_ASSERTIONS: libstdc++ checks operator[] bounds and optional/
  # vector access that the sanitizers cannot see (capacity beyond size).
  target_compile_options(qbound_fuzz_readers PUBLIC -g ${qbound_sanitizer_flags} -fsanitize=fuzzer-no-link)
  target_compile_definitions(qbound_fuzz_readers PUBLIC _GLIBCXX_ASSERTIONS)
  set(qbound_fuzz_list)
  foreach(reader onnx_import nnet_import calibration case_file)
    add_executable(fuzz_${reader} fuzz/${reader}_fuzz.cpp)
    target_link_libraries(fuzz_${reader} PRIVATE qbound_fuzz_readers)
    target_link_options(fuzz_${reader} PRIVATE ${qbound_sanitizer_flags} -fsanitize=fuzzer)
    list(APPEND qbound_fuzz_list fuzz_${reader})
  endforeach()
  # The seed corpus: small valid and near-valid files of every format.
  add_executable(fuzz_make_seeds fuzz/make_seeds.cpp src/net/zoo.cpp src/net/init.cpp)
  target_link_libraries(fuzz_make_seeds PRIVATE qbound_fuzz_readers)
  target_link_options(fuzz_make_seeds PRIVATE ${qbound_sanitizer_flags})
  add_custom_target(fuzz_targets DEPENDS ${qbound_fuzz_list} fuzz_make_seeds)
endif()

# Last, so that it reaches every target defined above.
# Sanitized code runs 3-10x slower: there the property tests (labels arith,
# bounds, proofs, fast and verify) get QBOUND_CASES_DIVISOR: those whose case
# counts come from test::property_cases (tests/property_support.hpp; arith,
# bounds, proofs, verify) run this many times fewer cases; the fast tests'
# counts are fixed in their files, so they run in full. The Release and -O3
# builds run everything in full.
set(QBOUND_SANITIZE_CASES_DIVISOR 10 CACHE STRING "Under QBOUND_SANITIZE, the arith, bounds, proofs, fast and verify tests run this many times fewer cases")
if(QBOUND_SANITIZE AND BUILD_TESTING)
  foreach(label arith bounds proofs fast verify)
    get_property(qbound_label_targets GLOBAL PROPERTY QBOUND_TESTS_${label})
    foreach(t ${qbound_label_targets})
      string(REGEX REPLACE "^${label}_" "${label}/" test_name ${t})
      set_tests_properties(${test_name} PROPERTIES ENVIRONMENT "QBOUND_CASES_DIVISOR=${QBOUND_SANITIZE_CASES_DIVISOR}")
    endforeach()
  endforeach()
endif()
if(QBOUND_SANITIZE)
  if(BUILD_TESTING AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 at -O1 with -fsanitize=address reports -Wmaybe-uninitialized in
    # libstdc++'s <regex> (std::function in _NFA::_M_insert_*), which Catch2
    # includes: a known false positive of that combination, not our code.
    target_compile_options(qbound_catch_main PUBLIC -Wno-maybe-uninitialized)
  endif()
  get_property(qbound_all_targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${qbound_all_targets})
    get_target_property(type ${t} TYPE)
    if(type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|SHARED_LIBRARY|EXECUTABLE)$")
      target_compile_options(${t} PRIVATE ${qbound_sanitizer_flags})
      target_link_options(${t} PRIVATE ${qbound_sanitizer_flags})
    endif()
  endforeach()
endif()
