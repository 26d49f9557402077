// check_http_200: option parsing (argv vectors, no process), config entries, the command line
// over the config, request building and result evaluation. The real servers are in
// tests/integration/test_check_http*.py.
#include <CLI/CLI.hpp>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "helper/config_doc.hpp"
#include "check_http_200/check_http_200.hpp"

using namespace hakit;
using check_http::Options;

namespace {

Options parse_ok(std::vector<std::string> args) {
  Options opts;
  cli::CommonOptions common;
  auto app = check_http::make_parser(&opts, &common);
  auto code = cli::parse(*app, args);
  CHECK_FALSE(code.has_value());
  return opts;
}

http::Response ok_response(long status = 200, std::string body = "hello world") {
  http::Response r;
  r.status = status;
  r.status_line = "HTTP/1.1 " + std::to_string(status) + " Whatever";
  r.body_bytes = body.size();
  r.body = std::move(body);
  r.total_seconds = 0.004;
  return r;
}

config::HttpCheckConfig base() {
  config::HttpCheckConfig c;
  c.url = "http://127.0.0.1/";
  return c;
}

bool parse_cfg(const std::string& text, config::Document* cfg, std::string* diag_text) {
  return hakit::test::make_doc(text, cfg, diag_text);
}

}  // namespace

TEST_CASE("check_http_200 options: URL, lists, durations, flags") {
  auto o = parse_ok({"-e",
                     "200,204",
                     "-e",
                     "3xx",
                     "http://127.0.0.1:8080/x",
                     "-t",
                     "800ms",
                     "--connect-timeout",
                     "0.2",
                     "-w",
                     "0.5",
                     "-c",
                     "1",
                     "-s",
                     "ok",
                     "--invert",
                     "--resolve",
                     "a.example:80:127.0.0.1",
                     "--header",
                     "X-Probe: 1",
                     "-4",
                     "--max-body",
                     "64k",
                     "--follow",
                     "3",
                     "-j",
                     "head",
                     "--warning-fails"});
  CHECK(o.check.url == "http://127.0.0.1:8080/x");
  CHECK(o.check.expect == std::vector<std::string>{"200,204", "3xx"});
  CHECK(o.check.timeout == Millis(800));
  CHECK(o.check.connect_timeout == Millis(200));
  CHECK(o.check.warning == Millis(500));
  CHECK(o.check.critical == Millis(1000));
  CHECK(o.check.body_string == "ok");
  CHECK(o.check.invert_match);
  CHECK(o.check.resolve == std::vector<std::string>{"a.example:80:127.0.0.1"});
  CHECK(o.check.headers == std::vector<std::string>{"X-Probe: 1"});
  CHECK(o.check.ip_version == "4");
  CHECK(o.check.max_body == 64u * 1024);
  CHECK(o.check.follow_redirects == 3);
  CHECK(o.check.method == "HEAD");
  CHECK(o.check.warning_fails);
  CHECK_FALSE(o.maintenance_file.has_value());
}

TEST_CASE("check_http_200 options: defaults and usage errors exit 3") {
  auto o = parse_ok({"http://127.0.0.1/"});
  CHECK(o.check.expect == std::vector<std::string>{"200"});
  CHECK(o.check.timeout == Millis(1500));
  CHECK(o.check.method == "GET");
  CHECK(o.check.follow_redirects == 0);
  CHECK_FALSE(o.check.insecure);
  CHECK_FALSE(o.check.warning_fails);
  for (std::vector<std::string> bad : {std::vector<std::string>{"-t", "soon", "http://x/"},
                                       {"-j", "POST", "http://x/"},
                                       {"--follow", "99", "http://x/"},
                                       {"--max-body", "0", "http://x/"},
                                       {"--bogus"},
                                       {"-p", "70000", "http://x/"},
                                       {"-f", "sometimes", "http://x/"},
                                       {"-C", "30,x", "-H", "x"},
                                       {"-S1.2", "-H", "x"},
                                       {"-a", "user:pw", "-H", "x"},
                                       {"-P", "a=b", "-H", "x"}}) {
    Options opts;
    cli::CommonOptions common;
    auto app = check_http::make_parser(&opts, &common);
    // Usage errors print one line on stderr; keep the test output clean.
    std::fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDERR_FILENO);
    auto code = cli::parse(*app, bad);
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(devnull);
    CHECK(code == 3);
  }
}

