#include "common/http/http.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace hakit::http {

namespace {

// curl_global_init is not thread-safe before 7.84 and does the OpenSSL set-up: once per process.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
/// A curl_slist that frees itself.
class Slist {
 public:
  void add(const std::string& s) {
    curl_slist* n = curl_slist_append(list_.get(), s.c_str());
    if (n) {
      (void)list_.release();
      list_.reset(n);
    }
  }
  curl_slist* get() const { return list_.get(); }

 private:
  std::unique_ptr<curl_slist, SlistDeleter> list_;
};

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;

/// State the libcurl callbacks fill in.
struct Sink {
  const Request* req;
  Response* resp;
  bool headers_done = false;  ///< the blank line after the last response's headers arrived
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * nmemb;
  std::uint64_t room = sink->req->max_body_bytes - sink->resp->body_bytes;
  size_t take = n <= room ? n : static_cast<size_t>(room);
  if (sink->req->keep_body) sink->resp->body.append(data, take);
  sink->resp->body_bytes += take;
  if (take < n) {
    // Returning short makes libcurl abort with CURLE_WRITE_ERROR: an endless body stops here.
    sink->resp->body_cut = true;
    return take;
  }
  return n;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  auto* resp = sink->resp;
  size_t n = size * nmemb;
  std::string line = trim(std::string(data, n));
  sink->headers_done = line.empty();
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a redirect or a 100 Continue): keep only the last one's headers.
    resp->status_line = line;
    resp->headers.clear();
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    resp->headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
  }
  return n;
}

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void*) {
  const char* tag = nullptr;
  switch (type) {
    case CURLINFO_TEXT:
      tag = "*";
      break;
    case CURLINFO_HEADER_IN:
      tag = "<";
      break;
    case CURLINFO_HEADER_OUT:
      tag = ">";
      break;
    default:
      return 0;  // bodies and TLS records stay out of the log
  }
  std::string text(data, size);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = trim(text.substr(start, end - start));
    // Credentials must not reach the log, even at debug level (request and response headers).
    if (type != CURLINFO_TEXT) line = redact_header_line(line);
    if (!line.empty()) spdlog::debug("curl {} {}", tag, line);
    start = end + 1;
  }
  return 0;
}

double info_seconds(CURL* h, CURLINFO what) {
  curl_off_t us = 0;
  if (curl_easy_getinfo(h, what, &us) != CURLE_OK) return 0;
  return static_cast<double>(us) / 1e6;
}

