// Patching syscall sites of libc, ld.so and the vdso into jumps to the
// preload code, when a site is first seen trapping. The decisions (which
// region, when it may be written) are monkeypatch/site.cc's; this file reads
// the tracee for them, writes the bytes and records a PatchEvent, so that
// replay writes the same bytes at the same point and decides nothing.
//
// A region that begins at the site is written at the syscall's entry stop:
// the recorder cancels the syscall and restarts the task at the site, which
// now makes it through the stub. A region that begins earlier becomes a
// pending request of the address space, tried at this syscall's exit and at
// every later syscall exit there until no task is inside it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/proc_maps.h"
#include "common/ptrace.h"
#include "common/syscalls.h"
#include "monkeypatch/branch_targets.h"
#include "preload/blob.h"
#include "recorder/session.h"

namespace rrl::recorder {

namespace {

const LogChannel kLog("monkeypatch");

// Whether the plan's site may make syscall nr: its constant, or any number
// when it is taken from a register at run time.
bool makes_here(const monkeypatch::SitePlan& plan, int64_t nr) {
  return plan.syscallno == nr || plan.syscallno == monkeypatch::kSyscallNumberAtRunTime;
}

// What a patch event calls the site: its syscall, or "syscall" for a generic
// wrapper whose number is chosen at run time.
std::string site_name(const monkeypatch::SitePlan& plan) {
  return plan.syscallno == monkeypatch::kSyscallNumberAtRunTime ? "syscall"
                                                                : syscalls::name(plan.syscallno);
}

constexpr int64_t kERestartSys = 512, kERestartBlock = 516;

bool restarts(int64_t result) {
  return result <= -kERestartSys && result >= -kERestartBlock;
}

// Code we patch: the C library, the dynamic loader and the vdso.
bool patchable_object(const MapEntry& m) {
  if (!(m.prot & PROT_EXEC)) return false;
  if (m.path == "[vdso]") return true;
  std::string base = m.path.substr(m.path.rfind('/') + 1);
  return base.starts_with("libc.so") || base.starts_with("libc-") || base.starts_with("ld-linux");
}

// ip from /proc/TID/syscall ("NR args... SP PC", or "-1 SP PC" when stopped
// in user code); nullopt when the task is running or unreadable.
std::optional<uint64_t> proc_syscall_ip(pid_t tid) {
  std::ifstream f(fmt::format("/proc/{}/syscall", tid));
  std::string line;
  if (!std::getline(f, line) || line == "running") return std::nullopt;
  auto space = line.rfind(' ');
  if (space == std::string::npos) return std::nullopt;
  return std::stoull(line.substr(space + 1), nullptr, 16);
}

}  // namespace

// The function index of a library being patched, built when a site in it is
// first planned and kept for every later site and process.
Expected<const monkeypatch::FunctionIndex*> Session::function_index(const std::string& path) {
  auto it = function_indexes_.find(path);
  if (it != function_indexes_.end()) return it->second.get();
  auto index = monkeypatch::FunctionIndex::open(path);
  if (!index) return std::unexpected(index.error());
  return (function_indexes_[path] = std::move(*index)).get();
}

// The patchable object (libc, ld.so, the vdso) mapping `site`, and its load
// bias; nullopt for any other code.
std::optional<SiteObject> Session::site_object(const std::vector<MapEntry>& maps, uint64_t site) {
  const MapEntry* m = nullptr;
  for (const auto& e : maps)
    if (site >= e.start && site < e.end) m = &e;
  if (!m || !patchable_object(*m)) return std::nullopt;
  SiteObject o{m, m->start, {0, 0}};
  if (m->path == "[vdso]") return o;
  o.key = {m->dev, m->inode};
  for (const auto& e : maps)
    if (e.dev == m->dev && e.inode == m->inode && e.path == m->path && e.offset == 0)
      o.bias = e.start;
  return o;
}

// The plan for the site, or nullopt when it is not to be patched (logged).
Expected<std::optional<monkeypatch::SitePlan>> Session::plan_site(Task& t, const SiteObject& o,
                                                                  uint64_t site,
                                                                  uint64_t stub_addr) {
  const MapEntry& m = *o.map;
  Expected<std::optional<monkeypatch::FunctionBounds>> bounds = std::nullopt;
  if (m.path == "[vdso]") {
    std::vector<uint8_t> vdso_image(m.end - m.start);
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(m.start), vdso_image));
    bounds = monkeypatch::function_bounds(vdso_image, site - o.bias);
  } else {
    auto index = function_index(m.path);
    if (!index) return std::unexpected(index.error());
    bounds = (*index)->lookup(site - o.bias);
  }
  if (!bounds || !*bounds) {
    kLog.debug(t.tid, "site {:#x} in {}: no function bounds", site, m.path);
    return std::nullopt;
  }
  uint64_t func = (*bounds)->start + o.bias;
  std::vector<uint8_t> code((*bounds)->end - (*bounds)->start);
  RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(func), code));
  monkeypatch::StubTarget target{stub_addr, preload::entry_address()};
  auto plan = monkeypatch::plan_site(code, func, site, target, preload::buffered_syscalls());
  if (!plan) {
    kLog.debug(t.tid, "site {:#x} in {} refused: {}", site, m.path, plan.error().message);
    return std::nullopt;
  }
  if (stub_addr + plan->stub.size() > preload::kStubsAddr + preload::kStubsSize) {
    kLog.info(t.tid, "stub area full: site {:#x} not patched", site);
    return std::nullopt;
  }
  return std::move(*plan);
}