TEST_CASE("check_http_200: --check NAME takes the config entry; the command line wins") {
  config::Document cfg;
  std::string diag;
  REQUIRE(parse_cfg(R"(
maintenance_file: /var/lib/hakit/maint
checks:
  site:
    type: http
    url: https://127.0.0.1/site1/
    expect: [200, 204]
    timeout: 900ms
    body_string: Cacti
    response_time: {warning: 300ms, critical: 700ms}
    cert_expiry_days: {warning: 30, critical: 7}
    follow_redirects: 2
    warning_fails: true
)",
                    &cfg, &diag));
  INFO(diag);
  std::vector<std::string> args{"--check", "site", "-t", "400ms", "--no-warning-fails"};
  Options o = parse_ok(args);
  std::string err;
  REQUIRE(check_http::resolve_options(cfg, args, &o, &err));
  CHECK(o.check.url == "https://127.0.0.1/site1/");
  CHECK(o.check.expect == std::vector<std::string>{"200", "204"});
  CHECK(o.check.timeout == Millis(400));  // command line
  CHECK(o.check.body_string == "Cacti");
  CHECK(o.check.warning == Millis(300));
  CHECK(o.check.critical == Millis(700));
  CHECK(o.check.cert_warning_days == 30);
  CHECK(o.check.cert_critical_days == 7);
  CHECK(o.check.follow_redirects == 2);
  CHECK_FALSE(o.check.warning_fails);  // --no-warning-fails beat the config
  CHECK(o.maintenance_file == "/var/lib/hakit/maint");

  // Only selecting the entry (keepalived's form): the entry as it is.
  args = {"--config", "/etc/hakit/hakit.yaml", "--check", "site", "-vv"};
  o = parse_ok(args);
  REQUIRE(check_http::resolve_options(cfg, args, &o, &err));
  CHECK(o.check.timeout == Millis(900));
  CHECK(o.check.warning_fails);
  CHECK(o.check_name == "site");

  args = {"--check", "site", "--maintenance-file", ""};
  o = parse_ok(args);
  REQUIRE(check_http::resolve_options(cfg, args, &o, &err));
  CHECK(o.maintenance_file == "");

  args = {"--check", "nope"};
  o = parse_ok(args);
  CHECK_FALSE(check_http::resolve_options(cfg, args, &o, &err));
  CHECK(err.find("no http check 'nope'") != std::string::npos);
  CHECK(err.find("site") != std::string::npos);
}

TEST_CASE("check_http_200: validation of the effective options") {
  config::Document cfg;
  std::string err;
  auto check = [&](std::vector<std::string> args) {
    Options o = parse_ok(args);
    err.clear();
    return check_http::resolve_options(cfg, args, &o, &err);
  };
  CHECK_FALSE(check({}));
  CHECK(err.find("no URL") != std::string::npos);
  CHECK_FALSE(check({"ftp://127.0.0.1/"}));
  CHECK(err.find("unsupported scheme") != std::string::npos);
  CHECK_FALSE(check({"http://127.0.0.1/", "-e", "200-1"}));
  CHECK(err.find("bad status") != std::string::npos);
  CHECK_FALSE(check({"http://127.0.0.1/", "-r", "a(b"}));
  CHECK(err.find("bad regex") != std::string::npos);
  CHECK_FALSE(check({"http://127.0.0.1/", "--cert-warning", "30"}));
  CHECK(err.find("https") != std::string::npos);
  CHECK_FALSE(check({"http://127.0.0.1/", "-j", "HEAD", "-s", "x"}));
  CHECK_FALSE(check({"http://127.0.0.1/", "-w", "2", "-c", "1"}));
  CHECK(check({"https://127.0.0.1/", "--cert-warning", "30", "-e", "2xx,301"}));
}

TEST_CASE("config: http check entries are validated with positions and suggestions") {
  config::Document cfg;
  std::string diag;
  CHECK_FALSE(
      parse_cfg("checks:\n  site: {type: http, url: http://x/, timout: 2s}\n", &cfg, &diag));
  CHECK(diag.find("did you mean 'timeout'") != std::string::npos);
  CHECK_FALSE(
      parse_cfg("checks:\n  site: {type: http, url: http://x/, expect: [200-1]}\n", &cfg, &diag));
  CHECK(diag.find("checks.site.expect") != std::string::npos);
  CHECK_FALSE(
      parse_cfg("checks:\n  site: {type: http, url: http://x/, body_regex: '('}\n", &cfg, &diag));
  CHECK(diag.find("bad regex") != std::string::npos);
  CHECK_FALSE(
      parse_cfg("checks:\n  site: {type: http, url: http://x/, method: POST}\n", &cfg, &diag));
  CHECK_FALSE(parse_cfg("checks:\n  site: {type: http}\n", &cfg, &diag));
  CHECK(diag.find("url") != std::string::npos);
  CHECK_FALSE(parse_cfg(
      "checks:\n  site: {type: http, url: http://x/, response_time: {warnin: 1s}}\n", &cfg, &diag));
  CHECK(diag.find("did you mean 'warning'") != std::string::npos);
  CHECK(
      parse_cfg("checks:\n  site: {type: http, url: http://x/, ip_version: 6, max_body: 64k,"
                " resolve: ['a:80:127.0.0.1'], insecure: true}\n",
                &cfg, &diag));
  config::HttpCheckConfig site;
  config::Diagnostics d("hakit.yaml");
  REQUIRE(config::read_http_check(cfg, "site", &site, &d));
  CHECK(site.ip_version == "6");
  CHECK(site.max_body == 65536u);
  CHECK(site.insecure);
}

