/* C test of durable stores ("data_dir"): a store opened again on its
 * directory has the same jobs, allocations and index, and writes on above
 * it; a second store on a directory in use is refused with the lock error;
 * a snapshot then a restart gives the same state; writes from several
 * threads are all kept; bad configs and unreadable directories are errors,
 * never a crash. Run under valgrind by ffi-c/tests/c/Makefile. Prints
 * "N passed, N failed". */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* A store pointer no ordu function writes: outputs stay untouched on error. */
#define SENTINEL_STORE ((ordu_store *)(void *)0x5e4715e2)

/* ---- a data directory per test ---- */

static void make_dir(char *path) {
  strcpy(path, "/tmp/ordu-c-durable-XXXXXX");
  CHECK(mkdtemp(path) != NULL);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_dir(const char *path) {
  CHECK(nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0);
}

/* The config of a durable store on `dir`, with `extra` keys (or ""). */
static void config_for(char *buf, size_t n, const char *dir, const char *extra) {
  snprintf(buf, n, "{\"data_dir\":\"%s\"%s}", dir, extra);
}

static ordu_store *open_durable(const char *dir, const char *extra) {
  char config[256];
  config_for(config, sizeof config, dir, extra);
  ordu_store *s = NULL;
  CHECK_RC(ordu_store_new(config, strlen(config), &s), ORDU_OK);
  CHECK(s != NULL);
  return s;
}

static ordu_recovery recovery_of(const ordu_store *s) {
  ordu_recovery r;
  memset(&r, 0xab, sizeof r);
  CHECK_RC(ordu_store_recovery(s, &r), ORDU_OK);
  return r;
}

static uint64_t index_of(const ordu_store *s) {
  uint64_t i = SENTINEL_INDEX;
  CHECK_RC(ordu_store_index(s, &i), ORDU_OK);
  return i;
}

/* What a client reads of the store: the job "web", its allocations, the
 * node, all as JSON in one text (the caller frees it). */
static char *state_of(const ordu_store *s) {
  ordu_string *job = NULL, *allocs = NULL, *nodes = NULL;
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &job, NULL), ORDU_OK);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &allocs, NULL), ORDU_OK);
  CHECK_RC(ordu_node_list(s, NULL, NULL, 0, 0, &nodes, NULL), ORDU_OK);
  size_t n = ordu_string_len(job) + ordu_string_len(allocs) + ordu_string_len(nodes) + 3;
  char *text = malloc(n);
  CHECK(text != NULL);
  if (text != NULL)
    snprintf(text, n, "%s\n%s\n%s", ordu_string_ptr(job), ordu_string_ptr(allocs),
             ordu_string_ptr(nodes));
  ordu_string_free(job);
  ordu_string_free(allocs);
  ordu_string_free(nodes);
  return text;
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

/* ---- tests ---- */

static void test_restart_keeps_state_and_index(void) {
  char dir[64];
  make_dir(dir);

  ordu_store *s = open_durable(dir, "");
  ordu_recovery r = recovery_of(s);
  CHECK(r.durable && r.snapshot_index == 0 && r.replayed == 0 && r.index == 0);
  register_node(s);
  uint64_t job_index = register_job(s, JOB);
  CHECK(job_index > 0);
  uint64_t before = index_of(s);
  char *want = state_of(s);
  CHECK(count(want, "\"ClientStatus\"") == 2);
  ordu_store_free(s);

  s = open_durable(dir, "");
  r = recovery_of(s);
  CHECK(r.durable && r.snapshot_index == 0);
  CHECK(r.index == before);
  /* node, job with its evaluation, the plan at least. */
  CHECK(r.replayed >= 3 && r.replayed <= before);
  CHECK(index_of(s) == before);
  char *got = state_of(s);
  CHECK(want != NULL && got != NULL && strcmp(want, got) == 0);
  free(got);

  /* The next write follows the recovered index. */
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_deregister(s, "web", NULL, NULL, &out, &index), ORDU_OK);
  ordu_string_free(out);
  CHECK(index > before);
  uint64_t after = index_of(s);
  ordu_store_free(s);

  /* And it was kept too: the job is gone after the restart. */
  s = open_durable(dir, "");
  CHECK(recovery_of(s).index == after);
  ordu_string *job = SENTINEL;
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &job, NULL), ORDU_NOT_FOUND);
  CHECK(job == SENTINEL);
  ordu_store_free(s);
  free(want);
  remove_dir(dir);
}

static void test_second_store_on_a_directory_is_refused(void) {
  char dir[64];
  make_dir(dir);
  ordu_store *s = open_durable(dir, "");
  register_node(s);

  char config[256];
  config_for(config, sizeof config, dir, "");
  ordu_store *other = SENTINEL_STORE;
  CHECK_RC(ordu_store_new(config, strlen(config), &other), ORDU_UNAVAILABLE);
  CHECK(other == SENTINEL_STORE);
  CHECK(error_has("\"kind\":\"unavailable\""));
  CHECK(error_has("\"reason\":\"locked\""));
  CHECK(error_has("is in use by another process"));
  CHECK(error_has(dir));
  /* The first store goes on. */
  CHECK(register_job(s, JOB) > 0);
  uint64_t before = index_of(s);
  ordu_store_free(s);

  /* Freed, the directory opens again at once. */
  other = NULL;
  CHECK_RC(ordu_store_new(config, strlen(config), &other), ORDU_OK);
  CHECK(index_of(other) == before);
  ordu_store_free(other);
  remove_dir(dir);
}

