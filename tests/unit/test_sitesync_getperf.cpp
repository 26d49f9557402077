// sitesync's getperf part: archive names, time-directory normalisation, extraction of real
// zip archives built here with libzip (hostile ones refused, nothing written outside the
// target), the purge plan, and the private per-user lock directories.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <fstream>

#include "helper/support.hpp"
#include "sitesync/getperf.hpp"
#include "sitesync/joblock.hpp"

using namespace hakit;
using namespace hakit::sitesync;
using hakit::test::TempDir;

namespace {

struct Entry {
  std::string name;
  std::string data;
  mode_t mode = S_IFREG | 0644;
};

// A real zip file at `path` with `entries` (deflated).
void make_zip(const std::string& path, const std::vector<Entry>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  REQUIRE(z);
  for (const auto& e : entries) {
    zip_int64_t i;
    if (S_ISDIR(e.mode)) {
      i = zip_dir_add(z, e.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      // libzip copies the buffer when the archive is written: keep it alive until close.
      zip_source_t* src = zip_source_buffer(z, e.data.data(), e.data.size(), 0);
      i = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_UTF_8);
    }
    REQUIRE(i >= 0);
    REQUIRE(zip_file_set_external_attributes(z, static_cast<zip_uint64_t>(i), 0, ZIP_OPSYS_UNIX,
                                             static_cast<zip_uint32_t>(e.mode) << 16) == 0);
  }
  REQUIRE(zip_close(z) == 0);
}

std::vector<std::string> tree(const std::string& root) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(root))
    out.push_back(e.path().lexically_relative(root).string() + (e.is_directory() ? "/" : ""));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("getperf archive names: agent, category, date, time; other names ignored") {
  auto a = parse_archive_name("arc_t00051900cap04__VSPP_20141003_1350.zip");
  REQUIRE(a);
  CHECK(a->agent == "t00051900cap04");
  CHECK(a->category == "VSPP");
  CHECK(a->date == "20141003");
  CHECK(a->time == "1350");
  // Non-greedy like getperf's regex: the agent ends at the first "__".
  a = parse_archive_name("arc_host_a__Linux_conf_20150619_141600.zip");
  REQUIRE(a);
  CHECK(a->agent == "host_a");
  CHECK(a->category == "Linux_conf");
  CHECK_FALSE(parse_archive_name("arc_host__Linux_20150619_1416.zip.tmp"));
  CHECK_FALSE(parse_archive_name("host__Linux_20150619_1416.zip"));
  CHECK_FALSE(parse_archive_name("arc_..__Linux_20150619_1416.zip"));
  CHECK_FALSE(parse_archive_name("arc_.hidden__Linux_20150619_1416.zip"));
}

TEST_CASE("getperf time directories: HHMM and YYYYMMDD_HHMM become YYYYMMDD/HHMM00") {
  CHECK(normalise_time_dirs("MSSQL/20150619/1416/stat.txt") == "MSSQL/20150619/141600/stat.txt");
  CHECK(normalise_time_dirs("HW/20150619_1457/vmstat.txt") == "HW/20150619/145700/vmstat.txt");
  CHECK(normalise_time_dirs("HW/20150619_1457/sub/x.txt") == "HW/20150619/145700/sub/x.txt");
  // Already normalised, or not a time layout: unchanged.
  CHECK(normalise_time_dirs("HW/20150619/145700/vmstat.txt") == "HW/20150619/145700/vmstat.txt");
  CHECK(normalise_time_dirs("HW/notes/1416/x.txt") == "HW/notes/1416/x.txt");
  CHECK(normalise_time_dirs("HW/20150619/1416") == "HW/20150619/1416");        // a file, not a dir
  CHECK(normalise_time_dirs("20150619_1457/x.txt") == "20150619_1457/x.txt");  // no category
}

