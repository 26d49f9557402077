# libzip extracts getperf's archives in-process; only sitesync links it.
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
add_tool(sitesync LIBS PkgConfig::LIBZIP)