TEST_CASE("status ranges: codes, lists, ranges, classes") {
  std::vector<config::StatusRange> r;
  std::string err;
  REQUIRE(config::parse_status_ranges({"200, 204", "300-302", "5xx"}, &r, &err));
  REQUIRE(r.size() == 4);
  CHECK(r[0].low == 200);
  CHECK(r[2].low == 300);
  CHECK(r[2].high == 302);
  CHECK(r[3].low == 500);
  CHECK(r[3].high == 599);
  CHECK_FALSE(config::parse_status_ranges({"99"}, &r, &err));
  CHECK_FALSE(config::parse_status_ranges({"200-"}, &r, &err));
  CHECK_FALSE(config::parse_status_ranges({"302-300"}, &r, &err));
  CHECK_FALSE(config::parse_status_ranges({"6xx"}, &r, &err));
  CHECK_FALSE(config::parse_status_ranges({"200,"}, &r, &err));
  CHECK_FALSE(config::parse_status_ranges({}, &r, &err));
}

TEST_CASE("evaluate: OK line has the exact shape keepalived and Nagios read") {
  auto c = base();
  auto r = ok_response(200, std::string(1234, 'a'));
  auto res = check_http::evaluate(c, r, 0);
  CHECK(res.state == State::kOk);
  CHECK(res.render("HTTP") ==
        "HTTP OK - 200 in 0.004 s, 1234 bytes | time=0.004s;;;0 size=1234B;;;0");
}

TEST_CASE("evaluate: status set") {
  auto c = base();
  CHECK(check_http::evaluate(c, ok_response(404), 0).state == State::kCritical);
  c.expect = {"200-299"};
  CHECK(check_http::evaluate(c, ok_response(204), 0).state == State::kOk);
  CHECK(check_http::evaluate(c, ok_response(500), 0).state == State::kCritical);
  c.expect = {"2xx,301"};
  CHECK(check_http::evaluate(c, ok_response(301), 0).state == State::kOk);
  c.expect = {"200"};
  auto r = ok_response(301);
  r.redirect_url = "http://127.0.0.1/new/";
  auto res = check_http::evaluate(c, r, 0);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("redirect to http://127.0.0.1/new/ not followed") != std::string::npos);
  CHECK(res.summary.find("status 301 Whatever not expected (200)") != std::string::npos);
}

TEST_CASE("evaluate: body string, regex, invert, cut body") {
  auto c = base();
  c.body_string = "world";
  CHECK(check_http::evaluate(c, ok_response(), 0).state == State::kOk);
  c.body_string = "planet";
  auto res = check_http::evaluate(c, ok_response(), 0);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("string 'planet' not found") != std::string::npos);
  c.invert_match = true;
  CHECK(check_http::evaluate(c, ok_response(), 0).state == State::kOk);
  c.body_string = "hello";
  CHECK(check_http::evaluate(c, ok_response(), 0).state == State::kCritical);
  c = base();
  c.body_regex = "^hel+o [a-z]+$";
  CHECK(check_http::evaluate(c, ok_response(), 0).state == State::kOk);
  c.body_regex = "status.:.ok";
  CHECK(check_http::evaluate(c, ok_response(200, "{\"status\":\"ok\"}"), 0).state == State::kOk);
  // A NUL in the body does not end the match: the regex sees every byte read.
  CHECK(check_http::evaluate(c, ok_response(200, std::string("a\0b status\":\"ok", 15)), 0).state ==
        State::kOk);
  c.invert_match = true;
  CHECK(check_http::evaluate(c, ok_response(200, "{\"status\":\"ok\"}"), 0).state ==
        State::kCritical);
  auto cut = ok_response(200, "partial");
  cut.body_cut = true;
  c = base();
  res = check_http::evaluate(c, cut, 0);
  CHECK(res.state == State::kOk);
  CHECK(res.summary.find("body cut") != std::string::npos);
}

