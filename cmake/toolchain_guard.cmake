# ---- Toolchain guard: unsafe floating-point flags, known miscompilations ----
# Included at the top of CMakeLists.txt, right after project(). Two checks,
# both at configure time, both fatal:
#
#   qbound_refuse_unsafe_fp_flags(<var>...)
#       Every flag in CMAKE_CXX_FLAGS, the per-configuration flags and
#       QBOUND_EXTRA_FLAGS is matched against the flags that change what a
#       double operation returns (list below); any match is refused.
#
#   qbound_check_miscompilation()
#       Each reproducer cmake/miscompile/*.cpp is compiled with the build's
#       own compiler and flags (CMAKE_CXX_FLAGS, the build type's flags,
#       QBOUND_EXTRA_FLAGS, then QBOUND_FP_POLICY_FLAGS, in the order of the
#       real compile lines) and run. A reproducer exits 0 and prints
#       QBOUND-REPRO-OK when compiled correctly, exits 1 and prints what
#       went wrong otherwise; its "// guard-advice:" lines say what to do.
#       A pass is remembered in the cache for that compiler, those flags and
#       that reproducer text, so a re-configure does not compile it again.
#       Cross-compiling, or flags for a CPU this machine is not (the
#       reproducer dies of SIGILL): the check cannot run here; a warning
#       says so and it is skipped.
#
# Script mode (the ctest label "toolchain" uses it):
#   cmake -DQBOUND_GUARD_CHECK_FLAGS="<flags>" -P cmake/toolchain_guard.cmake
# runs the flag check on <flags> alone.

# Appended after every other compile flag (CMakeLists.txt adds them after
# QBOUND_EXTRA_FLAGS), so no earlier flag can turn contraction back on.
set(QBOUND_FP_POLICY_FLAGS -ffp-contract=off)

# Flags refused anywhere, one pattern per whole flag, with the reason.
# Deliberately allowed: -fno-trapping-math (qbound reads no floating-point
# exception flags, and the value of every operation is the same; it is
# clang's default), -frounding-math (only forbids some constant folding),
# -fno-math-errno (errno only), -ffp-contract=off, -fno-fast-math.
set(qbound_unsafe_fp_patterns
  "^-Ofast$"                          "-Ofast implies -ffast-math"
  "^-ffast-math$"                     "reassociates, contracts, assumes no NaN/Inf/signed zero, may flush subnormals"
  "^-funsafe-math-optimizations$"     "reassociates and rewrites floating-point expressions"
  "^-fassociative-math$"              "reassociates sums and products: different roundings"
  "^-freciprocal-math$"               "x/y becomes x*(1/y): two roundings where one is assumed"
  "^-ffinite-math-only$"              "assumes no NaN/Inf, which qbound's overflow handling produces and tests"
  "^-fno-honor-(nans|infinities)$"    "assumes no NaN/Inf, which qbound's overflow handling produces and tests"
  "^-fno-signed-zeros$"               "drops the sign of zero, which directed rounding and 1/x depend on"
  "^-ffp-contract=(on|fast.*)$"       "fuses a*b+c into one rounding (qbound calls std::fma where it wants that)"
  "^-ffp-model=fast$"                 "clang's fast-math model"
  "^-fsingle-precision-constant$"     "rounds double constants to float"
  "^-mfpmath=.*387"                   "x87 extended precision: double rounding of every operation"
  "^-mdaz-ftz$"                       "flushes subnormals to zero")

function(qbound_refuse_unsafe_fp_flags)
  list(LENGTH qbound_unsafe_fp_patterns n)
  math(EXPR last "${n} - 1")
  foreach(var ${ARGN})
    separate_arguments(flags UNIX_COMMAND "${${var}}")
    foreach(flag ${flags})
      foreach(i RANGE 0 ${last} 2)
        math(EXPR j "${i} + 1")
        list(GET qbound_unsafe_fp_patterns ${i} pattern)
        list(GET qbound_unsafe_fp_patterns ${j} reason)
        if(flag MATCHES "${pattern}")
          message(FATAL_ERROR "qbound refuses an unsafe floating-point flag:\n"
            "  ${var}='${${var}}': ${flag} breaks qbound's enclosures (${reason}); remove it")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  if(DEFINED QBOUND_GUARD_CHECK_FLAGS)
    qbound_refuse_unsafe_fp_flags(QBOUND_GUARD_CHECK_FLAGS)
    message(STATUS "qbound toolchain guard: '${QBOUND_GUARD_CHECK_FLAGS}' accepted")
  endif()
  return()
endif()

set(qbound_toolchain_guard_dir ${CMAKE_CURRENT_LIST_DIR})

