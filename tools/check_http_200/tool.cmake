add_tool(check_http_200 LIBS hakit_http hakit_regex)
# The section parser validates body_regex with RE2 at load time (every tool's --check-config).
target_link_libraries(check_http_200_config PUBLIC hakit_regex)
