#include "common/mysql/connection.hpp"

#include <errmsg.h>
#include <fmt/format.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#ifdef HAKIT_MARIADB_STATIC
#include <openssl/crypto.h>
#endif

#include "common/mysql/resolve.hpp"
#include "common/mysql/status.hpp"
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

// "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) for this
// operation" → "SUPER, SLAVE MONITOR".
std::string needed_privilege(const std::string& msg) {
  // Plain string search, not std::regex: the text comes from the server.
  auto start = msg.find("the ");
  auto end = msg.rfind(" privilege");
  if (start == std::string::npos || end == std::string::npos || end < start + 4) return "";
  return msg.substr(start + 4, end - start - 4);
}

std::string explain(unsigned code, const std::string& msg) {
  switch (code) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      return "access denied: wrong user or password, or the user may not connect from here";
    case ER_SPECIFIC_ACCESS_DENIED_ERROR: {
      std::string priv = needed_privilege(msg);
      if (priv.find("SLAVE MONITOR") != std::string::npos ||
          priv.find("REPLICA MONITOR") != std::string::npos ||
          priv.find("REPLICATION CLIENT") != std::string::npos)
        return "missing privilege " + priv +
               " (MariaDB 10.11 needs SLAVE MONITOR for SHOW SLAVE STATUS; REPLICATION CLIENT "
               "is not enough): GRANT SLAVE MONITOR ON *.* TO the check's user";
      return priv.empty() ? "missing privilege" : "missing privilege " + priv;
    }
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
      return "missing privilege: the check's user may not read this table";
    case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR:
      // The non-blocking connect reports TCP failures as 2002 too; the errno tells them apart.
      if (msg.find("(111)") != std::string::npos)
        return "connection refused: is the server running and listening on this port?";
      if (msg.find("(110)") != std::string::npos) return "connect timed out (host unreachable?)";
      if (msg.find("(113)") != std::string::npos || msg.find("(101)") != std::string::npos)
        return "host or network unreachable";
      if (msg.find("(2)") != std::string::npos) return "no such socket: is the server running?";
      if (msg.find("(13)") != std::string::npos) return "permission denied on the socket";
      return "cannot connect: is the server running?";
    case CR_UNKNOWN_HOST: return "unknown host (DNS lookup failed)";
    case CR_SERVER_LOST:
    case CR_SERVER_GONE_ERROR:
      if (msg.find("timeout") != std::string::npos || msg.find("Timeout") != std::string::npos)
        return "server did not answer in time (hung or overloaded)";
      return "server went away or closed the connection";
    case CR_SSL_CONNECTION_ERROR: return "TLS handshake failed";
    case ER_UNKNOWN_TABLE:
    case ER_NO_SUCH_TABLE: return "no such table";
    case ER_PARSE_ERROR: return "SQL syntax error";
    default: return "";
  }
}

unsigned secs(Millis d) {
  // Connector/C timeouts are whole seconds; round up so a 500 ms limit is not "no limit".
  // hakit enforces the exact value itself (see drive()); these are only a backstop.
  return static_cast<unsigned>((d.count() + 999) / 1000);
}

// Start-up work a check pays on every run, avoided where the static connector lets us (the
// shared one hides these symbols): Connector/C's first mysql_init() looks up the "mysql"
// service through NSS (dlopen attempts of libnss_db, /etc/services) unless mysql_port is set,
// and initialises OpenSSL with /etc/ssl/openssl.cnf and every cipher and digest. Without TLS
// none of that is needed; together ~0.5 ms of CPU per run (docs/benchmarks.md).
void lighten_connector_start(bool tls) {
#ifdef HAKIT_MARIADB_STATIC
  static std::once_flag once;
  std::call_once(once, [tls] {
    if (mysql_port == 0) mysql_port = 3306;
    // OpenSSL initialises once per process: marking these steps done now makes the
    // connector's later OPENSSL_init_ssl() skip them. Only when this first connection does
    // not use TLS (a TLS connection keeps the system configuration).
    if (!tls)
      OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                              OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
                          nullptr);
  });
