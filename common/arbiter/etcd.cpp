#include "common/arbiter/etcd.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/http/http.hpp"

namespace hakit::arbiter {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int s = sextet(c);
    if (s < 0) return false;
    acc = (acc << 6) | static_cast<unsigned>(s);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

namespace codec {

std::string error_of(const Json& j) {
  if (!j.is_object() || !j.contains("error")) return "";
  const Json& e = j["error"];
  std::string msg = e.is_string() ? e.get<std::string>() : dump_json(e);
  if (j.contains("code") && j["code"].is_number()) msg += fmt::format(" (code {})", j["code"].get<int>());
  return msg;
}

KeyValue key_value(const Json& kv) {
  KeyValue out;
  if (kv.contains("key") && kv["key"].is_string()) base64_decode(kv["key"].get<std::string>(), &out.key);
  if (kv.contains("value") && kv["value"].is_string())
    base64_decode(kv["value"].get<std::string>(), &out.value);
  out.lease = int64_field(kv, "lease");
  out.create_revision = int64_field(kv, "create_revision");
  out.mod_revision = int64_field(kv, "mod_revision");
  return out;
}

namespace {
Json put_op(const std::string& key, const std::string& value, std::int64_t lease) {
  return {{"request_put",
           {{"key", base64_encode(key)}, {"value", base64_encode(value)}, {"lease", std::to_string(lease)}}}};
}
Json range_op(const std::string& key) { return {{"request_range", {{"key", base64_encode(key)}}}}; }
}  // namespace

Json create_txn(const std::string& key, const std::string& value, std::int64_t lease) {
  return {{"compare", Json::array({{{"key", base64_encode(key)},
                                    {"result", "EQUAL"},
                                    {"target", "CREATE"},
                                    {"create_revision", "0"}}})},
          {"success", Json::array({put_op(key, value, lease)})},
          {"failure", Json::array({range_op(key)})}};
}

Json replace_txn(const std::string& key, const std::string& value, std::int64_t mod_revision,
                 std::int64_t lease) {
  return {{"compare", Json::array({{{"key", base64_encode(key)},
                                    {"result", "EQUAL"},
                                    {"target", "VALUE"},
                                    {"value", base64_encode(value)}},
                                   {{"key", base64_encode(key)},
                                    {"result", "EQUAL"},
                                    {"target", "MOD"},
                                    {"mod_revision", std::to_string(mod_revision)}}})},
          {"success", Json::array({put_op(key, value, lease)})},
          {"failure", Json::array({range_op(key)})}};
}

Json delete_if_txn(const std::string& key, const std::string& value) {
  return {{"compare", Json::array({{{"key", base64_encode(key)},
                                    {"result", "EQUAL"},
                                    {"target", "VALUE"},
                                    {"value", base64_encode(value)}}})},
          {"success", Json::array({{{"request_delete_range", {{"key", base64_encode(key)}}}}})},
          {"failure", Json::array({range_op(key)})}};
}

bool parse_txn(const Json& j, bool* succeeded, std::optional<KeyValue>* current, std::string* err) {
  if (std::string e = error_of(j); !e.empty()) {
    *err = e;
    return false;
  }
  if (!j.is_object() || !j.contains("header")) {
    *err = "not a txn answer";
    return false;
  }
  // proto3 JSON leaves false booleans out.
  *succeeded = j.value("succeeded", false);
  current->reset();
  if (j.contains("responses") && j["responses"].is_array())
    for (const auto& r : j["responses"]) {
      if (!r.contains("response_range")) continue;
      const Json& rr = r["response_range"];
      if (rr.contains("kvs") && rr["kvs"].is_array() && !rr["kvs"].empty())
        *current = key_value(rr["kvs"][0]);
    }
  return true;
}

}  // namespace codec

HttpEtcd::HttpEtcd(const config::Arbiter& arbiter) : arbiter_(arbiter) {}

bool HttpEtcd::post(const std::string& endpoint, const std::string& path, const std::string& body,
                    Millis timeout, Json* answer, std::string* err, bool* transport_failure) {
  http::Request req;
  req.method = "POST";
  std::string base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + path;
  req.body = body;
  req.headers = {"Content-Type: application/json"};
  if (!token_.empty() && path != "/v3/auth/authenticate") req.headers.push_back("Authorization: " + token_);
  req.timeout = timeout;
  req.connect_timeout = timeout;
  req.ca_file = arbiter_.ca_file;
  req.client_cert = arbiter_.cert_file;
  req.client_key = arbiter_.key_file;
  req.max_body_bytes = 1 << 20;
  http::Response r = http::perform(req);
  *transport_failure = !r.ok();
  if (!r.ok()) {
    *err = fmt::format("{}: {}", endpoint, r.error);
    return false;
  }
  *answer = Json::parse(r.body, nullptr, false);
  if (answer->is_discarded()) {
    *transport_failure = true;  // a proxy or another service on that port: try the next
    *err = fmt::format("{}: HTTP {}: not a JSON answer", endpoint, r.status);
    return false;
  }
  // The keepalive stream wraps its message in {"result": ...}.
  if (answer->is_object() && answer->contains("result") && (*answer)["result"].is_object())
    *answer = Json((*answer)["result"]);
  if (std::string e = codec::error_of(*answer); !e.empty()) {
    *err = fmt::format("{}: {}", endpoint, e);
    // A member without a leader (minority side of a partition) cannot answer: try another.
    *transport_failure = e.find("no leader") != std::string::npos ||
                         e.find("timed out") != std::string::npos ||
                         e.find("Unavailable") != std::string::npos || r.status >= 500;
    return false;
  }
  if (r.status != 200) {
    *transport_failure = true;
    *err = fmt::format("{}: HTTP {}", endpoint, r.status);
    return false;
  }
  return true;
}

bool HttpEtcd::authenticate(const std::string& endpoint, Millis timeout, std::string* err) {
  if (arbiter_.user.empty() || !token_.empty()) return true;
  auto pw = read_secret_file(arbiter_.password_file, err);
  if (!pw) return false;
  Secret secret(std::move(*pw));
  Json body{{"name", arbiter_.user}, {"password", secret.reveal()}};
  Json answer;
  bool transport = false;
  if (!post(endpoint, "/v3/auth/authenticate", dump_json(body), timeout, &answer, err, &transport)) return false;
  token_ = answer.value("token", "");
  if (token_.empty()) {
    *err = endpoint + ": authentication answered no token";
    return false;
  }
  return true;
}

bool HttpEtcd::call(const std::string& path, const Json& body, Json* answer, std::string* err) {
  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = SteadyClock::now() + arbiter_.timeout;
  std::vector<std::string> order = arbiter_.endpoints;
  if (auto it = std::find(order.begin(), order.end(), preferred_); it != order.end())
    std::rotate(order.begin(), it, it + 1);
  const std::string text = dump_json(body);
  std::string errors;
  for (size_t i = 0; i < order.size(); ++i) {
    auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now());
    if (left.count() <= 0) break;
    // A hung member must not eat the whole budget: each gets its share of what is left.
    Millis share = std::max(Millis(left.count() / static_cast<long>(order.size() - i)), Millis(1));
    std::string e;
    bool transport = false;
    if (!authenticate(order[i], share, &e)) {
      errors += (errors.empty() ? "" : "; ") + e;
      continue;
    }
    if (post(order[i], path, text, share, answer, &e, &transport)) {
      preferred_ = order[i];
      return true;
    }
    if (!transport) {
      // etcd answered with a definite error (lease not found, permission denied): that is the
      // answer, another member would say the same.
      if (e.find("invalid auth token") != std::string::npos) token_.clear();
      *err = e;
      preferred_ = order[i];
      return false;
    }
    errors += (errors.empty() ? "" : "; ") + e;
  }
  *err = errors.empty() ? fmt::format("no etcd endpoint answered within {}", format_duration(arbiter_.timeout))
                        : errors;
  return false;
}

