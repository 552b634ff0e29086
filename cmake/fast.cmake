# The fast float-sound path (issue 8): library sources, `qbound bench`, and
# the soundness tests (label "fast").
target_sources(qbound PRIVATE src/fast/enclosure.cpp src/fast/refined.cpp)
target_sources(qbound_cli PRIVATE src/cli/bench.cpp)
if(BUILD_TESTING)
  qbound_add_test_dir(tests/fast fast)
endif()
