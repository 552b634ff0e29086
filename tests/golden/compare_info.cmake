# Runs `qbound info MODEL --resolution R` and compares its standard output
# with a checked-in file byte for byte (ctest label cli; see CMakeLists.txt).
#   cmake -DQBOUND=path/to/qbound -DMODEL=resnet18 -DRESOLUTION=224 -DGOLDEN=file -DACTUAL=file -P compare_info.cmake
# On a difference it prints `diff -u golden actual` and fails. To regenerate
# a file (only after checking the new table by hand): run the same command
# and redirect its output to the golden file.
foreach(var QBOUND MODEL RESOLUTION GOLDEN ACTUAL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compare_info.cmake: -D${var}=... is required")
  endif()
endforeach()
execute_process(COMMAND ${QBOUND} info ${MODEL} --resolution ${RESOLUTION}
                OUTPUT_VARIABLE actual ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "qbound info ${MODEL} --resolution ${RESOLUTION} exited with ${status}: ${errors}")
endif()
file(READ ${GOLDEN} expected)
file(WRITE ${ACTUAL} "${actual}")
if(NOT actual STREQUAL expected)
  execute_process(COMMAND diff -u ${GOLDEN} ${ACTUAL})
  message(FATAL_ERROR "qbound info ${MODEL} --resolution ${RESOLUTION} differs from ${GOLDEN} (diff above; output kept in ${ACTUAL})")
endif()
message(STATUS "qbound info ${MODEL} --resolution ${RESOLUTION}: identical to ${GOLDEN}")