TEST_CASE("evaluate: response time thresholds") {
  auto c = base();
  c.warning = Millis(500);
  c.critical = Millis(1000);
  auto r = ok_response();
  r.total_seconds = 0.499;
  CHECK(check_http::evaluate(c, r, 0).state == State::kOk);
  r.total_seconds = 0.7;
  auto res = check_http::evaluate(c, r, 0);
  CHECK(res.state == State::kWarning);
  CHECK(res.render("HTTP").find("time=0.7s;0.5;1;0") != std::string::npos);
  r.total_seconds = 1.2;
  CHECK(check_http::evaluate(c, r, 0).state == State::kCritical);
  // WARNING exits 0 unless the operator asked for the Nagios convention.
  CHECK(check_exit_code(State::kWarning, false) == 0);
  CHECK(check_exit_code(State::kWarning, true) == 1);
  CHECK(check_exit_code(State::kCritical, false) == 2);
}

TEST_CASE("evaluate: certificate expiry") {
  auto c = base();
  c.cert_warning_days = 30;
  c.cert_critical_days = 7;
  const std::int64_t now = 1'800'000'000, day = 86400;
  auto r = ok_response();
  r.cert_not_after = now + 90 * day;
  CHECK(check_http::evaluate(c, r, now).state == State::kOk);
  r.cert_not_after = now + 20 * day;
  auto res = check_http::evaluate(c, r, now);
  CHECK(res.state == State::kWarning);
  CHECK(res.summary.find("certificate expires in 20 days") != std::string::npos);
  r.cert_not_after = now + 3 * day;
  CHECK(check_http::evaluate(c, r, now).state == State::kCritical);
  r.cert_not_after = now - 2 * day;
  res = check_http::evaluate(c, r, now);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("expired 2 days ago") != std::string::npos);
  r.cert_not_after.reset();
  CHECK(check_http::evaluate(c, r, now).state == State::kUnknown);
}

TEST_CASE("evaluate: transport failures are CRITICAL with the cause; bad requests UNKNOWN") {
  auto c = base();
  http::Response r;
  r.failure = http::Failure::kTimeout;
  r.error = "timeout after 1.001 s waiting for the response (127.0.0.1:80)";
  r.total_seconds = 1.001;
  auto res = check_http::evaluate(c, r, 0);
  CHECK(res.state == State::kCritical);
  CHECK(res.render("HTTP") ==
        "HTTP CRITICAL - timeout after 1.001 s waiting for the response (127.0.0.1:80) | "
        "time=1.001s;;;0 size=0B;;;0");
  r.failure = http::Failure::kBadRequest;
  CHECK(check_http::evaluate(c, r, 0).state == State::kUnknown);
}

TEST_CASE("build_request: vhost, node, SNI, auth, no proxy") {
  auto c = base();
  c.url = "https://www.example.com:8443/health";
  c.host_header = "";
  c.sni = "site.example";
  c.connect_host = "127.0.0.1";
  http::Request req;
  std::string err;
  REQUIRE(check_http::build_request(c, &req, &err));
  CHECK(req.url == "https://site.example:8443/health");
  CHECK(req.connect_to == std::vector<std::string>{"site.example:8443:127.0.0.1:8443"});
  CHECK(req.proxy.empty());
  CHECK(req.verify_tls);
  CHECK_FALSE(req.keep_body);
  CHECK(req.user_agent.rfind("check_http_200/", 0) == 0);

  c = base();
  c.connect_host = "::1";
  c.connect_port = 8080;
  c.host_header = "site.example";
  c.body_string = "x";
  c.insecure = true;
  req = {};
  REQUIRE(check_http::build_request(c, &req, &err));
  CHECK(req.connect_to == std::vector<std::string>{"::[::1]:8080"});
  CHECK(req.headers == std::vector<std::string>{"Host: site.example"});
  CHECK(req.keep_body);
  CHECK_FALSE(req.verify_tls);

  char dir[] = "/tmp/hakit-auth-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string file = std::string(dir) + "/auth";
  std::ofstream(file) << "probe:s3:cret\n";
  chmod(file.c_str(), 0600);
  c = base();
  c.auth_file = file;
  req = {};
  REQUIRE(check_http::build_request(c, &req, &err));
  CHECK(req.username == "probe");
  CHECK(req.password.reveal() == "s3:cret");
  chmod(file.c_str(), 0644);  // readable by others: refused, as ssh refuses such keys
  CHECK_FALSE(check_http::build_request(c, &req, &err));
  unlink(file.c_str());
  rmdir(dir);
}