#else
  (void)tls;
#endif
}

int poll_events(int status) {
  return ((status & MYSQL_WAIT_READ) ? POLLIN : 0) | ((status & MYSQL_WAIT_WRITE) ? POLLOUT : 0) |
         ((status & MYSQL_WAIT_EXCEPT) ? POLLPRI : 0);
}

}  // namespace

void library_init() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

void Connection::fill_error(Error* err) const {
  err->code = mysql_errno(m_);
  err->message = mysql_error(m_);
  err->explanation = explain(err->code, err->message);
  err->timed_out = false;
  err->deadline = false;
  if (timed_out_) {
    err->timed_out = true;
    err->deadline = deadline_hit_;
    err->explanation = fmt::format("no answer within {} (server hung or overloaded)",
                                   format_duration(timeout_hit_));
  }
}

template <typename Cont>
bool Connection::drive(int status, Millis wait_limit, Cont cont) {
  timed_out_ = false;
  deadline_hit_ = false;
  while (status) {
    const auto now = Clock::now();
    // Our limit: this wait's timeout, never past the overall deadline.
    auto ours = now + wait_limit;
    Millis ours_value = wait_limit;
    bool is_deadline = false;
    if (deadline_ && *deadline_ < ours) {
      ours = *deadline_;
      is_deadline = true;
      ours_value = std::chrono::duration_cast<Millis>(*deadline_ - start_);
    }
    // The connector's own (whole-second) timer counts only when it is the shorter one.
    std::optional<Clock::time_point> lib;
    if (status & MYSQL_WAIT_TIMEOUT) lib = now + Millis(mysql_get_timeout_value_ms(m_));
    const auto limit = (lib && *lib < ours) ? *lib : ours;
    int ready = 0;
    for (;;) {
      auto left = std::chrono::ceil<Millis>(limit - Clock::now()).count();
      if (left < 0) left = 0;
      pollfd pfd{static_cast<int>(mysql_get_socket(m_)), static_cast<short>(poll_events(status)),
                 0};
      int rc = poll(&pfd, 1, static_cast<int>(left));
      if (rc < 0 && errno == EINTR) continue;
      if (rc > 0) {
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) ready |= MYSQL_WAIT_READ;
        if (pfd.revents & (POLLOUT | POLLHUP | POLLERR)) ready |= MYSQL_WAIT_WRITE;
        if (pfd.revents & POLLPRI) ready |= MYSQL_WAIT_EXCEPT;
        ready &= status;
        if (!ready) ready = status & ~MYSQL_WAIT_TIMEOUT;
        break;
      }
      if (Clock::now() < limit) continue;  // poll's millisecond rounding woke us early
      ready = MYSQL_WAIT_TIMEOUT;
      if (!(lib && *lib < ours)) {
        // Our limit, not the connector's: the connector then fails the read or write cleanly
        // ("lost connection"), the handle stays usable, and fill_error() says why.
        timed_out_ = true;
        deadline_hit_ = is_deadline;
        timeout_hit_ = ours_value;
      }
      break;
    }
    status = cont(ready);
  }
  return !timed_out_;
}

std::unique_ptr<Connection> Connection::open(const config::MysqlProfile& p, Error* err) {
  return open_impl(p, std::nullopt, err);
}

std::unique_ptr<Connection> Connection::open(const config::MysqlProfile& p,
                                             Clock::time_point deadline, Error* err) {
  return open_impl(p, deadline, err);
}

