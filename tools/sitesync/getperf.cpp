#include "sitesync/getperf.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

namespace hakit::sitesync {

namespace {

bool all_digits(const std::string& s, std::size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  std::istringstream in(path);
  while (std::getline(in, cur, '/')) parts.push_back(cur);
  return parts;
}

std::string join_path(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

// One entry of the archive, checked, and where it goes.
struct Planned {
  zip_uint64_t index = 0;
  std::string target;  // normalised, relative to the agent directory
  bool dir = false;
  std::uint64_t size = 0;
  std::time_t mtime = 0;
};

// Why an entry name is unsafe ("" = fine); *parts gets its components without "." ones.
std::string check_entry_name(const std::string& name, std::vector<std::string>* parts) {
  if (name.empty()) return "an empty name";
  if (name.front() == '/') return "an absolute path";
  if (name.find('\\') != std::string::npos) return "a backslash in the name";
  if (name.size() >= 2 && name[1] == ':') return "a drive letter";
  parts->clear();
  for (const auto& p : split_path(name)) {
    if (p.empty() || p == ".") continue;
    if (p == "..") return "a '..' component";
    parts->push_back(p);
  }
  if (parts->empty()) return "no file name";
  return "";
}

// Opens (creating when missing) each directory of `parts` below dirfd, never following a
// symlink. Returns the fd of the last one, -1 with *err on failure.
int open_dirs(int dirfd, const std::vector<std::string>& parts, std::size_t count, std::string* err,
              const std::string& shown) {
  int cur = dup(dirfd);
  if (cur < 0) {
    *err = fmt::format("{}: {}", shown, std::strerror(errno));
    return -1;
  }
  fcntl(cur, F_SETFD, FD_CLOEXEC);
  std::string path = shown;
  for (std::size_t i = 0; i < count; ++i) {
    path += "/" + parts[i];
    int next = openat(cur, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (mkdirat(cur, parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        *err = fmt::format("cannot create {}: {}", path, std::strerror(errno));
        close(cur);
        return -1;
      }
      next = openat(cur, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      *err = errno == ELOOP || errno == ENOTDIR
                 ? fmt::format("{} is not a directory (a symlink or a file); not followed", path)
                 : fmt::format("cannot open {}: {}", path, std::strerror(errno));
      close(cur);
      return -1;
    }
    close(cur);
    cur = next;
  }
  return cur;
}

// Reads entry `p` into a new file `name` of dirfd, refusing more bytes than announced.
bool write_entry(zip_t* z, const Planned& p, int dirfd, const std::string& name,
                 const ExtractLimits& limits, std::string* err) {
  zip_file_t* zf = zip_fopen_index(z, p.index, 0);
  if (!zf) {
    *err = fmt::format("{}: {}", p.target, zip_error_strerror(zip_get_error(z)));
    return false;
  }
  Fd out(openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (out.fd < 0) {
    *err = fmt::format("{}: {}", p.target, std::strerror(errno));
    zip_fclose(zf);
    return false;
  }
  static thread_local std::vector<char> buf(256 * 1024);
  std::uint64_t total = 0;
  bool ok = true;
  while (ok) {
    zip_int64_t n = zip_fread(zf, buf.data(), buf.size());
    if (n < 0) {
      *err = fmt::format("{}: {}", p.target, zip_error_strerror(zip_file_get_error(zf)));
      ok = false;
      break;
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    // The header's size can lie; what is inflated is what counts.
    if (total > p.size || total > limits.max_entry_size) {
      *err = fmt::format("{}: inflates past its announced size {} (a zip bomb?)", p.target, p.size);
      ok = false;
      break;
    }
    const char* d = buf.data();
    auto left = static_cast<std::size_t>(n);
    while (left > 0) {
      ssize_t w = write(out.fd, d, left);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        *err = fmt::format("{}: {}", p.target, std::strerror(errno));
        ok = false;
        break;
      }
      d += w;
      left -= static_cast<std::size_t>(w);
    }
  }
  zip_fclose(zf);
  if (ok && total != p.size) {
    *err = fmt::format("{}: {} bytes instead of the announced {}", p.target, total, p.size);
    ok = false;
  }
  if (ok && p.mtime > 0) {
    timespec ts[2] = {{p.mtime, 0}, {p.mtime, 0}};
    futimens(out.fd, ts);
  }
  return ok;
}

// Removes a staging directory and the files in it (it holds no subdirectories).
void remove_staging(int parent_fd, const std::string& name) {
  int fd = openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    DIR* d = fdopendir(fd);
    if (d) {
      while (dirent* e = readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
          unlinkat(fd, e->d_name, 0);
      closedir(d);
    } else {
      close(fd);
    }
  }
  unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
}

// Checks every entry of the archive and plans where it goes; "" when it may be extracted.
std::string plan_entries(zip_t* z, const ExtractLimits& limits, std::vector<Planned>* plan) {
  zip_int64_t n = zip_get_num_entries(z, 0);
  if (n < 0) return "cannot list the entries";
  if (static_cast<std::uint64_t>(n) > limits.max_entries)
    return fmt::format("{} entries, more than the limit {}", n, limits.max_entries);
  std::set<std::string> files, dirs;
  std::uint64_t total = 0;
  std::vector<std::string> parts;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
      return fmt::format("entry {}: {}", i, zip_error_strerror(zip_get_error(z)));
    std::string name = st.name;
    std::string why = check_entry_name(name, &parts);
    if (!why.empty()) return fmt::format("entry '{}': {}", name, why);
    Planned p;
    p.index = static_cast<zip_uint64_t>(i);
    p.dir = name.back() == '/';
    zip_uint8_t opsys = 0;
    zip_uint32_t attr = 0;
    if (zip_file_get_external_attributes(z, p.index, 0, &opsys, &attr) == 0 &&
        opsys == ZIP_OPSYS_UNIX) {
      // Only the type bits matter; many writers (python's zipfile) leave them 0 for files.
      mode_t mode = static_cast<mode_t>(attr >> 16);
      if (S_ISLNK(mode)) return fmt::format("entry '{}': a symbolic link", name);
      if ((mode & S_IFMT) != 0 && !S_ISREG(mode) && !S_ISDIR(mode))
        return fmt::format("entry '{}': not a regular file or directory", name);
      if (S_ISDIR(mode)) p.dir = true;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      return fmt::format("entry '{}': encrypted", name);
    p.target = normalise_time_dirs(join_path(parts));
    if (p.dir) {
      dirs.insert(p.target);
      plan->push_back(p);
      continue;
    }
    p.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    p.mtime = (st.valid & ZIP_STAT_MTIME) ? st.mtime : 0;
    std::uint64_t comp = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0;
    if (p.size > limits.max_entry_size)
      return fmt::format("entry '{}': {} bytes, more than the limit {}", name, p.size,
                         limits.max_entry_size);
    if (p.size > limits.ratio_min_size &&
        static_cast<double>(p.size) >
            limits.max_ratio * static_cast<double>(std::max<std::uint64_t>(comp, 1)))
      return fmt::format("entry '{}': compressed {} times (a zip bomb?), more than {}", name,
                         p.size / std::max<std::uint64_t>(comp, 1), limits.max_ratio);
    total += p.size;
    if (total > limits.max_total_size)
      return fmt::format("more than {} bytes extracted in all", limits.max_total_size);
    if (!files.insert(p.target).second)
      return fmt::format("entry '{}': a second entry for {}", name, p.target);
    plan->push_back(p);
  }
  // A name that is both a file and a directory (of another entry) cannot be extracted.
  for (const auto& f : files) {
    auto sub = files.lower_bound(f + "/");
    if (dirs.count(f) || (sub != files.end() && sub->rfind(f + "/", 0) == 0))
      return fmt::format("'{}' is both a file and a directory", f);
  }
  return "";
}

}  // namespace

std::optional<ArchiveName> parse_archive_name(const std::string& file_name) {
  static const std::regex re(R"(^arc_(.+?)__(.+?)_(\d+?)_(\d+?)\.zip$)");
  std::smatch m;
  if (!std::regex_match(file_name, m, re)) return std::nullopt;
  ArchiveName a{m[1], m[2], m[3], m[4]};
  if (a.agent.front() == '.' || a.agent.find('/') != std::string::npos) return std::nullopt;
  return a;
}

std::string normalise_time_dirs(const std::string& path) {
  std::vector<std::string> parts = split_path(path);
  // Only directories are renamed: the last component is the file.
  for (std::size_t i = 1; i + 2 < parts.size(); ++i) {
    if (all_digits(parts[i], 8) && all_digits(parts[i + 1], 4)) {
      parts[i + 1] += "00";
      return join_path(parts);
    }
  }
  for (std::size_t i = 1; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.size() == 13 && p[8] == '_' && all_digits(p.substr(0, 8), 8) &&
        all_digits(p.substr(9), 4)) {
      std::string date = p.substr(0, 8), time = p.substr(9) + "00";
      parts[i] = date;
      parts.insert(parts.begin() + static_cast<long>(i) + 1, time);
      return join_path(parts);
    }
  }
  return path;
}

bool extract_archive(const std::string& zip_path, const std::string& agent_dir,
                     const ExtractLimits& limits, std::vector<std::string>* files,
                     std::string* err) {
  files->clear();
  int zerr = 0;
  ZipPtr z(zip_open(zip_path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &zerr));
  if (!z) {
    zip_error_t e;
    zip_error_init_with_code(&e, zerr);
    // libzip itself refuses an archive that names one entry twice.
    *err = zerr == ZIP_ER_EXISTS
               ? fmt::format("{}: refused: a second entry with the same name; nothing extracted",
                             zip_path)
               : fmt::format("{}: refused: not a readable zip archive: {}; nothing extracted",
                             zip_path, zip_error_strerror(&e));
    zip_error_fini(&e);
    return false;
  }
  std::vector<Planned> plan;
  std::string why = plan_entries(z.get(), limits, &plan);
  if (!why.empty()) {
    *err = fmt::format("{}: refused: {}; nothing extracted", zip_path, why);
    return false;
  }
  std::string mk;
  if (!std::filesystem::exists(agent_dir)) {
    std::error_code ec;
    std::filesystem::create_directories(agent_dir, ec);
  }
  Fd root(open(agent_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root.fd < 0) {
    *err = fmt::format("{}: {}", agent_dir, std::strerror(errno));
    return false;
  }
  // Everything is inflated beside the targets first (same filesystem: rename is atomic).
  std::string tmpl = agent_dir + "/" + kExtractPrefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    *err = fmt::format("cannot create a directory in {}: {}", agent_dir, std::strerror(errno));
    return false;
  }
  std::string staging_name = std::filesystem::path(buf.data()).filename().string();
  Fd staging(
      openat(root.fd, staging_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  bool ok = staging.fd >= 0;
  if (!ok) *err = fmt::format("{}: {}", buf.data(), std::strerror(errno));
  for (std::size_t i = 0; ok && i < plan.size(); ++i)
    if (!plan[i].dir)
      ok = write_entry(z.get(), plan[i], staging.fd, std::to_string(i), limits, err);
  if (ok) {
    for (std::size_t i = 0; ok && i < plan.size(); ++i) {
      std::vector<std::string> parts = split_path(plan[i].target);
      std::size_t dir_count = plan[i].dir ? parts.size() : parts.size() - 1;
      int dfd = open_dirs(root.fd, parts, dir_count, err, agent_dir);
      if (dfd < 0) {
        ok = false;
        break;
      }
      if (!plan[i].dir) {
        if (renameat(staging.fd, std::to_string(i).c_str(), dfd, parts.back().c_str()) != 0) {
          *err = fmt::format("cannot put {}/{} in place: {}", agent_dir, plan[i].target,
                             std::strerror(errno));
          ok = false;
        } else if (parts.back().front() != '.' && plan[i].target.front() != '.') {
          files->push_back(plan[i].target);
        }
      }
      close(dfd);
    }
  }
  remove_staging(root.fd, staging_name);
  if (!ok) *err = fmt::format("{}: {}", zip_path, *err);
  return ok;
}

void remove_stale_extractions(const std::string& analysis_dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator a(analysis_dir, ec), end; !ec && a != end;
       a.increment(ec)) {
    if (!a->is_directory(ec) || a->is_symlink(ec)) continue;
    Fd dir(open(a->path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.fd < 0) continue;
    std::error_code ec2;
    for (std::filesystem::directory_iterator e(a->path(), ec2); !ec2 && e != end;
         e.increment(ec2)) {
      std::string name = e->path().filename().string();
      if (name.rfind(kExtractPrefix, 0) == 0) remove_staging(dir.fd, name);
    }
  }
}

PurgeCutoff purge_cutoff(std::time_t now, std::int64_t retention_seconds) {
  std::time_t t = now - static_cast<std::time_t>(retention_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char date[16], time[16];
  std::strftime(date, sizeof date, "%Y%m%d", &tm);
  std::strftime(time, sizeof time, "%H%M%S", &tm);
  return {date, time};
}

PurgePlan plan_purge(const std::string& root, const PurgeCutoff& cutoff) {
  namespace fs = std::filesystem;
  PurgePlan plan;
  std::error_code ec;
  auto subdirs = [](const fs::path& p) {
    std::vector<fs::path> out;
    std::error_code e;
    for (fs::directory_iterator it(p, e), end; !e && it != end; it.increment(e)) {
      std::error_code e2;
      if (it->symlink_status(e2).type() == fs::file_type::directory) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  for (const auto& agent : subdirs(root)) {
    for (const auto& cat : subdirs(agent)) {
      for (const auto& date_dir : subdirs(cat)) {
        std::string date = date_dir.filename().string();
        if (!all_digits(date, 8)) continue;
        if (date < cutoff.date) {
          plan.remove.push_back(date_dir.string());
          continue;
        }
        if (date > cutoff.date) {
          ++plan.kept;
          continue;
        }
        for (const auto& time_dir : subdirs(date_dir)) {
          std::string time = time_dir.filename().string();
          if (!all_digits(time, 6)) continue;
          if (time < cutoff.time)
            plan.remove.push_back(time_dir.string());
          else
            ++plan.kept;
        }
      }
    }
  }
  return plan;
}

bool apply_purge(const PurgePlan& plan, std::string* err) {
  for (const auto& p : plan.remove) {
    std::error_code ec;
    std::filesystem::remove_all(p, ec);  // removes symlinks inside, never follows them
    if (ec) {
      *err = fmt::format("cannot remove {}: {}", p, ec.message());
      return false;
    }
  }
  return true;
}

}  // namespace hakit::sitesync
