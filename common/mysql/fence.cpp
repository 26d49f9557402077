#include "common/mysql/fence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace hakit::mysql {

namespace {

constexpr const char* kDdl[] = {
    "CREATE DATABASE IF NOT EXISTS hakit",
    "CREATE TABLE IF NOT EXISTS hakit.fence ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " fenced_at DATETIME(6) NOT NULL,"
    " fenced_by VARCHAR(255) NOT NULL,"
    " by_address VARCHAR(255) NOT NULL DEFAULT '',"
    " gtid TEXT NOT NULL,"
    " reason VARCHAR(32) NOT NULL,"
    " detail TEXT NOT NULL,"
    " cleared_at DATETIME(6) NULL,"
    " cleared_why VARCHAR(255) NULL) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS hakit.promotion ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " promoted_at DATETIME(6) NOT NULL,"
    " epoch_us BIGINT NOT NULL,"
    " host VARCHAR(255) NOT NULL,"
    " gtid TEXT NOT NULL) ENGINE=InnoDB",
};

// The schema or table is not there yet: nothing was ever recorded on this server.
bool missing_schema(const std::string& err) {
  return err.find("doesn't exist") != std::string::npos ||
         err.find("Unknown database") != std::string::npos;
}

std::string value(const Row& r, const std::string& key) {
  auto it = r.find(key);
  return it != r.end() && it->second ? *it->second : "";
}

// Runs `body` with binary logging off for this session, and always turns it back on.
bool unlogged(Session& s, const std::function<bool(std::string*)>& body, std::string* err) {
  if (!s.exec("SET SESSION sql_log_bin=0", err)) return false;
  bool ok = true;
  for (const char* ddl : kDdl)
    if (!s.exec(ddl, err)) {
      ok = false;
      break;
    }
  if (ok) ok = body(err);
  std::string e2;
  s.exec("SET SESSION sql_log_bin=1", &e2);
  return ok;
}

}  // namespace

Session session_of(Connection& conn) {
  Session s;
  s.query = [&conn](const std::string& sql, std::vector<Row>* rows, std::string* err) {
    Error e;
    if (conn.query(sql, rows, &e)) return true;
    *err = e.describe();
    return false;
  };
  s.exec = [&conn](const std::string& sql, std::string* err) {
    Error e;
    if (conn.exec(sql, &e)) return true;
    *err = e.describe();
    return false;
  };
  s.quote = [&conn](const std::string& text) { return conn.quote(text); };
  s.mariadb = conn.is_mariadb();
  return s;
}

bool write_fence_mark(Session& s, const FenceMark& m, std::string* err) {
  return unlogged(
      s,
      [&](std::string* e) {
        return s.exec(fmt::format("INSERT INTO hakit.fence (fenced_at, fenced_by, by_address, gtid, "
                                  "reason, detail) VALUES (UTC_TIMESTAMP(6), {}, {}, {}, {}, {})",
                                  s.quote(m.by), s.quote(m.by_address), s.quote(m.gtid),
                                  s.quote(m.reason), s.quote(m.detail)),
                      e);
      },
      err);
}

bool read_fence_mark(Session& s, std::optional<FenceMark>* out, std::string* err) {
  out->reset();
  std::vector<Row> rows;
  std::string e;
  if (!s.query("SELECT id, fenced_at, fenced_by, by_address, gtid, reason, detail FROM hakit.fence "
               "WHERE cleared_at IS NULL ORDER BY reason = 'errant' DESC, id DESC LIMIT 1",
               &rows, &e)) {
    if (missing_schema(e)) return true;
    *err = e;
    return false;
  }
  if (rows.empty() || value(rows[0], "id").empty()) return true;
  FenceMark m;
  m.id = std::strtoll(value(rows[0], "id").c_str(), nullptr, 10);
  m.at = value(rows[0], "fenced_at");
  m.by = value(rows[0], "fenced_by");
  m.by_address = value(rows[0], "by_address");
  m.gtid = value(rows[0], "gtid");
  m.reason = value(rows[0], "reason");
  m.detail = value(rows[0], "detail");
  *out = std::move(m);
  return true;
}

