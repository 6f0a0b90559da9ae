#include "trace/fs_util.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace rrl::trace {

Status write_all(int fd, std::span<const uint8_t> data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("cannot write " + path);
    }
    // write(2) returning 0 for a non-empty buffer means the device took nothing.
    if (n == 0) return fail_errno("cannot write " + path, EIO);
    data = data.subspan(static_cast<size_t>(n));
  }
  return {};
}

Status fsync_path(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("cannot open " + path + " to sync it");
  if (::fsync(fd.get()) != 0) return fail_errno("cannot sync " + path);
  return close_checked(fd, path);
}

Status close_checked(ScopedFd& fd, const std::string& path) {
  // No retry on EINTR: on Linux the descriptor is released either way.
  if (::close(fd.release()) != 0 && errno != EINTR) return fail_errno("cannot close " + path);
  return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return fail("empty directory name");
  size_t pos = 0;
  do {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
      return fail_errno("cannot create directory " + prefix);
  } while (pos != std::string::npos);
  if (!is_directory(path)) return fail(path + " exists and is not a directory");
  return {};
}

namespace {

// Errors with which copy_file_range says "not between these two files", as
// opposed to a real failure such as ENOSPC or EIO.
bool copy_range_unsupported(int err) {
  return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == EBADF;
}

Status read_write_copy(int src, int dst, const std::string& dst_path) {
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(src, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("cannot read the source of " + dst_path);
    if (n == 0) return {};
    RRL_TRY(write_all(dst, std::span(buf).first(static_cast<size_t>(n)), dst_path));
  }
}

}  // namespace

Status copy_contents(int src, int dst, const std::string& dst_path) {
  if (::ioctl(dst, FICLONE, src) == 0) return {};
  for (;;) {
    ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, size_t{1} << 30, 0);
    if (n > 0) continue;
    if (n == 0) return {};
    if (errno == EINTR) continue;
    // Both offsets have advanced by what was copied, so read/write resumes there.
    if (copy_range_unsupported(errno)) return read_write_copy(src, dst, dst_path);
    return fail_errno("cannot copy into " + dst_path);
  }
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace rrl::trace
