add_tool(hakit-config DIR hakit_config)
