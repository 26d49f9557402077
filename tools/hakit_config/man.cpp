#include "hakit_config/man.hpp"

#include <fmt/format.h>

#include <regex>

#include "common/config.hpp"
#include "sections.hpp"

namespace hakit::hakit_config {

namespace {

// A document that makes every section parser read every key it knows: one entry per section
// (named NAME), every nested mapping present, one action of each kind. The parsers record
// what they read (SchemaRecorder); nothing here lists keys by hand.
constexpr const char* kEveryKey = R"(
log: {}
mysql: {NAME: {}}
checks:
  HTTP_NAME: {type: http, url: "http://h/", response_time: {}, cert_expiry_days: {}}
  MYSQL_NAME: {type: mysql, mysql: NAME, lag: {}, heartbeat: {table: t}}
instances:
  NAME:
    vip: {address: 192.0.2.1}
    promote:
      - {mysql_promote: {}}
      - {mysql_demote: {replication: {}}}
      - {run: {argv: [x]}}
      - {service: {start: x}}
      - {flag: set}
      - {notify: {channel: NAME}}
      - {sync: {job: NAME}}
    demote: []
notifications: {NAME: {email: {}, webhook: {}}}
sync: {NAME: {source: "rsync://h/m", dest: /d}}
daemon: {checks: {NAME: {}}, notify_fifo: /f}
)";

std::string roff_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  // A line starting with '.' or '\'' would be a request.
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out = "\\&" + out;
  return out;
}

std::string section_of(const std::string& path) {
  return path.substr(0, path.find('.'));
}

}  // namespace

std::vector<config::SchemaKey> schema() {
  config::SchemaRecorder recorder;
  config::Document doc;
  config::Diagnostics diag("schema");
  config::parse_document(kEveryKey, &doc, &diag);
  config::validate_all(doc, sections::all(), &diag);
  std::vector<config::SchemaKey> keys;
  static const std::regex kIndex(R"(\[[0-9]+\])");
  for (auto k : recorder.keys()) {
    k.path = std::regex_replace(k.path, kIndex, "[]");
    bool seen = false;
    for (auto& have : keys)
      if (have.path == k.path) {
        seen = true;
        if (have.type.empty()) have.type = k.type;
        if (have.default_value.empty()) have.default_value = k.default_value;
      }
    if (!seen) keys.push_back(k);
  }
  return keys;
}

std::string render_man(const std::vector<config::SchemaKey>& keys, const std::string& version) {
  std::string out = fmt::format(
      ".TH HAKIT.YAML 5 \"\" \"hakit {}\" \"File formats\"\n"
      ".SH NAME\nhakit.yaml \\- configuration of the hakit keepalived companion tools\n"
      ".SH DESCRIPTION\n"
      "One YAML file (default \\fI/etc/hakit/hakit.yaml\\fR, or \\fB$HAKIT_CONFIG\\fR, or "
      "\\fB\\-\\-config\\fR) configures every hakit tool. Each top\\-level section belongs to "
      "the tool that reads it; at run time a tool reads only the entries it uses, so a mistake "
      "in another tool's section never fails a check. \\fBhakit\\-config check\\fR (or any "
      "tool's \\fB\\-\\-check\\-config\\fR) validates the whole file and lists every problem as "
      "FILE:LINE:COLUMN: key.path: message.\n"
      ".PP\nDurations take ms, s, m, h (a bare number is seconds). NAME stands for an entry "
      "name of your choice (HTTP_NAME and MYSQL_NAME: a check of that type). Secrets are never written inline: name a 0600 file "
      "(password_file, auth_file, token_file). A config holding a secret inline must not be "
      "readable by group or others; any config must be owned by root and not writable by "
      "others.\n"
      ".PP\nThis page is generated from the section parsers themselves (hakit\\-config man).\n"
      ".SH SECTIONS\n",
      version);
  for (const auto& s : sections::all())
    out += fmt::format(".TP\n.B {}\n{}. Read by: {}.\n", roff_escape(s.key), roff_escape(s.summary),
                       roff_escape(s.owner));
  out += ".SH KEYS\n";
  std::string current;
  for (const auto& k : keys) {
    std::string sec = k.path.find('.') == std::string::npos ? "(top level)" : section_of(k.path);
    if (sec != current) {
      current = sec;
      out += fmt::format(".SS {}\n", roff_escape(sec));
    }
    out += fmt::format(".TP\n.B {}\n{}{}\n", roff_escape(k.path),
                       roff_escape(k.type.empty() ? "see ACTIONS" : k.type),
                       k.default_value.empty() ? "" : "; default " + roff_escape(k.default_value));
  }
  out +=
      ".SH ACTIONS\n"
      "instances.NAME.promote and .demote are ordered lists; each item has exactly one kind "
      "plus timeout, retries, backoff and on_failure. Short forms: "
      "\\fBmysql_promote: PROFILE\\fR, \\fBmysql_demote: PROFILE\\fR, "
      "\\fBrun: [PROGRAM, ARG...]\\fR, \\fBservice: {start|stop|restart|is\\-active: UNIT}\\fR, "
      "\\fBflag: set|clear\\fR, \\fBnotify: CHANNEL\\fR, \\fBsync: JOB\\fR. "
      "demote runs as listed: write it top\\-down (the reverse of promote).\n"
      ".SH FILES\n/etc/hakit/hakit.yaml\n"
      ".SH SEE ALSO\n"
      "hakit\\-config(8), check_http_200(8), check_mysql_slave(8), notify_master(8), "
      "notify_backup(8), sitesync(8), hakit\\-status(8), keepalived.conf(5)\n";
  return out;
}

}  // namespace hakit::hakit_config
