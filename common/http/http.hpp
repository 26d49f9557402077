#pragma once
// hakit_http: one HTTP(S) request through libcurl, with hard timeouts, no environment proxies,
// a cap on the body read and failures classified by cause. check_http_200 probes with it;
// the notify tools post webhooks with it (and SMTP lives beside it, sharing the same libcurl).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secrets.hpp"
#include "common/units.hpp"

namespace hakit::http {

/// Which address family to connect with.
enum class IpVersion { kAny, kV4, kV6 };

/// Why a request got no complete answer. Each names a cause an operator can act on.
enum class Failure {
  kNone,        ///< a complete response arrived (or the body was cut at the cap on purpose)
  kBadRequest,  ///< the request itself is wrong (bad URL, unsupported scheme, unreadable file)
  kTimeout,     ///< the total or connect timeout ran out (Response::phase says where)
  kResolve,     ///< the host name did not resolve
  kConnect,     ///< connection refused or unreachable
  kTls,         ///< TLS handshake or certificate verification failed
  kReset,       ///< the connection was reset or closed before the response was complete
  kProtocol,    ///< the server did not speak HTTP (garbage status line, bad headers)
  kRedirects,   ///< more redirects than allowed
  kOther,       ///< anything else libcurl reports
};

/// Short lower-case name of a failure ("timeout", "dns", "refused", "tls", ...).
const char* failure_name(Failure f);

/// One request. Defaults suit a health check: short timeout, no redirects, verify TLS.
struct Request {
  std::string method = "GET";              ///< GET, HEAD, POST, PUT, DELETE, ...
  std::string url;                         ///< http:// or https:// (see `protocols`)
  std::vector<std::string> headers;        ///< "Name: value"; "Host: x" replaces the Host header
  std::string body;                        ///< request body (sent for POST/PUT/PATCH)
  Millis timeout{10'000};                  ///< whole transfer, hard: DNS, connect, TLS, body
  std::optional<Millis> connect_timeout;   ///< DNS + TCP + TLS handshake
  int max_redirects = 0;                   ///< 0: a redirect is the answer; N: follow at most N
  std::uint64_t max_body_bytes = 1 << 20;  ///< stop reading the body after this many bytes
  bool keep_body = true;                   ///< store the body (up to the cap) in Response::body
  bool verify_tls = true;                  ///< verify the peer certificate and its host name
  std::string ca_file;                     ///< PEM CA bundle instead of the system one
  std::string client_cert;                 ///< PEM client certificate
  std::string client_key;                  ///< PEM key of the client certificate
  std::vector<std::string> resolve;        ///< curl --resolve "host:port:addr"
  std::vector<std::string> connect_to;     ///< curl --connect-to "host:port:chost:cport"
  std::string proxy;                       ///< "" = no proxy; *_proxy variables are never read
  std::string user_agent;                  ///< "" = libcurl sends none
  std::string username;                    ///< basic auth when non-empty
  Secret password;                         ///< basic auth password
  IpVersion ip_version = IpVersion::kAny;
  bool cert_info = false;                ///< fill Response::cert_not_after (https)
  std::string protocols = "http,https";  ///< allowed schemes, also for redirects
  bool debug = false;                    ///< libcurl's trace to the log at debug level
};

/// What came back. `failure == kNone` means a complete answer (check `status`).
struct Response {
  Failure failure = Failure::kNone;
  std::string error;        ///< one line naming the cause, empty when failure == kNone
  std::string phase;        ///< where a timeout hit: "resolving", "connecting", "TLS handshake",
                            ///< "waiting for the response", "reading the body"
  long status = 0;          ///< HTTP status of the last response (0 = none received)
  std::string status_line;  ///< "HTTP/1.1 200 OK"
  std::vector<std::pair<std::string, std::string>> headers;  ///< of the last response
  std::string body;              ///< up to max_body_bytes, when keep_body
  std::uint64_t body_bytes = 0;  ///< body bytes received (at most max_body_bytes)
  bool body_cut = false;         ///< reading stopped at max_body_bytes
  double total_seconds = 0;
  double connect_seconds = 0;
  double tls_seconds = 0;  ///< 0 for plain http
  double first_byte_seconds = 0;
  long redirects = 0;                          ///< redirects followed
  std::string redirect_url;                    ///< Location of a redirect that was not followed
  std::string primary_ip;                      ///< the address connected to
  std::optional<std::int64_t> cert_not_after;  ///< leaf certificate expiry (Unix seconds)

  bool ok() const { return failure == Failure::kNone; }
  /// The first header with this name (case-insensitive), or nullptr.
  const std::string* header(const std::string& name) const;
};

/// Performs one request. Never throws and never outlives `timeout` by more than a few ms;
/// every problem is reported in the Response.
Response perform(const Request& req);

/// The parts of an http(s) URL, as libcurl parses it.
struct UrlParts {
  std::string scheme;  ///< lower case
  std::string host;    ///< without brackets for IPv6
  int port = 0;        ///< explicit or the scheme's default
  std::string path;    ///< path and query
};

/// Parses `url` the way libcurl will; false with *err on a malformed URL.
bool parse_url(const std::string& url, UrlParts* out, std::string* err);

/// `url` with its host replaced by `host` (for SNI with --connect-to).
bool replace_url_host(const std::string& url, const std::string& host, std::string* out,
                      std::string* err);

/// True when a header's value is a credential and must not be logged: Authorization,
/// Proxy-Authorization, Cookie, Set-Cookie, and any name containing token, secret, key,
/// auth, session or password (X-Api-Key, X-Auth-Token ...). Case-insensitive.
bool sensitive_header(std::string_view name);

/// One header line for a debug log: "Name: <hidden>" when sensitive_header(Name).
std::string redact_header_line(const std::string& line);

/// libcurl's version line ("libcurl/7.88.1 OpenSSL/3.0.x"), for --version -v and logs.
std::string curl_version();

}  // namespace hakit::http
