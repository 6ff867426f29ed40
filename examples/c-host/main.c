/* c-host: ordu embedded in a C program.
 *
 * Creates a store, registers a node and the seed job, lists the jobs, then
 * blocks on the job's allocations from a second thread while the main thread
 * changes the job, and finally deregisters it.
 *
 * The seed job (testdata/seed-job.json) cannot be placed as written: its
 * constraints name `kernel.os` and `kernel.arch` without Nomad's `$attr.`
 * prefix, so they compare literal strings, and its job constraint asks for
 * windows where its task group asks for linux. The main thread's change
 * interpolates the attributes and asks for linux, so the scheduler places the
 * job's five allocations and the waiting thread wakes with them.
 *
 * Usage: c-host [path/to/seed-job.json]   (see the Makefile and
 * ffi-c/README.md). Exits non-zero if any call fails unexpectedly. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ordu.h"

#define JOB_ID "binstore-storagelocker"

static const char NODE[] =
    "{\"Node\": {\"ID\": \"node-1\", \"Name\": \"node-1\", \"Datacenter\": \"us2\","
    " \"Status\": \"ready\","
    " \"Attributes\": {\"kernel.os\": \"linux\", \"kernel.arch\": \"amd64\","
    "                  \"driver.docker\": \"1\", \"driver.java\": \"1\"},"
    " \"Resources\": {\"CPU\": 8000, \"MemoryMB\": 16384, \"DiskMB\": 100000,"
    "   \"Networks\": [{\"Device\": \"eth0\", \"CIDR\": \"10.0.0.1/32\", \"MBits\": 1000}]}}}";

/* Prints the calling thread's last error and exits. */
static void die(const char *what, ordu_result rc) {
  ordu_string *err = NULL;
  ordu_last_error(&err);
  fprintf(stderr, "c-host: %s failed: %s: %s\n", what, ordu_result_name(rc),
          err ? ordu_string_ptr(err) : "(no detail)");
  ordu_string_free(err);
  exit(1);
}

#define TRY(what, call)                 \
  do {                                  \
    ordu_result rc_ = (call);           \
    if (rc_ != ORDU_OK) die(what, rc_); \
  } while (0)

/* Reads a whole file into a NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (cap - n < 4096) {
      cap = cap ? cap * 2 : 8192;
      char *grown = realloc(buf, cap);
      if (grown == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = grown;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* A new string: `text` with every `from` replaced by `to`. The caller frees it. */
static char *replace_all(const char *text, const char *from, const char *to) {
  size_t nf = strlen(from), nt = strlen(to), count = 0;
  for (const char *p = strstr(text, from); p; p = strstr(p + nf, from)) count++;
  char *out = malloc(strlen(text) + count * nt + 1);
  if (out == NULL) return NULL;
  char *w = out;
  for (const char *p = text;;) {
    const char *at = strstr(p, from);
    size_t head = at ? (size_t)(at - p) : strlen(p);
    memcpy(w, p, head);
    w += head;
    if (at == NULL) break;
    memcpy(w, to, nt);
    w += nt;
    p = at + nf;
  }
  *w = '\0';
  return out;
}

/* The body of a job register: `{"Job": <job>}`. The caller frees it. */
static char *register_body(const char *job, size_t *len) {
  size_t cap = strlen(job) + 16;
  char *body = malloc(cap);
  if (body == NULL) return NULL;
  *len = (size_t)snprintf(body, cap, "{\"Job\": %s}", job);
  return body;
}

/* Counts the allocations in a job's allocation list (objects with an "ID"). */
static int count_allocs(const char *json) {
  int n = 0;
  for (const char *p = strstr(json, "{\"ID\":"); p; p = strstr(p + 1, "{\"ID\":")) n++;
  return n;
}

struct waiter {
  const ordu_store *store;
  uint64_t min_index;
  ordu_result rc;
  uint64_t index;
  int allocs;
};

