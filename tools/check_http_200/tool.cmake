add_tool(check_http_200 LIBS hakit_http)
