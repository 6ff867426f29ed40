/* A get through libordu from a real C program: ordu_job_get of the seed job
 * plus ordu_string_free, median per-call time over rounds. Compare with the
 * Rust figures of `cargo bench -p ordu-ffi` (benches/get.rs), which times the
 * same get in Rust and through the C symbols from Rust.
 *
 *   cargo build --release -p ordu-ffi && make -C ffi-c/benches/c run */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ordu.h"

static const char NODE[] =
    "{\"Node\": {\"ID\": \"node-1\", \"Name\": \"node-1\", \"Datacenter\": \"us2\","
    " \"Status\": \"ready\", \"Attributes\": {\"kernel.os\": \"linux\"},"
    " \"Resources\": {\"CPU\": 8000, \"MemoryMB\": 16384, \"DiskMB\": 100000}}}";

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "testdata/seed-job.json";
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 1;
  static char job[1 << 16];
  size_t n = fread(job, 1, sizeof job - 1, f);
  fclose(f);
  job[n] = '\0';
  static char body[(1 << 16) + 16];
  int len = snprintf(body, sizeof body, "{\"Job\": %s}", job);

  ordu_store *s = NULL;
  ordu_string *out = NULL;
  if (ordu_store_new(NULL, 0, &s) != ORDU_OK) return 1;
  if (ordu_node_register(s, NODE, strlen(NODE), &out, NULL) != ORDU_OK) return 1;
  ordu_string_free(out);
  if (ordu_job_register(s, body, (size_t)len, NULL, NULL, &out, NULL) != ORDU_OK) return 1;
  ordu_string_free(out);

  enum { ROUNDS = 101, BATCH = 2000 };
  static double per_call[ROUNDS];
  size_t json_len = 0;
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (int i = 0; i < BATCH; i++) {
      uint64_t index = 0;
      if (ordu_job_get(s, "binstore-storagelocker", NULL, NULL, 0, 0, &out, &index) != ORDU_OK)
        return 1;
      json_len = ordu_string_len(out);
      ordu_string_free(out);
    }
    per_call[r] = (now_ns() - start) / BATCH;
  }
  qsort(per_call, ROUNDS, sizeof per_call[0], cmp);
  printf("c program: ordu_job_get + ordu_string_free of the seed job (%zu bytes): "
         "median %.0f ns per call (%d rounds x %d)\n",
         json_len, per_call[ROUNDS / 2], ROUNDS, BATCH);
  ordu_store_free(s);
  return 0;
}