TEST_CASE("getperf extraction: layout, normalisation, overwrite, dot files, no leftovers") {
  TempDir d;
  std::string zip = d / "arc_host1__Linux_20150619_1416.zip";
  make_zip(zip, {{"Linux/", "", S_IFDIR | 0755},
                 {"Linux/20150619/1416/vmstat.txt", "vm 1\n"},
                 {"Linux/20150619/1416/nested/df.txt", "df\n"},
                 {"Linux/20150619_1417/iostat.txt", "io\n"},
                 {".getperf_stamp", "x"}});
  std::string agent = d / "analysis/host1";
  std::vector<std::string> files;
  std::string err;
  REQUIRE_MESSAGE(extract_archive(zip, agent, {}, &files, &err), err);
  CHECK(files == std::vector<std::string>{"Linux/20150619/141600/vmstat.txt",
                                          "Linux/20150619/141600/nested/df.txt",
                                          "Linux/20150619/141700/iostat.txt"});
  CHECK(tree(agent) == std::vector<std::string>{
                           ".getperf_stamp", "Linux/", "Linux/20150619/", "Linux/20150619/141600/",
                           "Linux/20150619/141600/nested/", "Linux/20150619/141600/nested/df.txt",
                           "Linux/20150619/141600/vmstat.txt", "Linux/20150619/141700/",
                           "Linux/20150619/141700/iostat.txt"});
  CHECK(test::slurp(agent + "/Linux/20150619/141600/vmstat.txt") == "vm 1\n");
  // unzip -o: a second archive with the same file replaces it.
  make_zip(zip, {{"Linux/20150619/1416/vmstat.txt", "vm 2\n"}});
  REQUIRE_MESSAGE(extract_archive(zip, agent, {}, &files, &err), err);
  CHECK(test::slurp(agent + "/Linux/20150619/141600/vmstat.txt") == "vm 2\n");
  // A killed run's hidden directory is swept by the next run.
  std::filesystem::create_directories(agent + "/" + kExtractPrefix + "abc123");
  std::ofstream(agent + "/" + kExtractPrefix + "abc123/0") << "half";
  remove_stale_extractions(d / "analysis");
  CHECK_FALSE(std::filesystem::exists(agent + "/" + kExtractPrefix + "abc123"));
}