// A site patched in one process is patched in every later one as soon as
// its object is mapped (apply_known_sites).
void Session::learn_site(const std::optional<SiteOrigin>& origin, int64_t nr) {
  if (origin) known_sites_[origin->key][origin->offset] = nr;
}

// At a syscall entry stop. true: the site was patched and the task restarted
// at it (nothing else to do for this stop).
Expected<bool> Session::patch_at_entry(Task& t, Registers& regs) {
  if (!t.as || !t.as->preload || !t.deferred.empty() || t.delivering) return false;
  AddressSpace& as = *t.as;
  const uint64_t site = regs.ip() - 2;
  if (auto s = as.sites.find(site);
      s != as.sites.end() && s->second == AddressSpace::Site::kPending)
    return patch_pending_at_entry(t, regs, site);
  if (auto s = as.sites.find(site);
      (s != as.sites.end() && s->second != AddressSpace::Site::kUnbuffered) ||
      preload::in_preload_code(site))
    return false;
  const int64_t nr = regs.syscallno();
  if (!preload::buffered_syscalls().contains(nr)) {
    as.sites[site] = AddressSpace::Site::kUnbuffered;
    return false;
  }
  const uint64_t stub_addr = as.stub_next;
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  auto object = site_object(*maps, site);
  if (!object) {
    as.sites[site] = AddressSpace::Site::kRefused;
    return false;
  }
  auto plan = plan_site(t, *object, site, stub_addr);
  if (!plan) return std::unexpected(plan.error());
  SiteOrigin origin{object->key, site - object->bias};
  if (!*plan || !makes_here(**plan, nr)) {
    if (*plan)
      kLog.debug(t.tid, "site {:#x} refused: it makes syscall {} here, {} elsewhere", site, nr,
                 (*plan)->syscallno);
    as.sites[site] = AddressSpace::Site::kRefused;
    return false;
  }
  const uint64_t stub_size = ((*plan)->stub.size() + 15) & ~15ULL;
  if ((*plan)->region.needs_deferred_patching()) {
    kLog.debug(t.tid, "site {:#x}: patch deferred to the syscall's exit", site);
    as.sites[site] = AddressSpace::Site::kPending;
    as.stub_next += stub_size;
    as.pending.push_back({site, std::move(**plan), stub_addr, t.tid, 0, origin});
    return false;
  }
  auto others = other_task_spots(t);
  if (!others || monkeypatch::deferred_verdict((*plan)->region, std::nullopt, *others) ==
                     monkeypatch::PatchVerdict::kWait)
    return false;  // another task is inside: try again when the site next traps
  as.sites[site] = AddressSpace::Site::kPatched;
  as.stub_next += stub_size;
  RRL_TRY(write_patch(t, **plan, stub_addr, site, /*restart_ip=*/site, nr));
  learn_site(origin, (*plan)->syscallno);
  // The task makes this syscall again through the patched site.
  RRL_TRY(cancel_and_restart(t, regs, site, nr));
  return true;
}

