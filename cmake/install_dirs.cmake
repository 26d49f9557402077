# Directories `cmake --install` creates are 0755 whatever the installing admin's umask (077
# would leave /usr/libexec/hakit unreadable to keepalived's script_user and to operators).
# CMake makes them with mkdir(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS), which the umask
# still narrows, and never chmods them. So this first install rule notes the topmost missing
# directory above each destination; packaging.cmake's last rule makes those, and everything
# below them, 0755 (directories that existed before the install are never touched).
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(hakit_install_dests ${HAKIT_LIBEXECDIR} ${CMAKE_INSTALL_SBINDIR} ${CMAKE_INSTALL_MANDIR}/man8
    lib/tmpfiles.d lib/systemd/system ${CMAKE_INSTALL_DATADIR}/hakit ${CMAKE_INSTALL_DOCDIR})
install(CODE "
  set(hakit_created_dirs)
  foreach(rel ${hakit_install_dests})
    set(p \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${rel}\")
    set(top)
    while(NOT EXISTS \"\${p}\")
      set(top \"\${p}\")
      get_filename_component(p \"\${p}\" DIRECTORY)
    endwhile()
    if(top)
      list(APPEND hakit_created_dirs \"\${top}\")
    endif()
  endforeach()
")