static void test_snapshot_then_restart(void) {
  char dir[64];
  make_dir(dir);
  ordu_store *s = open_durable(dir, ",\"snapshot_every\":0");
  register_node(s);
  register_job(s, JOB);
  uint64_t before = index_of(s);
  uint64_t snap = SENTINEL_INDEX;
  CHECK_RC(ordu_store_snapshot_now(s, &snap), ORDU_OK);
  CHECK(snap == before);
  char *want = state_of(s);
  ordu_store_free(s);

  /* From the snapshot alone. */
  s = open_durable(dir, ",\"snapshot_every\":0");
  ordu_recovery r = recovery_of(s);
  CHECK(r.snapshot_index == snap && r.replayed == 0 && r.index == before);
  char *got = state_of(s);
  CHECK(want != NULL && got != NULL && strcmp(want, got) == 0);
  free(got);
  /* A write after it is replayed on top of the snapshot. */
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_evaluate(s, "web", NULL, NULL, &out, &index), ORDU_OK);
  ordu_string_free(out);
  CHECK(index > before);
  uint64_t after = index_of(s);
  ordu_store_free(s);

  s = open_durable(dir, "");
  r = recovery_of(s);
  CHECK(r.snapshot_index == snap && r.replayed >= 1 && r.index == after);
  got = state_of(s);
  /* The job and its allocations are as they were; the evaluation is new. */
  CHECK(got != NULL && count(got, "\"ClientStatus\"") == 2);
  free(got);
  ordu_store_free(s);
  free(want);
  remove_dir(dir);
}

/* ---- writes from several threads ---- */

#define THREADS 4
#define JOBS_PER_THREAD 8

struct writer {
  const ordu_store *s;
  int id;
  int ok;
};

static void *write_jobs(void *arg) {
  struct writer *w = arg;
  for (int i = 0; i < JOBS_PER_THREAD; i++) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"Job\":{\"ID\":\"t%d-%d\",\"Datacenters\":[\"dc1\"],\"TaskGroups\":[{"
             "\"Name\":\"g\",\"Count\":1,\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}",
             w->id, i);
    ordu_string *out = NULL;
    uint64_t index = 0;
    if (ordu_job_register(w->s, body, strlen(body), NULL, NULL, &out, &index) == ORDU_OK &&
        index > 0)
      w->ok++;
    ordu_string_free(out);
  }
  return NULL;
}

