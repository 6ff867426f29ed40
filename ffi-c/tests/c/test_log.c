/* C test of the log seam: a host keeps ordu's log in a file of its own
 * (each entry synced before the write is answered), restarts by replaying
 * it, and reads back the same jobs, allocations and index; a refused append
 * changes nothing; snapshots restore; a follower refuses writes. Run under
 * valgrind by ffi-c/tests/c/Makefile. Prints "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ---- the host's log: "<index> <length>\n<entry>\n" records, synced ---- */

struct file_log {
  FILE *f;
  int refuse; /* refuse the next append (a full disk) */
  int appends;
  char *last; /* a copy of the last entry appended */
  size_t last_len;
};

static int file_append(void *ctx, uint64_t after, const char *entry, size_t len,
                       uint64_t *index_out) {
  struct file_log *log = ctx;
  if (log->refuse) {
    log->refuse = 0;
    return 28; /* ENOSPC */
  }
  uint64_t index = after + 1;
  if (fprintf(log->f, "%llu %zu\n", (unsigned long long)index, len) < 0 ||
      fwrite(entry, 1, len, log->f) != len || fputc('\n', log->f) == EOF ||
      fflush(log->f) != 0 || fsync(fileno(log->f)) != 0)
    return 5; /* EIO */
  log->appends++;
  free(log->last);
  log->last = malloc(len);
  if (log->last != NULL) memcpy(log->last, entry, len);
  log->last_len = len;
  *index_out = index;
  return 0;
}

/* Applies every record of the file at `path` to `s`; returns how many. */
static int replay(const char *path, const ordu_store *s) {
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f == NULL) return -1;
  int n = 0;
  unsigned long long index;
  size_t len;
  while (fscanf(f, "%llu %zu\n", &index, &len) == 2) {
    char *entry = malloc(len + 1);
    CHECK(entry != NULL && fread(entry, 1, len, f) == len && fgetc(f) == '\n');
    uint64_t now = 0;
    CHECK_RC(ordu_store_apply_entry(s, index, entry, len, &now), ORDU_OK);
    CHECK(now == index);
    free(entry);
    n++;
  }
  fclose(f);
  return n;
}

static ordu_store *open_store(struct file_log *log, const char *path) {
  log->f = fopen(path, "a");
  CHECK(log->f != NULL);
  ordu_store *s = NULL;
  CHECK_RC(ordu_store_new_with_log(NULL, 0, file_append, log, &s), ORDU_OK);
  return s;
}

/* The job's JSON and its allocations' count, as a client reads them. */
static char *job_json(const ordu_store *s, int *allocs, uint64_t *index) {
  ordu_string *job = NULL, *list = NULL;
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &job, index), ORDU_OK);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &list, NULL), ORDU_OK);
  *allocs = 0;
  for (const char *p = ordu_string_ptr(list); (p = strstr(p, "\"EvalID\"")) != NULL; p++)
    (*allocs)++;
  char *copy = strdup(ordu_string_ptr(job));
  ordu_string_free(job);
  ordu_string_free(list);
  return copy;
}

