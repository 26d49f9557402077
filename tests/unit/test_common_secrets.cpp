// Secret files: safe permissions only, owner root or us, symlinks owned by root or us,
// and refusals that say the fix.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include "common/secrets.hpp"
#include "helper/support.hpp"

using namespace hakit;
using hakit::test::TempDir;
using hakit::test::contains;

TEST_CASE("secrets: the first line of a 0600 file is the secret") {
  TempDir dir;
  std::string p = dir.write("pass", "s3cret pass\nsecond line\n", 0600);
  std::string err;
  auto s = read_secret_file(p, &err);
  REQUIRE(s);
  CHECK(*s == "s3cret pass");
  CHECK(check_secret_file(p, &err));
  dir.write("crlf", "abc\r\n", 0400);
  CHECK(read_secret_file(dir / "crlf", &err) == "abc");
}

TEST_CASE("secrets: loose permissions are refused with the fix") {
  TempDir dir;
  std::string err;
  for (mode_t mode : {0640, 0604, 0660, 0644, 0666, 0610}) {
    std::string p = dir.write("pass", "x\n", mode);
    CAPTURE(mode);
    CHECK_FALSE(read_secret_file(p, &err));
    CHECK(contains(err, fmt::format("has mode {:04o}", mode)));
    CHECK(contains(err, "(fix: chmod 600 " + p + ")"));
    CHECK_FALSE(check_secret_file(p, &err));
  }
}

TEST_CASE("secrets: a file owned by another user is refused with the fix") {
  TempDir dir;
  std::string p = dir.write("pass", "x\n", 0600);
  REQUIRE(chown(p.c_str(), 4321, 4321) == 0);
  std::string err;
  CHECK_FALSE(read_secret_file(p, &err));
  CHECK(contains(err, "owned by uid 4321"));
  CHECK(contains(err, "fix: chown root:root " + p));
}

TEST_CASE("secrets: not a regular file, empty, missing") {
  TempDir dir;
  std::string err;
  CHECK_FALSE(read_secret_file(dir.path(), &err));
  CHECK(contains(err, "not a regular file"));
  std::string fifo = dir / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(read_secret_file(fifo, &err));  // must not block
  CHECK(contains(err, "not a regular file"));
  dir.write("empty", "", 0600);
  CHECK_FALSE(read_secret_file(dir / "empty", &err));
  CHECK(contains(err, "is empty"));
  dir.write("blankline", "\nsecond\n", 0600);
  CHECK_FALSE(read_secret_file(dir / "blankline", &err));
  CHECK_FALSE(read_secret_file(dir / "missing", &err));
  CHECK(contains(err, "No such file"));
}

TEST_CASE("secrets: symlinks owned by root are followed, others refused") {
  TempDir dir;
  std::string target = dir.write("pass", "pw\n", 0600);
  std::string link = dir / "link";
  REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
  std::string err;
  CHECK(read_secret_file(link, &err) == "pw");
  REQUIRE(lchown(link.c_str(), 4321, 4321) == 0);
  CHECK_FALSE(read_secret_file(link, &err));
  CHECK(contains(err, "symlink " + link + " is owned by uid 4321"));
  // A root-owned link pointing at someone else's link.
  std::string outer = dir / "outer";
  REQUIRE(symlink("link", outer.c_str()) == 0);
  CHECK_FALSE(check_secret_file(outer, &err));
  CHECK(contains(err, "is owned by uid 4321"));
  // A link to a loose file is as loose as the file.
  std::string loose = dir.write("loose", "pw\n", 0644);
  std::string l2 = dir / "l2";
  REQUIRE(symlink(loose.c_str(), l2.c_str()) == 0);
  CHECK_FALSE(read_secret_file(l2, &err));
  CHECK(contains(err, "has mode 0644"));
}

TEST_CASE("secrets: unreadable for the user who runs the tool") {
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  std::string p = dir.write("pass", "pw\n", 0600);
  int rc = hakit::test::run_as_uid(65534, [&] {
    std::string err;
    if (read_secret_file(p, &err)) return 1;
    return contains(err, "Permission denied") ? 0 : 2;
  });
  CHECK(rc == 0);
}

TEST_CASE("secrets: config checks allow a readable config without secrets") {
  TempDir dir;
  std::string p = dir.write("c.yaml", "a: 1\n", 0644);
  std::string err;
  CHECK(check_config_file(p, false, &err));
  CHECK_FALSE(check_config_file(p, true, &err));
  CHECK(contains(err, "holds a secret inline"));
  chmod(p.c_str(), 0664);
  CHECK_FALSE(check_config_file(p, false, &err));
  CHECK(contains(err, "chmod go-w"));
}

TEST_CASE("secrets: which config keys hold secrets") {
  CHECK(is_secret_key("password"));
  CHECK(is_secret_key("Password"));
  CHECK(is_secret_key("api_token"));
  CHECK(is_secret_key("webhook_secret"));
  CHECK(is_secret_key("Authorization"));
  CHECK_FALSE(is_secret_key("password_file"));
  CHECK_FALSE(is_secret_key("token_file"));
  CHECK_FALSE(is_secret_key("defaults_file"));
  CHECK_FALSE(is_secret_key("user"));
}
