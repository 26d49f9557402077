add_tool(hakit-status DIR hakit_status)