// Cancels the syscall t is at the entry of and resumes t at ip with rax = nr,
// as the PatchEvent's restart_ip and restart_nr tell replay to do.
Status Session::cancel_and_restart(Task& t, Registers& regs, uint64_t ip, int64_t nr) {
  regs.r.orig_rax = static_cast<uint64_t>(-1);
  regs.r.rax = static_cast<uint64_t>(nr);
  regs.set_ip(ip);
  RRL_TRY(ptrace::set_regs(t.tid, regs));
  return resume(t, /*to_syscall_exit=*/false);
}

// At the entry stop of a syscall whose site's deferred patch waits: the task
// has run the region's instructions before the site, so its syscall is
// cancelled and it restarts in the stub, after their displaced copies, and
// makes the syscall from there. Only the other tasks have to be outside the
// region then. Two threads taking turns at one site would otherwise keep the
// patch waiting for ever: at each one's exit, the other is in the kernel
// inside the region (and might restart there).
Expected<bool> Session::patch_pending_at_entry(Task& t, Registers& regs, uint64_t site) {
  AddressSpace& as = *t.as;
  auto it = std::find_if(as.pending.begin(), as.pending.end(),
                         [&](const PendingPatch& p) { return p.site == site; });
  if (it == as.pending.end() || !makes_here(it->plan, regs.syscallno())) return false;
  auto others = other_task_spots(t);
  if (!others || monkeypatch::deferred_verdict(it->plan.region, std::nullopt, *others) ==
                     monkeypatch::PatchVerdict::kWait) {
    ++it->waits;
    return false;
  }
  PendingPatch p = std::move(*it);
  as.pending.erase(it);
  as.sites[site] = AddressSpace::Site::kPatched;
  const uint64_t restart_ip = p.stub_addr + p.plan.stub_syscall_offset;
  const int64_t nr = regs.syscallno();
  kLog.debug(t.tid, "site {:#x}: deferred patch written at a syscall entry there", site);
  RRL_TRY(write_patch(t, p.plan, p.stub_addr, site, restart_ip, nr, &p));
  learn_site(p.origin, p.plan.syscallno);
  RRL_TRY(cancel_and_restart(t, regs, restart_ip, nr));
  return true;
}

Status Session::write_patch(Task& t, const monkeypatch::SitePlan& plan, uint64_t stub_addr,
                            uint64_t site, uint64_t restart_ip, int64_t restart_nr,
                            const PendingPatch* deferred) {
  const ptrace::RemoteWrite writes[] = {{RemoteAddr(stub_addr), plan.stub},
                                        {RemoteAddr(plan.region.start), plan.jump}};
  RRL_TRY(ptrace::write_code(t.tid, writes));
  kLog.debug(t.tid, "patched {} site {:#x}: region [{:#x}, {:#x}), stub at {:#x}", site_name(plan),
             site, plan.region.start, plan.region.end, stub_addr);
  trace::PatchEvent ev;
  ev.what = fmt::format("{} site {:#x}", site_name(plan), site);
  ev.writes.push_back({stub_addr, plan.stub});
  ev.writes.push_back({plan.region.start, plan.jump});
  ev.restart_ip = restart_ip;
  ev.restart_nr = restart_nr;
  if (deferred) {
    ev.deferred = true;
    ev.requested_by = deferred->requested_by;
    ev.waits = deferred->waits;
  }
  return record(t.tid, std::move(ev));
}

// Where the other tasks of t's address space are, and where every task of
// it (t too) returns to from the signal handlers it is running: a handler
// that interrupted a syscall returns to it, or restarts it, even though the
// task's own ip is in the handler. nullopt when a task cannot be located
// (then nothing may be patched now).
std::optional<std::vector<monkeypatch::TaskSpot>> Session::other_task_spots(const Task& t) {
  std::vector<monkeypatch::TaskSpot> spots;
  for (const auto& [tid, o] : tasks_) {
    if (o->as != t.as || o->exit_recorded) continue;
    for (uint64_t ip : o->handler_returns) spots.push_back({ip, true});
    if (o.get() == &t) continue;
    if (o->in_syscall && o->state == TaskState::kReady &&
        WSTOPSIG(o->pending_status) == (SIGTRAP | 0x80)) {
      // Stopped at its syscall's exit: unless the syscall restarts, the task
      // goes on at its ip (a deferred region's end).
      if (auto regs = ptrace::get_regs(tid); regs && !restarts(regs->result())) {
        spots.push_back({regs->ip(), false, /*resumes_at_ip=*/true});
        continue;
      }
    }
    if (o->in_syscall) {
      spots.push_back({o->entry_regs.ip(), true});
      continue;
    }
    if (o->state == TaskState::kReady) {
      if (auto regs = ptrace::get_regs(tid)) {
        spots.push_back({regs->ip(), false});
        continue;
      }
    }
    auto ip = proc_syscall_ip(tid);
    if (!ip) return std::nullopt;
    spots.push_back({*ip, true});
  }
  return spots;
}