TEST_CASE("maintenance file forces CRITICAL and shows its first line") {
  char dir[] = "/tmp/hakit-maint-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string file = std::string(dir) + "/maintenance";
  CHECK_FALSE(hakit::maintenance_result(file).has_value());
  CHECK_FALSE(hakit::maintenance_result("").has_value());
  std::ofstream(file) << "switchover to node b, ticket 4711\n";
  auto m = hakit::maintenance_result(file);
  REQUIRE(m.has_value());
  CHECK(m->state == State::kCritical);
  CHECK(m->summary.find("ticket 4711") != std::string::npos);
  unlink(file.c_str());
  rmdir(dir);
}

TEST_CASE("maintenance file: a FIFO or a device is not read (no hang, no 4 GB)") {
  char dir[] = "/tmp/hakit-maint-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string fifo = std::string(dir) + "/maintenance";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // Before: std::ifstream blocked in open() until a writer came (keepalived's check hung).
  auto t0 = std::chrono::steady_clock::now();
  auto m = hakit::maintenance_result(fifo);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  REQUIRE(m.has_value());
  CHECK(m->state == State::kCritical);
  CHECK(m->summary.find("not a regular file") != std::string::npos);
  unlink(fifo.c_str());
  // /dev/zero: no newline ever; getline() ate memory until it failed.
  m = hakit::maintenance_result("/dev/zero");
  REQUIRE(m.has_value());
  CHECK(m->state == State::kCritical);
  CHECK(m->summary.size() < 200);
  // A huge one-line regular file: only the start is read and shown.
  std::string big = std::string(dir) + "/big";
  std::ofstream(big) << std::string(1 << 20, 'x');
  m = hakit::maintenance_result(big);
  REQUIRE(m.has_value());
  CHECK(m->summary.size() < 300);
  CHECK(m->summary.find("xxx...") != std::string::npos);
  unlink(big.c_str());
  rmdir(dir);
}

TEST_CASE("one-line output: control characters from servers are escaped") {
  CheckResult r;
  r.state = State::kCritical;
  r.summary = std::string("status 500 Bad\x1b[2J\x07 reason\nsecond|line") + '\0' + "x";
  std::string line = r.render("HTTP");
  CHECK(line == "HTTP CRITICAL - status 500 Bad\\x1b[2J\\x07 reason second line\\x00x");
  for (char c : line) CHECK(static_cast<unsigned char>(c) >= 0x20);
  // Bounded: a 100 KB reason phrase does not become a 100 KB line; perfdata stays.
  r.summary = "status 500 " + std::string(100000, 'r');
  r.perfdata.push_back({"time", 0.5, "s", {}, {}, 0.0, {}});
  line = r.render("HTTP");
  CHECK(line.size() < 2200);
  CHECK(line.find("rrr... | time=0.5s;;;0") != std::string::npos);
}

TEST_CASE("regex: hostile patterns are errors, never a crash or a hang") {
  std::string err;
  // 20,000 '(' overflowed the stack of glibc's regcomp: every tool crashed at config load.
  const std::string deep(20000, '(');
  CHECK_FALSE(config::valid_body_regex(deep, &err));
  CHECK(err.find("bad regex") != std::string::npos);
  CHECK(err.size() < 300);  // the pattern is shortened in the message
  const std::string nested = std::string(5000, '(') + "a" + std::string(5000, ')');
  CHECK_FALSE(config::valid_body_regex(nested, &err));
  // Deep nesting inside the size limit: RE2's parser does not recurse, so no crash either.
  CHECK(config::valid_body_regex(std::string(2000, '(') + "a" + std::string(2000, ')'), &err));
  CHECK(config::valid_body_regex("^hel+o [a-z]+$", &err));
  CHECK_FALSE(config::valid_body_regex("(a)\\1", &err));  // back-references: not linear
  // On the command line: UNKNOWN with the reason, no crash.
  config::Document cfg;
  Options o = parse_ok({"http://127.0.0.1/", "-r", deep});
  CHECK_FALSE(check_http::resolve_options(cfg, {"http://127.0.0.1/", "-r", deep}, &o, &err));
  CHECK(err.find("bad regex") != std::string::npos);
  // In the config: an error at checks.site.body_regex.
  std::string diag;
  CHECK_FALSE(parse_cfg(
      "checks:\n  site: {type: http, url: http://x/, body_regex: '" + deep + "'}\n", &cfg, &diag));
  CHECK(diag.find("checks.site.body_regex") != std::string::npos);
  // Catastrophic backtracking patterns match in linear time over a max_body-sized body.
  auto c = base();
  c.body_regex = "^(a|aa)*(a*)*b$";
  auto t0 = std::chrono::steady_clock::now();
  auto res = check_http::evaluate(c, ok_response(200, std::string(1 << 20, 'a')), 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("not found in the body") != std::string::npos);
  // '.' also matches a newline, as with the POSIX engine before; NULs are searched through.
  c.body_regex = "start.end";
  CHECK(check_http::evaluate(c, ok_response(200, "start\nend"), 0).state == State::kOk);
  c.body_regex = "after-nul";
  CHECK(check_http::evaluate(c, ok_response(200, std::string("x\0after-nul", 11)), 0).state ==
        State::kOk);
}

