# Generates one man page from a built tool's --help and --version (help2man), so the manual
# and --help never disagree. Run in script mode:
#   cmake -DHELP2MAN=... -DTOOL=/path/to/tool -DNAME=tool -DSECTION=8 -DINCLUDE=see-also.h2m
#         -DOUT=man/tool.8.gz -P gen_man.cmake
get_filename_component(out_dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})
string(REGEX REPLACE "\\.gz$" "" plain ${OUT})

# Not fatal: one tool's broken --help must not stop everyone's build. Its smoke test fails,
# and so does tests/integration/test_install.py, which reads the page.
macro(stub_page why)
  message(WARNING "${TOOL}: ${why}: its man page is a stub")
  file(WRITE ${plain} ".TH ${NAME} ${SECTION}\n.SH NAME\n${NAME} \\- (${why} at build time)\n")
  execute_process(COMMAND gzip -9nf ${plain})
  return()
endmacro()

execute_process(COMMAND ${TOOL} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  stub_page("--help failed (${rc})")
endif()
# CLI11 prints the description first; its first sentence becomes the NAME line.
string(REGEX REPLACE "\n.*" "" first "${help}")
string(REGEX REPLACE "\\. .*" "" first "${first}")
string(REGEX REPLACE "\\.$" "" first "${first}")
# A ';' would split the argument in execute_process (CMake lists); the NAME line ends there.
string(REGEX REPLACE ";.*" "" first "${first}")
if(first STREQUAL "" OR first MATCHES "^Usage")
  set(first "hakit tool ${NAME}")
endif()
execute_process(
  COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=${SECTION} --name=${first}
          --source=hakit --manual=hakit --include=${INCLUDE} --output=${plain} ${TOOL}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  stub_page("help2man failed (${rc})")
endif()
# help2man reflows indented example lines into one paragraph; keep them verbatim instead, with
# '-' escaped so a command copied from the page still works.
string(FIND "${help}" "Examples:\n" at)
if(at GREATER -1)
  math(EXPR at "${at} + 10")
  string(SUBSTRING "${help}" ${at} -1 examples)
  string(REPLACE "\\" "\\e" examples "${examples}")
  string(REPLACE "-" "\\-" examples "${examples}")
  string(REGEX REPLACE "\n+$" "" examples "${examples}")
  file(READ ${plain} page)
  string(FIND "${page}" "\n.SH EXAMPLES\n" start)
  if(start GREATER -1)
    math(EXPR body "${start} + 14")
    string(SUBSTRING "${page}" 0 ${body} head)
    string(SUBSTRING "${page}" ${body} -1 rest)
    string(FIND "${rest}" "\n.SH " next)
    set(tail "\n")
    if(next GREATER -1)
      string(SUBSTRING "${rest}" ${next} -1 tail)
    endif()
    file(WRITE ${plain} "${head}.nf\n${examples}\n.fi${tail}")
  endif()
endif()
# Debian ships man pages gzip'd; -n keeps the output reproducible (no name or time stamp).
execute_process(COMMAND gzip -9nf ${plain} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${plain} failed")
endif()