static void test_file_log_restart(void) {
  char path[] = "/tmp/ordu-c-log-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);

  struct file_log log = {0};
  ordu_store *s = open_store(&log, path);
  register_node(s);
  register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0;
  int allocs = 0;
  uint64_t job_index = 0, before = 0;
  char *want = job_json(s, &allocs, &job_index);
  CHECK(allocs == 2);
  CHECK_RC(ordu_store_index(s, &before), ORDU_OK);
  CHECK(log.appends >= 3); /* node, job, plan */

  /* A refused append: ORDU_UNAVAILABLE, nothing visible. */
  log.refuse = 1;
  out = NULL;
  CHECK_RC(ordu_job_deregister(s, "web", NULL, NULL, &out, &index), ORDU_UNAVAILABLE);
  CHECK(out == NULL);
  uint64_t after_refusal = 0;
  CHECK_RC(ordu_store_index(s, &after_refusal), ORDU_OK);
  CHECK(after_refusal == before);
  int still = 0;
  uint64_t ji = 0;
  char *same = job_json(s, &still, &ji);
  CHECK(still == 2 && strcmp(same, want) == 0);
  free(same);
  ordu_store_free(s);
  fclose(log.f);
  free(log.last);

  /* Restart: replay the file into a new store. */
  struct file_log log2 = {0};
  ordu_store *r = open_store(&log2, path);
  CHECK(replay(path, r) == log.appends);
  uint64_t restarted = 0, job_index2 = 0;
  CHECK_RC(ordu_store_index(r, &restarted), ORDU_OK);
  CHECK(restarted == before);
  int allocs2 = 0;
  char *got = job_json(r, &allocs2, &job_index2);
  CHECK(allocs2 == 2 && job_index2 == job_index && strcmp(got, want) == 0);
  free(got);
  /* The next write follows the replayed index, and reaches the file. */
  CHECK_RC(ordu_job_deregister(r, "web", NULL, NULL, &out, &index), ORDU_OK);
  ordu_string_free(out);
  CHECK(index > before && log2.appends >= 1);
  /* An entry at an index already applied is refused. */
  CHECK_RC(ordu_store_apply_entry(r, 1, log2.last, log2.last_len, NULL), ORDU_CONFLICT);
  CHECK_RC(ordu_store_apply_entry(r, index + 10, "{\"version\":1", 12, NULL),
           ORDU_INVALID_JSON);
  ordu_store_free(r);
  fclose(log2.f);
  free(log2.last);
  free(want);
  unlink(path);
}

static void test_snapshot_and_leadership(void) {
  ordu_store *s = new_store();
  register_node(s);
  register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0;

  ordu_string *snap = NULL;
  uint64_t snap_index = 0;
  CHECK_RC(ordu_store_snapshot(s, &snap, &snap_index), ORDU_OK);
  CHECK(strstr(ordu_string_ptr(snap), "\"version\":4") != NULL);

  ordu_store *r = NULL;
  CHECK_RC(ordu_store_new(NULL, 0, &r), ORDU_OK);
  CHECK_RC(ordu_store_set_leader(r, 0), ORDU_OK);
  int lead = 1;
  CHECK_RC(ordu_store_is_leader(r, &lead), ORDU_OK);
  CHECK(lead == 0);
  CHECK_RC(ordu_store_restore(r, ordu_string_ptr(snap), ordu_string_len(snap)), ORDU_OK);
  uint64_t ri = 0;
  CHECK_RC(ordu_store_index(r, &ri), ORDU_OK);
  CHECK(ri == snap_index);
  int a1 = 0, a2 = 0;
  uint64_t i1 = 0, i2 = 0;
  char *j1 = job_json(s, &a1, &i1), *j2 = job_json(r, &a2, &i2);
  CHECK(a1 == 2 && a2 == 2 && i1 == i2 && strcmp(j1, j2) == 0);
  free(j1);
  free(j2);
  /* A follower takes no writes of its own. */
  out = NULL;
  CHECK_RC(ordu_job_register(r, JOB, strlen(JOB), NULL, NULL, &out, &index), ORDU_UNAVAILABLE);
  CHECK(out == NULL);
  /* Bad snapshot bytes change nothing. */
  CHECK_RC(ordu_store_restore(r, "{\"version\":7}", 13), ORDU_INVALID_JSON);
  CHECK_RC(ordu_store_index(r, &ri), ORDU_OK);
  CHECK(ri == snap_index);
  CHECK_RC(ordu_store_new_with_log(NULL, 0, NULL, NULL, &r), ORDU_NULL_PARAMETER);
  ordu_string_free(snap);
  ordu_store_free(s);
  ordu_store_free(r);
}

static const struct test tests[] = {
    T(test_file_log_restart),
    T(test_snapshot_and_leadership),
};

int main(int argc, char **argv) {
  return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
