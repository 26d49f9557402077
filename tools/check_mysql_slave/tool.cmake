add_tool(check_mysql_slave LIBS hakit_mysql)
