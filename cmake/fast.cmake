# The fast float-sound path (issue 8): library sources, `qbound bench`, and
# the soundness tests (label "fast").
target_sources(qbound PRIVATE src/fast/enclosure.cpp src/fast/refined.cpp)
target_sources(qbound_cli PRIVATE src/cli/bench.cpp)
if(BUILD_TESTING)
  qbound_add_test_dir(tests/fast fast)
endif()
set_property(SOURCE src/cli/bench.cpp APPEND PROPERTY COMPILE_DEFINITIONS QBOUND_ORT_DIR="${CMAKE_CURRENT_SOURCE_DIR}/tools/ort")
