#include "check_http_200/config.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "common/regex/regex.hpp"
#include "common/secrets.hpp"

namespace hakit::config {

namespace {

bool parse_code(const std::string& s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out >= 100 && *out <= 599;
}

std::string strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool parse_one(const std::string& item, StatusRange* r) {
  if (item.size() == 3 && std::isdigit(static_cast<unsigned char>(item[0])) &&
      (item[1] == 'x' || item[1] == 'X') && (item[2] == 'x' || item[2] == 'X')) {
    int cls = item[0] - '0';
    if (cls < 1 || cls > 5) return false;
    *r = {cls * 100, cls * 100 + 99};
    return true;
  }
  auto dash = item.find('-');
  if (dash == std::string::npos) {
    if (!parse_code(item, &r->low)) return false;
    r->high = r->low;
    return true;
  }
  return parse_code(strip(item.substr(0, dash)), &r->low) &&
         parse_code(strip(item.substr(dash + 1)), &r->high) && r->low <= r->high;
}

}  // namespace

bool parse_status_ranges(const std::vector<std::string>& items, std::vector<StatusRange>* out,
                         std::string* err) {
  out->clear();
  for (const auto& raw : items) {
    size_t start = 0;
    while (start <= raw.size()) {
      size_t comma = raw.find(',', start);
      if (comma == std::string::npos) comma = raw.size();
      std::string item = strip(raw.substr(start, comma - start));
      StatusRange r;
      if (!parse_one(item, &r)) {
        *err = "bad status '" + item + "' (want a code 100-599, a range like 200-299, or 2xx)";
        return false;
      }
      out->push_back(r);
      start = comma + 1;
    }
  }
  if (out->empty()) {
    *err = "no expected status given";
    return false;
  }
  return true;
}

bool parse_expect(const std::vector<std::string>& items, std::vector<StatusRange>* ranges,
                  std::vector<std::string>* status_texts, std::string* err) {
  ranges->clear();
  status_texts->clear();
  for (const auto& raw : items) {
    size_t start = 0;
    while (start <= raw.size()) {
      size_t comma = raw.find(',', start);
      if (comma == std::string::npos) comma = raw.size();
      std::string item = raw.substr(start, comma - start);
      start = comma + 1;
      // Digits, '-' and 'x' only: a hakit range (an error when malformed). Anything else
      // ("HTTP/1.1 200", "200 OK"): text of the status line, as check_http -e reads it.
      std::string bare = item;
      while (!bare.empty() && bare.front() == ' ') bare.erase(0, 1);
      while (!bare.empty() && bare.back() == ' ') bare.pop_back();
      if (bare.find_first_not_of("0123456789-xX") != std::string::npos) {
        status_texts->push_back(item);
        continue;
      }
      std::vector<StatusRange> one;
      if (!parse_status_ranges({bare}, &one, err)) return false;
      ranges->insert(ranges->end(), one.begin(), one.end());
    }
  }
  if (ranges->empty() && status_texts->empty()) {
    *err = "no expected status given";
    return false;
  }
  return true;
}

bool url_has_password(const std::string& url) {
  auto scheme_end = url.find("://");
  size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
  auto at = authority.rfind('@');
  return at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos;
}

std::string url_password_refusal(const std::string& what) {
  return what +
         " carries a password (user:password@): it would show in ps, logs and the config; put "
         "'user:password' in a 0600 file and give it with --auth-file (config: auth_file)";
}

bool valid_body_regex(const std::string& regex, std::string* err) {
  return regex::valid(regex, err);
}

void parse_http_check(MapReader& e, HttpCheckConfig* out) {
  const Millis kMin(1), kMax(3'600'000);
  e.choice("type", {"http"});
  out->url = e.string("url", out->url);
  if (out->url.empty()) e.error("url", "missing");
  if (auto expect = e.strings("expect"); !expect.empty()) out->expect = expect;
  out->timeout = e.duration("timeout", out->timeout, kMin, kMax);
  if (auto v = e.duration("connect_timeout", kMin, kMax)) out->connect_timeout = v;
  out->method = e.choice("method", out->method, {"GET", "HEAD"});
  out->body_string = e.string("body_string", out->body_string);
  out->body_regex = e.string("body_regex", out->body_regex);
  out->invert_match = e.boolean("invert_match", out->invert_match);
  out->host_header = e.string("host_header", out->host_header);
  if (auto v = e.strings("resolve"); !v.empty()) out->resolve = v;
  out->connect_host = e.string("connect_host", out->connect_host);
  out->connect_port = static_cast<int>(e.integer("connect_port", out->connect_port, 0, 65535));
  if (auto v = e.strings("headers"); !v.empty()) out->headers = v;
  out->insecure = e.boolean("insecure", out->insecure);
  out->ca_file = e.string("ca_file", out->ca_file);
  out->client_cert = e.string("client_cert", out->client_cert);
  out->client_key = e.string("client_key", out->client_key);
  out->sni = e.string("sni", out->sni);
  if (auto days = e.map("cert_expiry_days")) {
    if (auto v = days->integer("warning", 0, 3650)) out->cert_warning_days = static_cast<int>(*v);
    if (auto v = days->integer("critical", 0, 3650)) out->cert_critical_days = static_cast<int>(*v);
    days->finish();
  }
  out->follow_redirects =
      static_cast<int>(e.integer("follow_redirects", out->follow_redirects, 0, 50));
  if (auto rt = e.map("response_time")) {
    if (auto v = rt->duration("warning", kMin, kMax)) out->warning = v;
    if (auto v = rt->duration("critical", kMin, kMax)) out->critical = v;
    rt->finish();
  }
  if (auto v = e.size("max_body")) {
    if (*v == 0)
      e.error("max_body", "must be at least 1 byte");
    else
      out->max_body = *v;
  }
  out->auth_file = e.string("auth_file", out->auth_file);
  out->user_agent = e.string("user_agent", out->user_agent);
  out->ip_version = e.choice("ip_version", out->ip_version, {"any", "4", "6"});
  out->proxy = e.string("proxy", out->proxy);
  out->warning_fails = e.boolean("warning_fails", out->warning_fails);
  e.finish();
  validate_http_check(*out, [&](const std::string& key, const std::string& m) {
    e.error(key, m);
  });
}

bool read_http_check(const Document& doc, const std::string& name, HttpCheckConfig* out,
                     Diagnostics* diag) {
  if (!entry_type_is(doc, "checks", name, "http", "check_mysql_slave", diag)) return false;
  return parse_entry(doc, "checks", name, parse_http_check, out, diag);
}

bool sketch_url(const std::string& url, UrlSketch* out, std::string* err) {
  auto bad = [&](const std::string& why) {
    *err = fmt::format("'{}' is not a URL: {}", url, why);
    return false;
  };
  auto colon = url.find("://");
  if (colon == std::string::npos || colon == 0) return bad("want scheme://host[:port]/path");
  out->scheme = url.substr(0, colon);
  for (char& c : out->scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : url)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("it has spaces or control characters");
  std::string rest = url.substr(colon + 3);
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    out->has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed '[' in the host");
    out->host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto c = authority.rfind(':');
    out->host = authority.substr(0, c);
    if (c != std::string::npos) port = authority.substr(c + 1);
  }
  if (out->host.empty()) return bad("no host");
  out->port = 0;
  if (!port.empty()) {
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), out->port);
    if (ec != std::errc() || p != port.data() + port.size() || out->port < 1 || out->port > 65535)
      return bad(fmt::format("port '{}' is not 1-65535", port));
  }
  return true;
}

