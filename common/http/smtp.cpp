#include "common/http/smtp.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>

namespace hakit::http {

namespace {

std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

std::string crlf(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string rfc2822_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t read_cb(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  size_t room = size * n;
  size_t left = up->data->size() - up->offset;
  size_t k = std::min(room, left);
  std::memcpy(buf, up->data->data() + up->offset, k);
  up->offset += k;
  return k;
}

struct CurlHandle {
  CURL* h = curl_easy_init();
  curl_slist* rcpt = nullptr;
  ~CurlHandle() {
    curl_slist_free_all(rcpt);
    if (h) curl_easy_cleanup(h);
  }
};

}  // namespace

std::string format_mail(const Mail& mail, const std::string& date, const std::string& message_id) {
  std::string to;
  for (const auto& r : mail.to) to += (to.empty() ? "" : ", ") + one_line(r);
  std::string head = fmt::format(
      "Date: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: {}\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n",
      date, one_line(mail.from), to, one_line(mail.subject), message_id);
  return head + crlf(mail.body);
}

bool send_mail(const Mail& mail, std::string* err) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (mail.to.empty()) {
    *err = "no recipients";
    return false;
  }
  CurlHandle c;
  if (!c.h) {
    *err = "curl_easy_init failed";
    return false;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::string text =
      format_mail(mail, rfc2822_now(), fmt::format("<hakit.{}.{}@{}>", ms, getpid(), host));
  Upload up{&text};
  for (const auto& r : mail.to) c.rcpt = curl_slist_append(c.rcpt, ("<" + r + ">").c_str());
  std::string from = "<" + mail.from + ">";
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c.h, CURLOPT_URL, mail.url.c_str());
  curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c.h, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c.h, CURLOPT_MAIL_RCPT, c.rcpt);
  curl_easy_setopt(c.h, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c.h, CURLOPT_READDATA, &up);
  curl_easy_setopt(c.h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, static_cast<long>(mail.timeout.count()));
  curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(mail.timeout.count()));
  curl_easy_setopt(c.h, CURLOPT_ERRORBUFFER, errbuf);
  if (mail.starttls) curl_easy_setopt(c.h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!mail.verify_tls) {
    curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!mail.username.empty()) {
    curl_easy_setopt(c.h, CURLOPT_USERNAME, mail.username.c_str());
    curl_easy_setopt(c.h, CURLOPT_PASSWORD, mail.password.reveal().c_str());
  }
  CURLcode rc = curl_easy_perform(c.h);
  if (rc == CURLE_OK) return true;
  long code = 0;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &code);
  std::string what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  *err = code ? fmt::format("SMTP server {} answered {}: {}", mail.url, code, what)
              : fmt::format("SMTP {}: {}", mail.url, what);
  return false;
}

}  // namespace hakit::http
