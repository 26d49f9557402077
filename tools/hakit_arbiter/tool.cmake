add_tool(hakit-arbiter DIR hakit_arbiter LIBS hakit_notify)
