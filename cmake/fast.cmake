# The fast float-sound path (issue 8): library sources, `qbound bench`, and
# the soundness tests (label "fast").
target_sources(qbound PRIVATE src/fast/enclosure.cpp src/fast/refined.cpp src/fast/gemm.cpp)
# The kernels compile alone (per-function target attributes, local vector types).
set_source_files_properties(src/fast/gemm.cpp PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
target_sources(qbound_cli PRIVATE src/cli/bench.cpp)
if(BUILD_TESTING)
  qbound_add_test_dir(tests/fast fast)
endif()