std::unique_ptr<Connection> Connection::open_impl(const config::MysqlProfile& p,
                                                  std::optional<Clock::time_point> deadline,
                                                  Error* err) {
  *err = Error{};
  lighten_connector_start(p.wants_tls());
  MYSQL* m = mysql_init(nullptr);
  if (!m) {
    err->message = "out of memory";
    return nullptr;
  }
  std::unique_ptr<Connection> c(new Connection(m));
  c->deadline_ = deadline;
  c->start_ = Clock::now();
  c->connect_timeout_ = p.connect_timeout;
  c->read_timeout_ = std::max(p.read_timeout, p.write_timeout);
  unsigned ct = secs(p.connect_timeout), rt = secs(p.read_timeout), wt = secs(p.write_timeout);
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
  mysql_options(m, MYSQL_OPT_NONBLOCK, nullptr);
  if (!p.defaults_file.empty()) {
    std::string serr;
    if (!check_secret_file(p.defaults_file, &serr)) {
      err->message = serr;
      return nullptr;
    }
    mysql_optionsv(m, MYSQL_READ_DEFAULT_FILE, p.defaults_file.c_str());
    mysql_optionsv(m, MYSQL_READ_DEFAULT_GROUP, p.defaults_group.c_str());
  }
  if (p.wants_tls()) {
    if (!p.tls_key.empty()) {
      std::string serr;
      if (!check_secret_file(p.tls_key, &serr)) {
        err->message = serr;
        return nullptr;
      }
    }
    auto opt = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    mysql_ssl_set(m, opt(p.tls_key), opt(p.tls_cert), opt(p.tls_ca), opt(p.tls_capath), nullptr);
    my_bool enforce = 1, verify = p.tls_verify_server_cert ? 1 : 0;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
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
  const ConnectTarget target = connect_target(p);
  std::string host_storage = target.host.value_or("");
  // Resolve the name ourselves, bounded by the connect timeout and the deadline: the
  // connector's own lookup blocks (see resolve.hpp). A verified TLS connection keeps the name
  // (the certificate is checked against it); the connector's lookup then repeats one that
  // just answered.
  if (target.host && !is_literal_host(*target.host)) {
    Millis limit = c->connect_timeout_;
    if (deadline) limit = std::min(limit, std::chrono::ceil<Millis>(*deadline - Clock::now()));
    Lookup l = resolve_bounded(*target.host, std::max(limit, Millis(0)));
    if (l.outcome == Lookup::Outcome::kTimedOut) {
      err->code = CR_UNKNOWN_HOST;
      err->explanation = fmt::format(
          "name lookup of '{}' timed out after {} (DNS server not answering? see "
          "/etc/resolv.conf, or use an address)",
          *target.host, format_duration(limit));
      err->message = err->explanation;
      err->timed_out = true;
      err->deadline = false;  // keep this explanation: it names the lookup, not the server
      return nullptr;
    }
    if (l.outcome == Lookup::Outcome::kFailed) {
      err->code = CR_UNKNOWN_HOST;
      err->explanation =
          fmt::format("unknown host '{}' (DNS lookup failed: {})", *target.host, l.error);
      err->message = err->explanation;
      return nullptr;
    }
    if (!(p.wants_tls() && p.tls_verify_server_cert)) host_storage = l.address;
  }
  const char* host = target.host ? host_storage.c_str() : nullptr;
  const unsigned port = target.port;
  const char* user = p.user.empty() ? nullptr : p.user.c_str();
  const char* pass = password.empty() ? nullptr : password.reveal().c_str();
  const char* sock = p.socket.empty() ? nullptr : p.socket.c_str();
  MYSQL* ret = nullptr;
  const char* db = p.database.empty() ? nullptr : p.database.c_str();
  int status = mysql_real_connect_start(&ret, m, host, user, pass, db, port, sock, 0);
  c->drive(status, c->connect_timeout_,
           [&](int ready) { return mysql_real_connect_cont(&ret, m, ready); });
  if (!ret) {
    c->fill_error(err);
    if (err->code == 0 && err->message.empty()) err->message = "connect failed";
    return nullptr;
  }
  return c;
}

ConnectTarget connect_target(const config::MysqlProfile& p) {
  ConnectTarget t;
  const bool from_file = !p.defaults_file.empty();
  if (!p.socket.empty())
    t.host = "localhost";
  else if (!from_file || p.host_given)
    t.host = p.host;
  t.port = from_file && !p.port_given ? 0u : static_cast<unsigned>(p.port);
  return t;
}

Connection::~Connection() {
  if (m_) mysql_close(m_);
}

bool Connection::run(const std::string& sql, Error* err) {
  int ret = 0;
  int status = mysql_real_query_start(&ret, m_, sql.data(), sql.size());
  drive(status, read_timeout_,
        [&](int ready) { return mysql_real_query_cont(&ret, m_, ready); });
  if (ret != 0) {
    fill_error(err);
    return false;
  }
  return true;
}

MYSQL_RES* Connection::store(Error* err, bool* failed) {
  MYSQL_RES* res = nullptr;
  int status = mysql_store_result_start(&res, m_);
  drive(status, read_timeout_, [&](int ready) { return mysql_store_result_cont(&res, m_, ready); });
  *failed = !res && mysql_field_count(m_) != 0;
  if (*failed) fill_error(err);
  return res;
}

void Connection::drain() {
  // Drain further result sets (CALL, multi-statements) so the connection stays usable.
  while (mysql_more_results(m_)) {
    int ret = 0;
    int status = mysql_next_result_start(&ret, m_);
    if (!drive(status, read_timeout_,
               [&](int ready) { return mysql_next_result_cont(&ret, m_, ready); }) ||
        ret != 0)
      return;
    Error ignored;
    bool failed = false;
    if (MYSQL_RES* extra = store(&ignored, &failed)) mysql_free_result(extra);
    if (failed) return;
  }
}

bool Connection::query(const std::string& sql, std::vector<Row>* rows, Error* err) {
  rows->clear();
  if (!run(sql, err)) return false;
  bool failed = false;
  MYSQL_RES* res = store(err, &failed);
  if (!res) return !failed;
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
  drain();
  return true;
}

bool Connection::query_ordered(const std::string& sql, std::vector<std::string>* columns,
                               std::vector<std::vector<std::optional<std::string>>>* rows,
                               Error* err) {
  columns->clear();
  rows->clear();
  if (!run(sql, err)) return false;
  bool failed = false;
  MYSQL_RES* res = store(err, &failed);
  if (!res) return !failed;
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  for (unsigned i = 0; i < n; ++i) columns->emplace_back(fields[i].name);
  while (MYSQL_ROW r = mysql_fetch_row(res)) {
    unsigned long* lens = mysql_fetch_lengths(res);
    std::vector<std::optional<std::string>> row;
    for (unsigned i = 0; i < n; ++i)
      row.push_back(r[i] ? std::optional<std::string>(std::string(r[i], lens[i])) : std::nullopt);
    rows->push_back(std::move(row));
  }
  mysql_free_result(res);
  drain();
  return true;
}

bool Connection::exec(const std::string& sql, Error* err) {
  std::vector<Row> ignored;
  return query(sql, &ignored, err);
}

std::optional<std::string> Connection::scalar(const std::string& sql, Error* err) {
  std::vector<std::string> cols;
  std::vector<std::vector<std::optional<std::string>>> rows;
  if (!query_ordered(sql, &cols, &rows, err)) return std::nullopt;
  if (rows.empty() || rows[0].empty() || !rows[0][0]) {
    err->code = 0;
    err->message = "query returned no value";
    err->explanation.clear();
    err->timed_out = false;
    return std::nullopt;
  }
  return rows[0][0];
}

std::string Connection::server_version() const { return mysql_get_server_info(m_); }

bool Connection::is_mariadb() const {
  return server_version().find("MariaDB") != std::string::npos;
}

unsigned long Connection::version_number() const { return mysql_get_server_version(m_); }

bool Connection::no_backslash_escapes() const {
  // The server reports the mode in the status flags of every OK packet and the handshake.
  return (m_->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
}

std::string Connection::quote(const std::string& s) const {
  return sql_quote(s, no_backslash_escapes());
}

std::string Connection::tls_cipher() const {
  const char* c = mysql_get_ssl_cipher(m_);
  return c ? c : "";
}

}  // namespace hakit::mysql
