// Outputs of multiplexing syscalls, whose effect depends on a command
// argument: fcntl, prctl, arch_prctl, ptrace, System V IPC control, keyctl,
// quotactl, seccomp (ioctl has its own file). A command known to write
// nothing records nothing; a command whose outputs we cannot size is unknown.
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/quota.h>
#include <linux/seccomp.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/user.h>

#include <algorithm>
#include <array>

#include "common/syscall_table.h"

namespace rrl::syscalls::detail {
namespace {

// Kernel ABI sizes on x86-64 (glibc's structs mirror the kernel's here).
constexpr uint64_t kFlockSize = 32;
constexpr uint64_t kSiginfoSize = 128;
constexpr uint64_t kSemidSize = 104, kSeminfoSize = 40;
constexpr uint64_t kShmidSize = 112, kShminfoSize = 72, kShmInfoSize = 48;
constexpr uint64_t kMsqidSize = 120, kMsginfoSize = 32;
static_assert(sizeof(struct semid_ds) == kSemidSize && sizeof(struct seminfo) == kSeminfoSize);
static_assert(sizeof(struct shmid_ds) == kShmidSize && sizeof(struct shminfo) == kShminfoSize);
static_assert(sizeof(struct shm_info) == kShmInfoSize);
static_assert(sizeof(struct msqid_ds) == kMsqidSize && sizeof(struct msginfo) == kMsginfoSize);

// Newer than the build machine's headers; the values are ABI.
constexpr uint64_t kPrGetAuxv = 0x41555856;
constexpr uint64_t kArchGetUntagMask = 0x4001, kArchGetMaxTagBits = 0x4003;
constexpr uint64_t kArchShstkEnable = 0x5001, kArchShstkStatus = 0x5005;
constexpr uint64_t kArchForceTaggedSva = 0x4004;

void fcntl(Call& c) {
  constexpr uint64_t kGetRwHint = 1035, kGetFileRwHint = 1037;  // F_LINUX_SPECIFIC_BASE + 11, 13
  switch (c.arg(1)) {
    case F_GETLK:
    case F_OFD_GETLK:
      return c.add(c.arg(2), kFlockSize);
    case F_GETOWN_EX:
      return c.add(c.arg(2), sizeof(struct f_owner_ex));
    case kGetRwHint:
    case kGetFileRwHint:
      return c.add(c.arg(2), 8);
    default:
      return;  // the other commands return their answer in rax
  }
}

void prctl(Call& c) {
  switch (c.arg(0)) {
    case PR_GET_NAME:
      return c.add(c.arg(1), 16);
    case PR_GET_TID_ADDRESS:
      return c.add(c.arg(1), 8);
    case PR_GET_PDEATHSIG:
    case PR_GET_CHILD_SUBREAPER:
    case PR_GET_UNALIGN:
    case PR_GET_FPEMU:
    case PR_GET_FPEXC:
    case PR_GET_ENDIAN:
      return c.add(c.arg(1), 4);
    case PR_SET_MM:
      if (c.arg(1) == PR_SET_MM_MAP_SIZE) c.add(c.arg(2), 4);
      return;
    case PR_SCHED_CORE:
      if (c.arg(1) == PR_SCHED_CORE_GET) c.add(c.arg(4), 8);
      return;
    case kPrGetAuxv:
      return c.add(c.arg(1), std::min(c.result_len(), c.arg(2)));
    default:
      return;  // the other options read arguments or answer in rax
  }
}

void arch_prctl(Call& c) {
  uint64_t code = c.arg(0);
  switch (code) {
    case ARCH_GET_FS:
    case ARCH_GET_GS:
    case ARCH_GET_XCOMP_SUPP:
    case ARCH_GET_XCOMP_PERM:
    case ARCH_GET_XCOMP_GUEST_PERM:
    case kArchGetUntagMask:
    case kArchGetMaxTagBits:
    case kArchShstkStatus:
      return c.add(c.arg(1), 8);
    default:
      break;
  }
  bool writes_nothing = code == ARCH_SET_FS || code == ARCH_SET_GS || code == ARCH_GET_CPUID ||
                        code == ARCH_SET_CPUID || code == ARCH_REQ_XCOMP_PERM ||
                        code == ARCH_REQ_XCOMP_GUEST_PERM ||
                        (code >= ARCH_MAP_VDSO_X32 && code <= ARCH_MAP_VDSO_64) ||
                        (code > kArchGetUntagMask && code <= kArchForceTaggedSva) ||
                        (code >= kArchShstkEnable && code < kArchShstkStatus);
  if (!writes_nothing) c.unknown();
}

// ptrace(request, pid, addr, data): the tracee may itself be a debugger.
void ptrace_getregset(Call& c) {  // data is a struct iovec* whose iov_len is updated
  auto len = c.read<uint64_t>(c.arg(3) + 8);
  auto base = c.read<uint64_t>(c.arg(3));
  if (!len || !base) return c.unknown();
  c.add(c.arg(3), kIovecSize);
  c.add(*base, *len);
}

void ptrace(Call& c) {
  constexpr uint64_t kSockFilterSize = 8, kUserDescSize = 16;
  switch (c.arg(0)) {
    case PTRACE_PEEKTEXT:
    case PTRACE_PEEKDATA:
    case PTRACE_PEEKUSER:
    case PTRACE_GETEVENTMSG:
      return c.add(c.arg(3), 8);
    case PTRACE_GETREGS:
      return c.add(c.arg(3), sizeof(struct user_regs_struct));
    case PTRACE_GETFPREGS:
      return c.add(c.arg(3), sizeof(struct user_fpregs_struct));
    case PTRACE_GETSIGINFO:
      return c.add(c.arg(3), kSiginfoSize);
    case PTRACE_GETREGSET:
      return ptrace_getregset(c);
    case PTRACE_GETSIGMASK:
      return c.add(c.arg(3), c.arg(2));
    case PTRACE_PEEKSIGINFO:
      return c.add(c.arg(3), c.result_len() * kSiginfoSize);
    case PTRACE_SECCOMP_GET_FILTER:
      return c.add(c.arg(3), c.result_len() * kSockFilterSize);
    case PTRACE_GET_THREAD_AREA:
      return c.add(c.arg(3), kUserDescSize);
    // These store min(addr, what the kernel has) bytes and return the latter.
    case PTRACE_SECCOMP_GET_METADATA:
    case PTRACE_GET_SYSCALL_INFO:
    case PTRACE_GET_RSEQ_CONFIGURATION:
      return c.add(c.arg(3), std::min(c.arg(2), c.result_len()));
    case PTRACE_ARCH_PRCTL:
      if (c.arg(3) == ARCH_GET_FS || c.arg(3) == ARCH_GET_GS) c.add(c.arg(2), 8);
      return;
    default:
      return;  // the other requests act on the tracee, not on our memory
  }
}

// semctl(id, semnum, cmd, arg), shmctl(id, cmd, buf), msgctl(id, cmd, buf).
// IPC_64 (0x100) is accepted and ignored by the x86-64 kernel.
uint64_t ipc_cmd(uint64_t cmd) {
  return cmd & ~uint64_t{0x100};
}

void semctl(Call& c) {
  switch (ipc_cmd(c.arg(2))) {
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
      return c.add(c.arg(3), kSemidSize);
    case IPC_INFO:
    case SEM_INFO:
      return c.add(c.arg(3), kSeminfoSize);
    case GETALL:
      return c.unknown();  // one u16 per semaphore: the count is in the kernel
    default:
      return;
  }
}

void shmctl(Call& c) {
  switch (ipc_cmd(c.arg(1))) {
    case IPC_STAT:
    case SHM_STAT:
    case SHM_STAT_ANY:
      return c.add(c.arg(2), kShmidSize);
    case IPC_INFO:
      return c.add(c.arg(2), kShminfoSize);
    case SHM_INFO:
      return c.add(c.arg(2), kShmInfoSize);
    default:
      return;
  }
}

void msgctl(Call& c) {
  switch (ipc_cmd(c.arg(1))) {
    case IPC_STAT:
    case MSG_STAT:
    case MSG_STAT_ANY:
      return c.add(c.arg(2), kMsqidSize);
    case IPC_INFO:
    case MSG_INFO:
      return c.add(c.arg(2), kMsginfoSize);
    default:
      return;
  }
}

// quotactl(cmd, special, id, addr) and quotactl_fd(fd, cmd, id, addr).
void quota(Call& c, uint64_t cmd) {
  constexpr uint64_t kXfsQuotaType = 'X';
  switch (cmd >> SUBCMDSHIFT) {
    case Q_GETFMT:
      return c.add(c.arg(3), 4);
    case Q_GETINFO:
      return c.add(c.arg(3), sizeof(struct if_dqinfo));
    case Q_GETQUOTA:
      return c.add(c.arg(3), sizeof(struct if_dqblk));
    case Q_GETNEXTQUOTA:
      return c.add(c.arg(3), sizeof(struct if_nextdqblk));
    default:
      break;
  }
  // XFS quota commands ('X' << 8 | n) have their own structures.
  if (((cmd >> SUBCMDSHIFT) >> 8) == kXfsQuotaType) c.unknown();
}

// keyctl(op, ...): the reading operations fill (buffer = arg 2, buflen = arg 3)
// and return the full length.
void keyctl(Call& c) {
  switch (c.arg(0)) {
    case KEYCTL_DESCRIBE:
    case KEYCTL_READ:
    case KEYCTL_GET_SECURITY:
    case KEYCTL_DH_COMPUTE:
      return c.add(c.arg(2), std::min(c.result_len(), c.arg(3)));
    case KEYCTL_PKEY_QUERY:
    case KEYCTL_PKEY_ENCRYPT:
    case KEYCTL_PKEY_DECRYPT:
    case KEYCTL_PKEY_SIGN:
      return c.unknown();
    default:
      return;
  }
}

void seccomp(Call& c) {
  if (c.arg(0) == SECCOMP_GET_NOTIF_SIZES) c.add(c.arg(2), sizeof(struct seccomp_notif_sizes));
}

// bpf(cmd, attr, size) writes back into union bpf_attr in command-specific ways.
void bpf(Call& c) {
  c.unknown();
}

constexpr auto kEntries = std::to_array<Entry>({
    {SYS_ioctl, ioctl_outputs},
    {SYS_fcntl, fcntl},
    {SYS_prctl, prctl},
    {SYS_arch_prctl, arch_prctl},
    {SYS_ptrace, ptrace},
    {SYS_semctl, semctl},
    {SYS_shmctl, shmctl},
    {SYS_msgctl, msgctl},
    {SYS_quotactl, [](Call& c) { quota(c, c.arg(0)); }},
    {SYS_quotactl_fd, [](Call& c) { quota(c, c.arg(1)); }},
    {SYS_keyctl, keyctl},
    {SYS_seccomp, seccomp},
    {SYS_bpf, bpf},
});

}  // namespace

std::span<const Entry> control_entries() {
  return kEntries;
}

}  // namespace rrl::syscalls::detail
