add_tool(notify_master LIBS hakit_notify)
