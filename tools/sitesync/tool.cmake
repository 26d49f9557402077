add_tool(sitesync)
