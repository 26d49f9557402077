#pragma once
// Pure helpers of mysql_promote / mysql_demote: reading replication status and GTID lists.
#include <cstdint>
#include <map>
#include <string>

#include "common/mysql/connection.hpp"
#include "common/mysql/status.hpp"

namespace hakit::notify {

/// MariaDB GTID list "0-101-9,1-102-3" → domain → sequence number.
std::map<std::uint32_t, std::uint64_t> parse_gtid_list(const std::string& text);

/// True when every domain of `received` is applied up to its sequence number in `applied`.
bool gtid_covers(const std::string& applied, const std::string& received);

/// A column of a status row ("" for NULL or absent).
std::string field(const mysql::Row& r, const std::string& key);

/// Has the SQL thread applied everything the IO thread retrieved? `positions_valid` is false
/// after CHANGE MASTER renamed the relay position (then GTID and the thread state decide).
bool caught_up(const mysql::ReplicaStatus& slave_status, const std::string& gtid_slave_pos,
               bool positions_valid, std::string* why_not);

}  // namespace hakit::notify
