// The header compiles as C++ too, and includes twice without harm (its guard).
#include "ordu.h"
#include "ordu.h"

#include <cstdio>
#include <cstring>

int main() {
  ordu_store *store = nullptr;
  ordu_result rc = ordu_store_new(nullptr, 0, &store);
  if (rc != ORDU_OK) return 1;
  ordu_string *out = nullptr;
  uint64_t index = 0;
  rc = ordu_job_list(store, nullptr, nullptr, nullptr, 0, 0, &out, &index);
  bool ok = rc == ORDU_OK && std::strcmp(ordu_string_ptr(out), "[]") == 0;
  ordu_string_free(out);
  ordu_store_free(store);
  std::printf("c++: %s, libordu %s\n", ok ? "ok" : "FAIL", ordu_version());
  std::printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
  return ok ? 0 : 1;
}
