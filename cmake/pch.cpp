// The target that compiles hakit's precompiled header (cmake/pch.cmake); nothing else.
