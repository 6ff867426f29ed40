/* The harness the C tests of libordu share: checks that count failures and
 * go on, the fixtures every test registers, small helpers, and a runner
 * that prints "ok NAME" / "FAIL NAME" per test and "N passed, N failed".
 * Each test program is one translation unit, so everything here is static.
 * Include after the system headers and "ordu.h". */
#ifndef ORDU_TEST_HARNESS_H
#define ORDU_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ordu.h"

/* The test running now (for messages), and the checks failed so far. */
static const char *current;
static int failed_checks;

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: in %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
              current, #cond);                                                \
      failed_checks++;                                                        \
    }                                                                         \
  } while (0)

/* Asserts a call's result; on a mismatch prints the call's error JSON. */
#define CHECK_RC(call, want)                                                  \
  do {                                                                        \
    ordu_result got_ = (call);                                                \
    if (got_ != (want)) {                                                     \
      ordu_string *e_ = NULL;                                                 \
      ordu_last_error(&e_);                                                   \
      fprintf(stderr, "%s:%d: in %s: %s gave %s, want %s; error: %s\n",       \
              __FILE__, __LINE__, current, #call, ordu_result_name(got_),     \
              ordu_result_name(want), e_ ? ordu_string_ptr(e_) : "(none)");   \
      ordu_string_free(e_);                                                   \
      failed_checks++;                                                        \
    }                                                                         \
  } while (0)

/* A value that no ordu function writes: outputs must stay untouched on error. */
#define SENTINEL ((ordu_string *)(void *)0x5e4715e1)
#define SENTINEL_INDEX 0xdeadbeefULL

/* ---- fixtures: a job of two allocations and a node with room for them ---- */

static const char JOB[] =
    "{\"Job\":{\"ID\":\"web\",\"Datacenters\":[\"dc1\"],\"TaskGroups\":[{\"Name\":\"g\","
    "\"Count\":2,\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\",\"Resources\":{\"CPU\":"
    "100,\"MemoryMB\":64}}]}]}}";
static const char NODE[] =
    "{\"Node\":{\"ID\":\"node-1\",\"Name\":\"node-1\",\"Datacenter\":\"dc1\",\"Status\":"
    "\"ready\",\"Attributes\":{\"kernel.os\":\"linux\",\"driver.exec\":\"1\"},"
    "\"Resources\":{\"CPU\":4000,\"MemoryMB\":8192,\"DiskMB\":10000}}}";

/* ---- helpers (inline: a program that uses none is not warned) ---- */

/* True when the calling thread's last error JSON contains `needle`. */
static inline int error_has(const char *needle) {
  ordu_string *e = NULL;
  if (ordu_last_error(&e) != ORDU_OK || e == NULL) return 0;
  int found = strstr(ordu_string_ptr(e), needle) != NULL;
  if (!found) fprintf(stderr, "  error JSON %s lacks %s\n", ordu_string_ptr(e), needle);
  ordu_string_free(e);
  return found;
}

/* True when `s` contains `needle`; frees nothing. */
static inline int has(const ordu_string *s, const char *needle) {
  if (s == NULL) return 0;
  int found = strstr(ordu_string_ptr(s), needle) != NULL;
  if (!found) fprintf(stderr, "  %s lacks %s\n", ordu_string_ptr(s), needle);
  return found;
}

static inline double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static inline void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* A store with every default. */
static inline ordu_store *new_store(void) {
  ordu_store *s = NULL;
  CHECK_RC(ordu_store_new(NULL, 0, &s), ORDU_OK);
  CHECK(s != NULL);
  return s;
}

/* Registers `body` and returns the write's index. */
static inline uint64_t register_job(const ordu_store *s, const char *body) {
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_register(s, body, strlen(body), NULL, NULL, &out, &index), ORDU_OK);
  ordu_string_free(out);
  return index;
}

/* Registers NODE and returns the write's index. */
static inline uint64_t register_node(const ordu_store *s) {
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_node_register(s, NODE, strlen(NODE), &out, &index), ORDU_OK);
  ordu_string_free(out);
  return index;
}

/* ---- the runner ---- */

struct test {
  const char *name;
  void (*fn)(void);
};

#define T(f) {#f, f}

/* Runs the tests (those whose name contains argv[1], when given); the
 * program's exit status. */
static inline int run_tests(const struct test *tests, size_t n, int argc, char **argv) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL) continue;
    current = tests[i].name;
    int before = failed_checks;
    tests[i].fn();
    if (failed_checks == before) {
      passed++;
      printf("ok   %s\n", tests[i].name);
    } else {
      failed++;
      printf("FAIL %s\n", tests[i].name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

#endif /* ORDU_TEST_HARNESS_H */