/* The second thread: blocks until the job's allocations change (or 10 s). */
static void *wait_for_allocations(void *arg) {
  struct waiter *w = arg;
  ordu_string *allocs = NULL;
  w->rc = ordu_job_allocations(w->store, JOB_ID, false, NULL, NULL, w->min_index, 10000, &allocs,
                               &w->index);
  if (w->rc == ORDU_OK) {
    w->allocs = count_allocs(ordu_string_ptr(allocs));
    ordu_string_free(allocs);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "testdata/seed-job.json";
  size_t job_len = 0;
  char *job = read_file(path, &job_len);
  if (job == NULL) {
    fprintf(stderr, "c-host: cannot read %s\n", path);
    return 1;
  }
  printf("libordu %s\n", ordu_version());

  /* A store with default limits; scheduling runs inline in each write. */
  ordu_store *store = NULL;
  const char config[] = "{\"region\": \"global\", \"mode\": \"inline\"}";
  TRY("ordu_store_new", ordu_store_new(config, strlen(config), &store));

  ordu_string *out = NULL;
  uint64_t index = 0;
  TRY("ordu_node_register", ordu_node_register(store, NODE, strlen(NODE), &out, &index));
  printf("node registered at index %llu\n", (unsigned long long)index);
  ordu_string_free(out);

  size_t body_len = 0;
  char *body = register_body(job, &body_len);
  if (body == NULL) return 1;
  TRY("ordu_job_register", ordu_job_register(store, body, body_len, NULL, NULL, &out, &index));
  printf("seed job registered at index %llu: %s\n", (unsigned long long)index,
         ordu_string_ptr(out));
  ordu_string_free(out);
  free(body);

  TRY("ordu_job_list", ordu_job_list(store, NULL, NULL, NULL, 0, 0, &out, &index));
  printf("jobs (index %llu): %s\n", (unsigned long long)index, ordu_string_ptr(out));
  ordu_string_free(out);

  /* Where the job's allocations are now: the waiter blocks past this index. */
  TRY("ordu_job_allocations",
      ordu_job_allocations(store, JOB_ID, false, NULL, NULL, 0, 0, &out, &index));
  printf("allocations before the change: %d (index %llu)\n", count_allocs(ordu_string_ptr(out)),
         (unsigned long long)index);
  ordu_string_free(out);

  struct waiter w = {store, index, ORDU_PANIC, 0, 0};
  pthread_t thread;
  if (pthread_create(&thread, NULL, wait_for_allocations, &w) != 0) return 1;

  /* Give the waiter time to block, then change the job: its constraint. */
  struct timespec pause = {0, 200 * 1000000L};
  nanosleep(&pause, NULL);
  char *interpolated = replace_all(job, "\"LTarget\": \"kernel.", "\"LTarget\": \"$attr.kernel.");
  char *fixed = interpolated ? replace_all(interpolated, "\"windows\"", "\"linux\"") : NULL;
  if (fixed == NULL) return 1;
  body = register_body(fixed, &body_len);
  free(interpolated);
  free(fixed);
  if (body == NULL) return 1;
  uint64_t changed = 0;
  TRY("ordu_job_register (changed)",
      ordu_job_register(store, body, body_len, NULL, NULL, &out, &changed));
  printf("job changed at index %llu\n", (unsigned long long)changed);
  ordu_string_free(out);
  free(body);

  pthread_join(thread, NULL);
  if (w.rc != ORDU_OK) die("ordu_job_allocations (blocking)", w.rc);
  if (w.index > index) {
    printf("waiter woke at index %llu with %d allocations\n", (unsigned long long)w.index,
           w.allocs);
  } else {
    fprintf(stderr, "c-host: the waiter timed out at index %llu: no allocation changed\n",
            (unsigned long long)w.index);
    return 1;
  }

  TRY("ordu_job_deregister", ordu_job_deregister(store, JOB_ID, NULL, NULL, &out, &index));
  printf("job deregistered at index %llu: %s\n", (unsigned long long)index, ordu_string_ptr(out));
  ordu_string_free(out);

  /* The deregister stopped the job's allocations (all=true: every version). */
  TRY("ordu_job_allocations (all)",
      ordu_job_allocations(store, JOB_ID, true, NULL, NULL, 0, 0, &out, NULL));
  int stopped = 0;
  for (const char *p = strstr(ordu_string_ptr(out), "\"DesiredStatus\":\"stop\""); p;
       p = strstr(p + 1, "\"DesiredStatus\":\"stop\""))
    stopped++;
  printf("allocations after deregister: %d, %d of them stopped\n",
         count_allocs(ordu_string_ptr(out)), stopped);
  ordu_string_free(out);

  /* A missing job is ORDU_NOT_FOUND, with the detail as JSON. */
  ordu_result rc = ordu_job_get(store, "no-such-job", NULL, NULL, 0, 0, &out, NULL);
  ordu_string *err = NULL;
  ordu_last_error(&err);
  printf("get of a missing job: %s %s\n", ordu_result_name(rc), ordu_string_ptr(err));
  ordu_string_free(err);

  ordu_store_free(store);
  free(job);
  return rc == ORDU_NOT_FOUND ? 0 : 1;
}
