# hakit_notify: the logic notify_master and notify_backup share (event handling, the action
# engine, mysql_promote/mysql_demote, notifications). Included before tools/notify_*/.
file(GLOB notify_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
list(REMOVE_ITEM notify_srcs ${CMAKE_CURRENT_LIST_DIR}/config.cpp)
hakit_config_library(hakit_notify_config ${CMAKE_CURRENT_LIST_DIR}/config.cpp)
target_link_libraries(hakit_notify_config PUBLIC hakit_arbiter_config)
add_library(hakit_notify STATIC ${notify_srcs})
target_include_directories(hakit_notify PUBLIC ${PROJECT_SOURCE_DIR}/tools)
target_link_libraries(hakit_notify PUBLIC hakit_common hakit_notify_config hakit_mysql hakit_http hakit_arbiter)
