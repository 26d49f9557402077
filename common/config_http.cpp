#include "common/config_http.hpp"

#include <cctype>
#include <charconv>

#include "common/regex/regex.hpp"

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
  out->url = e.string("url", out->url);
  if (out->url.empty()) e.error("url", "missing");
  if (url_has_password(out->url)) e.error("url", url_password_refusal("the URL"));
  auto expect = e.strings("expect");
  if (!expect.empty()) {
    std::vector<StatusRange> ranges;
    std::string err;
    if (parse_status_ranges(expect, &ranges, &err))
      out->expect = expect;
    else
      e.error("expect", err);
  }
  out->timeout = e.duration("timeout", out->timeout, kMin, kMax);
  if (auto v = e.duration("connect_timeout", kMin, kMax)) out->connect_timeout = v;
  out->method = e.choice("method", out->method, {"GET", "HEAD"});
  out->body_string = e.string("body_string", out->body_string);
  out->body_regex = e.string("body_regex", out->body_regex);
  if (!out->body_regex.empty()) {
    std::string err;
    if (!valid_body_regex(out->body_regex, &err)) e.error("body_regex", err);
  }
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
}

}  // namespace hakit::config