TEST_CASE("secrets: a password in the URL is refused; credential headers are hidden in logs") {
  CHECK(config::url_has_password("http://probe:s3cret@127.0.0.1/health"));
  CHECK(config::url_has_password("https://u:@h/"));
  CHECK_FALSE(config::url_has_password("http://probe@127.0.0.1/"));
  CHECK_FALSE(config::url_has_password("http://127.0.0.1:8080/a@b:c"));
  CHECK_FALSE(config::url_has_password("http://[::1]:80/"));
  config::Document cfg;
  std::string err;
  std::vector<std::string> args{"http://probe:s3cret@127.0.0.1/"};
  Options o = parse_ok(args);
  CHECK_FALSE(check_http::resolve_options(cfg, args, &o, &err));
  CHECK(err.find("auth-file") != std::string::npos);
  CHECK(err.find("s3cret") == std::string::npos);
  std::string diag;
  CHECK_FALSE(
      parse_cfg("checks:\n  site: {type: http, url: 'http://probe:s3cret@x/'}\n", &cfg, &diag));
  CHECK(diag.find("checks.site.url") != std::string::npos);
  CHECK(diag.find("auth_file") != std::string::npos);
  CHECK(diag.find("s3cret") == std::string::npos);

  for (const char* h : {"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Api-Key",
                        "X-Auth-Token", "X-Client-Secret", "PRIVATE-TOKEN"})
    CHECK_MESSAGE(http::sensitive_header(h), h);
  for (const char* h : {"Host", "Content-Type", "Accept", "User-Agent", "Location"})
    CHECK_FALSE_MESSAGE(http::sensitive_header(h), h);
  CHECK(http::redact_header_line("Cookie: sid=abc") == "Cookie: <hidden>");
  CHECK(http::redact_header_line("X-Api-Key:abc") == "X-Api-Key: <hidden>");
  CHECK(http::redact_header_line("Content-Type: text/html") == "Content-Type: text/html");
  CHECK(http::redact_header_line("HTTP/1.1 200 OK") == "HTTP/1.1 200 OK");
}

TEST_CASE("http::parse_url") {
  http::UrlParts u;
  std::string err;
  REQUIRE(http::parse_url("https://[::1]/x?y=1", &u, &err));
  CHECK(u.scheme == "https");
  CHECK(u.host == "::1");
  CHECK(u.port == 443);
  CHECK(u.path == "/x?y=1");
  REQUIRE(http::parse_url("http://127.0.0.1:8080", &u, &err));
  CHECK(u.port == 8080);
  CHECK_FALSE(http::parse_url("http://", &u, &err));
  CHECK_FALSE(http::parse_url("not a url", &u, &err));
}

namespace {

/// Parses and resolves `args` as check_http_200 does (no config); false with *err.
bool resolve_plugin(std::vector<std::string> args, Options* o, std::string* err) {
  *o = parse_ok(args);
  return check_http::resolve_options(config::Document{}, args, o, err);
}

/// Parses `args`, which must be refused; returns what was printed on stderr.
std::string refused(std::vector<std::string> args) {
  Options opts;
  cli::CommonOptions common;
  auto app = check_http::make_parser(&opts, &common);
  char path[] = "/tmp/hakit-stderr-XXXXXX";
  int fd = mkstemp(path);
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  auto code = cli::parse(*app, args);
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unlink(path);
  CHECK(code == 3);
  return text;
}

}  // namespace

