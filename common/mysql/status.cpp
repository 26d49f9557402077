#include "common/mysql/status.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

namespace hakit::mysql {

std::string replica_status_sql(bool mariadb, unsigned long version,
                               const std::string& connection_name, bool no_backslash_escapes) {
  auto sql_quote = [no_backslash_escapes](const std::string& s) {
    return mysql::sql_quote(s, no_backslash_escapes);
  };
  const bool replica_word = mariadb ? version >= 100501 : version >= 80022;
  const std::string word = replica_word ? "REPLICA" : "SLAVE";
  if (mariadb) {
    if (connection_name.empty()) return fmt::format("SHOW ALL {}S STATUS", word);
    return fmt::format("SHOW {} {} STATUS", word, sql_quote(connection_name));
  }
  if (connection_name.empty()) return fmt::format("SHOW {} STATUS", word);
  return fmt::format("SHOW {} STATUS FOR CHANNEL {}", word, sql_quote(connection_name));
}

std::string sql_quote(const std::string& s, bool no_backslash_escapes) {
  std::string out = "'";
  for (char c : s) {
    if (no_backslash_escapes) {
      // A backslash is an ordinary character there; only the quote needs doubling.
      out += c == '\'' ? std::string("''") : std::string(1, c);
      continue;
    }
    switch (c) {
      case '\'':
        out += "\\'";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\0':
        out += "\\0";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\x1a':
        out += "\\Z";
        break;
      default:
        out += c;
    }
  }
  return out + "'";
}

namespace {

// The first of `names` present in the row; NULL counts as present.
const std::optional<std::string>* find(const Row& row, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = row.find(n);
    if (it != row.end()) return &it->second;
  }
  return nullptr;
}

std::string text(const Row& row, std::initializer_list<const char*> names) {
  auto v = find(row, names);
  return (v && *v) ? **v : "";
}

std::optional<long long> number(const std::string& s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string ReplicaStatus::label() const {
  return connection_name.empty() ? "" : "'" + connection_name + "' ";
}

bool parse_replica_status(const Row& row, ReplicaStatus* out, std::string* err) {
  *out = ReplicaStatus{};
  auto io = find(row, {"Slave_IO_Running", "Replica_IO_Running"});
  auto sql = find(row, {"Slave_SQL_Running", "Replica_SQL_Running"});
  if (!io || !sql) {
    *err = "no Slave_IO_Running/Replica_IO_Running column: not replication status";
    return false;
  }
  out->io_running = *io ? **io : "";
  out->sql_running = *sql ? **sql : "";
  out->connection_name = text(row, {"Connection_name", "Channel_Name", "Channel_name"});
  out->source_host = text(row, {"Master_Host", "Source_Host"});
  out->source_port = static_cast<int>(number(text(row, {"Master_Port", "Source_Port"})).value_or(0));
  out->io_state = text(row, {"Slave_IO_State", "Replica_IO_State"});
  out->io_errno = static_cast<unsigned>(number(text(row, {"Last_IO_Errno"})).value_or(0));
  out->io_error = text(row, {"Last_IO_Error"});
  out->sql_errno = static_cast<unsigned>(
      number(text(row, {"Last_SQL_Errno", "Last_Errno"})).value_or(0));
  out->sql_error = text(row, {"Last_SQL_Error", "Last_Error"});
  if (auto lag = find(row, {"Seconds_Behind_Master", "Seconds_Behind_Source"}); lag && *lag)
    out->seconds_behind = number(**lag);
  out->sql_delay = number(text(row, {"SQL_Delay"})).value_or(0);
  out->using_gtid = text(row, {"Using_Gtid"});
  out->gtid_io_pos = text(row, {"Gtid_IO_Pos", "Retrieved_Gtid_Set"});
  out->sql_running_state = text(row, {"Slave_SQL_Running_State", "Replica_SQL_Running_State"});
  out->source_log_file = text(row, {"Master_Log_File", "Source_Log_File"});
  out->read_source_log_pos = static_cast<unsigned long long>(
      number(text(row, {"Read_Master_Log_Pos", "Read_Source_Log_Pos"})).value_or(0));
  out->relay_source_log_file = text(row, {"Relay_Master_Log_File", "Relay_Source_Log_File"});
  out->exec_source_log_pos = static_cast<unsigned long long>(
      number(text(row, {"Exec_Master_Log_Pos", "Exec_Source_Log_Pos"})).value_or(0));
  out->relay_log_file = text(row, {"Relay_Log_File"});
  out->relay_log_pos =
      static_cast<unsigned long long>(number(text(row, {"Relay_Log_Pos"})).value_or(0));
  out->retrieved_gtid_set = text(row, {"Retrieved_Gtid_Set"});
  out->executed_gtid_set = text(row, {"Executed_Gtid_Set"});
  out->auto_position = text(row, {"Auto_Position"}) == "1";
  return true;
}

namespace {

bool seen_provider_name(const std::vector<Row>& rows) {
  for (const auto& row : rows) {
    std::string name = text(row, {"Variable_name", "VARIABLE_NAME"});
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "wsrep_provider_name") return true;
  }
  return false;
}

}  // namespace

GaleraStatus parse_galera_status(const std::vector<Row>& rows) {
  GaleraStatus g;
  for (const auto& row : rows) {
    std::string name = text(row, {"Variable_name", "VARIABLE_NAME"});
    std::string value = text(row, {"Value", "VARIABLE_VALUE"});
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.rfind("wsrep_", 0) != 0) continue;
    g.provider = true;
    if (name == "wsrep_provider_name") g.provider_name = value;
    else if (name == "wsrep_ready") g.ready = value;
    else if (name == "wsrep_connected") g.connected = value;
    else if (name == "wsrep_local_state") {
      if (auto n = number(value)) g.local_state = static_cast<int>(*n);
    } else if (name == "wsrep_local_state_comment") g.local_state_comment = value;
    else if (name == "wsrep_cluster_status") g.cluster_status = value;
    else if (name == "wsrep_cluster_size") {
      if (auto n = number(value)) g.cluster_size = static_cast<int>(*n);
    }
  }
  // MariaDB shows wsrep_ status even without Galera (wsrep_on=OFF): an empty provider name
  // says so. Servers that lack the variable altogether are judged by the rest.
  if (g.provider && seen_provider_name(rows) && g.provider_name.empty()) g.provider = false;
  return g;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool digits(const std::string& s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<Timestamp> parse_timestamp(const std::string& raw, std::string* err) {
  std::string s = raw;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
  if (s.empty()) {
    *err = "empty value";
    return std::nullopt;
  }
  // A plain number: seconds since the epoch (Nagios ndo and many tools store UNIX time).
  if (s.find('-') == std::string::npos || s.front() == '-') {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && v >= 0) return Timestamp{v, true};
    *err = fmt::format("'{}' is neither a date-time nor seconds since the epoch", raw);
    return std::nullopt;
  }
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, &y) || s[4] != '-' || !digits(s, 5, 2, &mo) || s.size() < 10 ||
      s[7] != '-' || !digits(s, 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    *err = fmt::format("'{}' is not a date-time (YYYY-MM-DD hh:mm:ss)", raw);
    return std::nullopt;
  }
  double frac = 0;
  size_t pos = 10;
  if (s.size() > 10) {
    if ((s[10] != ' ' && s[10] != 'T') || !digits(s, 11, 2, &h) || s.size() < 19 || s[13] != ':' ||
        !digits(s, 14, 2, &mi) || s[16] != ':' || !digits(s, 17, 2, &se) || h > 23 || mi > 59 ||
        se > 60) {
      *err = fmt::format("'{}' is not a date-time (YYYY-MM-DD hh:mm:ss)", raw);
      return std::nullopt;
    }
    pos = 19;
    if (pos < s.size() && s[pos] == '.') {
      size_t b = pos + 1, e = b;
      while (e < s.size() && std::isdigit(static_cast<unsigned char>(s[e]))) ++e;
      frac = std::strtod(("0." + s.substr(b, e - b)).c_str(), nullptr);
      pos = e;
    }
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) ++pos;
    if (pos != s.size()) {
      *err = fmt::format("'{}': unexpected text after the time", raw);
      return std::nullopt;
    }
  }
  if (y == 0) {
    *err = "zero date (0000-00-00)";
    return std::nullopt;
  }
  double secs = static_cast<double>(days_from_civil(y, static_cast<unsigned>(mo),
                                                    static_cast<unsigned>(d))) * 86400.0 +
                h * 3600.0 + mi * 60.0 + se + frac;
  return Timestamp{secs, false};
}

}  // namespace hakit::mysql
