// Outputs of ioctl(fd, cmd, arg).
//
// Modern commands encode their direction and argument size in the command
// (_IOR/_IOWR), so "the kernel writes _IOC_SIZE bytes at arg" covers them.
// Terminal, socket and a few file commands predate that encoding: they carry
// no direction, so they are listed by hand. A command without direction that
// is not listed here may write anything, so its outputs are unknown.
#include <asm/termbits.h>  // the kernel's struct termios (glibc's is larger)
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <cstddef>

#include "common/syscall_table.h"

namespace rrl::syscalls::detail {
namespace {

constexpr uint64_t kKernelTermiosSize = 36;  // 4 tcflag_t, c_line, c_cc[19]
constexpr uint64_t kTermioSize = 18;
constexpr uint64_t kIfreqSize = 40;
static_assert(sizeof(struct termios) == kKernelTermiosSize);
static_assert(sizeof(struct termio) == kTermioSize);

struct LegacyIoctl {
  uint32_t cmd;
  uint32_t len;  // bytes written at arg; 0: none
};

// Commands without direction bits whose effect on memory is known.
constexpr auto kLegacyIoctls = std::to_array<LegacyIoctl>({
    {TCGETS, kKernelTermiosSize},
    {TIOCGLCKTRMIOS, kKernelTermiosSize},
    {TCGETA, kTermioSize},
    {TIOCGWINSZ, 8},
    {FIONREAD, 4},  // also TIOCINQ and SIOCINQ
    {TIOCOUTQ, 4},  // also SIOCOUTQ
    {TIOCGPGRP, 4},
    {TIOCGSID, 4},
    {TIOCGETD, 4},
    {TIOCMGET, 4},
    {TIOCGSOFTCAR, 4},
    {FIOQSIZE, 8},  // loff_t
    {FIGETBSZ, 4},
    {FIBMAP, 4},
    {SIOCGPGRP, 4},
    {SIOCATMARK, 4},
    {SIOCGSTAMP, 16},    // struct timeval
    {SIOCGSTAMPNS, 16},  // struct timespec
    {SIOCGIFNAME, kIfreqSize},
    {SIOCGIFFLAGS, kIfreqSize},
    {SIOCGIFADDR, kIfreqSize},
    {SIOCGIFDSTADDR, kIfreqSize},
    {SIOCGIFBRDADDR, kIfreqSize},
    {SIOCGIFNETMASK, kIfreqSize},
    {SIOCGIFMETRIC, kIfreqSize},
    {SIOCGIFMTU, kIfreqSize},
    {SIOCGIFHWADDR, kIfreqSize},
    {SIOCGIFINDEX, kIfreqSize},
    {SIOCGIFPFLAGS, kIfreqSize},
    {SIOCGIFTXQLEN, kIfreqSize},
    {SIOCGIFMAP, kIfreqSize},
    // Commands that write no memory.
    {TCSETS, 0},
    {TCSETSW, 0},
    {TCSETSF, 0},
    {TCSETA, 0},
    {TCSETAW, 0},
    {TCSETAF, 0},
    {TCSBRK, 0},
    {TCSBRKP, 0},
    {TCXONC, 0},
    {TCFLSH, 0},
    {TIOCEXCL, 0},
    {TIOCNXCL, 0},
    {TIOCSCTTY, 0},
    {TIOCNOTTY, 0},
    {TIOCSPGRP, 0},
    {TIOCSTI, 0},
    {TIOCSWINSZ, 0},
    {TIOCMBIS, 0},
    {TIOCMBIC, 0},
    {TIOCMSET, 0},
    {TIOCSSOFTCAR, 0},
    {TIOCCONS, 0},
    {TIOCSETD, 0},
    {TIOCSBRK, 0},
    {TIOCCBRK, 0},
    {TIOCSLCKTRMIOS, 0},
    {TIOCVHANGUP, 0},
    {TIOCPKT, 0},
    {TIOCGPTPEER, 0},
    {FIONBIO, 0},
    {FIOASYNC, 0},
    {FIOCLEX, 0},
    {FIONCLEX, 0},
    {SIOCSPGRP, 0},
    {SIOCSIFFLAGS, 0},
    {SIOCSIFMTU, 0},
});

// SIOCGIFCONF fills ifc_buf and stores the length used in ifc_len.
void siocgifconf(Call& c) {
  struct Ifconf {
    int32_t len;
    int32_t pad;
    uint64_t buf;
  };
  static_assert(sizeof(Ifconf) == sizeof(struct ifconf));
  c.add(c.arg(2), sizeof(Ifconf));
  auto conf = c.read<Ifconf>(c.arg(2));
  if (!conf) return c.unknown();
  c.add(conf->buf, static_cast<uint64_t>(std::max(conf->len, 0)));
}

// FS_IOC_FIEMAP writes the header and fm_mapped_extents extents after it.
void fiemap(Call& c) {
  auto mapped = c.read<uint32_t>(c.arg(2) + offsetof(struct fiemap, fm_mapped_extents));
  if (!mapped) return c.unknown();
  c.add(c.arg(2), sizeof(struct fiemap) + uint64_t{*mapped} * sizeof(struct fiemap_extent));
}

// Commands that declare a size other than what the kernel writes.
bool special_ioctl(Call& c, uint32_t cmd) {
  switch (cmd) {
    case SIOCGIFCONF:
      siocgifconf(c);
      return true;
    case FS_IOC_FIEMAP:
      fiemap(c);
      return true;
    // Declared with `long` but the kernel stores an int: the caller's buffer
    // may well be 4 bytes.
    case FS_IOC_GETFLAGS:
    case FS_IOC_GETVERSION:
      c.add(c.arg(2), 4);
      return true;
    default:
      return false;
  }
}

}  // namespace

void ioctl_outputs(Call& c) {
  auto cmd = static_cast<uint32_t>(c.arg(1));  // the kernel takes an unsigned int
  if (special_ioctl(c, cmd)) return;
  auto legacy = std::ranges::find(kLegacyIoctls, cmd, &LegacyIoctl::cmd);
  if (legacy != kLegacyIoctls.end()) return c.add(c.arg(2), legacy->len);
  uint32_t dir = _IOC_DIR(cmd);
  if (dir & _IOC_READ) return c.add(c.arg(2), _IOC_SIZE(cmd));
  if (dir == _IOC_NONE) c.unknown();
}

}  // namespace rrl::syscalls::detail