TEST_CASE("check_http spellings: -H/-I/-p/-u/-S build the URL as check_http does") {
  Options o;
  std::string err;
  REQUIRE(resolve_plugin({"-H", "www.example.com"}, &o, &err));
  CHECK(o.check.url == "http://www.example.com/");
  CHECK(o.check.connect_host.empty());

  REQUIRE(resolve_plugin(
      {"-H", "www.example.com", "-I", "127.0.0.1", "-p", "8080", "-u", "/health?x=1", "-S"}, &o,
      &err));
  CHECK(o.check.url == "https://www.example.com:8080/health?x=1");
  CHECK(o.check.connect_host == "127.0.0.1");
  CHECK(o.check.connect_port == 0);  // the URL's port already

  REQUIRE(resolve_plugin({"-I", "127.0.0.1", "-u", "site1/"}, &o, &err));
  CHECK(o.check.url == "http://127.0.0.1/site1/");
  REQUIRE(resolve_plugin({"--ssl", "-I", "::1"}, &o, &err));
  CHECK(o.check.url == "https://[::1]/");

  // -H NAME:PORT is the URL's port (Host header); -p then only says where to connect.
  REQUIRE(resolve_plugin({"-H", "site.example:5000", "-I", "127.0.0.1", "-p", "80"}, &o, &err));
  CHECK(o.check.url == "http://site.example:5000/");
  CHECK(o.check.connect_host == "127.0.0.1");
  CHECK(o.check.connect_port == 80);
  REQUIRE(resolve_plugin({"-H", "[::1]:8443", "-S"}, &o, &err));
  CHECK(o.check.url == "https://[::1]:8443/");

  // -C implies TLS and judges only the certificate unless --continue-after-certificate.
  REQUIRE(resolve_plugin({"-H", "www.example.com", "-C", "30,14"}, &o, &err));
  CHECK(o.check.url == "https://www.example.com/");
  CHECK(o.check.cert_warning_days == 30);
  CHECK(o.check.cert_critical_days == 14);
  CHECK(o.check.certificate_only);
  REQUIRE(resolve_plugin({"-H", "www.example.com", "-C", "14", "--continue-after-certificate"}, &o,
                         &err));
  CHECK(o.check.cert_critical_days == 0);
  CHECK_FALSE(o.check.certificate_only);

  CHECK_FALSE(resolve_plugin({"-u", "/x"}, &o, &err));
  CHECK(err.find("no URL") != std::string::npos);
  CHECK_FALSE(resolve_plugin({"-H", "a", "-u", "http://b/"}, &o, &err));
  CHECK(err.find("give a path") != std::string::npos);
  CHECK_FALSE(resolve_plugin({"-H", "a:99999"}, &o, &err));
  CHECK(err.find("bad port") != std::string::npos);
}

TEST_CASE("check_http spellings over a URL: -H renames it, -I/-p say where to connect") {
  Options o;
  std::string err;
  REQUIRE(resolve_plugin({"http://127.0.0.1:8080/x", "-H", "site.example"}, &o, &err));
  CHECK(o.check.url == "http://site.example:8080/x");
  CHECK(o.check.connect_host == "127.0.0.1");
  REQUIRE(resolve_plugin({"https://localhost:1/ok", "-I", "127.0.0.1", "-p", "8443"}, &o, &err));
  CHECK(o.check.url == "https://localhost:1/ok");
  CHECK(o.check.connect_host == "127.0.0.1");
  CHECK(o.check.connect_port == 8443);
  http::Request req;
  REQUIRE(check_http::build_request(o.check, &req, &err));
  CHECK(req.connect_to == std::vector<std::string>{"::127.0.0.1:8443"});
  CHECK_FALSE(resolve_plugin({"http://127.0.0.1/", "-S"}, &o, &err));
  CHECK(err.find("https URL") != std::string::npos);
  CHECK_FALSE(resolve_plugin({"http://127.0.0.1/", "-u", "/x"}, &o, &err));
}

