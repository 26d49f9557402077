#include <fmt/format.h>

#include "common/http/http.hpp"
#include "common/http/smtp.hpp"
#include "common/secrets.hpp"
#include "notify/ports.hpp"

namespace hakit::notify {

bool CurlMessenger::send_email(const config::EmailChannel& ch, const std::string& subject,
                               const std::string& body, Millis timeout, std::string* err) {
  http::Mail m;
  m.url = ch.smtp;
  m.from = ch.from;
  m.to = ch.to;
  m.subject = subject;
  m.body = body;
  m.starttls = ch.starttls;
  m.timeout = std::min(timeout, ch.timeout);
  if (!ch.user.empty()) {
    auto pw = read_secret_file(ch.password_file, err);
    if (!ch.password_file.empty() && !pw) return false;
    m.username = ch.user;
    m.password = Secret(pw.value_or(""));
  }
  return http::send_mail(m, err);
}

bool CurlMessenger::post_json(const config::WebhookChannel& ch, const std::string& json,
                              Millis timeout, std::string* err) {
  http::Request req;
  req.method = "POST";
  req.url = ch.url;
  req.body = json;
  req.timeout = std::min(timeout, ch.timeout);
  req.headers = ch.headers;
  req.headers.push_back("Content-Type: application/json");
  req.user_agent = "hakit-notify/" HAKIT_VERSION;
  req.keep_body = false;
  if (!ch.token_file.empty()) {
    auto token = read_secret_file(ch.token_file, err);
    if (!token) return false;
    req.headers.push_back("Authorization: Bearer " + *token);
  }
  http::Response r = http::perform(req);
  if (!r.ok()) {
    *err = fmt::format("webhook {}: {}", ch.url, r.error);
    return false;
  }
  if (r.status < 200 || r.status > 299) {
    *err = fmt::format("webhook {} answered {}", ch.url, r.status_line.empty()
                                                            ? std::to_string(r.status)
                                                            : r.status_line);
    return false;
  }
  return true;
}

}  // namespace hakit::notify