bool HttpEtcd::grant(std::int64_t ttl_s, std::int64_t* id, std::int64_t* granted_s, std::string* err) {
  Json a;
  if (!call("/v3/lease/grant", {{"TTL", std::to_string(ttl_s)}}, &a, err)) return false;
  *id = codec::int64_field(a, "ID");
  *granted_s = codec::int64_field(a, "TTL");
  if (*id == 0 || *granted_s <= 0) {
    *err = "lease grant answered without an ID or TTL: " + dump_json(a);
    return false;
  }
  return true;
}

bool HttpEtcd::keepalive(std::int64_t id, std::int64_t* ttl_s, std::string* err) {
  Json a;
  if (!call("/v3/lease/keepalive", {{"ID", std::to_string(id)}}, &a, err)) return false;
  // An expired lease comes back with no TTL (proto3 leaves 0 out).
  *ttl_s = codec::int64_field(a, "TTL");
  return true;
}

bool HttpEtcd::revoke(std::int64_t id, std::string* err) {
  Json a;
  std::string e;
  if (call("/v3/lease/revoke", {{"ID", std::to_string(id)}}, &a, &e)) return true;
  if (e.find("lease not found") != std::string::npos) return true;
  *err = e;
  return false;
}

bool HttpEtcd::time_to_live(std::int64_t id, std::int64_t* ttl_s, std::int64_t* granted_s,
                            std::string* err) {
  Json a;
  if (!call("/v3/lease/timetolive", {{"ID", std::to_string(id)}}, &a, err)) return false;
  // proto3 JSON leaves zero fields out: no "TTL" is 0 s left; a lease that does not exist
  // comes back as "TTL": "-1".
  *ttl_s = a.contains("TTL") ? codec::int64_field(a, "TTL") : 0;
  *granted_s = a.contains("grantedTTL") ? codec::int64_field(a, "grantedTTL") : 0;
  return true;
}

bool HttpEtcd::get(const std::string& key, std::optional<KeyValue>* kv, std::string* err) {
  Json a;
  if (!call("/v3/kv/range", {{"key", base64_encode(key)}}, &a, err)) return false;
  kv->reset();
  if (a.contains("kvs") && a["kvs"].is_array() && !a["kvs"].empty()) *kv = codec::key_value(a["kvs"][0]);
  return true;
}

bool HttpEtcd::txn(const Json& body, bool* succeeded, std::optional<KeyValue>* current,
                   std::string* err) {
  Json a;
  if (!call("/v3/kv/txn", body, &a, err)) return false;
  return codec::parse_txn(a, succeeded, current, err);
}

std::vector<MemberProbe> HttpEtcd::probe_members() {
  std::vector<MemberProbe> out;
  for (const auto& ep : arbiter_.endpoints) {
    MemberProbe p;
    p.endpoint = ep;
    Json a;
    bool transport = false;
    std::string e;
    if (!authenticate(ep, arbiter_.timeout, &e)) {
      p.error = e;
    } else if (post(ep, "/v3/maintenance/status", dump_json(Json::object()), arbiter_.timeout, &a, &e,
                    &transport)) {
      p.reachable = true;
      p.version = a.value("version", "");
      // Member ids are uint64 (often above INT64_MAX): only "present and not 0" matters.
      const Json leader = a.value("leader", Json());
      p.leader_known = (leader.is_string() && leader != "0") || (leader.is_number() && leader != 0);
    } else {
      p.error = e;
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace hakit::arbiter