// At a syscall exit stop of t (already recorded): writes the pending patches
// of its address space that no task is inside any more.
Status Session::retry_pending_patches(Task& t) {
  if (!t.as || t.as->pending.empty()) return {};
  auto regs = ptrace::get_regs(t.tid);
  if (!regs) return std::unexpected(regs.error());
  auto others = other_task_spots(t);
  if (!others) return {};
  std::optional<uint64_t> current = regs->ip();
  if (restarts(regs->result())) {
    current.reset();
    others->push_back({regs->ip(), true});
  }
  auto& pending = t.as->pending;
  for (size_t i = 0; i < pending.size();) {
    if (monkeypatch::deferred_verdict(pending[i].plan.region, current, *others) ==
        monkeypatch::PatchVerdict::kWait) {
      kLog.debug(t.tid, "site {:#x}: a task is inside its region, the patch waits",
                 pending[i].site);
      ++pending[i].waits;
      ++i;
      continue;
    }
    PendingPatch p = std::move(pending[i]);
    pending.erase(pending.begin() + static_cast<long>(i));
    t.as->sites[p.site] = AddressSpace::Site::kPatched;
    RRL_TRY(write_patch(t, p.plan, p.stub_addr, p.site, /*restart_ip=*/0, /*restart_nr=*/-1, &p));
    learn_site(p.origin, p.plan.syscallno);
  }
  return {};
}

// The known sites of one object, planned for the mapping `m` with stubs from
// `stub`. Sites are planned from the code as mapped, all before any is
// written; one whose region would overlap another's is left to be patched
// when it traps.
Expected<KnownSitesPatch> Session::plan_known_sites(Task& t, const SiteObject& object,
                                                    const std::map<uint64_t, int64_t>& known,
                                                    std::span<const monkeypatch::TaskSpot> spots,
                                                    uint64_t stub) {
  const MapEntry& m = *object.map;
  KnownSitesPatch out;
  out.bias = object.bias;
  out.stub_start = stub;
  out.known_count = known.size();
  std::vector<monkeypatch::SitePlan> plans;
  for (const auto& [offset, nr] : known) {
    uint64_t site = object.bias + offset;
    if (site < m.start || site >= m.end || t.as->sites.contains(site)) continue;
    auto plan = plan_site(t, object, site, stub);
    if (!plan) return std::unexpected(plan.error());
    if (!*plan || (*plan)->syscallno != nr) continue;
    const auto& region = (*plan)->region;
    bool overlaps = std::any_of(plans.begin(), plans.end(), [&](const monkeypatch::SitePlan& p) {
      return p.region.start < region.end && region.start < p.region.end;
    });
    if (overlaps || monkeypatch::deferred_verdict(region, std::nullopt, spots) ==
                        monkeypatch::PatchVerdict::kWait)
      continue;
    stub += ((*plan)->stub.size() + 15) & ~15ULL;
    out.sites.push_back(site);
    plans.push_back(std::move(**plan));
  }
  out.stub_end = stub;
  if (plans.empty()) return out;
  // The stubs are consecutive: one write for all of them.
  std::vector<uint8_t> stubs(out.stub_end - out.stub_start, 0xcc);
  uint64_t at = out.stub_start;
  for (const auto& p : plans) {
    std::copy(p.stub.begin(), p.stub.end(), stubs.begin() + static_cast<long>(at - out.stub_start));
    at += (p.stub.size() + 15) & ~15ULL;
  }
  out.writes.push_back({out.stub_start, std::move(stubs)});
  for (const auto& p : plans) {
    out.writes.push_back({p.region.start, p.jump});
    trace::MemWrite original{p.region.start, std::vector<uint8_t>(p.jump.size())};
    RRL_TRY(ptrace::read_memory(t.tid, RemoteAddr(original.addr), original.data));
    out.original.push_back(std::move(original));
  }
  return out;
}

