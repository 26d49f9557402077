# Read by cpack at package time: tells the install code it is filling a staging tree, where
# state directories are left to the package's postinst (tmpfiles.d) instead.
set(ENV{HAKIT_PACKAGE_STAGING} 1)
