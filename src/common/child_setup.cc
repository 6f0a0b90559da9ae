#include "common/child_setup.h"

#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>

namespace rrl {

void prepare_traced_child() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::personality(ADDR_NO_RANDOMIZE);
  ::prctl(PR_SET_TSC, PR_TSC_SIGSEGV);
}

}  // namespace rrl
