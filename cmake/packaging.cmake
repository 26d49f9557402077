# Install layout and the Debian package (CPack DEB). Included once, at the end of the top-level
# CMakeLists.txt, after every add_tool() ran (the list of tools is the HAKIT_TOOLS property).
#
# Layout (prefix /usr, as in the package):
#   /usr/libexec/hakit/TOOL         the binaries (add_tool installs them); keepalived.conf names these
#   /usr/sbin/TOOL                  relative symlinks for operators (on PATH for root)
#   /usr/share/man/man8/TOOL.8.gz   from each tool's --help (help2man), so they never disagree
#   /etc/hakit/hakit.yaml           sample config: a conffile in the package; `cmake --install`
#                                   writes it only when absent (hakit.yaml.sample is always fresh)
#   /etc/logrotate.d/hakit          rotation of /var/log/hakit/*.log
#   /usr/lib/tmpfiles.d/hakit.conf  /run/hakit (locks), /var/lib/hakit (state), /var/log/hakit
# Prefix /usr or /usr/local puts configuration in /etc and state in /var (the tools' built-in
# defaults); any other prefix keeps everything under it (PREFIX/etc, PREFIX/var), for scratch
# installs in tests. Every installed file and directory is root-owned when installed as root and
# never writable by group or others: keepalived's enable_script_security refuses scripts
# otherwise.

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(HAKIT_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
get_property(hakit_tools GLOBAL PROPERTY HAKIT_TOOLS)
# The list of tools, for the install and package tests (one name per line).
list(JOIN hakit_tools "\n" hakit_tools_text)
file(WRITE ${CMAKE_BINARY_DIR}/hakit-tools.txt "${hakit_tools_text}\n")

# Operator symlinks: made at configure time in the build tree and installed as links.
set(HAKIT_OPERATOR_BINDIR "${CMAKE_INSTALL_SBINDIR}" CACHE STRING
    "Where operator symlinks to the tools go (relative to the prefix)")
file(RELATIVE_PATH hakit_link_target /_p/${HAKIT_OPERATOR_BINDIR} /_p/${HAKIT_LIBEXECDIR})
set(hakit_link_dir ${CMAKE_BINARY_DIR}/operator-links)
file(REMOVE_RECURSE ${hakit_link_dir})
file(MAKE_DIRECTORY ${hakit_link_dir})
foreach(t ${hakit_tools})
  file(CREATE_LINK ${hakit_link_target}/${t} ${hakit_link_dir}/${t} SYMBOLIC)
  install(FILES ${hakit_link_dir}/${t} DESTINATION ${HAKIT_OPERATOR_BINDIR})
endforeach()

# Man pages, section 8 (system administration), generated after each tool is built.
find_program(HAKIT_HELP2MAN help2man)
if(HAKIT_HELP2MAN)
  set(man_pages)
  foreach(t ${hakit_tools})
    set(page ${CMAKE_BINARY_DIR}/man/${t}.8.gz)
    add_custom_command(
      OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -DHELP2MAN=${HAKIT_HELP2MAN} -DTOOL=$<TARGET_FILE:${t}>
              -DNAME=${t} -DSECTION=8 -DINCLUDE=${HAKIT_PACKAGING_DIR}/man-see-also.h2m
              -DOUT=${page} -P ${PROJECT_SOURCE_DIR}/cmake/gen_man.cmake
      DEPENDS ${t} ${PROJECT_SOURCE_DIR}/cmake/gen_man.cmake
              ${HAKIT_PACKAGING_DIR}/man-see-also.h2m
      COMMENT "man page for ${t}" VERBATIM)
    list(APPEND man_pages ${page})
  endforeach()
  add_custom_target(man ALL DEPENDS ${man_pages})
  install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
  message(WARNING "help2man not found (scripts/deps.sh installs it): no man pages are installed")
endif()

install(FILES ${HAKIT_PACKAGING_DIR}/tmpfiles.d/hakit.conf DESTINATION lib/tmpfiles.d)
install(FILES ${HAKIT_PACKAGING_DIR}/hakit.yaml DESTINATION ${CMAKE_INSTALL_DATADIR}/hakit
        RENAME hakit.yaml.sample)
# Every operator page (runbook, metrics, one page per tool).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
        FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples ${PROJECT_SOURCE_DIR}/keepalived-conf DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# /etc and /var are chosen at install time, from the prefix actually used (cmake --install
# --prefix, or CPack's /usr), not the one configured.
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\" OR CMAKE_INSTALL_PREFIX STREQUAL \"/usr/local\")
    set(hakit_etc /etc)
    set(hakit_var /var)
    set(hakit_run /run)
  else()
    set(hakit_etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
    set(hakit_var \"\${CMAKE_INSTALL_PREFIX}/var\")
    set(hakit_run \"\${CMAKE_INSTALL_PREFIX}/run\")
  endif()
  set(ro OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  # Directories are 0755 whatever the umask (cmake/install_dirs.cmake): the ones this install
  # created for the rules above, and (hakit_make_dirs) the ones made here with their missing
  # parents. A directory that existed before is never touched.
  set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
      OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  foreach(top IN LISTS hakit_created_dirs)
    file(GLOB_RECURSE below LIST_DIRECTORIES true \"\${top}/*\")
    foreach(x \"\${top}\" \${below})
      if(IS_DIRECTORY \"\${x}\" AND NOT IS_SYMLINK \"\${x}\")
        file(CHMOD \"\${x}\" DIRECTORY_PERMISSIONS \${CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})
      endif()
    endforeach()
  endforeach()
  function(hakit_make_dirs path)
    set(p \"\${path}\")
    set(missing)
    while(NOT EXISTS \"\${p}\")
      list(PREPEND missing \"\${p}\")
      get_filename_component(p \"\${p}\" DIRECTORY)
    endwhile()
    foreach(m IN LISTS missing)
      file(MAKE_DIRECTORY \"\${m}\")
      file(CHMOD \"\${m}\" DIRECTORY_PERMISSIONS \${CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})
    endforeach()
  endfunction()
  hakit_make_dirs(\"\$ENV{DESTDIR}\${hakit_etc}/logrotate.d\")
  hakit_make_dirs(\"\$ENV{DESTDIR}\${hakit_etc}/hakit\")
  file(INSTALL DESTINATION \"\${hakit_etc}/logrotate.d\" TYPE FILE PERMISSIONS \${ro}
       RENAME hakit FILES \"${HAKIT_PACKAGING_DIR}/logrotate\")
  # An existing hakit.yaml is the operator's: never overwritten (the package relies on dpkg's
  # conffile handling instead, and its staging tree is always empty).
  if(EXISTS \"\$ENV{DESTDIR}\${hakit_etc}/hakit/hakit.yaml\")
    message(STATUS \"Keeping: \$ENV{DESTDIR}\${hakit_etc}/hakit/hakit.yaml (the new sample is \"
                   \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/hakit/hakit.yaml.sample)\")
  else()
    file(INSTALL DESTINATION \"\${hakit_etc}/hakit\" TYPE FILE PERMISSIONS \${ro}
         FILES \"${HAKIT_PACKAGING_DIR}/hakit.yaml\")
  endif()
  # The package creates these from tmpfiles.d in postinst; a plain install makes them here
  # (/run/hakit again at each boot only where tmpfiles.d is read: systemd-tmpfiles --create).
  if(NOT DEFINED ENV{HAKIT_PACKAGE_STAGING})
    set(rx OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
    foreach(d \"\${hakit_var}/lib/hakit\" \"\${hakit_run}/hakit\" \"\${hakit_var}/log/hakit\")
      hakit_make_dirs(\"\$ENV{DESTDIR}\${d}\")
      if(d MATCHES \"/log/hakit\$\")
        file(CHMOD \"\$ENV{DESTDIR}\${d}\" DIRECTORY_PERMISSIONS \${rx})
      else()
        file(CHMOD \"\$ENV{DESTDIR}\${d}\" DIRECTORY_PERMISSIONS \${rx} WORLD_READ WORLD_EXECUTE)
      endif()
    endforeach()
  endif()
")

# --- Debian package: cpack -G DEB (from the build dir) -------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hakit)
set(CPACK_PACKAGE_VENDOR "hakit")
set(CPACK_PACKAGE_CONTACT "hakit maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "keepalived companion toolkit: health checks, notify actions, rsync site sync")
set(CPACK_PACKAGE_DESCRIPTION
    "Small binaries that keepalived's vrrp_script and notify hooks call (HTTP and MySQL/MariaDB\n\
checks, ordered promote/demote actions with a journal and a failover flag), a cron-driven\n\
rsync pull job (sitesync) and hakit-status, one operator view of a node's state.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The install code above needs the real prefix (/usr) to put config in /etc: install with
# DESTDIR=staging and prefix /usr, whatever prefix the build was configured with.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
# RelWithDebInfo binaries are tens of MB of DWARF each; the package ships them stripped
# (plain installs: cmake --install build --strip).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries (libcurl, libmariadb, libc) come from dpkg-shlibdeps; rsync is run by
# sitesync; keepalived is what calls the tools, but a node may run only the checks for Nagios.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "rsync")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "keepalived (>= 1:2.2), logrotate")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus-node-exporter, mariadb-client")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${HAKIT_PACKAGING_DIR}/debian/conffiles
    ${HAKIT_PACKAGING_DIR}/debian/postinst
    ${HAKIT_PACKAGING_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/cpack_project.cmake)
include(CPack)
