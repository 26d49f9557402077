#include "common/config_http.hpp"

namespace hakit::config {

void parse_http_check(MapReader& e, HttpCheckConfig* out) {
  out->url = e.string("url", out->url);
  if (out->url.empty()) e.error("url", "missing");
  auto expect = e.strings("expect");
  if (!expect.empty()) out->expect = expect;
  out->timeout = e.duration("timeout", out->timeout, Millis(1), Millis(3'600'000));
  out->connect_timeout = e.duration("connect_timeout", Millis(1), Millis(3'600'000));
  e.finish();
}

}  // namespace hakit::config
