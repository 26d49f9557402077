# One precompiled header for the whole build: json, yaml-cpp, spdlog/fmt and the
# standard headers cost 6-10 s of parsing in each of ~75 files; parsed once, that is a third
# of a clean build. Every library and tool reuses the PCH of one target (same flags: the
# build's), so it is compiled once. The unit tests (-O0 -g1) get their own (without doctest:
# main.cpp defines DOCTEST_CONFIG_IMPLEMENT before including it).
# (hakit_regex is left out: RE2 only, without hakit_common's macros.)
# CLI11 is left out on purpose: its header defines global validator objects, ~100 KB of code
# compiled in every file that includes it (5-8 s each); headers use common/cli_fwd.hpp.
# Off with -DHAKIT_PCH=OFF (scripts/fuzz.sh: clang is strict about command-line macros).
if(NOT HAKIT_PCH)
  return()
endif()

set(HAKIT_PCH_HEADERS
  <algorithm> <chrono> <cstdint> <functional> <map> <memory> <optional> <set> <string>
  <string_view> <utility> <vector>
  <nlohmann/json.hpp> <yaml-cpp/yaml.h> <fmt/format.h> <spdlog/spdlog.h>)

add_library(hakit_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
target_link_libraries(hakit_pch PRIVATE hakit_common)
target_precompile_headers(hakit_pch PRIVATE ${HAKIT_PCH_HEADERS})
# A PCH the compiler cannot use is silently parsed again: say so (an error with -Werror).
target_compile_options(hakit_pch PRIVATE -Winvalid-pch)

function(hakit_targets_in dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    hakit_targets_in(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

hakit_targets_in(${PROJECT_SOURCE_DIR} all_targets)
foreach(t ${all_targets})
  get_target_property(type ${t} TYPE)
  if(NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$" OR t MATCHES "^(hakit_pch|hakit_fmtlog|hakit_regex)$")
    continue()
  endif()
  if(t STREQUAL "unit_tests")
    target_precompile_headers(unit_tests PRIVATE ${HAKIT_PCH_HEADERS})
    target_compile_options(unit_tests PRIVATE -Winvalid-pch)
  elseif(t STREQUAL "fuzz_config")
    continue()
  else()
    target_precompile_headers(${t} REUSE_FROM hakit_pch)
    target_compile_options(${t} PRIVATE -Winvalid-pch)
  endif()
endforeach()