static void test_writes_from_threads_are_all_kept(void) {
  char dir[64];
  make_dir(dir);
  ordu_store *s = open_durable(dir, "");
  pthread_t ts[THREADS];
  struct writer ws[THREADS];
  for (int i = 0; i < THREADS; i++) {
    ws[i] = (struct writer){s, i, 0};
    CHECK(pthread_create(&ts[i], NULL, write_jobs, &ws[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_join(ts[i], NULL) == 0);
    CHECK(ws[i].ok == JOBS_PER_THREAD);
  }
  uint64_t before = index_of(s);
  ordu_store_free(s);

  s = open_durable(dir, "");
  CHECK(index_of(s) == before);
  ordu_string *list = NULL;
  CHECK_RC(ordu_job_list(s, "t", NULL, NULL, 0, 0, &list, NULL), ORDU_OK);
  CHECK(count(ordu_string_ptr(list), "\"JobModifyIndex\"") == THREADS * JOBS_PER_THREAD);
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < JOBS_PER_THREAD; i++) {
      char id[32];
      snprintf(id, sizeof id, "\"ID\":\"t%d-%d\"", t, i);
      CHECK(has(list, id));
    }
  ordu_string_free(list);
  ordu_store_free(s);
  remove_dir(dir);
}

/* ---- errors ---- */

static void refused(const char *config, ordu_result want, const char *needle) {
  ordu_store *s = SENTINEL_STORE;
  CHECK_RC(ordu_store_new(config, strlen(config), &s), want);
  CHECK(s == SENTINEL_STORE);
  CHECK(error_has(needle));
}

static void test_bad_durable_configs_are_refused(void) {
  refused("{\"data_dir\":5}", ORDU_INVALID_JSON, "\"path\":\"data_dir\"");
  refused("{\"data_dir\":\"\"}", ORDU_INVALID, "\"path\":\"data_dir\"");
  refused("{\"data_dir\":\"/tmp/x\",\"snapshot_every\":-1}", ORDU_INVALID_JSON,
          "\"path\":\"snapshot_every\"");
  refused("{\"data_dir\":\"/tmp/x\",\"snapshot_every\":\"10\"}", ORDU_INVALID_JSON,
          "\"path\":\"snapshot_every\"");
  refused("{\"snapshot_every\":10}", ORDU_INVALID, "\"path\":\"snapshot_every\"");
  refused("{\"data_dir\":\"/tmp/x\",\"data\":1}", ORDU_INVALID_JSON, "unknown field");
}

static int no_log(void *ctx, uint64_t after, const char *entry, size_t len, uint64_t *index_out) {
  (void)ctx;
  (void)entry;
  (void)len;
  *index_out = after + 1;
  return 0;
}

static void test_data_dir_with_a_host_log_is_refused(void) {
  char dir[64];
  make_dir(dir);
  char config[256];
  config_for(config, sizeof config, dir, "");
  ordu_store *s = SENTINEL_STORE;
  CHECK_RC(ordu_store_new_with_log(config, strlen(config), no_log, NULL, &s), ORDU_INVALID);
  CHECK(s == SENTINEL_STORE);
  CHECK(error_has("\"path\":\"data_dir\""));
  CHECK(error_has("ordu_store_new"));
  /* Nothing was written in the directory. */
  CHECK(rmdir(dir) == 0);
}

static void test_memory_store_has_no_recovery_or_snapshot(void) {
  ordu_store *s = new_store();
  register_node(s);
  ordu_recovery r = recovery_of(s);
  CHECK(!r.durable && r.snapshot_index == 0 && r.replayed == 0 && r.index == 0);
  uint64_t snap = SENTINEL_INDEX;
  CHECK_RC(ordu_store_snapshot_now(s, &snap), ORDU_UNAVAILABLE);
  CHECK(snap == SENTINEL_INDEX);
  CHECK(error_has("no data_dir"));
  CHECK_RC(ordu_store_snapshot_now(NULL, &snap), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_store_recovery(NULL, &r), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_store_recovery(s, NULL), ORDU_NULL_PARAMETER);
  ordu_store_free(s);
}

/* Flips a bit of the byte just after the first `needle` in `file`; false
 * when the file cannot be read or written or has no `needle`. */
static int flip_byte_after(const char *file, const char *needle) {
  FILE *f = fopen(file, "r+b");
  if (f == NULL) return 0;
  int done = 0;
  char *bytes = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (bytes = malloc((size_t)n)) != NULL && fread(bytes, 1, (size_t)n, f) == (size_t)n) {
    size_t len = strlen(needle);
    for (long at = 0; at + (long)len < n; at++) {
      if (memcmp(bytes + at, needle, len) != 0) continue;
      /* Inside the quoted ID, so the entry stays the same size. */
      long pos = at + 2;
      char c = (char)(bytes[pos] ^ 0x01);
      done = fseek(f, pos, SEEK_SET) == 0 && fwrite(&c, 1, 1, f) == 1;
      break;
    }
  }
  free(bytes);
  if (fclose(f) != 0) done = 0;
  return done;
}

static void test_unusable_directories_are_errors(void) {
  char dir[64];
  make_dir(dir);
  char path[128], config[256];

  /* A data_dir under a regular file cannot be made. */
  snprintf(path, sizeof path, "%s/file", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL && fclose(f) == 0);
  snprintf(path, sizeof path, "%s/file/sub", dir);
  config_for(config, sizeof config, path, "");
  refused(config, ORDU_UNAVAILABLE, "\"reason\":\"io\"");
  CHECK(error_has(path));

  /* A byte flipped inside a stored entry: the open is refused, naming the
   * file, rather than the entry lost. */
  snprintf(path, sizeof path, "%s/flipped", dir);
  config_for(config, sizeof config, path, "");
  ordu_store *s = open_durable(path, "");
  register_node(s);
  ordu_store_free(s);
  char file[160];
  snprintf(file, sizeof file, "%s/ordu.redb", path);
  CHECK(flip_byte_after(file, "\"node-1\""));
  refused(config, ORDU_UNAVAILABLE, "\"reason\":\"corrupt\"");
  CHECK(error_has(file));

  /* A file that is not a database at all. */
  snprintf(path, sizeof path, "%s/junk", dir);
  CHECK(mkdir(path, 0700) == 0);
  snprintf(file, sizeof file, "%s/ordu.redb", path);
  f = fopen(file, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    CHECK(fwrite(junk, 1, sizeof junk, f) == sizeof junk);
    CHECK(fclose(f) == 0);
  }
  config_for(config, sizeof config, path, "");
  refused(config, ORDU_UNAVAILABLE, "\"kind\":\"unavailable\"");
  CHECK(error_has(file));
  remove_dir(dir);
}

static const struct test tests[] = {
    T(test_restart_keeps_state_and_index),
    T(test_second_store_on_a_directory_is_refused),
    T(test_snapshot_then_restart),
    T(test_writes_from_threads_are_all_kept),
    T(test_bad_durable_configs_are_refused),
    T(test_data_dir_with_a_host_log_is_refused),
    T(test_memory_store_has_no_recovery_or_snapshot),
    T(test_unusable_directories_are_errors),
};

int main(int argc, char **argv) {
  return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
