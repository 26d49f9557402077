#pragma once
// E-mail over SMTP through libcurl (the same libcurl hakit_http links): one plain-text message,
// hard timeout, optional STARTTLS and login. The notify tools send alerts with it.
#include <string>
#include <vector>

#include "common/secrets.hpp"
#include "common/units.hpp"

namespace hakit::http {

/// One message to send.
struct Mail {
  std::string url;                 ///< smtp://host[:port] or smtps://host[:port]
  std::string from;                ///< envelope and header sender
  std::vector<std::string> to;     ///< envelope and header recipients
  std::string subject;
  std::string body;                ///< plain text; line ends become CRLF
  std::string username;            ///< SMTP AUTH when non-empty
  Secret password;
  bool starttls = false;           ///< require STARTTLS on smtp://
  bool verify_tls = true;
  Millis timeout{10'000};          ///< whole conversation, hard
};

/// The RFC 5322 text of `mail` (headers with CR/LF stripped so a subject cannot inject headers).
std::string format_mail(const Mail& mail, const std::string& date, const std::string& message_id);

/// Sends `mail`. False + *err naming the cause (refused, timeout, rejected by the server ...).
bool send_mail(const Mail& mail, std::string* err);

}  // namespace hakit::http