void validate_http_check(const HttpCheckConfig& c, const Report& report) {
  std::string err;
  UrlSketch url;
  if (!c.url.empty()) {
    // The password check comes first: the other messages quote the URL.
    if (url_has_password(c.url)) {
      report("url", url_password_refusal("the URL"));
    } else if (!sketch_url(c.url, &url, &err)) {
      report("url", err);
    } else if (url.scheme != "http" && url.scheme != "https") {
      report("url", fmt::format("unsupported scheme '{}' (http or https)", url.scheme));
    }
  }
  std::vector<StatusRange> ranges;
  std::vector<std::string> texts;
  if (!parse_expect(c.expect, &ranges, &texts, &err)) report("expect", err);
  if (!c.body_regex.empty() && !valid_body_regex(c.body_regex, &err)) report("body_regex", err);
  if (!c.body_string.empty() && !c.body_regex.empty())
    report("body_regex", "give body_string or body_regex, not both");
  if (c.method == "HEAD" && (!c.body_string.empty() || !c.body_regex.empty()))
    report("method", "HEAD has no body to match: drop body_string/body_regex or use GET");
  if (!c.url.empty() && url.scheme == "http") {
    for (const auto& [set, key] :
         {std::pair{c.cert_warning_days || c.cert_critical_days, "cert_expiry_days"},
          std::pair{!c.sni.empty(), "sni"}, std::pair{!c.ca_file.empty(), "ca_file"},
          std::pair{!c.client_cert.empty(), "client_cert"}})
      if (set) report(key, "is a TLS option and the URL is http://: use https:// or drop it");
  }
  if (!c.client_key.empty() && c.client_cert.empty())
    report("client_key", "client_key needs client_cert");
  if (c.warning && c.critical && *c.warning > *c.critical)
    report("response_time", "warning is above critical");
  if (c.cert_warning_days && c.cert_critical_days && *c.cert_warning_days < *c.cert_critical_days)
    report("cert_expiry_days", "warning must be at least critical (days left)");
  for (const auto& r : c.resolve) {
    // curl --resolve: HOST:PORT:ADDRESS[,ADDRESS...]
    auto first = r.find(':');
    auto second = first == std::string::npos ? first : r.find(':', first + 1);
    int port = 0;
    bool ok = first != std::string::npos && first > 0 && second != std::string::npos &&
              second + 1 < r.size();
    if (ok) {
      auto [p, ec] = std::from_chars(r.data() + first + 1, r.data() + second, port);
      ok = ec == std::errc() && p == r.data() + second && port >= 1 && port <= 65535;
    }
    if (!ok) report("resolve", fmt::format("'{}' is not HOST:PORT:ADDRESS", r));
  }
  if (!c.proxy.empty()) {
    UrlSketch p;
    if (!sketch_url(c.proxy, &p, &err)) {
      report("proxy", err);
    } else if (p.scheme != "http" && p.scheme != "https" && p.scheme != "socks5" &&
               p.scheme != "socks5h") {
      report("proxy", fmt::format("unsupported proxy scheme '{}' (http, https, socks5, socks5h)",
                                  p.scheme));
    } else if (p.has_userinfo) {
      report("proxy", "credentials in the proxy URL are refused (they would show in logs)");
    }
  }
  for (const auto& h : c.headers)
    // "Name;" is curl's way to send an empty header.
    if ((h.find(':') == std::string::npos && (h.empty() || h.back() != ';')) || h.front() == ':' ||
        h.find_first_of("\r\n") != std::string::npos)
      report("headers", fmt::format("'{}' is not a 'Name: value' header", h));
  if (!c.auth_file.empty() && !check_secret_file(c.auth_file, &err)) report("auth_file", err);
}

}  // namespace hakit::config
