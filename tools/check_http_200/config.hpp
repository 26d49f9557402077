#pragma once
// checks: entries of `type: http`, owned by check_http_200. Every key here is also a
// command-line option of check_http_200; the command line overrides the entry. One
// validator (validate_http_check) serves the config and the merged command line, so what
// would fail at run time fails at --check-config instead.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// What an unexpected 3xx answer is (check_http / check_curl `-f ok|warning|critical`).
enum class OnRedirect { kExpect, kOk, kWarning, kCritical };

/// One `checks:` entry with `type: http`.
struct HttpCheckConfig {
  std::string url;
  std::vector<std::string> expect{"200"};  ///< codes, ranges ("200-299") or classes ("2xx")
  Millis timeout{1500};                    ///< whole request, hard
  std::optional<Millis> connect_timeout;   ///< DNS + TCP + TLS handshake
  std::string method = "GET";              ///< GET or HEAD
  std::string body_string;                 ///< the body must contain this
  std::string body_regex;                  ///< the body must match this (RE2 syntax)
  bool body_regex_icase = false;           ///< the regex ignores case (check_http -R)
  bool invert_match = false;               ///< body_string/body_regex must NOT match
  std::string host_header;                 ///< Host: header (virtual host on plain http)
  std::vector<std::string> resolve;        ///< "host:port:addr", as curl --resolve
  std::string connect_host;                ///< connect here instead of the URL's host
  int connect_port = 0;                    ///< connect to this port instead of the URL's
  std::vector<std::string> headers;        ///< extra "Name: value" request headers
  bool insecure = false;                   ///< skip TLS certificate verification
  std::string ca_file;                     ///< PEM CA bundle instead of the system store
  std::string client_cert;                 ///< PEM client certificate
  std::string client_key;                  ///< PEM key of the client certificate
  std::string sni;                        ///< TLS server name (and Host); connect to the URL's host
  std::optional<int> cert_warning_days;   ///< WARNING when the certificate expires sooner
  std::optional<int> cert_critical_days;  ///< CRITICAL when the certificate expires sooner
  int follow_redirects = 0;               ///< 0: a redirect is the answer; N: follow up to N
  OnRedirect on_redirect = OnRedirect::kExpect;  ///< a 3xx outside `expect` (kExpect: CRITICAL)
  bool certificate_only = false;  ///< judge the certificate only, not the answer (check_http -C)
  std::optional<Millis> warning;          ///< response time for WARNING
  std::optional<Millis> critical;         ///< response time for CRITICAL
  std::uint64_t max_body = 1024 * 1024;   ///< stop reading the body after this many bytes
  std::string auth_file;                  ///< secret file "user:password" for basic auth
  std::string user_agent;                 ///< "" = check_http_200/VERSION
  std::string ip_version = "any";         ///< any, 4 or 6
  std::string proxy;                      ///< "" = none (the *_proxy variables are ignored)
  bool warning_fails = false;             ///< WARNING exits 1 (Nagios); default 0 (keepalived)
};

/// Parses one http check entry; `entry` is the check's mapping (its `type` key included).
void parse_http_check(MapReader& entry, HttpCheckConfig* out);

/// Reads `checks.NAME` for check_http_200: it must exist and be `type: http`. False with the
/// problems in `diag`.
bool read_http_check(const Document& doc, const std::string& name, HttpCheckConfig* out,
                     Diagnostics* diag);

/// Reports a problem with the key it belongs to (config key names, as in hakit.yaml).
using Report = std::function<void(const std::string& key, const std::string& message)>;

/// Everything about an http check that does not depend on the network: the URL (http or
/// https, host, port 1-65535, no password in it), statuses, regex, TLS-only options on an
/// http URL, thresholds, `resolve` and `proxy` forms, the auth file's permissions.
void validate_http_check(const HttpCheckConfig& c, const Report& report);

/// The parts of an http(s) URL as far as a config needs them (libcurl parses it again at run
/// time). False with *err on anything but scheme://host[:port][/path].
struct UrlSketch {
  std::string scheme;  ///< lower case
  std::string host;
  int port = 0;        ///< 0 when not given
  bool has_userinfo = false;
};
bool sketch_url(const std::string& url, UrlSketch* out, std::string* err);

/// One accepted range of HTTP status codes.
struct StatusRange {
  int low = 0;
  int high = 0;
};

/// Parses expected statuses: "200", "200,204", "200-299", "2xx" (items may also come as
/// separate list entries). False with *err naming the bad item.
bool parse_status_ranges(const std::vector<std::string>& items, std::vector<StatusRange>* out,
                         std::string* err);

/// Expected statuses: hakit ranges ("200", "2xx", "200-299") and, as check_http -e has them,
/// text the status line must contain ("HTTP/1.1 200", "200 OK"). False with *err.
bool parse_expect(const std::vector<std::string>& items, std::vector<StatusRange>* ranges,
                  std::vector<std::string>* status_texts, std::string* err);

/// True when `url` carries a password in its user info (scheme://user:password@host/):
/// passwords come only from secret files (auth_file), never from argv or a config.
bool url_has_password(const std::string& url);

/// Why a URL with a password is refused, and what to do instead (no part of the URL in it).
std::string url_password_refusal(const std::string& what);

/// True when `regex` compiles as an RE2 pattern within its size and memory limits (linear-time
/// matching; nesting too deep is an error, not a crash); else *err says why.
bool valid_body_regex(const std::string& regex, std::string* err);

}  // namespace hakit::config
