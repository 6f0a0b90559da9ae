/* The environment reaches the program: the harness sets RR_LIKE_TEST_ENV. */
#include "util.h"

extern char** environ;

int main(void) {
  const char* value = getenv("RR_LIKE_TEST_ENV");
  CHECK(value != NULL);
  CHECK(strcmp(value, "rr-like-env-value with spaces") == 0);
  int found = 0;
  for (char** e = environ; *e; e++)
    if (strcmp(*e, "RR_LIKE_TEST_ENV=rr-like-env-value with spaces") == 0) found++;
  CHECK(found == 1);
  printf("RR_LIKE_TEST_ENV=%s\n", value);
  CHECK(setenv("RR_LIKE_OTHER", "x", 1) == 0 && strcmp(getenv("RR_LIKE_OTHER"), "x") == 0);
  test_success();
  return 0;
}