function(qbound_check_miscompilation)
  set(compiler "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION} (${CMAKE_CXX_COMPILER})")
  if(CMAKE_CROSSCOMPILING)
    message(WARNING "qbound toolchain guard: cross-compiling, so the miscompilation reproducers "
      "(cmake/miscompile/*.cpp) cannot run here; they are skipped. Configure on the target, or "
      "compile and run each of them there with the build's flags.")
    return()
  endif()
  if(CMAKE_CONFIGURATION_TYPES)
    set(configs ${CMAKE_CONFIGURATION_TYPES})
  else()
    set(configs "${CMAKE_BUILD_TYPE}")
  endif()
  separate_arguments(extra UNIX_COMMAND "${QBOUND_EXTRA_FLAGS}")
  file(GLOB repros ${qbound_toolchain_guard_dir}/miscompile/*.cpp)
  list(SORT repros)
  foreach(config ${configs})
    string(TOUPPER "${config}" CONFIG)
    string(JOIN " " flags ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${CONFIG}} ${QBOUND_EXTRA_FLAGS} ${QBOUND_FP_POLICY_FLAGS})
    string(STRIP "${flags}" flags)
    foreach(repro ${repros})
      get_filename_component(name ${repro} NAME_WE)
      file(SHA256 ${repro} text_hash)
      string(SHA256 key "${compiler}|${config}|${flags}|${text_hash}")
      set(cache_var QBOUND_TOOLCHAIN_GUARD_${name}_${CONFIG})
      if("${${cache_var}}" STREQUAL "${key}")
        message(STATUS "qbound toolchain guard: ${name} ok (cached; ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}, '${flags}')")
        continue()
      endif()
      set(CMAKE_TRY_COMPILE_CONFIGURATION "${config}")
      try_run(run_result compile_result ${CMAKE_BINARY_DIR}/qbound-toolchain-guard/${name} ${repro}
        COMPILE_DEFINITIONS ${extra} ${QBOUND_FP_POLICY_FLAGS}
        CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF
        COMPILE_OUTPUT_VARIABLE compile_output RUN_OUTPUT_VARIABLE run_output)
      file(RELATIVE_PATH shown ${CMAKE_SOURCE_DIR} ${repro})
      file(STRINGS ${repro} advice REGEX "^// guard-advice: ")
      list(TRANSFORM advice REPLACE "^// guard-advice: " "")
      string(JOIN "\n    " advice ${advice})
      string(STRIP "${run_output}" run_output)
      string(REPLACE "\n" ";" report "${run_output}")
      list(LENGTH report report_lines)
      if(report_lines GREATER 10)
        list(SUBLIST report 0 8 head)
        list(GET report -1 tail)
        math(EXPR more "${report_lines} - 9")
        set(report ${head} "... (${more} more lines)" "${tail}")
      endif()
      string(JOIN "\n    " report ${report})
      set(what "  compiler: ${compiler}\n  flags: '${flags}' (build type '${config}')\n")
      if(NOT compile_result)
        message(FATAL_ERROR "qbound toolchain guard: a reproducer does not compile\n${what}"
          "  reproducer: ${shown}\n${compile_output}")
      elseif("${run_result}" STREQUAL "0" AND run_output MATCHES "QBOUND-REPRO-OK")
        message(STATUS "qbound toolchain guard: ${name} ok (${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}, '${flags}')")
        set(${cache_var} "${key}" CACHE INTERNAL "toolchain guard pass: compiler, flags and reproducer hash")
      elseif("${run_result}" STREQUAL "1")
        message(FATAL_ERROR "qbound toolchain guard: this compiler with these flags miscompiles, so it is refused\n${what}"
          "  reproducer: ${shown} MISCOMPILED (qbound built like this would compute wrong results); it reports:\n"
          "    ${report}\n  What to do:\n    ${advice}")
      elseif(run_output MATCHES "Illegal instruction")
        message(WARNING "qbound toolchain guard: code built with these flags does not run on this CPU "
          "(illegal instruction), so the reproducer cannot be checked here and is skipped; qbound built "
          "like this cannot run its tests here either. Configure on a machine of the target ISA.\n${what}"
          "  reproducer: ${shown} SKIPPED")
      else()
        message(FATAL_ERROR "qbound toolchain guard: a reproducer neither passed nor reported a "
          "miscompilation (exit '${run_result}'); treat the toolchain as untrustworthy\n${what}"
          "  reproducer: ${shown} CRASHED; it reports:\n    ${report}\n  What to do:\n    ${advice}")
      endif()
    endforeach()
  endforeach()
endfunction()

# Configure-time tests of the guard itself (label "toolchain"); cheap: they
# configure, never build. Called at the end of the top-level CMakeLists.txt
# (cmake_language(DEFER)), when BUILD_TESTING is known.
function(qbound_add_toolchain_tests)
  if(NOT BUILD_TESTING)
    return()
  endif()
  set(guard ${qbound_toolchain_guard_dir}/toolchain_guard.cmake)
  set(driver ${qbound_toolchain_guard_dir}/toolchain_guard_test.sh)
  # Each refused flag, alone, in script mode (no compiler needed).
  set(i 0)
  foreach(flag -Ofast -ffast-math -funsafe-math-optimizations -fassociative-math -freciprocal-math
               -ffinite-math-only -fno-honor-nans -fno-honor-infinities -fno-signed-zeros -ffp-contract=on
               -ffp-contract=fast -ffp-contract=fast-honor-pragmas -ffp-model=fast -fsingle-precision-constant
               -mfpmath=387 -mfpmath=sse+387 -mdaz-ftz)
    string(REGEX REPLACE "[^A-Za-z0-9]+" "_" id "${flag}")
    string(REGEX REPLACE "^_" "" id "${id}")
    add_test(NAME toolchain/refuses_${id} COMMAND ${CMAKE_COMMAND} "-DQBOUND_GUARD_CHECK_FLAGS=-O2 ${flag} -g" -P ${guard})
    set_tests_properties(toolchain/refuses_${id} PROPERTIES LABELS toolchain WILL_FAIL TRUE)
    add_test(NAME toolchain/refuses_${id}_message COMMAND ${CMAKE_COMMAND} "-DQBOUND_GUARD_CHECK_FLAGS=-O2 ${flag} -g" -P ${guard})
    set_tests_properties(toolchain/refuses_${id}_message PROPERTIES LABELS toolchain
      PASS_REGULAR_EXPRESSION "QBOUND_GUARD_CHECK_FLAGS='-O2 [^']*': [^ ]+ breaks qbound's enclosures")
  endforeach()
  # The flags that must stay allowed (a guard refusing everything is no guard).
  add_test(NAME toolchain/accepts_safe_flags COMMAND ${CMAKE_COMMAND}
    "-DQBOUND_GUARD_CHECK_FLAGS=-O3 -march=x86-64-v3 -fno-trapping-math -frounding-math -fno-math-errno -ffp-contract=off -fno-fast-math -mfpmath=sse -ffp-model=strict"
    -P ${guard})
  set_tests_properties(toolchain/accepts_safe_flags PROPERTIES LABELS toolchain
    PASS_REGULAR_EXPRESSION "' accepted" FAIL_REGULAR_EXPRESSION "breaks qbound")
  # The real configure refuses them in each place a flag can come from.
  function(qbound_toolchain_configure_test id expected)
    add_test(NAME toolchain/configure_refuses_${id} COMMAND bash ${driver} configure
      ${CMAKE_CXX_COMPILER} ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/toolchain-tests/${id} -DBUILD_TESTING=OFF ${ARGN})
    set_tests_properties(toolchain/configure_refuses_${id} PROPERTIES LABELS toolchain
      PASS_REGULAR_EXPRESSION "${expected} breaks qbound's enclosures.*configure failed")
  endfunction()
  qbound_toolchain_configure_test(extra_flags "QBOUND_EXTRA_FLAGS='-O3 -freciprocal-math': -freciprocal-math"
    "-DQBOUND_EXTRA_FLAGS=-O3 -freciprocal-math")
  qbound_toolchain_configure_test(cxx_flags "CMAKE_CXX_FLAGS='-fno-signed-zeros': -fno-signed-zeros"
    -DCMAKE_CXX_FLAGS=-fno-signed-zeros)
  qbound_toolchain_configure_test(config_flags
    "CMAKE_CXX_FLAGS_RELWITHDEBINFO='-O2 -g -ffp-contract=fast': -ffp-contract=fast"
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g -ffp-contract=fast")
  # -ffp-contract=off comes after QBOUND_EXTRA_FLAGS on every compile line.
  add_test(NAME toolchain/fp_contract_off_last COMMAND bash ${driver} fp-contract-last
    ${CMAKE_CXX_COMPILER} ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/toolchain-tests/fp-contract-last)
  # GCC 12.2 at x86-64-v4: refused, and the advice (-mno-avx512f) accepted;
  # a compiler without the bug (clang 14): accepted. Skipped on a CPU
  # without AVX-512.
  add_test(NAME toolchain/miscompile_guard_v4 COMMAND bash ${driver} v4
    ${CMAKE_CXX_COMPILER} ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/toolchain-tests/v4)
  set_tests_properties(toolchain/fp_contract_off_last toolchain/miscompile_guard_v4 PROPERTIES
    LABELS toolchain SKIP_RETURN_CODE 77)
  add_custom_target(tests_toolchain)
endfunction()