TEST_CASE("check_http spellings: the other letters keep check_http's meaning") {
  Options o;
  std::string err;
  // -J/-K/--ca-cert are check_http's client certificate and CA; HEAD has no body to match.
  REQUIRE(resolve_plugin({"-S", "-H", "h", "-J", "/c.pem", "-K", "/k.pem", "--ca-cert", "/ca.pem"},
                         &o, &err));
  CHECK(o.check.client_cert == "/c.pem");
  CHECK(o.check.client_key == "/k.pem");
  CHECK(o.check.ca_file == "/ca.pem");
  CHECK_FALSE(resolve_plugin({"-H", "h", "-j", "HEAD", "-R", "x"}, &o, &err));
  REQUIRE(resolve_plugin({"-H",
                          "h",
                          "-e",
                          "HTTP/1.1 200,204",
                          "-R",
                          "WELCOME",
                          "--invert-regex",
                          "-k",
                          "X-Probe: 1",
                          "-k",
                          "X-Other: 2",
                          "-A",
                          "nagios",
                          "-f",
                          "follow",
                          "--max-redirs",
                          "4",
                          "-w",
                          "0.5",
                          "-c",
                          "1.5",
                          "-t",
                          "10",
                          "--sni",
                          "-l",
                          "-E",
                          "-N",
                          "-D"},
                         &o, &err));
  CHECK(o.check.expect == std::vector<std::string>{"HTTP/1.1 200,204"});
  CHECK(o.check.body_regex == "WELCOME");
  CHECK(o.check.body_regex_icase);
  CHECK(o.check.invert_match);
  CHECK(o.check.headers == std::vector<std::string>{"X-Probe: 1", "X-Other: 2"});
  CHECK(o.check.user_agent == "nagios");
  CHECK(o.check.follow_redirects == 4);
  CHECK(o.check.warning == Millis(500));
  CHECK(o.check.critical == Millis(1500));
  CHECK(o.check.timeout == Millis(10000));
  CHECK_FALSE(o.check.insecure);  // -D: verification is on anyway

  REQUIRE(resolve_plugin({"-H", "h", "-f", "warning"}, &o, &err));
  CHECK(o.check.on_redirect == config::OnRedirect::kWarning);
  CHECK(o.check.follow_redirects == 0);
  REQUIRE(resolve_plugin({"-H", "h", "--onredirect", "ok"}, &o, &err));
  CHECK(o.check.on_redirect == config::OnRedirect::kOk);
  REQUIRE(resolve_plugin({"-H", "h", "-R", "x", "-r", "y"}, &o, &err));
  CHECK_FALSE(o.check.body_regex_icase);  // the last regex option decides
}

TEST_CASE("check_http spellings: secrets in argv and unsupported options are refused") {
  auto text = refused({"-H", "h", "-a", "user:secret"});
  CHECK(text.find("--auth-file") != std::string::npos);
  CHECK(text.find("secret") == std::string::npos);
  CHECK(refused({"-H", "h", "-b", "u:p"}).find("ps") != std::string::npos);
  CHECK(refused({"-H", "h", "-P", "a=1"}).find("GET or HEAD") != std::string::npos);
  CHECK(refused({"-H", "h", "-d", "Server"}).find("not supported") != std::string::npos);
  CHECK(refused({"-H", "h", "-B"}).find("one line") != std::string::npos);
  CHECK(refused({"-H", "h", "--ssl=1.1"}).find("TLS version") != std::string::npos);
  CHECK(refused({"-H", "h", "-C", "soon"}).find("WARN,CRIT") != std::string::npos);
}

TEST_CASE("evaluate: check_http -e status-line text, -f redirect states, -R, -C only") {
  auto c = base();
  c.expect = {"HTTP/1.1 200"};
  auto r = ok_response(200);  // status line "HTTP/1.1 200 Whatever"
  CHECK(check_http::evaluate(c, r, 0).state == State::kOk);
  r.status_line = "HTTP/1.0 200 OK";
  CHECK(check_http::evaluate(c, r, 0).state == State::kCritical);
  c.expect = {"200 OK,204"};
  CHECK(check_http::evaluate(c, r, 0).state == State::kOk);

  c = base();
  r = ok_response(302);
  r.redirect_url = "http://127.0.0.1/login";
  CHECK(check_http::evaluate(c, r, 0).state == State::kCritical);
  c.on_redirect = config::OnRedirect::kOk;
  CHECK(check_http::evaluate(c, r, 0).state == State::kOk);
  c.on_redirect = config::OnRedirect::kWarning;
  CHECK(check_http::evaluate(c, r, 0).state == State::kWarning);
  r = ok_response(404);  // -f is about redirects only
  CHECK(check_http::evaluate(c, r, 0).state == State::kCritical);

  c = base();
  c.body_regex = "HELLO";
  CHECK(check_http::evaluate(c, ok_response(), 0).state == State::kCritical);
  c.body_regex_icase = true;
  CHECK(check_http::evaluate(c, ok_response(), 0).state == State::kOk);

  // check_http -C 30,14: valid for 30 days or fewer is WARNING, 14 or fewer CRITICAL; the
  // answer's status is not judged.
  c = base();
  c.cert_warning_days = 30;
  c.cert_critical_days = 14;
  c.certificate_only = true;
  const std::int64_t now = 1'800'000'000, day = 86400;
  r = ok_response(500);
  r.cert_not_after = now + 31 * day;
  CHECK(check_http::evaluate(c, r, now).state == State::kOk);
  r.cert_not_after = now + 30 * day + 10;
  CHECK(check_http::evaluate(c, r, now).state == State::kWarning);
  r.cert_not_after = now + 14 * day + 10;
  CHECK(check_http::evaluate(c, r, now).state == State::kCritical);
  c.certificate_only = false;
  r.cert_not_after = now + 90 * day;
  CHECK(check_http::evaluate(c, r, now).state == State::kCritical);  // 500 judged again
}
