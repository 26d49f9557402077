#include "common/mysql/connection.hpp"

#include <fmt/format.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "common/secrets.hpp"

namespace hakit::mysql {

std::string Error::describe() const {
  std::string s = explanation.empty() ? message : explanation;
  if (!explanation.empty() && !message.empty() && explanation != message)
    s += " (" + message + ")";
  if (code) s += fmt::format(" [errno {}]", code);
  return s;
}

namespace {

std::string explain(unsigned code, const std::string& msg) {
  switch (code) {
    case ER_ACCESS_DENIED_ERROR: return "access denied: wrong user or password";
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
      return "missing privilege (MariaDB 10.11 needs SLAVE MONITOR for SHOW SLAVE STATUS, "
             "REPLICATION CLIENT is not enough)";
    case CR_CONN_HOST_ERROR: return "connection refused: is the server running?";
    case CR_CONNECTION_ERROR: return "cannot connect through the socket: is the server running?";
    case CR_UNKNOWN_HOST: return "unknown host (DNS lookup failed)";
    case CR_SERVER_LOST:
    case CR_SERVER_GONE_ERROR:
      if (msg.find("timeout") != std::string::npos || msg.find("Timeout") != std::string::npos)
        return "server did not answer in time (hung or overloaded)";
      return "server went away or did not answer in time";
    default: return "";
  }
}

unsigned secs(Millis d) {
  // Connector/C timeouts are whole seconds; round up so a 500 ms limit is not "no limit".
  return static_cast<unsigned>((d.count() + 999) / 1000);
}

}  // namespace

void Connection::fill_error(Error* err) const {
  err->code = mysql_errno(m_);
  err->message = mysql_error(m_);
  err->explanation = explain(err->code, err->message);
}

std::unique_ptr<Connection> Connection::open(const config::MysqlProfile& p, Error* err) {
  MYSQL* m = mysql_init(nullptr);
  if (!m) {
    err->message = "out of memory";
    return nullptr;
  }
  std::unique_ptr<Connection> c(new Connection(m));
  unsigned ct = secs(p.connect_timeout), rt = secs(p.read_timeout), wt = secs(p.write_timeout);
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
  if (!p.defaults_file.empty()) {
    std::string serr;
    if (!check_secret_file(p.defaults_file, &serr)) {
      err->message = serr;
      return nullptr;
    }
    mysql_optionsv(m, MYSQL_READ_DEFAULT_FILE, p.defaults_file.c_str());
    mysql_optionsv(m, MYSQL_READ_DEFAULT_GROUP, p.defaults_group.c_str());
  }
  Secret password;
  if (!p.password_file.empty()) {
    std::string serr;
    auto pw = read_secret_file(p.password_file, &serr);
    if (!pw) {
      err->message = serr;
      return nullptr;
    }
    password = Secret(std::move(*pw));
  }
  // Values from the profile win over the option file only when set.
  const char* host = p.socket.empty() ? p.host.c_str() : "localhost";
  const char* user = p.user.empty() ? nullptr : p.user.c_str();
  const char* pass = password.empty() ? nullptr : password.reveal().c_str();
  const char* sock = p.socket.empty() ? nullptr : p.socket.c_str();
  if (!mysql_real_connect(m, host, user, pass, nullptr, static_cast<unsigned>(p.port), sock, 0)) {
    c->fill_error(err);
    return nullptr;
  }
  return c;
}

Connection::~Connection() {
  if (m_) mysql_close(m_);
}

bool Connection::query(const std::string& sql, std::vector<Row>* rows, Error* err) {
  rows->clear();
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) {
    fill_error(err);
    return false;
  }
  MYSQL_RES* res = mysql_store_result(m_);
  if (!res) {
    if (mysql_field_count(m_) == 0) return true;
    fill_error(err);
    return false;
  }
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  while (MYSQL_ROW r = mysql_fetch_row(res)) {
    unsigned long* lens = mysql_fetch_lengths(res);
    Row row;
    for (unsigned i = 0; i < n; ++i)
      row[fields[i].name] = r[i] ? std::optional<std::string>(std::string(r[i], lens[i]))
                                 : std::nullopt;
    rows->push_back(std::move(row));
  }
  mysql_free_result(res);
  // Drain further result sets (CALL, multi-statements) so the connection stays usable.
  while (mysql_more_results(m_) && mysql_next_result(m_) == 0) {
    if (MYSQL_RES* extra = mysql_store_result(m_)) mysql_free_result(extra);
  }
  return true;
}

bool Connection::exec(const std::string& sql, Error* err) {
  std::vector<Row> ignored;
  return query(sql, &ignored, err);
}

std::optional<std::string> Connection::scalar(const std::string& sql, Error* err) {
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) {
    fill_error(err);
    return std::nullopt;
  }
  MYSQL_RES* res = mysql_store_result(m_);
  if (!res) {
    fill_error(err);
    return std::nullopt;
  }
  std::optional<std::string> out;
  if (MYSQL_ROW r = mysql_fetch_row(res)) {
    unsigned long* lens = mysql_fetch_lengths(res);
    if (mysql_num_fields(res) > 0 && r[0]) out = std::string(r[0], lens[0]);
  }
  mysql_free_result(res);
  if (!out) {
    err->code = 0;
    err->message = "query returned no value";
    err->explanation.clear();
  }
  return out;
}

std::string Connection::server_version() const { return mysql_get_server_info(m_); }

bool Connection::is_mariadb() const {
  return server_version().find("MariaDB") != std::string::npos;
}

unsigned long Connection::version_number() const { return mysql_get_server_version(m_); }

}  // namespace hakit::mysql