/// "Mar 15 12:00:00 2027 GMT" (OpenSSL's ASN1_TIME_print, as libcurl reports it) -> Unix time.
std::optional<std::int64_t> parse_cert_time(const std::string& text) {
  struct tm tm {};
  const char* end = strptime(text.c_str(), "%b %d %H:%M:%S %Y", &tm);
  if (!end) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

void read_cert_info(CURL* h, Response* resp) {
  curl_certinfo* ci = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
    return;
  for (curl_slist* s = ci->certinfo[0]; s; s = s->next) {
    static constexpr char kKey[] = "Expire date:";
    if (std::strncmp(s->data, kKey, sizeof kKey - 1) == 0)
      resp->cert_not_after = parse_cert_time(s->data + sizeof kKey - 1);
  }
}

/// Where the transfer was when it stopped, from libcurl's phase timers.
std::string phase_of(CURL* h, const Response& r, bool headers_done, bool https) {
  // libcurl counts the TLS handshake into the connect time; the peer address is only known
  // once TCP is up, which tells a stuck handshake from a stuck TCP connect.
  if (info_seconds(h, CURLINFO_CONNECT_TIME_T) == 0) {
    if (https && !r.primary_ip.empty()) return "TLS handshake";
    return info_seconds(h, CURLINFO_NAMELOOKUP_TIME_T) == 0 ? "resolving" : "connecting";
  }
  if (https && info_seconds(h, CURLINFO_APPCONNECT_TIME_T) == 0) return "TLS handshake";
  if (r.status_line.empty()) return "waiting for the response";
  return headers_done ? "reading the body" : "reading the headers";
}

void classify(CURLcode rc, CURL* h, const Request& req, const Sink& sink, const char* errbuf,
              Response* r) {
  std::string detail = *errbuf ? errbuf : curl_easy_strerror(rc);
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  std::string os_error = os_errno ? std::strerror(static_cast<int>(os_errno)) : "";
  UrlParts url;
  std::string ignored;
  bool parsed = parse_url(req.url, &url, &ignored);
  std::string where = parsed ? fmt::format("{}:{}", url.host, url.port) : req.url;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      r->failure = Failure::kTimeout;
      r->phase = phase_of(h, *r, sink.headers_done, parsed && url.scheme == "https");
      r->error = fmt::format("timeout after {:.3f} s {} ({})", r->total_seconds, r->phase, where);
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      r->failure = Failure::kResolve;
      r->error = fmt::format("DNS: cannot resolve {} ({})",
                             rc == CURLE_COULDNT_RESOLVE_PROXY ? "the proxy" : url.host, detail);
      break;
    case CURLE_COULDNT_CONNECT:
      r->failure = Failure::kConnect;
      r->error =
          fmt::format("cannot connect to {}: {}", where, os_error.empty() ? detail : os_error);
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      r->failure = Failure::kTls;
      r->error = "TLS: " + detail;
      break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      r->failure = Failure::kReset;
      r->error = fmt::format("connection to {} broken after {} body bytes: {}", where,
                             r->body_bytes, os_error.empty() ? detail : os_error);
      break;
    case CURLE_GOT_NOTHING:
      r->failure = Failure::kReset;
      r->error = fmt::format("{} closed the connection without a response", where);
      break;
    case CURLE_PARTIAL_FILE:
      r->failure = Failure::kReset;
      r->error = fmt::format("connection closed after {} body bytes: {}", r->body_bytes, detail);
      break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
      // An unsupported scheme is caught before the transfer (parse_url), so here it is
      // libcurl refusing an HTTP/0.9-style answer: the status line was garbage.
      r->failure = Failure::kProtocol;
      r->error = "not a valid HTTP response: " + detail;
      break;
    case CURLE_TOO_MANY_REDIRECTS:
      r->failure = Failure::kRedirects;
      r->error = fmt::format("more than {} redirects (loop?): {}", req.max_redirects, detail);
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_READ_ERROR:
    case CURLE_FILE_COULDNT_READ_FILE:
      r->failure = Failure::kBadRequest;
      r->error = detail;
      break;
    default:
      r->failure = Failure::kOther;
      r->error = detail;
      break;
  }
}

}  // namespace

const char* failure_name(Failure f) {
  switch (f) {
    case Failure::kNone:
      return "none";
    case Failure::kBadRequest:
      return "bad request";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kResolve:
      return "dns";
    case Failure::kConnect:
      return "connect";
    case Failure::kTls:
      return "tls";
    case Failure::kReset:
      return "reset";
    case Failure::kProtocol:
      return "protocol";
    case Failure::kRedirects:
      return "redirects";
    case Failure::kOther:
      return "other";
  }
  return "other";
}

const std::string* Response::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return &v;
  return nullptr;
}

bool sensitive_header(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "cookie" || lower == "set-cookie") return true;
  for (const char* word : {"auth", "token", "secret", "key", "session", "password", "cookie"})
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

std::string redact_header_line(const std::string& line) {
  auto colon = line.find(':');
  if (colon == std::string::npos || !sensitive_header(line.substr(0, colon))) return line;
  return line.substr(0, colon) + ": <hidden>";
}

bool parse_url(const std::string& url, UrlParts* out, std::string* err) {
  Url u(curl_url());
  if (!u) {
    *err = "out of memory";
    return false;
  }
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    *err = fmt::format("bad URL '{}': {}", url, curl_url_strerror(rc));
    return false;
  }
  auto part = [&](CURLUPart what, unsigned flags) {
    char* p = nullptr;
    std::string s;
    if (curl_url_get(u.get(), what, &p, flags) == CURLUE_OK && p) s = p;
    curl_free(p);
    return s;
  };
  out->scheme = part(CURLUPART_SCHEME, 0);
  out->host = part(CURLUPART_HOST, 0);
  if (out->host.size() > 2 && out->host.front() == '[')
    out->host = out->host.substr(1, out->host.size() - 2);
  std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  out->port = port.empty() ? 0 : std::atoi(port.c_str());
  out->path = part(CURLUPART_PATH, 0);
  std::string query = part(CURLUPART_QUERY, 0);
  if (!query.empty()) out->path += "?" + query;
  if (out->host.empty()) {
    *err = fmt::format("bad URL '{}': no host", url);
    return false;
  }
  return true;
}