TEST_CASE("getperf extraction: hostile archives are refused and write nothing") {
  TempDir d;
  std::string agent = d / "analysis/host1";
  std::filesystem::create_directories(d / "outside");
  struct Case {
    const char* what;
    std::vector<Entry> entries;
    const char* expect;
  };
  std::string bomb(8 << 20, '\0');
  std::vector<Case> cases = {
      {"dot-dot", {{"Linux/ok.txt", "ok"}, {"../../outside/evil.txt", "x"}}, "'..'"},
      {"absolute", {{"/tmp/evil.txt", "x"}}, "absolute"},
      {"symlink", {{"Linux/link", "/etc/passwd", S_IFLNK | 0777}}, "symbolic link"},
      {"device", {{"Linux/fifo", "", S_IFIFO | 0644}}, "not a regular file"},
      {"ratio bomb", {{"Linux/zeros.bin", bomb}}, "zip bomb"},
      {"file and dir", {{"Linux/a", "1"}, {"Linux/a/b", "2"}}, "both a file and a directory"},
      {"normalised duplicate",
       {{"Linux/20150619/1416/x.txt", "1"}, {"Linux/20150619_1416/x.txt", "2"}},
       "a second entry"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    std::string zip = d / "arc_host1__Linux_20150619_1416.zip";
    make_zip(zip, c.entries);
    std::vector<std::string> files;
    std::string err;
    CHECK_FALSE(extract_archive(zip, agent, {}, &files, &err));
    CHECK(err.find(c.expect) != std::string::npos);
    CHECK(err.find("refused") != std::string::npos);
    CHECK(files.empty());
    CHECK((!std::filesystem::exists(agent) || tree(agent).empty()));
    CHECK(tree(d / "outside").empty());
  }
  // Over the size limit.
  std::string zip = d / "arc_host1__Linux_20150619_1416.zip";
  make_zip(zip, {{"Linux/big.txt", std::string(4096, 'x')}});
  ExtractLimits small;
  small.max_entry_size = 1000;
  std::vector<std::string> files;
  std::string err;
  CHECK_FALSE(extract_archive(zip, agent, small, &files, &err));
  CHECK(err.find("more than the limit 1000") != std::string::npos);
  // Not a zip at all.
  std::ofstream(zip) << "not a zip";
  CHECK_FALSE(extract_archive(zip, agent, {}, &files, &err));
  CHECK(err.find("not a readable zip archive") != std::string::npos);
}

TEST_CASE("getperf extraction: a symlink planted in the analysis tree is not followed") {
  TempDir d;
  std::string agent = d / "analysis/host1";
  std::filesystem::create_directories(agent);
  std::filesystem::create_directories(d / "outside");
  std::filesystem::create_directory_symlink(d / "outside", agent + "/Linux");
  std::string zip = d / "arc_host1__Linux_20150619_1416.zip";
  make_zip(zip, {{"Linux/20150619/1416/x.txt", "x"}});
  std::vector<std::string> files;
  std::string err;
  CHECK_FALSE(extract_archive(zip, agent, {}, &files, &err));
  CHECK(err.find("not followed") != std::string::npos);
  CHECK(tree(d / "outside").empty());
  // No staging directory is left behind either.
  CHECK(tree(agent) == std::vector<std::string>{"Linux/"});  // the link, not followed
}

TEST_CASE("getperf purge: date and time directories older than the cut-off, as Purge.pm") {
  TempDir d;
  for (const char* p :
       {"a/Linux/20150618/235900", "a/Linux/20150619/120000", "a/Linux/20150619/130000",
        "a/Linux/20150619/140000", "a/Linux/20150620/000000", "b/HW/20150619/125959",
        "b/HW/notes/000000", "b/HW/20150619/junk"})
    std::filesystem::create_directories(d / p);
  PurgePlan plan = plan_purge(d.path(), {"20150619", "130000"});
  std::vector<std::string> rel;
  for (const auto& p : plan.remove) rel.push_back(std::filesystem::relative(p, d.path()).string());
  std::sort(rel.begin(), rel.end());
  CHECK(rel == std::vector<std::string>{"a/Linux/20150618", "a/Linux/20150619/120000",
                                        "b/HW/20150619/125959"});
  CHECK(plan.kept == 3);  // 130000, 140000, 20150620
  std::string err;
  REQUIRE(apply_purge(plan, &err));
  CHECK_FALSE(std::filesystem::exists(d / "a/Linux/20150618"));
  CHECK(std::filesystem::exists(d / "a/Linux/20150619/130000"));
  CHECK(std::filesystem::exists(d / "b/HW/notes/000000"));  // not a date: never touched

  // The cut-off is now minus the retention, in local time.
  std::tm tm{};
  tm.tm_year = 115;
  tm.tm_mon = 5;
  tm.tm_mday = 19;
  tm.tm_hour = 14;
  tm.tm_min = 16;
  tm.tm_isdst = -1;
  PurgeCutoff c = purge_cutoff(std::mktime(&tm), 3600);
  CHECK(c.date == "20150619");
  CHECK(c.time == "131600");
}

TEST_CASE("sitesync lock directories: per user, 0700, owned, the fallback really used") {
  TempDir d;
  chmod(d.path().c_str(), 0755);  // uid 65534 below must reach its fallback in here
  std::string run = d / "run";
  mkdir(run.c_str(), 0755);
  CHECK(lock_dir_candidates(run, 0).front() == run + "/sitesync");
  CHECK(lock_dir_candidates(run, 1000).front() == run + "/sitesync-1000");
  std::string err;
  auto dir = private_lock_dir(run, 0, &err);
  REQUIRE(dir);
  struct stat st {};
  REQUIRE(stat(dir->c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // An old 0755 directory of ours is tightened.
  chmod(dir->c_str(), 0755);
  REQUIRE(private_lock_dir(run, 0, &err));
  REQUIRE(stat(dir->c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // A directory of another user is refused; a symlink is refused.
  std::string other = d / "other";
  mkdir(other.c_str(), 0700);
  REQUIRE(chown(other.c_str(), 65534, 65534) == 0);
  CHECK_FALSE(ensure_private_dir(other, 0, &err));
  CHECK(err.find("belongs to uid 65534") != std::string::npos);
  std::string link = d / "link";
  symlink(other.c_str(), link.c_str());
  CHECK_FALSE(ensure_private_dir(link, 0, &err));
  CHECK(err.find("not a directory") != std::string::npos);
  // A user who cannot write run_dir gets the fallback under TMPDIR, really.
  std::string tmp = d / "tmp";
  mkdir(tmp.c_str(), 01777);
  chmod(tmp.c_str(), 01777);
  setenv("TMPDIR", tmp.c_str(), 1);
  int rc = test::run_as_uid(65534, [&] {
    std::string e;
    auto got = private_lock_dir(run, 65534, &e);
    return got && *got == tmp + "/hakit-sitesync-65534" ? 0 : 1;
  });
  unsetenv("TMPDIR");
  CHECK(rc == 0);
  REQUIRE(stat((tmp + "/hakit-sitesync-65534").c_str(), &st) == 0);
  CHECK(st.st_uid == 65534u);
  CHECK((st.st_mode & 0777) == 0700);
}
