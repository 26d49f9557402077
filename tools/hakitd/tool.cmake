# hakitd: the resident daemon. It runs the checks in-process through the same libraries as
# check_http_200 and check_mysql_slave, and keepalived's FIFO events through notify's engine.
add_tool(hakitd LIBS check_http_200_lib check_mysql_slave_lib hakit_notify Threads::Threads)
