// Small file-system helpers shared by the trace writer and reader. Each one
// reports the failing call's errno: on a full disk or a file size limit the
// recording must stop with an error, never lose data silently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

#include "common/error.h"
#include "common/scoped_fd.h"

namespace rrl::trace {

// write(2) until everything is written; EINTR and short writes are retried.
Status write_all(int fd, std::span<const uint8_t> data, const std::string& path);
// fsync a file or directory by path.
Status fsync_path(const std::string& path);
// close(2) that reports its error (NFS and some file systems report write
// errors only there).
Status close_checked(ScopedFd& fd, const std::string& path);
// mkdir -p: every missing component is created with `mode`.
Status make_dirs(const std::string& path, mode_t mode);
// Copies all of `src` (at offset 0) into the empty `dst`: a reflink
// (FICLONE) where the file system shares blocks, else copy_file_range, else
// read/write. `dst_path` names the destination in errors.
Status copy_contents(int src, int dst, const std::string& dst_path);
// True when `path` exists and is a directory (following symlinks).
bool is_directory(const std::string& path);

}  // namespace rrl::trace
