#include "trace/trace_dir.h"

#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "trace/fs_util.h"

namespace rrl::trace {

namespace {

constexpr const char* kLatestLink = "latest-trace";

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string home_dir() {
  if (auto home = env_or_empty("HOME"); !home.empty()) return home;
  // No $HOME (some CI jobs and daemons): ask the password database.
  if (passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return ".";
}

// Replay runs the program in another working directory: a relative trace
// path given by the user would name nothing there.
std::string absolute(const std::string& path) {
  if (path.starts_with('/')) return path;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

}  // namespace

std::string default_trace_root() {
  if (auto dir = env_or_empty("RR_LIKE_TRACE_DIR"); !dir.empty()) return dir;
  // The XDG spec says to ignore a relative $XDG_DATA_HOME.
  if (auto xdg = env_or_empty("XDG_DATA_HOME"); xdg.starts_with('/')) return xdg + "/rr-like";
  return home_dir() + "/.local/share/rr-like";
}

Expected<std::string> resolve_trace_dir(std::optional<std::string> name) {
  std::string root = default_trace_root();
  if (name && name->empty()) return fail("an empty trace name was given");
  if (name) {
    if (is_directory(*name)) return absolute(*name);
    std::string in_root = absolute(root) + "/" + *name;
    if (name->find('/') == std::string::npos && is_directory(in_root)) return in_root;
    return fail("no trace named " + *name + " (looked in " + root + ")");
  }
  std::string link = root + "/" + kLatestLink;
  char target[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  if (n < 0 && errno == ENOENT)
    return fail("no traces yet in " + root + ": record one with `rr-like record PROG`");
  if (n < 0) return fail_errno("cannot read the link " + link);
  std::string dir(target, static_cast<size_t>(n));
  if (!dir.starts_with('/')) dir = absolute(root) + "/" + dir;
  if (!is_directory(dir))
    return fail("the latest trace " + dir + " no longer exists; name a trace (see `rr-like ls`)");
  return dir;
}

Expected<std::string> make_trace_dir_name(const std::string& root,
                                          const std::string& exe_basename) {
  RRL_TRY(make_dirs(root, 0700));
  std::string base = exe_basename.empty() ? "trace" : exe_basename;
  for (char& c : base) {
    if (c == '/') c = '_';
  }
  for (unsigned n = 0; n < 1000000; ++n) {
    std::string dir = root + "/" + base + "-" + std::to_string(n);
    if (::mkdir(dir.c_str(), 0700) == 0) return dir;
    if (errno != EEXIST) return fail_errno("cannot create trace directory " + dir);
  }
  return fail("too many traces named " + base + "-N in " + root);
}

Status update_latest_link(const std::string& root, const std::string& dir) {
  // A relative link keeps working when the whole root is moved.
  std::string target = dir;
  std::string prefix = root + "/";
  if (dir.starts_with(prefix) && dir.find('/', prefix.size()) == std::string::npos)
    target = dir.substr(prefix.size());
  std::string link = root + "/" + kLatestLink;
  std::string tmp = root + "/." + kLatestLink + "." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return fail_errno("cannot create " + tmp);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail_errno("cannot replace " + link, err);
  }
  return {};
}

}  // namespace rrl::trace
