#include "common/proc_task.h"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace rrl {

pid_t read_tgid(pid_t tid) {
  std::ifstream f("/proc/" + std::to_string(tid) + "/status");
  std::string key;
  while (f >> key) {
    if (key == "Tgid:") {
      pid_t tgid = 0;
      f >> tgid;
      return tgid;
    }
  }
  return tid;
}

bool signal_is_caught(pid_t tid, int sig) {
  std::ifstream f("/proc/" + std::to_string(tid) + "/status");
  std::string key, value;
  while (f >> key) {
    if (key == "SigCgt:") {
      f >> value;
      uint64_t mask = std::stoull(value, nullptr, 16);
      return (mask >> (sig - 1)) & 1;
    }
  }
  return false;
}

char task_state(pid_t tid) {
  std::ifstream stat("/proc/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // The command name is in parentheses and may contain anything, ')' too.
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return 0;
  return line[close + 2];
}

void wait_for_zombie(pid_t tid, int timeout_ms) {
  for (int waited_us = 0; waited_us < timeout_ms * 1000; waited_us += 100) {
    char state = task_state(tid);
    if (state == 0 || state == 'Z' || state == 'X') return;
    ::usleep(100);
  }
}

}  // namespace rrl
