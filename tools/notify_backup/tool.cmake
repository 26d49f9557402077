add_tool(notify_backup LIBS hakit_notify)