// Whether `cached` can be written again as it is into the mapping of
// `object`: the same known sites, load address and stub addresses, none of
// its sites patched already, no task inside a region, and the code at each
// region what it was when planned (the same file).
bool Session::known_sites_patch_fits(Task& t, const KnownSitesPatch& cached,
                                     const SiteObject& object, size_t known_count,
                                     std::span<const monkeypatch::TaskSpot> spots, uint64_t stub) {
  if (cached.bias != object.bias || cached.stub_start != stub || cached.known_count != known_count)
    return false;
  for (uint64_t site : cached.sites)
    if (t.as->sites.contains(site)) return false;
  for (const auto& o : cached.original) {
    monkeypatch::PatchRegion region;
    region.start = o.addr;
    region.end = o.addr + o.data.size();
    if (monkeypatch::deferred_verdict(region, std::nullopt, spots) ==
        monkeypatch::PatchVerdict::kWait)
      return false;
    std::vector<uint8_t> now(o.data.size());
    if (!ptrace::read_memory(t.tid, RemoteAddr(o.addr), now) || now != o.data) return false;
  }
  return true;
}

// Patches, in a newly mapped libc, ld.so or vdso (`mapped`, or all of them
// at an exec when `mapped` is null), the sites already patched in other
// processes of this recording, all in one PatchEvent. Each process would
// otherwise stop at each of them once and have it planned and written then:
// about 0.45 ms a site, 10-25 sites a process. Nothing of the new mapping has
// run yet, so no task can be inside a region (checked all the same).
// Planning them all costs about 0.5 ms too, so what was planned for an
// object is kept and written again as it is while it fits.
Status Session::apply_known_sites(Task& t, const MapEntry* mapped) {
  if (known_sites_.empty() || !t.as || !t.as->preload) return {};
  AddressSpace& as = *t.as;
  auto maps = read_maps(t.tid);
  if (!maps) return std::unexpected(maps.error());
  if (mapped) {
    // What an earlier mapping of these addresses had patched is gone.
    std::erase_if(as.sites,
                  [&](const auto& s) { return s.first >= mapped->start && s.first < mapped->end; });
    std::erase_if(as.pending, [&](const PendingPatch& p) {
      return p.plan.region.end > mapped->start && p.plan.region.start < mapped->end;
    });
  }
  std::optional<std::vector<monkeypatch::TaskSpot>> spots;
  trace::PatchEvent ev;
  std::string names;
  size_t count = 0;
  for (const auto& m : *maps) {
    if (mapped && (m.end <= mapped->start || m.start >= mapped->end)) continue;
    if (!patchable_object(m)) continue;
    auto object = site_object(*maps, m.start);
    if (!object) continue;
    auto known = known_sites_.find(object->key);
    if (known == known_sites_.end()) continue;
    if (!spots && !(spots = other_task_spots(t))) return {};
    auto cached = known_patches_.find(object->key);
    if (cached == known_patches_.end() ||
        !known_sites_patch_fits(t, cached->second, *object, known->second.size(), *spots,
                                as.stub_next)) {
      auto fresh = plan_known_sites(t, *object, known->second, *spots, as.stub_next);
      if (!fresh) return std::unexpected(fresh.error());
      cached = known_patches_.insert_or_assign(object->key, std::move(*fresh)).first;
    } else {
      kLog.debug(t.tid, "known sites of {}: as planned before", m.path);
    }
    const KnownSitesPatch& patch = cached->second;
    if (patch.sites.empty()) continue;
    std::vector<ptrace::RemoteWrite> writes;
    for (const auto& w : patch.writes) writes.push_back({RemoteAddr(w.addr), w.data});
    RRL_TRY(ptrace::write_code(t.tid, writes));
    ev.writes.insert(ev.writes.end(), patch.writes.begin(), patch.writes.end());
    for (uint64_t site : patch.sites) as.sites[site] = AddressSpace::Site::kPatched;
    as.stub_next = patch.stub_end;
    count += patch.sites.size();
    names += fmt::format("{}{}", names.empty() ? "" : ", ", m.path.substr(m.path.rfind('/') + 1));
  }
  if (count == 0) return {};
  ev.what = fmt::format("{} sites known from other processes in {}", count, names);
  kLog.debug(t.tid, "{}", ev.what);
  return record(t.tid, std::move(ev));
}

}  // namespace rrl::recorder