int clear_fence_marks(Session& s, const std::string& why, std::string* err) {
  std::vector<Row> rows;
  std::string e;
  if (!s.query("SELECT COUNT(*) AS n FROM hakit.fence WHERE cleared_at IS NULL", &rows, &e)) {
    if (missing_schema(e)) return 0;
    *err = e;
    return -1;
  }
  const int n = rows.empty() ? 0 : std::atoi(value(rows[0], "n").c_str());
  if (n == 0) return 0;
  bool ok = unlogged(
      s,
      [&](std::string* e2) {
        return s.exec(fmt::format("UPDATE hakit.fence SET cleared_at = UTC_TIMESTAMP(6), "
                                  "cleared_why = {} WHERE cleared_at IS NULL",
                                  s.quote(why.substr(0, 255))),
                      e2);
      },
      err);
  return ok ? n : -1;
}

bool write_promotion(Session& s, const std::string& host, const std::string& gtid,
                     std::string* err) {
  return unlogged(
      s,
      [&](std::string* e) {
        return s.exec(fmt::format("INSERT INTO hakit.promotion (promoted_at, epoch_us, host, gtid) "
                                  "VALUES (UTC_TIMESTAMP(6), "
                                  "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED), {}, {})",
                                  s.quote(host), s.quote(gtid)),
                      e);
      },
      err);
}

bool read_last_promotion(Session& s, std::optional<Promotion>* out, std::string* err) {
  out->reset();
  std::vector<Row> rows;
  std::string e;
  if (!s.query("SELECT promoted_at, epoch_us, host, gtid FROM hakit.promotion ORDER BY epoch_us "
               "DESC, id DESC LIMIT 1",
               &rows, &e)) {
    if (missing_schema(e)) return true;
    *err = e;
    return false;
  }
  if (rows.empty() || value(rows[0], "epoch_us").empty()) return true;
  Promotion p;
  p.at = value(rows[0], "promoted_at");
  p.epoch_us = std::strtoll(value(rows[0], "epoch_us").c_str(), nullptr, 10);
  p.host = value(rows[0], "host");
  p.gtid = value(rows[0], "gtid");
  *out = std::move(p);
  return true;
}

std::string gtid_position(Session& s) {
  std::vector<Row> rows;
  std::string e;
  const char* sql = s.mariadb ? "SELECT @@GLOBAL.gtid_binlog_state AS g"
                              : "SELECT @@GLOBAL.gtid_executed AS g";
  if (!s.query(sql, &rows, &e) || rows.empty()) return "";
  std::string g = value(rows[0], "g");
  g.erase(std::remove(g.begin(), g.end(), '\n'), g.end());
  return g;
}

std::vector<MariaGtid> parse_maria_gtids(const std::string& text) {
  std::vector<MariaGtid> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    unsigned long d = 0, srv = 0;
    unsigned long long seq = 0;
    char extra = 0;
    if (std::sscanf(item.c_str(), " %lu-%lu-%llu %c", &d, &srv, &seq, &extra) == 3)
      out.push_back({static_cast<std::uint32_t>(d), static_cast<std::uint32_t>(srv), seq});
  }
  return out;
}

std::vector<std::string> errant_maria(const std::string& local, const std::string& winner) {
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> has;
  for (const auto& g : parse_maria_gtids(winner)) {
    auto& seq = has[{g.domain, g.server}];
    seq = std::max(seq, g.seq);
  }
  std::vector<std::string> errant;
  for (const auto& g : parse_maria_gtids(local)) {
    auto it = has.find({g.domain, g.server});
    const std::uint64_t known = it == has.end() ? 0 : it->second;
    if (g.seq > known)
      errant.push_back(g.seq == known + 1
                           ? fmt::format("{}-{}-{}", g.domain, g.server, g.seq)
                           : fmt::format("{}-{}-{}..{}", g.domain, g.server, known + 1, g.seq));
  }
  return errant;
}

bool errant_transactions(Session& local, const std::string& winner_position,
                         std::vector<std::string>* errant, std::string* err) {
  errant->clear();
  const std::string mine = gtid_position(local);
  if (local.mariadb) {
    *errant = errant_maria(mine, winner_position);
    return true;
  }
  std::vector<Row> rows;
  if (!local.query(fmt::format("SELECT GTID_SUBTRACT({}, {}) AS e", local.quote(mine),
                               local.quote(winner_position)),
                   &rows, err))
    return false;
  std::string e = rows.empty() ? "" : value(rows[0], "e");
  e.erase(std::remove(e.begin(), e.end(), '\n'), e.end());
  if (!e.empty()) errant->push_back(e);
  return true;
}

}  // namespace hakit::mysql
