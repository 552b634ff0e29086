// The one source of qbound_test_pch, the target that owns the tests'
// precompiled header (see the test section of CMakeLists.txt).
