#include "common/arbiter/config.hpp"

#include <fmt/format.h>

#include "common/state.hpp"

namespace hakit::config {

std::string Arbiter::node_id() const { return node.empty() ? hostname() : node; }

void parse_arbiter(MapReader& r, Arbiter* a) {
  a->type = r.choice("type", a->type, {"etcd"});
  a->endpoints = r.strings("endpoints");
  a->ttl = r.duration("ttl", a->ttl, Millis(2000), Millis(3'600'000));
  a->prefix = r.string("prefix", a->prefix);
  a->node = r.string("node", a->node);
  a->timeout = r.duration("timeout", a->timeout, Millis(10), Millis(60'000));
  a->renew_interval = r.duration("renew_interval", a->renew_interval, Millis(100), Millis(600'000));
  a->margin = r.duration("margin", a->margin, Millis(0), Millis(3'600'000));
  a->acquire_timeout = r.duration("acquire_timeout", a->acquire_timeout, Millis(0), Millis(3'600'000));
  if (auto tls = r.map("tls")) {
    a->ca_file = tls->string("ca", "");
    a->cert_file = tls->string("cert", "");
    a->key_file = tls->string("key", "");
    if (a->cert_file.empty() != a->key_file.empty())
      tls->error(a->cert_file.empty() ? "cert" : "key", "cert and key go together");
    tls->finish();
  }
  a->user = r.string("user", "");
  a->password_file = r.string("password_file", "");
  if (a->user.empty() != a->password_file.empty())
    r.error(a->user.empty() ? "user" : "password_file", "user and password_file go together");

  if (r.has("endpoints") && a->endpoints.empty()) r.error("endpoints", "needs at least one URL");
  if (!r.has("endpoints")) r.error("endpoints", "missing (the etcd members' client URLs)");
  for (const auto& e : a->endpoints) {
    const bool https = e.rfind("https://", 0) == 0;
    if (!https && e.rfind("http://", 0) != 0) {
      r.error("endpoints", fmt::format("'{}' is not an http:// or https:// URL", e));
      continue;
    }
    std::string rest = e.substr(https ? 8 : 7);
    if (rest.empty() || rest[0] == '/' || rest.find_first_of("?#@ ") != std::string::npos ||
        (rest.find('/') != std::string::npos && rest.find('/') != rest.size() - 1))
      r.error("endpoints", fmt::format("'{}' must be SCHEME://HOST[:PORT] (no path, user or query)", e));
  }
  if (a->ttl.count() % 1000 != 0)
    r.error("ttl", "etcd leases count in whole seconds (use 6s, not 6.5s)");
  if (a->prefix.empty() || a->prefix[0] != '/') r.error("prefix", "must start with '/'");
  if (a->node.find_first_of(" \t\n/") != std::string::npos)
    r.error("node", "must not contain blanks or '/'");
  // The safety argument (docs/arbiter.md): a holder fences itself `margin` before the lease
  // can expire, and margin must leave room for one more renewal period plus a request.
  const Millis need = a->renew_interval + a->timeout;
  if (a->margin.count() > 0 && a->margin < need)
    r.error("margin", fmt::format("must be at least renew_interval + timeout ({})",
                                  format_duration(need)));
  if (a->ttl < a->fence_margin() + a->renew_interval)
    r.error("ttl", fmt::format("must exceed margin + renew_interval ({}): a renewed lease must "
                               "survive at least one more renewal before the node fences itself",
                               format_duration(a->fence_margin() + a->renew_interval)));
  if (a->timeout >= a->renew_interval)
    r.error("timeout", "must be shorter than renew_interval (each renewal ends before the next)");
  r.finish();
}

bool load_arbiter(const Document& doc, const std::string& name, Arbiter* out, Diagnostics* diag) {
  if (!doc.entry("arbiters", name).IsDefined()) {
    diag->error_at(0, 0, "arbiters." + name,
                   missing_entry(doc, "arbiter", name, doc.entry_names("arbiters")));
    return false;
  }
  out->name = name;
  return parse_entry(doc, "arbiters", name, parse_arbiter, out, diag);
}

void validate_arbiters(const Document& doc, Diagnostics& diag) {
  check_entry_section(doc, "arbiters", diag);
  for (const auto& name : doc.entry_names("arbiters")) {
    Arbiter a;
    parse_entry(doc, "arbiters", name, parse_arbiter, &a, &diag);
  }
}

}  // namespace hakit::config