bool replace_url_host(const std::string& url, const std::string& host, std::string* out,
                      std::string* err) {
  Url u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_HOST, host.c_str(), 0) != CURLUE_OK) {
    *err = fmt::format("cannot set host '{}' in URL '{}'", host, url);
    return false;
  }
  char* p = nullptr;
  if (curl_url_get(u.get(), CURLUPART_URL, &p, 0) != CURLUE_OK || !p) {
    *err = fmt::format("cannot set host '{}' in URL '{}'", host, url);
    return false;
  }
  *out = p;
  curl_free(p);
  return true;
}

std::string curl_version() {
  return ::curl_version();
}

Response perform(const Request& req) {
  global_init();
  Response resp;
  Easy easy(curl_easy_init());
  if (!easy) {
    resp.failure = Failure::kOther;
    resp.error = "curl_easy_init failed";
    return resp;
  }
  CURL* h = easy.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{&req, &resp, false};
  Slist headers, resolve, connect_to;

  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, req.protocols.c_str());
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, req.protocols.c_str());
  // Signals and alarm() would break a multi-threaded caller; the threaded resolver keeps
  // DNS inside the timeout without them.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  // Without this, a timed-out lookup still waits for the resolver thread on clean-up (a dead
  // DNS server held the check for 10 s with a 1 s timeout). The thread is left to finish on
  // its own; the process exits soon after anyway.
  curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  if (req.connect_timeout)
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout->count()));
  // An empty proxy string makes libcurl ignore http_proxy/https_proxy/all_proxy: a health
  // check of the local node must never wander through a proxy from root's environment.
  curl_easy_setopt(h, CURLOPT_PROXY, req.proxy.c_str());
  if (req.max_redirects > 0) {
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(req.max_redirects));
  }
  switch (req.ip_version) {
    case IpVersion::kV4:
      curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
      break;
    case IpVersion::kV6:
      curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V6);
      break;
    case IpVersion::kAny:
      break;
  }

  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (!req.body.empty()) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
    }
  }
  for (const auto& hd : req.headers) headers.add(hd);
  // "Expect: 100-continue" would stall a webhook POST for a second on servers that ignore it.
  if (!req.body.empty()) headers.add("Expect:");
  if (headers.get()) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  for (const auto& r : req.resolve) resolve.add(r);
  if (resolve.get()) curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());
  for (const auto& c : req.connect_to) connect_to.add(c);
  if (connect_to.get()) curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to.get());
  if (!req.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, req.user_agent.c_str());
  if (!req.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, req.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, req.password.reveal().c_str());
  }

  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  if (!req.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, req.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);  // only the given CA, not the system store
  }
  if (!req.client_cert.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, req.client_cert.c_str());
  if (!req.client_key.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, req.client_key.c_str());
  if (req.cert_info) curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);

  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  if (req.debug) {
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
  }

  CURLcode rc = curl_easy_perform(h);

  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  resp.total_seconds = info_seconds(h, CURLINFO_TOTAL_TIME_T);
  resp.connect_seconds = info_seconds(h, CURLINFO_CONNECT_TIME_T);
  resp.tls_seconds = info_seconds(h, CURLINFO_APPCONNECT_TIME_T);
  resp.first_byte_seconds = info_seconds(h, CURLINFO_STARTTRANSFER_TIME_T);
  curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &resp.redirects);
  char* s = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &s) == CURLE_OK && s) resp.redirect_url = s;
  s = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &s) == CURLE_OK && s) resp.primary_ip = s;
  if (req.cert_info) read_cert_info(h, &resp);

  if (rc == CURLE_WRITE_ERROR && resp.body_cut) rc = CURLE_OK;  // cut at the cap on purpose
  if (rc != CURLE_OK) classify(rc, h, req, sink, errbuf, &resp);
  return resp;
}

}  // namespace hakit::http
