/* C tests of libordu: every function, every error path, and blocking reads
 * across threads. Built with -Wall -Wextra -Werror -std=c11 and run under
 * valgrind by ffi-c/tests/c/Makefile. Prints "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static const char JOB_COUNT_3[] =
    "{\"Job\":{\"ID\":\"web\",\"Datacenters\":[\"dc1\"],\"TaskGroups\":[{\"Name\":\"g\","
    "\"Count\":3,\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\",\"Resources\":{\"CPU\":"
    "100,\"MemoryMB\":64}}]}]}}";

/* The index a read of job `id` answers with now. */
static uint64_t job_index(const ordu_store *s, const char *id) {
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_get(s, id, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  ordu_string_free(out);
  return index;
}

/* Copies the value of the first `"Key":"value"` in `json` into `buf`. */
static int json_string_field(const char *json, const char *key, char *buf, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  if (p == NULL) return 0;
  p += strlen(pat);
  const char *end = strchr(p, '"');
  if (end == NULL || (size_t)(end - p) >= cap) return 0;
  memcpy(buf, p, (size_t)(end - p));
  buf[end - p] = '\0';
  return 1;
}

/* ---- library ---- */

static void test_version_and_names(void) {
  CHECK(strlen(ordu_version()) > 0);
  CHECK(strcmp(ordu_result_name(ORDU_OK), "ok") == 0);
  CHECK(strcmp(ordu_result_name(ORDU_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(ordu_result_name(ORDU_INVALID_JSON), "invalid_json") == 0);
  CHECK(strcmp(ordu_result_name(ORDU_PANIC), "panic") == 0);
  CHECK(strcmp(ordu_result_name(77), "unknown") == 0);
  /* The stable values. */
  CHECK(ORDU_OK == 0 && ORDU_NOT_FOUND == 1 && ORDU_INVALID == 2 && ORDU_CONFLICT == 3 &&
        ORDU_REGION == 4 && ORDU_LIMIT == 5 && ORDU_UNAVAILABLE == 6 &&
        ORDU_NULL_PARAMETER == 100 &&
        ORDU_INVALID_UTF8 == 101 && ORDU_INVALID_JSON == 102 && ORDU_PANIC == 103);
}

static void test_string_accessors_accept_null(void) {
  CHECK(ordu_string_ptr(NULL) == NULL);
  CHECK(ordu_string_len(NULL) == 0);
  ordu_string_free(NULL);
  ordu_store_free(NULL);
}

static void test_last_error(void) {
  CHECK_RC(ordu_last_error(NULL), ORDU_NULL_PARAMETER);
  ordu_store *s = new_store();
  /* After a success the slot is empty. */
  ordu_string *e = SENTINEL;
  CHECK_RC(ordu_last_error(&e), ORDU_OK);
  CHECK(e == NULL);
  /* After a failure it holds that failure, and reading it does not clear it. */
  ordu_string *out = NULL;
  CHECK_RC(ordu_job_get(s, "nope", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK(error_has("\"kind\":\"not_found\""));
  CHECK(error_has("\"result\":1"));
  CHECK(error_has("\"message\":\"job not found\""));
  CHECK_RC(ordu_last_error(&e), ORDU_OK);
  CHECK(e != NULL && ordu_string_len(e) == strlen(ordu_string_ptr(e)));
  ordu_string_free(e);
  ordu_store_free(s);
}

/* ---- the store ---- */

static void test_store_new(void) {
  ordu_store *s = NULL;
  const char cfg[] = "{\"region\":\"eu\",\"mode\":\"inline\",\"limits\":{\"max_group_count\":5}}";
  CHECK_RC(ordu_store_new(cfg, strlen(cfg), &s), ORDU_OK);
  CHECK(s != NULL);
  /* The region holds: another is ORDU_REGION. */
  ordu_string *out = NULL;
  CHECK_RC(ordu_job_list(s, NULL, NULL, "eu", 0, 0, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  out = SENTINEL;
  CHECK_RC(ordu_job_list(s, NULL, NULL, "us", 0, 0, &out, NULL), ORDU_REGION);
  CHECK(out == SENTINEL);
  CHECK(error_has("\"requested\":\"us\""));
  /* The limit holds: a group of 6 is over it. */
  const char big[] =
      "{\"Job\":{\"ID\":\"big\",\"Region\":\"eu\",\"TaskGroups\":[{\"Name\":\"g\",\"Count\":6,"
      "\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}";
  CHECK_RC(ordu_job_register(s, big, strlen(big), NULL, NULL, &out, NULL), ORDU_LIMIT);
  CHECK(error_has("\"path\":\"TaskGroups[0].Count\""));
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_store_index(s, &index), ORDU_OK);
  CHECK(index == 0);
  CHECK_RC(ordu_store_index(s, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_store_index(NULL, &index), ORDU_NULL_PARAMETER);
  ordu_store_free(s);

  /* Empty and blank configurations are the defaults. */
  s = NULL;
  CHECK_RC(ordu_store_new("  ", 2, &s), ORDU_OK);
  ordu_store_free(s);
}

static void test_store_new_errors(void) {
  ordu_store *const before = (ordu_store *)(void *)0x5e4715e1;
  ordu_store *s = before;
  CHECK_RC(ordu_store_new(NULL, 0, NULL), ORDU_NULL_PARAMETER);
  CHECK(error_has("store_out is NULL"));
  CHECK_RC(ordu_store_new("{\"region\":", 10, &s), ORDU_INVALID_JSON);
  CHECK(error_has("\"stage\":\"decode\""));
  CHECK_RC(ordu_store_new("{\"regoin\":\"x\"}", 14, &s), ORDU_INVALID_JSON);
  CHECK(error_has("regoin"));
  CHECK_RC(ordu_store_new("{\"mode\":\"fast\"}", 15, &s), ORDU_INVALID);
  CHECK(error_has("\"path\":\"mode\""));
  CHECK_RC(ordu_store_new("{\"region\":\"\xff\"}", 14, &s), ORDU_INVALID_UTF8);
  CHECK(error_has("offset 11"));
  CHECK(s == before);
}

/* ---- jobs ---- */

static void test_job_register_and_get(void) {
  ordu_store *s = new_store();
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, NULL, &out, &index), ORDU_OK);
  CHECK(index > 0);
  CHECK(has(out, "\"EvalID\":\""));
  CHECK(has(out, "\"JobModifyIndex\":"));
  ordu_string_free(out);

  /* index_out may be NULL. */
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  ordu_string_free(out);

  uint64_t got_index = 0;
  CHECK_RC(ordu_job_get(s, "web", NULL, "global", 0, 0, &out, &got_index), ORDU_OK);
  /* The job's index is its last change: the write, or the scheduling after it. */
  CHECK(got_index >= index);
  CHECK(has(out, "\"ID\":\"web\""));
  CHECK(has(out, "\"Priority\":50"));
  CHECK(ordu_string_len(out) == strlen(ordu_string_ptr(out)));
  ordu_string_free(out);
  ordu_store_free(s);
}

static void test_job_register_errors(void) {
  ordu_store *s = new_store();
  ordu_string *out = SENTINEL;
  uint64_t index = SENTINEL_INDEX;

  /* NULL store, body and output. */
  CHECK_RC(ordu_job_register(NULL, JOB, strlen(JOB), NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK(error_has("store is NULL"));
  CHECK_RC(ordu_job_register(s, NULL, 3, NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK(error_has("body_json is NULL"));
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, NULL, NULL, &index), ORDU_NULL_PARAMETER);
  CHECK(error_has("json_out is NULL"));

  /* Not UTF-8: in the body, in the region. */
  const char bad_utf8[] = "{\"Job\":{\"ID\":\"w\xc3\x28\"}}";
  CHECK_RC(ordu_job_register(s, bad_utf8, strlen(bad_utf8), NULL, NULL, &out, &index),
           ORDU_INVALID_UTF8);
  CHECK(error_has("\"kind\":\"invalid_utf8\""));
  CHECK(error_has("offset 15"));
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, "gl\xfe", &out, &index), ORDU_INVALID_UTF8);
  CHECK(error_has("region is not UTF-8"));

  /* Not JSON; JSON of the wrong shape; no Job. */
  CHECK_RC(ordu_job_register(s, "{\"Job\":", 7, NULL, NULL, &out, &index), ORDU_INVALID_JSON);
  CHECK(error_has("\"stage\":\"decode\""));
  const char wrong_type[] = "{\"Job\":{\"ID\":\"x\",\"TaskGroups\":[{\"Name\":\"g\",\"Count\":\"many\"}]}}";
  CHECK_RC(ordu_job_register(s, wrong_type, strlen(wrong_type), NULL, NULL, &out, &index),
           ORDU_INVALID_JSON);
  CHECK(error_has("\"path\":\"Job.TaskGroups[0].Count\""));
  CHECK_RC(ordu_job_register(s, "{}", 2, NULL, NULL, &out, &index), ORDU_INVALID_JSON);
  /* A body cut short by its length is not the whole JSON. */
  CHECK_RC(ordu_job_register(s, JOB, 10, NULL, NULL, &out, &index), ORDU_INVALID_JSON);

  /* An invalid job: every problem listed with its path. */
  const char invalid[] =
      "{\"Job\":{\"ID\":\"has space\",\"Type\":\"batchy\",\"TaskGroups\":[{\"Name\":\"g\","
      "\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}";
  CHECK_RC(ordu_job_register(s, invalid, strlen(invalid), NULL, NULL, &out, &index), ORDU_INVALID);
  CHECK(error_has("\"stage\":\"validate\""));
  CHECK(error_has("{\"message\":\"job ID contains a space\",\"path\":\"ID\"}"));
  CHECK(error_has("\"path\":\"Type\""));
  CHECK(error_has("2 errors occurred"));

  /* Another region. */
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, "mars", &out, &index), ORDU_REGION);

  /* Check-and-set: the job must not exist yet with JobModifyIndex 0. */
  register_job(s, JOB);
  const char cas[] =
      "{\"EnforceIndex\":true,\"JobModifyIndex\":0,\"Job\":{\"ID\":\"web\",\"TaskGroups\":"
      "[{\"Name\":\"g\",\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}";
  CHECK_RC(ordu_job_register(s, cas, strlen(cas), NULL, NULL, &out, &index), ORDU_CONFLICT);
  CHECK(error_has("\"kind\":\"conflict\""));
  CHECK(error_has("\"current_index\":"));

  /* Outputs were never written. */
  CHECK(out == SENTINEL);
  CHECK(index == SENTINEL_INDEX);
  ordu_store_free(s);
}

static void test_job_get_errors(void) {
  ordu_store *s = new_store();
  uint64_t w = register_job(s, JOB);
  ordu_string *out = SENTINEL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_job_get(s, "nope", NULL, NULL, 0, 0, &out, &index), ORDU_NOT_FOUND);
  CHECK(error_has("\"what\":\"job\""));
  CHECK(error_has("\"id\":\"nope\""));
  CHECK(error_has("\"code\":1"));
  (void)w;
  CHECK_RC(ordu_job_get(NULL, "web", NULL, NULL, 0, 0, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_get(s, NULL, NULL, NULL, 0, 0, &out, &index), ORDU_NULL_PARAMETER);
  CHECK(error_has("job_id is NULL"));
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, NULL, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_get(s, "w\x80", NULL, NULL, 0, 0, &out, &index), ORDU_INVALID_UTF8);
  CHECK(error_has("job_id is not UTF-8"));
  CHECK(out == SENTINEL && index == SENTINEL_INDEX);
  ordu_store_free(s);
}

static void test_job_list(void) {
  ordu_store *s = new_store();
  ordu_string *out = NULL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_job_list(s, NULL, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  CHECK(index == 0);
  ordu_string_free(out);

  uint64_t w = register_job(s, JOB);
  CHECK_RC(ordu_job_list(s, "", NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"ID\":\"web\""));
  CHECK(index >= w);
  ordu_string_free(out);
  CHECK_RC(ordu_job_list(s, "we", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"ID\":\"web\""));
  ordu_string_free(out);
  CHECK_RC(ordu_job_list(s, "x", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  ordu_string_free(out);
  out = SENTINEL;
  CHECK_RC(ordu_job_list(NULL, NULL, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_list(s, "\xff", NULL, NULL, 0, 0, &out, NULL), ORDU_INVALID_UTF8);
  CHECK_RC(ordu_job_list(s, NULL, NULL, NULL, 0, 0, NULL, NULL), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

static void test_job_evaluate_and_evaluations(void) {
  ordu_store *s = new_store();
  register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_evaluate(s, "web", NULL, NULL, &out, &index), ORDU_OK);
  char eval_id[64] = "";
  CHECK(json_string_field(ordu_string_ptr(out), "EvalID", eval_id, sizeof eval_id));
  CHECK(index > 0);
  ordu_string_free(out);

  uint64_t evals_index = 0;
  CHECK_RC(ordu_job_evaluations(s, "web", NULL, NULL, 0, 0, &out, &evals_index), ORDU_OK);
  CHECK(has(out, eval_id));
  CHECK(has(out, "\"JobID\":\"web\""));
  CHECK(evals_index >= index);
  ordu_string_free(out);

  CHECK_RC(ordu_evaluation_get(s, eval_id, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"TriggeredBy\":\"job-register\""));
  ordu_string_free(out);

  out = SENTINEL;
  CHECK_RC(ordu_job_evaluate(s, "nope", NULL, NULL, &out, &index), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_evaluate(s, NULL, NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_evaluate(s, "web", NULL, "\xc0", &out, &index), ORDU_INVALID_UTF8);
  CHECK_RC(ordu_job_evaluate(s, "web", NULL, NULL, NULL, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_evaluations(s, NULL, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_evaluation_get(s, "no-such-eval", NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK(error_has("\"what\":\"eval\""));
  CHECK_RC(ordu_evaluation_get(s, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_evaluation_get(NULL, eval_id, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);

  /* A job with no evaluations answers []. */
  CHECK_RC(ordu_job_evaluations(s, "other", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  ordu_string_free(out);
  ordu_store_free(s);
}

static void test_job_plan(void) {
  ordu_store *s = new_store();
  register_node(s);
  uint64_t w = register_job(s, JOB);
  uint64_t before = 0, after = 0;
  CHECK_RC(ordu_store_index(s, &before), ORDU_OK);

  /* Count 2 -> 3: one to place, two updated in place; with the diff. */
  static const char PLAN[] =
      "{\"Diff\":true,\"Job\":{\"ID\":\"web\",\"Datacenters\":[\"dc1\"],\"TaskGroups\":"
      "[{\"Name\":\"g\",\"Count\":3,\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\","
      "\"Resources\":{\"CPU\":100,\"MemoryMB\":64}}]}]}}";
  ordu_string *out = NULL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_job_plan(s, "web", PLAN, strlen(PLAN), NULL, NULL, &out, &index), ORDU_OK);
  CHECK(index == w); /* the stored job's JobModifyIndex */
  CHECK(has(out, "\"DesiredTGUpdates\":{\"g\":{"));
  CHECK(has(out, "\"Place\":1"));
  CHECK(has(out, "\"InPlaceUpdate\":2"));
  CHECK(has(out, "\"FailedTGAllocs\":null"));
  CHECK(has(out, "\"Type\":\"Edited\""));
  CHECK(has(out, "\"Name\":\"Count\""));
  ordu_string_free(out);

  /* Nothing was written. */
  CHECK_RC(ordu_store_index(s, &after), ORDU_OK);
  CHECK(after == before);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(strstr(ordu_string_ptr(out), "web.g[2]") == NULL);
  ordu_string_free(out);

  /* The path's ID must be the job's; a job a register refuses is refused. */
  out = SENTINEL;
  CHECK_RC(ordu_job_plan(s, "other", PLAN, strlen(PLAN), NULL, NULL, &out, &index), ORDU_INVALID_JSON);
  CHECK(error_has("Job ID does not match"));
  static const char BAD[] = "{\"Job\":{\"ID\":\"web\",\"TaskGroups\":[]}}";
  CHECK_RC(ordu_job_plan(s, "web", BAD, strlen(BAD), NULL, NULL, &out, &index), ORDU_INVALID);
  CHECK_RC(ordu_job_plan(s, NULL, PLAN, strlen(PLAN), NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_plan(s, "web", NULL, 0, NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_plan(s, "web", PLAN, strlen(PLAN), NULL, NULL, NULL, &index), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  CHECK_RC(ordu_store_index(s, &after), ORDU_OK);
  CHECK(after == before);
  ordu_store_free(s);
}

static void test_job_deregister(void) {
  ordu_store *s = new_store();
  uint64_t w = register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_deregister(s, "web", NULL, NULL, &out, &index), ORDU_OK);
  CHECK(index > w);
  CHECK(has(out, "\"EvalID\":\""));
  ordu_string_free(out);
  out = SENTINEL;
  CHECK_RC(ordu_job_deregister(NULL, "web", NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_deregister(s, NULL, NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_deregister(s, "\xff", NULL, NULL, &out, &index), ORDU_INVALID_UTF8);
  CHECK_RC(ordu_job_deregister(s, "web", NULL, "moon", &out, &index), ORDU_REGION);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

/* A store configured to stop keeps a deregistered job, stopped, until a
   purge removes it. */
static void test_job_stop_and_purge(void) {
  const char *cfg = "{\"deregister\": \"stop\"}";
  ordu_store *s = NULL;
  CHECK_RC(ordu_store_new(cfg, strlen(cfg), &s), ORDU_OK);
  register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_deregister_purge(s, "web", false, NULL, NULL, &out, &index), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Stop\":true"));
  CHECK(has(out, "\"Version\":1"));
  ordu_string_free(out);
  CHECK_RC(ordu_job_deregister_purge(s, "web", true, NULL, NULL, &out, &index), ORDU_OK);
  ordu_string_free(out);
  out = SENTINEL;
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK(out == SENTINEL);
  CHECK_RC(ordu_job_deregister_purge(s, NULL, true, NULL, NULL, &out, &index), ORDU_NULL_PARAMETER);
  const char *bad = "{\"deregister\": \"soft\"}";
  ordu_store *t = NULL;
  CHECK_RC(ordu_store_new(bad, strlen(bad), &t), ORDU_INVALID);
  ordu_store_free(s);
}

/* Versions: each spec change keeps the one it replaces; a revert registers
   a kept version again; a version is marked stable. */
static void test_job_versions_revert_and_stable(void) {
  const char *cfg = "{\"job_tracked_versions\": 2}";
  ordu_store *s = NULL;
  CHECK_RC(ordu_store_new(cfg, strlen(cfg), &s), ORDU_OK);
  register_job(s, JOB);
  register_job(s, JOB_COUNT_3);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_versions(s, "web", NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"Diffs\":null"));
  CHECK(has(out, "\"Version\":1"));
  CHECK(has(out, "\"Version\":0"));
  CHECK(has(out, "\"Stable\":false"));
  CHECK(index > 0);
  ordu_string_free(out);

  const char *rev = "{\"JobID\":\"web\",\"JobVersion\":0,\"EnforcePriorVersion\":1}";
  CHECK_RC(ordu_job_revert(s, "web", rev, strlen(rev), NULL, NULL, &out, &index), ORDU_OK);
  CHECK(has(out, "\"EvalID\":\""));
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Version\":2"));
  ordu_string_free(out);
  /* Two versions kept: 2 and 1; 0 went. */
  CHECK_RC(ordu_job_versions(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(!has(out, "\"Version\":0"));
  ordu_string_free(out);

  const char *st = "{\"JobID\":\"web\",\"JobVersion\":1,\"Stable\":true}";
  uint64_t st_index = 0;
  CHECK_RC(ordu_job_stable(s, "web", st, strlen(st), NULL, NULL, &out, &st_index), ORDU_OK);
  CHECK(has(out, "\"Index\":"));
  CHECK(st_index > index);
  ordu_string_free(out);
  CHECK_RC(ordu_job_versions(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Stable\":true"));
  ordu_string_free(out);

  out = SENTINEL;
  const char *cur = "{\"JobID\":\"web\",\"JobVersion\":2}";
  CHECK_RC(ordu_job_revert(s, "web", cur, strlen(cur), NULL, NULL, &out, NULL), ORDU_CONFLICT);
  CHECK(error_has("can't revert to current version"));
  const char *gone = "{\"JobID\":\"web\",\"JobVersion\":0}";
  CHECK_RC(ordu_job_revert(s, "web", gone, strlen(gone), NULL, NULL, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_stable(s, "web", gone, strlen(gone), NULL, NULL, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_revert(s, "other", cur, strlen(cur), NULL, NULL, &out, NULL),
           ORDU_INVALID_JSON);
  CHECK_RC(ordu_job_versions(s, "nope", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_versions(s, NULL, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_revert(s, "web", NULL, 0, NULL, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_stable(NULL, "web", st, strlen(st), NULL, NULL, &out, NULL),
           ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  const char *bad = "{\"job_tracked_versions\": 0}";
  ordu_store *t = NULL;
  CHECK_RC(ordu_store_new(bad, strlen(bad), &t), ORDU_INVALID);
  ordu_store_free(s);
}

/* The summary counts the allocations per group; a scale is a new version. */
static void test_job_summary_and_scale(void) {
  ordu_store *s = new_store();
  register_node(s);
  register_job(s, JOB_COUNT_3);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_summary(s, "web", NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"JobID\":\"web\""));
  CHECK(has(out, "\"Children\":{\"Pending\":0,\"Running\":0,\"Dead\":0}"));
  CHECK(has(out, "\"Starting\":3"));
  CHECK(index > 0);
  ordu_string_free(out);

  const char *up = "{\"Count\":4,\"Target\":{\"Group\":\"g\"},\"Message\":\"more\"}";
  uint64_t w = 0;
  CHECK_RC(ordu_job_scale(s, "web", up, strlen(up), NULL, NULL, &out, &w), ORDU_OK);
  CHECK(has(out, "\"EvalID\":\""));
  CHECK(w > index);
  ordu_string_free(out);
  CHECK_RC(ordu_job_scale_status(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Desired\":4"));
  CHECK(has(out, "\"Placed\":4"));
  CHECK(has(out, "\"JobStopped\":false"));
  ordu_string_free(out);
  CHECK_RC(ordu_job_summary(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Starting\":4"));
  ordu_string_free(out);

  out = SENTINEL;
  const char *bad = "{\"Count\":1,\"Target\":{\"Group\":\"zz\"}}";
  CHECK_RC(ordu_job_scale(s, "web", bad, strlen(bad), NULL, NULL, &out, NULL), ORDU_INVALID_JSON);
  CHECK(error_has("does not exist in job"));
  CHECK_RC(ordu_job_scale(s, "nope", up, strlen(up), NULL, NULL, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_summary(s, "nope", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_scale_status(s, NULL, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_scale(s, "web", NULL, 0, NULL, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

/* ---- allocations ---- */

static void test_allocations(void) {
  ordu_store *s = new_store();
  register_node(s);
  register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(ordu_string_ptr(out)[0] == '[');
  /* The node fits both allocations of the job: read and update the first. */
  char alloc_id[64] = "";
  int placed = json_string_field(ordu_string_ptr(out), "ID", alloc_id, sizeof alloc_id);
  CHECK(placed);
  CHECK(has(out, "\"NodeID\":\"node-1\""));
  ordu_string_free(out);
  CHECK_RC(ordu_job_allocations(s, "web", true, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, alloc_id));
  ordu_string_free(out);
  CHECK_RC(ordu_node_allocations(s, "node-1", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, alloc_id));
  ordu_string_free(out);

  if (placed) {
    CHECK_RC(ordu_allocation_get(s, alloc_id, NULL, 0, 0, &out, &index), ORDU_OK);
    CHECK(has(out, "\"JobID\":\"web\""));
    ordu_string_free(out);
    const char running[] = "{\"ClientStatus\":\"running\"}";
    uint64_t w = 0;
    CHECK_RC(ordu_allocation_update_client(s, alloc_id, running, strlen(running), &out, &w),
             ORDU_OK);
    CHECK(w > index);
    CHECK(has(out, "\"Index\":"));
    ordu_string_free(out);
    CHECK_RC(ordu_allocation_get(s, alloc_id, NULL, 0, 0, &out, &index), ORDU_OK);
    CHECK(has(out, "\"ClientStatus\":\"running\""));
    CHECK(index == w);
    ordu_string_free(out);
    const char bad_status[] = "{\"ClientStatus\":\"sleeping\"}";
    CHECK_RC(ordu_allocation_update_client(s, alloc_id, bad_status, strlen(bad_status), &out,
                                           NULL),
             ORDU_INVALID);
    CHECK(error_has("\"path\":\"ClientStatus\""));
  }

  out = SENTINEL;
  CHECK_RC(ordu_allocation_get(s, "no-such-alloc", NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK(error_has("\"what\":\"alloc\""));
  CHECK_RC(ordu_allocation_get(s, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_allocation_get(s, "\xff", NULL, 0, 0, &out, NULL), ORDU_INVALID_UTF8);
  const char running[] = "{\"ClientStatus\":\"running\"}";
  CHECK_RC(ordu_allocation_update_client(s, "no-such-alloc", running, strlen(running), &out,
                                         NULL),
           ORDU_NOT_FOUND);
  const char mismatch[] = "{\"ID\":\"a\",\"ClientStatus\":\"running\"}";
  CHECK_RC(ordu_allocation_update_client(s, "b", mismatch, strlen(mismatch), &out, NULL),
           ORDU_INVALID_JSON);
  CHECK(error_has("\"path\":\"ID\""));
  CHECK_RC(ordu_allocation_update_client(s, NULL, running, strlen(running), &out, NULL),
           ORDU_INVALID);
  CHECK(error_has("missing allocation ID"));
  CHECK_RC(ordu_allocation_update_client(s, "a", NULL, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_allocation_update_client(s, "a", "{", 1, &out, NULL), ORDU_INVALID_JSON);
  CHECK_RC(ordu_job_allocations(s, NULL, false, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, "x", 0, 0, &out, NULL), ORDU_REGION);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

/* ---- nodes ---- */

static void test_nodes(void) {
  ordu_store *s = new_store();
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_node_register(s, NODE, strlen(NODE), &out, &index), ORDU_OK);
  CHECK(index == 1);
  CHECK(has(out, "\"NodeModifyIndex\":1"));
  ordu_string_free(out);

  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"Datacenter\":\"dc1\""));
  ordu_string_free(out);
  CHECK_RC(ordu_node_list(s, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"ID\":\"node-1\""));
  ordu_string_free(out);
  CHECK_RC(ordu_node_list(s, "zzz", NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  ordu_string_free(out);
  CHECK_RC(ordu_node_allocations(s, "node-1", NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(ordu_string_ptr(out)[0] == '[');
  ordu_string_free(out);

  uint64_t w = 0;
  CHECK_RC(ordu_node_update_drain(s, "node-1", "{\"Drain\":true}", 14, &out, &w), ORDU_OK);
  CHECK(w == 2);
  ordu_string_free(out);
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"Drain\":true"));
  CHECK(index == w);
  ordu_string_free(out);

  const char down[] = "{\"Status\":\"down\"}";
  CHECK_RC(ordu_node_update_status(s, "node-1", down, strlen(down), &out, &w), ORDU_OK);
  CHECK(w == 3);
  ordu_string_free(out);
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Status\":\"down\""));
  ordu_string_free(out);

  CHECK_RC(ordu_node_deregister(s, "node-1", &out, &w), ORDU_OK);
  CHECK(w == 4);
  ordu_string_free(out);
  out = SENTINEL;
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK(error_has("\"what\":\"node\""));
  ordu_store_free(s);
}

static void test_node_errors(void) {
  ordu_store *s = new_store();
  register_node(s);
  ordu_string *out = SENTINEL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_node_register(s, "{\"Node\":", 8, &out, &index), ORDU_INVALID_JSON);
  const char no_dc[] = "{\"Node\":{\"ID\":\"n2\",\"Name\":\"n2\"}}";
  CHECK_RC(ordu_node_register(s, no_dc, strlen(no_dc), &out, &index), ORDU_INVALID);
  CHECK(error_has("\"path\":\"Datacenter\""));
  CHECK_RC(ordu_node_register(s, NULL, 0, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_register(NULL, NODE, strlen(NODE), &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_register(s, "\"\xff\"", 3, &out, &index), ORDU_INVALID_UTF8);

  CHECK_RC(ordu_node_update_status(s, "node-1", "{\"Status\":\"asleep\"}", 19, &out, &index),
           ORDU_INVALID);
  CHECK(error_has("\"path\":\"Status\""));
  CHECK_RC(ordu_node_update_status(s, "node-1", "{\"Status\":1}", 12, &out, &index),
           ORDU_INVALID_JSON);
  CHECK_RC(ordu_node_update_status(s, "gone", "{\"Status\":\"down\"}", 17, &out, &index),
           ORDU_NOT_FOUND);
  CHECK_RC(ordu_node_update_status(s, NULL, "{\"Status\":\"down\"}", 17, &out, &index),
           ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_update_status(s, "node-1", NULL, 17, &out, &index), ORDU_NULL_PARAMETER);

  CHECK_RC(ordu_node_update_drain(s, "node-1", "{\"Drain\":\"yes\"}", 15, &out, &index),
           ORDU_INVALID_JSON);
  CHECK(error_has("\"path\":\"Drain\""));
  CHECK_RC(ordu_node_update_drain(s, "gone", "{\"Drain\":true}", 14, &out, &index),
           ORDU_NOT_FOUND);
  CHECK_RC(ordu_node_update_drain(s, "\xff", "{\"Drain\":true}", 14, &out, &index),
           ORDU_INVALID_UTF8);

  CHECK_RC(ordu_node_deregister(s, "gone", &out, &index), ORDU_NOT_FOUND);
  CHECK_RC(ordu_node_deregister(s, NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_get(s, NULL, NULL, 0, 0, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_get(s, "node-1", "x", 0, 0, &out, &index), ORDU_REGION);
  CHECK_RC(ordu_node_list(s, "\xff", NULL, 0, 0, &out, &index), ORDU_INVALID_UTF8);
  CHECK_RC(ordu_node_allocations(s, NULL, NULL, 0, 0, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_allocations(NULL, "node-1", NULL, 0, 0, &out, &index),
           ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL && index == SENTINEL_INDEX);
  ordu_store_free(s);
}

static void test_limits(void) {
  ordu_store *s = NULL;
  const char cfg[] = "{\"limits\":{\"max_request_bytes\":64}}";
  CHECK_RC(ordu_store_new(cfg, strlen(cfg), &s), ORDU_OK);
  ordu_string *out = SENTINEL;
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, NULL, &out, NULL), ORDU_LIMIT);
  CHECK(error_has("\"path\":\"body\""));
  CHECK(error_has("\"limit\":64"));
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

static void test_garbage_collect(void) {
  ordu_store *s = new_store();
  ordu_string *out = NULL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_garbage_collect(s, 0, &out, &index), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "{\"Index\":0}") == 0);
  CHECK(index == 0);
  ordu_string_free(out);

  /* A job's evaluations complete at once; far in the future they are old. */
  register_job(s, JOB);
  ordu_job_deregister(s, "web", NULL, NULL, &out, NULL);
  ordu_string_free(out);
  CHECK_RC(ordu_garbage_collect(s, INT64_MAX, &out, &index), ORDU_OK);
  CHECK(index > 0);
  ordu_string_free(out);
  CHECK_RC(ordu_job_evaluations(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  ordu_string_free(out);

  out = SENTINEL;
  CHECK_RC(ordu_garbage_collect(NULL, 0, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_garbage_collect(s, 0, NULL, &index), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

static void test_advance_drains(void) {
  ordu_store *s = new_store();
  ordu_string *out = NULL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_advance_drains(s, &out, &index), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "{\"Index\":0}") == 0);
  CHECK(index == 0);
  ordu_string_free(out);

  /* A forced drain of the only node: its allocation cannot move, so the
     first pass stops it and the second ends the drain. */
  register_node(s);
  register_job(s, JOB);
  const char force[] = "{\"DrainSpec\":{\"Deadline\":-1}}";
  CHECK_RC(ordu_node_drain(s, "node-1", force, strlen(force), &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"DesiredStatus\":\"run\""));
  ordu_string_free(out);
  CHECK_RC(ordu_advance_drains(s, &out, &index), ORDU_OK);
  CHECK(index > 0);
  ordu_string_free(out);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(!has(out, "\"DesiredStatus\":\"run\""));
  ordu_string_free(out);
  CHECK_RC(ordu_advance_drains(s, &out, &index), ORDU_OK);
  CHECK(index > 0);
  ordu_string_free(out);
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Drain\":false"));
  CHECK(has(out, "\"SchedulingEligibility\":\"ineligible\""));
  ordu_string_free(out);

  out = SENTINEL;
  CHECK_RC(ordu_advance_drains(NULL, &out, &index), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_advance_drains(s, NULL, &index), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

/* ---- manual scheduling mode ---- */

static ordu_store *new_manual_store(void) {
  ordu_store *s = NULL;
  const char cfg[] = "{\"mode\":\"manual\"}";
  CHECK_RC(ordu_store_new(cfg, strlen(cfg), &s), ORDU_OK);
  return s;
}

static void test_manual_mode_process(void) {
  ordu_store *s = new_manual_store();
  register_node(s);
  ordu_delivery *d = (ordu_delivery *)(void *)0x5e4715e1;
  CHECK_RC(ordu_eval_dequeue(s, NULL, 0, 0, &d), ORDU_OK);
  CHECK(d == NULL); /* nothing to do yet */

  uint64_t wrote = register_job(s, JOB);
  /* In manual mode the write schedules nothing: no allocations yet. */
  ordu_string *out = NULL;
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  ordu_string_free(out);

  const char *batch[] = {"batch"};
  CHECK_RC(ordu_eval_dequeue(s, batch, 1, 0, &d), ORDU_OK);
  CHECK(d == NULL); /* the job is a service job */
  const char *types[] = {"batch", "service"};
  CHECK_RC(ordu_eval_dequeue(s, types, 2, UINT64_MAX, &d), ORDU_OK);
  CHECK(d != NULL);

  uint64_t index = 0;
  CHECK_RC(ordu_delivery_json(d, &out, &index), ORDU_OK);
  CHECK(has(out, "\"JobID\":\"web\""));
  CHECK(has(out, "\"Attempt\":1"));
  CHECK(has(out, "\"Token\":\""));
  CHECK(index == wrote);
  ordu_string_free(out);

  uint64_t planned = 0;
  CHECK_RC(ordu_eval_process(s, d, &out, &planned), ORDU_OK);
  CHECK(planned > wrote);
  CHECK(has(out, "\"Index\":"));
  ordu_string_free(out);
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"NodeID\":\"node-1\""));
  CHECK(index == planned);
  ordu_string_free(out);

  /* The delivery is spent: processing or acking it again is a conflict. */
  out = SENTINEL;
  CHECK_RC(ordu_eval_process(s, d, &out, NULL), ORDU_CONFLICT);
  CHECK(error_has("\"kind\":\"conflict\""));
  CHECK_RC(ordu_eval_ack(s, d), ORDU_CONFLICT);
  CHECK(out == SENTINEL);
  ordu_delivery_free(d);

  /* Inline stores hand nothing out. */
  ordu_store *inline_store = new_store();
  register_job(inline_store, JOB);
  d = NULL;
  CHECK_RC(ordu_eval_dequeue(inline_store, NULL, 0, 0, &d), ORDU_OK);
  CHECK(d == NULL);
  ordu_store_free(inline_store);
  ordu_store_free(s);
}

static void test_manual_mode_nack_and_ack(void) {
  ordu_store *s = new_manual_store();
  register_job(s, JOB);
  ordu_delivery *d = NULL;
  CHECK_RC(ordu_eval_dequeue(s, NULL, 0, 0, &d), ORDU_OK);
  CHECK(d != NULL);
  CHECK_RC(ordu_eval_nack(s, d), ORDU_OK);
  CHECK_RC(ordu_eval_nack(s, d), ORDU_CONFLICT);
  ordu_delivery_free(d);

  /* Given back, it is delivered again. */
  d = NULL;
  CHECK_RC(ordu_eval_dequeue(s, NULL, 0, 1000, &d), ORDU_OK);
  CHECK(d != NULL);
  ordu_string *out = NULL;
  CHECK_RC(ordu_delivery_json(d, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Attempt\":2"));
  ordu_string_free(out);
  CHECK_RC(ordu_eval_ack(s, d), ORDU_OK);
  ordu_delivery_free(d);
  d = NULL;
  CHECK_RC(ordu_eval_dequeue(s, NULL, 0, 0, &d), ORDU_OK);
  CHECK(d == NULL);
  ordu_store_free(s);
}

static void test_manual_mode_errors(void) {
  ordu_store *s = new_manual_store();
  ordu_delivery *const before = (ordu_delivery *)(void *)0x5e4715e1;
  ordu_delivery *d = before;
  CHECK_RC(ordu_eval_dequeue(NULL, NULL, 0, 0, &d), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_dequeue(s, NULL, 0, 0, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_dequeue(s, NULL, 2, 0, &d), ORDU_NULL_PARAMETER);
  CHECK(error_has("types is NULL"));
  const char *null_type[] = {"service", NULL};
  CHECK_RC(ordu_eval_dequeue(s, null_type, 2, 0, &d), ORDU_NULL_PARAMETER);
  CHECK(error_has("types[1] is NULL"));
  const char *bad_type[] = {"serv\xffice"};
  CHECK_RC(ordu_eval_dequeue(s, bad_type, 1, 0, &d), ORDU_INVALID_UTF8);
  CHECK(d == before);
  ordu_string *out = SENTINEL;
  CHECK_RC(ordu_delivery_json(NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_process(s, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_process(NULL, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_ack(s, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_nack(s, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_eval_ack(NULL, NULL), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  ordu_delivery_free(NULL);
  ordu_store_free(s);
}

/* A worker thread blocked in ordu_eval_dequeue gets the evaluation a write on
 * another thread creates, and processes it. */
struct worker_thread {
  ordu_store *store;
  ordu_result rc;
  ordu_result process_rc;
  uint64_t index;
};

static void *run_worker(void *arg) {
  struct worker_thread *w = arg;
  ordu_delivery *d = NULL;
  w->rc = ordu_eval_dequeue(w->store, NULL, 0, 30000, &d);
  if (w->rc == ORDU_OK && d != NULL) {
    ordu_string *out = NULL;
    w->process_rc = ordu_eval_process(w->store, d, &out, &w->index);
    ordu_string_free(out);
  }
  ordu_delivery_free(d);
  return NULL;
}

static void test_manual_mode_worker_thread(void) {
  ordu_store *s = new_manual_store();
  register_node(s);
  struct worker_thread w = {s, ORDU_PANIC, ORDU_PANIC, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, run_worker, &w) == 0);
  sleep_ms(100);
  uint64_t wrote = register_job(s, JOB);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_RC(w.rc, ORDU_OK);
  CHECK_RC(w.process_rc, ORDU_OK);
  CHECK(w.index > wrote);
  ordu_store_free(s);
}

/* ---- queued scheduling mode ---- */

static ordu_store *new_queued_store(void) {
  ordu_store *s = NULL;
  const char cfg[] = "{\"mode\":\"queued\"}";
  CHECK_RC(ordu_store_new(cfg, strlen(cfg), &s), ORDU_OK);
  return s;
}

static int behind(const ordu_store *s) {
  int b = -1;
  CHECK_RC(ordu_store_processing_behind(s, &b), ORDU_OK);
  CHECK(b == 0 || b == 1);
  return b;
}

/* Registers `body` and copies its evaluation's ID into `eval_id`. */
static uint64_t register_job_eval(const ordu_store *s, const char *body, char *eval_id,
                                  size_t cap) {
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_register(s, body, strlen(body), NULL, NULL, &out, &index), ORDU_OK);
  CHECK(out != NULL && json_string_field(ordu_string_ptr(out), "EvalID", eval_id, cap));
  ordu_string_free(out);
  return index;
}

static void test_queued_mode(void) {
  ordu_store *s = new_queued_store();
  register_node(s);
  CHECK_RC(ordu_store_process_queued(s, NULL), ORDU_OK);
  CHECK(behind(s) == 0);

  /* The write answers with its evaluation queued, not processed. */
  char eval_id[64] = "";
  uint64_t wrote = register_job_eval(s, JOB, eval_id, sizeof eval_id);
  CHECK(behind(s) == 1);
  uint64_t upto = 0;
  CHECK_RC(ordu_store_process_queued(s, &upto), ORDU_OK);
  CHECK(upto >= wrote);
  CHECK(behind(s) == 0);
  ordu_string *out = NULL;
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"NodeID\":\"node-1\""));
  ordu_string_free(out);

  /* A read after a write processes it first. */
  register_job_eval(s, JOB_COUNT_3, eval_id, sizeof eval_id);
  CHECK(behind(s) == 1);
  CHECK_RC(ordu_evaluation_get(s, eval_id, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Status\":\"complete\""));
  ordu_string_free(out);
  CHECK(behind(s) == 0);

  /* A follower processes nothing, and has nothing behind. */
  register_job_eval(s, JOB, eval_id, sizeof eval_id);
  CHECK(behind(s) == 1);
  CHECK_RC(ordu_store_set_leader(s, 0), ORDU_OK);
  CHECK(behind(s) == 0);
  CHECK_RC(ordu_store_process_queued(s, NULL), ORDU_OK);
  CHECK_RC(ordu_evaluation_get(s, eval_id, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Status\":\"pending\""));
  ordu_string_free(out);
  /* Leading again, it processes what the state holds. */
  CHECK_RC(ordu_store_set_leader(s, 1), ORDU_OK);
  CHECK(behind(s) == 1);
  CHECK_RC(ordu_store_process_queued(s, NULL), ORDU_OK);
  CHECK(behind(s) == 0);

  /* Other modes queue nothing. */
  ordu_store *inline_store = new_store();
  register_job(inline_store, JOB);
  CHECK(behind(inline_store) == 0);
  ordu_store_free(inline_store);

  /* Errors: outputs stay as they were. */
  int b = 7;
  upto = SENTINEL_INDEX;
  CHECK_RC(ordu_store_processing_behind(NULL, &b), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_store_processing_behind(s, NULL), ORDU_NULL_PARAMETER);
  CHECK(error_has("behind_out is NULL"));
  CHECK_RC(ordu_store_process_queued(NULL, &upto), ORDU_NULL_PARAMETER);
  CHECK(error_has("store is NULL"));
  CHECK(b == 7 && upto == SENTINEL_INDEX);
  ordu_store_free(s);
}

/* A host's processing thread calls ordu_store_process_queued while another
 * thread writes and reads: every read after a write's answer sees its
 * evaluation processed. */
struct processor {
  const ordu_store *store;
  atomic_int stop;
  ordu_result rc;
};

static void *run_processor(void *arg) {
  struct processor *p = arg;
  p->rc = ORDU_OK;
  while (!atomic_load(&p->stop)) {
    int b = 0;
    ordu_result rc = ordu_store_processing_behind(p->store, &b);
    if (rc == ORDU_OK && b) rc = ordu_store_process_queued(p->store, NULL);
    if (rc != ORDU_OK) p->rc = rc;
    if (!b) sleep_ms(1);
  }
  return NULL;
}

static void test_queued_mode_processing_thread(void) {
  ordu_store *s = new_queued_store();
  register_node(s);
  struct processor p = {s, 0, ORDU_PANIC};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, run_processor, &p) == 0);
  for (int i = 0; i < 20; i++) {
    char eval_id[64] = "";
    register_job_eval(s, i % 2 ? JOB : JOB_COUNT_3, eval_id, sizeof eval_id);
    ordu_string *out = NULL;
    CHECK_RC(ordu_evaluation_get(s, eval_id, NULL, 0, 0, &out, NULL), ORDU_OK);
    const char *got = out ? ordu_string_ptr(out) : "";
    CHECK(strstr(got, "\"Status\":\"complete\"") || strstr(got, "\"Status\":\"canceled\""));
    ordu_string_free(out);
  }
  atomic_store(&p.stop, 1);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_RC(p.rc, ORDU_OK);
  ordu_store_free(s);
}

/* ---- blocking reads and threads ---- */

struct waiter {
  const ordu_store *store;
  uint64_t min_index;
  uint64_t wait_ms;
  atomic_int *written; /* set by the writer just before it writes */
  ordu_result rc;
  uint64_t index;
  int woke_after_write;
  double waited_ms;
};

static void *wait_for_job(void *arg) {
  struct waiter *w = arg;
  ordu_string *out = NULL;
  double start = now_ms();
  w->rc = ordu_job_get(w->store, "web", NULL, NULL, w->min_index, w->wait_ms, &out, &w->index);
  w->waited_ms = now_ms() - start;
  w->woke_after_write = w->written != NULL && atomic_load(w->written);
  ordu_string_free(out);
  return NULL;
}

static void test_blocking_read_wakes_on_write(void) {
  ordu_store *s = new_store();
  register_job(s, JOB);
  uint64_t first = job_index(s, "web");
  atomic_int written = 0;
  enum { N = 8 };
  struct waiter ws[N];
  pthread_t ts[N];
  for (int i = 0; i < N; i++) {
    ws[i] = (struct waiter){s, first, 30000, &written, ORDU_PANIC, 0, 0, 0};
    CHECK(pthread_create(&ts[i], NULL, wait_for_job, &ws[i]) == 0);
  }
  sleep_ms(200);
  atomic_store(&written, 1);
  uint64_t second = register_job(s, JOB_COUNT_3);
  CHECK(second > first);
  /* The final index: the write's, or a later one if scheduling changed the job. */
  uint64_t last = job_index(s, "web");
  for (int i = 0; i < N; i++) {
    CHECK(pthread_join(ts[i], NULL) == 0);
    CHECK_RC(ws[i].rc, ORDU_OK);
    CHECK(ws[i].index >= second && ws[i].index <= last);
    CHECK(ws[i].woke_after_write);
    CHECK(ws[i].waited_ms < 25000);
  }
  ordu_store_free(s);
}

static void test_blocking_read_times_out(void) {
  ordu_store *s = new_store();
  register_job(s, JOB);
  uint64_t first = job_index(s, "web");
  struct waiter w = {s, first, 100, NULL, ORDU_PANIC, 0, 0, 0};
  wait_for_job(&w);
  CHECK_RC(w.rc, ORDU_OK);
  CHECK(w.index == first);
  CHECK(w.waited_ms >= 95);
  /* A min_index past the store's index (a reset history) answers at once,
   * whatever the wait: the largest one neither panics nor overflows. */
  w = (struct waiter){s, first + 1000, UINT64_MAX, NULL, ORDU_PANIC, 0, 0, 0};
  wait_for_job(&w);
  CHECK_RC(w.rc, ORDU_OK);
  CHECK(w.index == first);
  CHECK(w.waited_ms < 5000);
  /* min_index 0 never blocks, even with a wait. */
  w = (struct waiter){s, 0, 10000, NULL, ORDU_PANIC, 0, 0, 0};
  wait_for_job(&w);
  CHECK_RC(w.rc, ORDU_OK);
  CHECK(w.waited_ms < 5000);
  ordu_store_free(s);
}

/* A read blocked on a job that does not exist yet wakes when it is created. */
static void test_blocking_read_on_missing_job(void) {
  ordu_store *s = new_store();
  register_node(s);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_store_index(s, &index), ORDU_OK);
  atomic_int written = 0;
  struct waiter w = {s, index, 30000, &written, ORDU_PANIC, 0, 0, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, wait_for_job, &w) == 0);
  sleep_ms(100);
  atomic_store(&written, 1);
  uint64_t wrote = register_job(s, JOB);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_RC(w.rc, ORDU_OK);
  CHECK(w.index >= wrote && w.index <= job_index(s, "web"));
  CHECK(w.woke_after_write);
  ordu_store_free(s);
}

/* Stress: waiters follow a job through many writes, each waking with an index
 * above the one it waited past (no lost wake-up: a lost one would show as a
 * 10 s timeout answering the same index). */
struct follower {
  const ordu_store *store;
  const atomic_ullong *final_index;
  uint64_t start;
  int wakes;
  int bad;
};

static void *follow(void *arg) {
  struct follower *f = arg;
  uint64_t last = f->start;
  for (;;) {
    uint64_t final = atomic_load(f->final_index);
    if (final != 0 && last >= final) break;
    ordu_string *out = NULL;
    uint64_t index = 0;
    if (ordu_job_get(f->store, "web", NULL, NULL, last, 10000, &out, &index) != ORDU_OK) {
      f->bad++;
      break;
    }
    ordu_string_free(out);
    if (index <= last) {
      f->bad++;
      break;
    }
    last = index;
    f->wakes++;
  }
  return NULL;
}

static void test_waiters_follow_every_change(void) {
  ordu_store *s = new_store();
  register_job(s, JOB);
  uint64_t start = job_index(s, "web");
  atomic_ullong final_index = 0;
  enum { WAITERS = 4, WRITES = 40 };
  struct follower fs[WAITERS];
  pthread_t ts[WAITERS];
  for (int i = 0; i < WAITERS; i++) {
    fs[i] = (struct follower){s, &final_index, start, 0, 0};
    CHECK(pthread_create(&ts[i], NULL, follow, &fs[i]) == 0);
  }
  for (int i = 0; i < WRITES; i++) register_job(s, i % 2 ? JOB : JOB_COUNT_3);
  atomic_store(&final_index, job_index(s, "web"));
  /* One more change wakes any waiter parked at the final index. */
  register_job(s, JOB_COUNT_3);
  for (int i = 0; i < WAITERS; i++) {
    CHECK(pthread_join(ts[i], NULL) == 0);
    CHECK(fs[i].bad == 0);
    CHECK(fs[i].wakes >= 1);
  }
  ordu_store_free(s);
}

/* Many threads write and read at once; each sees its own results and its own
 * last error. */
struct worker {
  const ordu_store *store;
  int id;
  int errors;
};

static void *work(void *arg) {
  struct worker *w = arg;
  char body[512];
  char job_id[32];
  snprintf(job_id, sizeof job_id, "job-%d", w->id);
  for (int i = 0; i < 40; i++) {
    int n = snprintf(body, sizeof body,
                     "{\"Job\":{\"ID\":\"%s\",\"TaskGroups\":[{\"Name\":\"g\",\"Count\":%d,"
                     "\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}",
                     job_id, 1 + i % 3);
    ordu_string *out = NULL;
    uint64_t wrote = 0, read = 0;
    if (ordu_job_register(w->store, body, (size_t)n, NULL, NULL, &out, &wrote) != ORDU_OK) w->errors++;
    ordu_string_free(out);
    out = NULL;
    if (ordu_job_get(w->store, job_id, NULL, NULL, 0, 0, &out, &read) != ORDU_OK) w->errors++;
    if (read < wrote) w->errors++;
    ordu_string_free(out);
    out = NULL;
    /* An error of this thread's own kind, read back at once. */
    if (w->id % 2 == 0) {
      if (ordu_job_get(w->store, "missing", NULL, NULL, 0, 0, &out, NULL) != ORDU_NOT_FOUND)
        w->errors++;
      if (!error_has("\"kind\":\"not_found\"")) w->errors++;
    } else {
      if (ordu_job_register(w->store, "[", 1, NULL, NULL, &out, NULL) != ORDU_INVALID_JSON)
        w->errors++;
      if (!error_has("\"result\":102")) w->errors++;
    }
  }
  return NULL;
}

static void test_concurrent_writers_and_readers(void) {
  ordu_store *s = new_store();
  enum { N = 6 };
  struct worker ws[N];
  pthread_t ts[N];
  for (int i = 0; i < N; i++) {
    ws[i] = (struct worker){s, i, 0};
    CHECK(pthread_create(&ts[i], NULL, work, &ws[i]) == 0);
  }
  for (int i = 0; i < N; i++) {
    CHECK(pthread_join(ts[i], NULL) == 0);
    CHECK(ws[i].errors == 0);
  }
  ordu_string *out = NULL;
  CHECK_RC(ordu_job_list(s, "job-", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  for (int i = 0; i < N; i++) {
    char id[32];
    snprintf(id, sizeof id, "\"ID\":\"job-%d\"", i);
    CHECK(has(out, id));
  }
  ordu_string_free(out);
  ordu_store_free(s);
}

/* An evaluation's allocations: those its register placed; [] for an
 * unknown evaluation. */
static void test_evaluation_allocations(void) {
  ordu_store *s = new_store();
  register_node(s);
  ordu_string *out = NULL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, NULL, &out, &index), ORDU_OK);
  char eval_id[64] = "";
  CHECK(json_string_field(ordu_string_ptr(out), "EvalID", eval_id, sizeof eval_id));
  ordu_string_free(out);

  uint64_t at = 0;
  CHECK_RC(ordu_evaluation_allocations(s, eval_id, NULL, 0, 0, &out, &at), ORDU_OK);
  CHECK(has(out, "\"NodeID\":\"node-1\""));
  CHECK(has(out, eval_id));
  CHECK(at > 0);
  ordu_string_free(out);

  CHECK_RC(ordu_evaluation_allocations(s, "no-such-eval", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);
  ordu_string_free(out);
  out = SENTINEL;
  CHECK_RC(ordu_evaluation_allocations(s, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_evaluation_allocations(s, eval_id, "moon", 0, 0, &out, NULL), ORDU_REGION);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

/* A body with anything after its one JSON value is refused, and writes
 * nothing. */
static void test_trailing_garbage_is_refused(void) {
  ordu_store *s = new_store();
  char body[4096];
  snprintf(body, sizeof body, "%s garbage {]]", JOB);
  ordu_string *out = SENTINEL;
  uint64_t index = 0;
  CHECK_RC(ordu_job_register(s, body, strlen(body), NULL, NULL, &out, &index), ORDU_INVALID_JSON);
  CHECK(out == SENTINEL);
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  ordu_store_free(s);
}

/* ---- Nomad 1.x's node and allocation writes ---- */

static void test_node_eligibility_drain_evaluate_and_alloc_stop(void) {
  ordu_store *s = new_store();
  register_node(s);
  register_job(s, JOB);
  ordu_string *out = NULL;
  uint64_t index = 0, w = 0;

  /* Node evaluate: one node-update evaluation for the job on it. */
  CHECK_RC(ordu_node_evaluate(s, "node-1", &out, &w), ORDU_OK);
  CHECK(w > 0);
  CHECK(has(out, "\"EvalIDs\":[\""));
  CHECK(has(out, "\"NodeModifyIndex\":1"));
  ordu_string_free(out);

  /* Stop an allocation: it is replaced. */
  CHECK_RC(ordu_job_allocations(s, "web", false, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  char alloc_id[64] = "";
  int placed = json_string_field(ordu_string_ptr(out), "ID", alloc_id, sizeof alloc_id);
  CHECK(placed);
  ordu_string_free(out);
  if (placed) {
    CHECK_RC(ordu_allocation_stop(s, alloc_id, NULL, &out, &w), ORDU_OK);
    CHECK(has(out, "\"EvalID\":\""));
    ordu_string_free(out);
    CHECK_RC(ordu_allocation_get(s, alloc_id, NULL, 0, 0, &out, NULL), ORDU_OK);
    CHECK(has(out, "\"DesiredStatus\":\"stop\""));
    CHECK(has(out, "\"Migrate\":true"));
    ordu_string_free(out);
  }
  out = SENTINEL;
  CHECK_RC(ordu_allocation_stop(s, "no-such-alloc", NULL, &out, NULL), ORDU_NOT_FOUND);
  CHECK(error_has("Unknown allocation"));
  CHECK_RC(ordu_allocation_stop(s, NULL, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_allocation_stop(s, "a", "mars", &out, NULL), ORDU_REGION);
  CHECK(out == SENTINEL);

  /* Eligibility. */
  const char inel[] = "{\"NodeID\":\"node-1\",\"Eligibility\":\"ineligible\"}";
  CHECK_RC(ordu_node_update_eligibility(s, "node-1", inel, strlen(inel), &out, &w), ORDU_OK);
  CHECK(has(out, "\"NodeModifyIndex\":"));
  ordu_string_free(out);
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"SchedulingEligibility\":\"ineligible\""));
  CHECK(index == w);
  ordu_string_free(out);
  out = SENTINEL;
  const char bad[] = "{\"Eligibility\":\"maybe\"}";
  CHECK_RC(ordu_node_update_eligibility(s, "node-1", bad, strlen(bad), &out, NULL),
           ORDU_INVALID);
  CHECK(error_has("\"path\":\"Eligibility\""));
  CHECK_RC(ordu_node_update_eligibility(s, "gone", inel, strlen(inel), &out, NULL),
           ORDU_NOT_FOUND);
  CHECK_RC(ordu_node_update_eligibility(s, "node-1", "{", 1, &out, NULL), ORDU_INVALID_JSON);
  CHECK(out == SENTINEL);

  /* Drain with a DrainSpec, then end it with MarkEligible. */
  const char drain[] = "{\"DrainSpec\":{\"Deadline\":60000000000,\"IgnoreSystemJobs\":true}}";
  CHECK_RC(ordu_node_drain(s, "node-1", drain, strlen(drain), &out, &w), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Drain\":true"));
  CHECK(has(out, "\"DrainStrategy\":{\"Deadline\":60000000000,\"IgnoreSystemJobs\":true"));
  ordu_string_free(out);
  const char undrain[] = "{\"DrainSpec\":null,\"MarkEligible\":true}";
  CHECK_RC(ordu_node_drain(s, "node-1", undrain, strlen(undrain), &out, &w), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_node_get(s, "node-1", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Drain\":false"));
  CHECK(has(out, "\"SchedulingEligibility\":\"eligible\""));
  ordu_string_free(out);
  out = SENTINEL;
  const char bad_spec[] = "{\"DrainSpec\":{\"Deadline\":\"soon\"}}";
  CHECK_RC(ordu_node_drain(s, "node-1", bad_spec, strlen(bad_spec), &out, NULL),
           ORDU_INVALID_JSON);
  CHECK(error_has("\"path\":\"DrainSpec.Deadline\""));
  CHECK_RC(ordu_node_drain(s, "gone", undrain, strlen(undrain), &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_node_evaluate(s, "gone", &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_node_evaluate(s, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK(out == SENTINEL);
  ordu_store_free(s);
}

/* ---- main ---- */

/* ---- lists with paging ---- */

/* How many objects (`"ID":` keys at the top of each item) a list holds. */
static int count_ids(const ordu_string *s, const char *key) {
  int n = 0;
  for (const char *p = ordu_string_ptr(s); (p = strstr(p, key)) != NULL; p += strlen(key)) n++;
  return n;
}

/* The shape of the paged lists of jobs, evaluations and allocations. */
typedef ordu_result (*list_fn)(const ordu_store *, const char *, size_t, const char *,
                               const char *, uint64_t, uint64_t, ordu_string **, uint64_t *,
                               ordu_string **);

/* ordu_node_list_page in that shape: nodes have no namespace. */
static ordu_result node_list_page(const ordu_store *s, const char *options, size_t len,
                                  const char *ns, const char *region, uint64_t min_index,
                                  uint64_t wait_ms, ordu_string **out, uint64_t *index,
                                  ordu_string **next) {
  (void)ns;
  return ordu_node_list_page(s, options, len, region, min_index, wait_ms, out, index, next);
}

/* Walks a list `per_page` at a time; answers how many items it saw, in how
 * many pages (every token freed). */
static int walk_list(const ordu_store *s, list_fn fn, const char *key, int per_page, int *pages) {
  char opts[256];
  char token[128] = "";
  int seen = 0;
  *pages = 0;
  for (int guard = 0; guard < 100; guard++) {
    snprintf(opts, sizeof opts, "{\"per_page\":%d,\"next_token\":\"%s\"}", per_page, token);
    ordu_string *out = NULL, *next = SENTINEL;
    CHECK_RC(fn(s, opts, strlen(opts), NULL, NULL, 0, 0, &out, NULL, &next), ORDU_OK);
    if (out == NULL) return seen;
    int n = count_ids(out, key);
    CHECK(n <= per_page);
    seen += n;
    (*pages)++;
    ordu_string_free(out);
    if (next == NULL) return seen;
    CHECK(next != SENTINEL);
    CHECK(n == per_page);
    CHECK(ordu_string_len(next) < sizeof token);
    snprintf(token, sizeof token, "%s", ordu_string_ptr(next));
    ordu_string_free(next);
  }
  CHECK(!"the walk ends");
  return seen;
}

static void test_lists(void) {
  ordu_store *s = new_store();
  register_node(s);
  char job[512];
  for (const char *id = "abc"; *id; id++) {
    snprintf(job, sizeof job,
             "{\"Job\":{\"ID\":\"%c\",\"Datacenters\":[\"dc1\"],\"TaskGroups\":[{\"Name\":\"g\","
             "\"Count\":2,\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\",\"Resources\":{\"CPU\":"
             "100,\"MemoryMB\":64}}]}]}}",
             *id);
    register_job(s, job);
  }

  /* The whole lists: NULL options, no next page. */
  ordu_string *out = NULL, *next = SENTINEL;
  uint64_t index = SENTINEL_INDEX;
  CHECK_RC(ordu_evaluation_list(s, NULL, 0, NULL, NULL, 0, 0, &out, &index, &next), ORDU_OK);
  CHECK(count_ids(out, "\"TriggeredBy\":") == 3);
  CHECK(next == NULL);
  CHECK(index > 0 && index != SENTINEL_INDEX);
  ordu_string_free(out);
  CHECK_RC(ordu_allocation_list(s, "  ", 2, NULL, NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(count_ids(out, "\"EvalID\":") == 6);
  ordu_string_free(out);

  /* Page by page: every item once. */
  int pages = 0;
  CHECK(walk_list(s, ordu_evaluation_list, "\"TriggeredBy\":", 1, &pages) == 3);
  CHECK(pages == 3);
  CHECK(walk_list(s, ordu_allocation_list, "\"EvalID\":", 4, &pages) == 6);
  CHECK(pages == 2);
  CHECK(walk_list(s, ordu_job_list_page, "\"JobModifyIndex\":", 2, &pages) == 3);
  CHECK(walk_list(s, node_list_page, "\"Datacenter\":", 1, &pages) == 1);

  /* Jobs: ID order, a token of <Namespace>.<ID>, and reverse. */
  const char *two = "{\"per_page\":2}";
  CHECK_RC(ordu_job_list_page(s, two, strlen(two), NULL, NULL, 0, 0, &out, NULL, &next), ORDU_OK);
  CHECK(has(out, "\"ID\":\"a\"") && has(out, "\"ID\":\"b\""));
  CHECK(next != NULL && strcmp(ordu_string_ptr(next), "default.c") == 0);
  ordu_string_free(out);
  ordu_string_free(next);
  const char *rev = "{\"per_page\":1,\"reverse\":true}";
  CHECK_RC(ordu_job_list_page(s, rev, strlen(rev), NULL, NULL, 0, 0, &out, NULL, &next), ORDU_OK);
  CHECK(has(out, "\"ID\":\"c\""));
  CHECK(next != NULL && strcmp(ordu_string_ptr(next), "default.b") == 0);
  ordu_string_free(out);
  ordu_string_free(next);

  /* Filters: job and status. */
  const char *of_b = "{\"job\":\"b\",\"status\":\"complete\"}";
  CHECK_RC(ordu_evaluation_list(s, of_b, strlen(of_b), NULL, NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(count_ids(out, "\"TriggeredBy\":") == 1);
  CHECK(has(out, "\"JobID\":\"b\""));
  ordu_string_free(out);
  CHECK_RC(ordu_allocation_list(s, of_b, strlen(of_b), NULL, NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "[]") == 0);  /* none complete yet */
  ordu_string_free(out);

  /* A blocking read of the list times out at the same index when no
   * evaluation changes. */
  uint64_t again = 0;
  CHECK_RC(ordu_evaluation_list(s, NULL, 0, NULL, NULL, index, 100, &out, &again, NULL), ORDU_OK);
  CHECK(again == index);
  ordu_string_free(out);

  /* Errors: outputs untouched. */
  out = SENTINEL;
  next = SENTINEL;
  const char *bad[] = {"{\"per_page\":-1}", "{\"per_page\":\"x\"}", "{\"perpage\":1}", "{",
                       "{\"next_token\":\"nodot\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_RC(ordu_evaluation_list(s, bad[i], strlen(bad[i]), NULL, NULL, 0, 0, &out, NULL, &next),
             ORDU_INVALID_JSON);
  }
  CHECK(error_has("\"path\":\"next_token\""));
  CHECK_RC(ordu_job_list_page(s, "{\"next_token\":\"web\"}", 20, NULL, NULL, 0, 0, &out, NULL, &next),
           ORDU_INVALID_JSON);
  CHECK_RC(ordu_allocation_list(NULL, NULL, 0, NULL, NULL, 0, 0, &out, NULL, &next),
           ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_list_page(s, NULL, 0, NULL, 0, 0, NULL, NULL, &next), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_node_list_page(s, "\xff", 1, NULL, 0, 0, &out, NULL, &next), ORDU_INVALID_UTF8);
  CHECK_RC(ordu_evaluation_list(s, NULL, 0, NULL, "mars", 0, 0, &out, NULL, &next), ORDU_REGION);
  CHECK(out == SENTINEL && next == SENTINEL);
  ordu_store_free(s);
}

/* ---- namespaces ---- */

/* How many times `needle` occurs in `s`. */
static int count_of(const ordu_string *s, const char *needle) {
  int n = 0;
  for (const char *p = ordu_string_ptr(s); (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  return n;
}

static void test_namespaces(void) {
  ordu_store *s = new_store();
  register_node(s);
  ordu_string *out = NULL;
  uint64_t index = 0;

  /* `default` always exists, and only it at first. */
  CHECK_RC(ordu_namespace_list(s, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(count_of(out, "\"Name\":") == 1 && has(out, "\"Name\":\"default\""));
  ordu_string_free(out);
  CHECK_RC(ordu_namespace_get(s, "default", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Name\":\"default\""));
  ordu_string_free(out);

  /* A register into a namespace that does not exist is refused, naming
   * the field, and writes nothing. */
  out = SENTINEL;
  index = SENTINEL_INDEX;
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), "prod", NULL, &out, &index), ORDU_INVALID);
  CHECK(error_has("\"path\":\"Namespace\""));
  CHECK(out == SENTINEL && index == SENTINEL_INDEX);
  CHECK_RC(ordu_namespace_get(s, "prod", NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK(out == SENTINEL);

  /* Created by a write: the name from the body (NULL name), then updated
   * by name. Writes answer null at their index. */
  const char prod[] = "{\"Name\":\"prod\",\"Description\":\"production\"}";
  uint64_t created = 0;
  CHECK_RC(ordu_namespace_upsert(s, NULL, prod, strlen(prod), NULL, &out, &created), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "null") == 0);
  CHECK(created > 0);
  ordu_string_free(out);
  const char desc[] = "{\"Description\":\"the real thing\"}";
  uint64_t updated = 0;
  CHECK_RC(ordu_namespace_upsert(s, "prod", desc, strlen(desc), NULL, &out, &updated), ORDU_OK);
  CHECK(updated > created);
  ordu_string_free(out);
  CHECK_RC(ordu_namespace_get(s, "prod", NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(has(out, "\"Description\":\"the real thing\""));
  CHECK(index == updated);
  ordu_string_free(out);
  CHECK_RC(ordu_namespace_list(s, "pr", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(count_of(out, "\"Name\":") == 1 && has(out, "\"Name\":\"prod\""));
  ordu_string_free(out);

  /* The same job ID in `default` (NULL and "" name it) and in `prod`:
   * two jobs. */
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), NULL, NULL, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_register(s, JOB, strlen(JOB), "prod", NULL, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Namespace\":\"default\""));
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "web", "", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Namespace\":\"default\""));
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "web", "prod", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(has(out, "\"Namespace\":\"prod\""));
  ordu_string_free(out);

  /* A job's own Namespace wins over the call's. */
  const char api[] =
      "{\"Job\":{\"ID\":\"api\",\"Namespace\":\"prod\",\"TaskGroups\":[{\"Name\":\"g\","
      "\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}";
  CHECK_RC(ordu_job_register(s, api, strlen(api), NULL, NULL, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "api", "prod", NULL, 0, 0, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "api", NULL, NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);

  /* Each namespace lists its own; "*" lists every one. */
  CHECK_RC(ordu_job_list(s, NULL, NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(count_of(out, "\"ID\":") == 1 && has(out, "\"Namespace\":\"default\""));
  ordu_string_free(out);
  CHECK_RC(ordu_job_list(s, NULL, "prod", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(count_of(out, "\"ID\":") == 2 && count_of(out, "\"Namespace\":\"prod\"") == 2);
  ordu_string_free(out);
  CHECK_RC(ordu_job_list(s, "we", "*", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(count_of(out, "\"ID\":\"web\"") == 2);
  CHECK(has(out, "\"Namespace\":\"default\"") && has(out, "\"Namespace\":\"prod\""));
  ordu_string_free(out);
  ordu_string *next = SENTINEL;
  const char *one = "{\"per_page\":1}";
  CHECK_RC(ordu_job_list_page(s, one, strlen(one), "*", NULL, 0, 0, &out, NULL, &next), ORDU_OK);
  CHECK(has(out, "\"Namespace\":\"default\""));
  CHECK(next != NULL && strcmp(ordu_string_ptr(next), "prod.api") == 0);
  ordu_string_free(out);
  ordu_string_free(next);

  /* So do evaluations and allocations (web's two in each namespace). */
  CHECK_RC(ordu_evaluation_list(s, NULL, 0, "prod", NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(count_of(out, "\"TriggeredBy\":") == 2);
  CHECK(count_of(out, "\"Namespace\":\"default\"") == 0);
  ordu_string_free(out);
  CHECK_RC(ordu_evaluation_list(s, NULL, 0, "*", NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(count_of(out, "\"TriggeredBy\":") == 3);
  ordu_string_free(out);
  CHECK_RC(ordu_allocation_list(s, NULL, 0, NULL, NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(count_of(out, "\"EvalID\":") == 2);
  ordu_string_free(out);
  CHECK_RC(ordu_allocation_list(s, NULL, 0, "*", NULL, 0, 0, &out, NULL, NULL), ORDU_OK);
  CHECK(count_of(out, "\"EvalID\":") == 5);  /* web 2 + 2, api 1 */
  ordu_string_free(out);
  CHECK_RC(ordu_job_allocations(s, "web", false, "prod", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(count_of(out, "\"EvalID\":") == 2 && !strstr(ordu_string_ptr(out), "\"default\""));
  ordu_string_free(out);

  /* A namespace that is not UTF-8 is an error like any string's. */
  out = SENTINEL;
  CHECK_RC(ordu_job_get(s, "web", "pr\xff", NULL, 0, 0, &out, NULL), ORDU_INVALID_UTF8);
  CHECK(error_has("ns is not UTF-8"));
  CHECK_RC(ordu_job_list(s, NULL, "\xc0", NULL, 0, 0, &out, NULL), ORDU_INVALID_UTF8);
  CHECK_RC(ordu_evaluation_list(s, NULL, 0, "\x80", NULL, 0, 0, &out, NULL, NULL),
           ORDU_INVALID_UTF8);
  CHECK_RC(ordu_job_deregister(s, "web", "\xfe", NULL, &out, NULL), ORDU_INVALID_UTF8);

  /* Bad namespace writes. */
  const char bad_name[] = "{\"Name\":\"has space\"}";
  CHECK_RC(ordu_namespace_upsert(s, NULL, bad_name, strlen(bad_name), NULL, &out, NULL),
           ORDU_INVALID);
  CHECK(error_has("\"path\":\"Name\""));
  CHECK_RC(ordu_namespace_upsert(s, "qa", prod, strlen(prod), NULL, &out, NULL), ORDU_INVALID);
  CHECK(error_has("\"path\":\"Name\""));
  CHECK_RC(ordu_namespace_upsert(s, NULL, "{\"Name\":", 8, NULL, &out, NULL), ORDU_INVALID_JSON);
  CHECK_RC(ordu_namespace_upsert(s, NULL, NULL, 0, NULL, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_namespace_upsert(s, "q\xff", prod, strlen(prod), NULL, &out, NULL),
           ORDU_INVALID_UTF8);
  CHECK_RC(ordu_namespace_upsert(s, NULL, prod, strlen(prod), "mars", &out, NULL), ORDU_REGION);
  CHECK_RC(ordu_namespace_get(s, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_namespace_list(NULL, NULL, NULL, 0, 0, &out, NULL), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_namespace_delete(s, NULL, NULL, &out, NULL), ORDU_NULL_PARAMETER);

  /* Deleting: never `default`, not a namespace that holds a job, not one
   * that does not exist. */
  CHECK_RC(ordu_namespace_delete(s, "default", NULL, &out, NULL), ORDU_CONFLICT);
  CHECK_RC(ordu_namespace_delete(s, "prod", NULL, &out, NULL), ORDU_CONFLICT);
  CHECK_RC(ordu_namespace_delete(s, "nope", NULL, &out, NULL), ORDU_NOT_FOUND);
  CHECK(out == SENTINEL);

  /* Purging prod's web leaves default's; once prod holds no job it goes. */
  CHECK_RC(ordu_job_deregister_purge(s, "web", true, "prod", NULL, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_job_get(s, "web", "prod", NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_job_get(s, "web", NULL, NULL, 0, 0, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  CHECK_RC(ordu_namespace_delete(s, "prod", NULL, &out, NULL), ORDU_CONFLICT);  /* api */
  CHECK_RC(ordu_job_deregister(s, "api", "prod", NULL, &out, NULL), ORDU_OK);
  ordu_string_free(out);
  uint64_t deleted = 0;
  CHECK_RC(ordu_namespace_delete(s, "prod", NULL, &out, &deleted), ORDU_OK);
  CHECK(strcmp(ordu_string_ptr(out), "null") == 0);
  CHECK(deleted > updated);
  ordu_string_free(out);
  CHECK_RC(ordu_namespace_get(s, "prod", NULL, 0, 0, &out, NULL), ORDU_NOT_FOUND);
  CHECK_RC(ordu_namespace_list(s, NULL, NULL, 0, 0, &out, &index), ORDU_OK);
  CHECK(count_of(out, "\"Name\":") == 1 && has(out, "\"Name\":\"default\""));
  CHECK(index == deleted);
  ordu_string_free(out);
  CHECK_RC(ordu_job_list(s, NULL, "*", NULL, 0, 0, &out, NULL), ORDU_OK);
  CHECK(count_of(out, "\"ID\":") == 1 && has(out, "\"Namespace\":\"default\""));
  ordu_string_free(out);
  ordu_store_free(s);
}

/* ---- the event stream ---- */

static void test_event_stream(void) {
  ordu_store *s = new_store();
  ordu_event_subscription *all = NULL, *jobs = NULL;
  CHECK_RC(ordu_event_subscribe(s, NULL, 0, NULL, 0, &all), ORDU_OK);
  const char *topics[] = {"Job:web"};
  CHECK_RC(ordu_event_subscribe(s, topics, 1, "default", 0, &jobs), ORDU_OK);
  uint64_t node_index = register_node(s);
  uint64_t job_index = register_job(s, JOB);

  ordu_string *frame = NULL;
  CHECK_RC(ordu_event_next(all, 1000, &frame), ORDU_OK);
  CHECK(has(frame, "\"Topic\":\"Node\""));
  CHECK(has(frame, "\"Type\":\"NodeRegistration\""));
  char want[64];
  snprintf(want, sizeof want, "{\"Index\":%llu,", (unsigned long long)node_index);
  CHECK(frame != NULL && strncmp(ordu_string_ptr(frame), want, strlen(want)) == 0);
  ordu_string_free(frame);
  CHECK_RC(ordu_event_next(all, 1000, &frame), ORDU_OK);
  CHECK(has(frame, "\"Type\":\"JobRegistered\""));
  CHECK(has(frame, "\"Payload\":{\"Job\":{"));
  ordu_string_free(frame);

  /* The filter: job web's own events only, the register's first. */
  CHECK_RC(ordu_event_next(jobs, 1000, &frame), ORDU_OK);
  snprintf(want, sizeof want, "{\"Index\":%llu,", (unsigned long long)job_index);
  CHECK(frame != NULL && strncmp(ordu_string_ptr(frame), want, strlen(want)) == 0);
  CHECK(frame != NULL && strstr(ordu_string_ptr(frame), "\"Topic\":\"Evaluation\"") == NULL);
  ordu_string_free(frame);

  /* Drained: no frame within the timeout, and none without waiting. */
  frame = SENTINEL;
  ordu_event_subscription *late = NULL;
  CHECK_RC(ordu_event_subscribe(s, NULL, 0, NULL, 0, &late), ORDU_OK);
  double started = now_ms();
  CHECK_RC(ordu_event_next(late, 50, &frame), ORDU_OK);
  CHECK(frame == NULL);
  CHECK(now_ms() - started >= 45);
  CHECK_RC(ordu_event_next(late, 0, &frame), ORDU_OK);
  CHECK(frame == NULL);

  /* From a past index. */
  ordu_event_subscription *past = NULL;
  CHECK_RC(ordu_event_subscribe(s, NULL, 0, NULL, job_index, &past), ORDU_OK);
  CHECK_RC(ordu_event_next(past, 0, &frame), ORDU_OK);
  CHECK(has(frame, "\"Type\":\"JobRegistered\""));
  ordu_string_free(frame);

  /* Errors: a bad filter, NULL arguments; outputs untouched. */
  ordu_event_subscription *bad = (ordu_event_subscription *)(void *)SENTINEL;
  const char *bad_topics[] = {"Job:"};
  CHECK_RC(ordu_event_subscribe(s, bad_topics, 1, NULL, 0, &bad), ORDU_INVALID_JSON);
  CHECK(error_has("\"path\":\"topic\""));
  CHECK_RC(ordu_event_subscribe(s, NULL, 1, NULL, 0, &bad), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_event_subscribe(NULL, NULL, 0, NULL, 0, &bad), ORDU_NULL_PARAMETER);
  CHECK(bad == (ordu_event_subscription *)(void *)SENTINEL);
  CHECK_RC(ordu_event_next(NULL, 0, &frame), ORDU_NULL_PARAMETER);
  CHECK_RC(ordu_event_next(all, 0, NULL), ORDU_NULL_PARAMETER);

  ordu_event_unsubscribe(all);
  ordu_event_unsubscribe(jobs);
  ordu_event_unsubscribe(late);
  ordu_event_unsubscribe(NULL);
  /* A subscription may outlive its store. */
  ordu_store_free(s);
  CHECK_RC(ordu_event_next(past, 0, &frame), ORDU_OK);
  ordu_string_free(frame);
  ordu_event_unsubscribe(past);
}

static void test_event_stream_buffer_bound(void) {
  const char config[] = "{\"event_buffer_size\":2}";
  ordu_store *s = NULL;
  CHECK_RC(ordu_store_new(config, strlen(config), &s), ORDU_OK);
  ordu_event_subscription *slow = NULL;
  CHECK_RC(ordu_event_subscribe(s, NULL, 0, NULL, 0, &slow), ORDU_OK);
  register_node(s);
  register_job(s, JOB);
  register_job(s, "{\"Job\":{\"ID\":\"api\",\"Datacenters\":[\"dc1\"],\"TaskGroups\":"
                  "[{\"Name\":\"g\",\"Tasks\":[{\"Name\":\"t\",\"Driver\":\"exec\"}]}]}}");
  ordu_string *frame = SENTINEL;
  CHECK_RC(ordu_event_next(slow, 0, &frame), ORDU_LIMIT);
  CHECK(frame == SENTINEL);
  CHECK(error_has("oldest index"));
  ordu_event_subscription *old = NULL;
  CHECK_RC(ordu_event_subscribe(s, NULL, 0, NULL, 1, &old), ORDU_LIMIT);
  CHECK(old == NULL);
  CHECK(error_has("\"path\":\"index\""));
  ordu_event_unsubscribe(slow);
  ordu_store_free(s);
}

static const struct test tests[] = {
    T(test_version_and_names),
    T(test_string_accessors_accept_null),
    T(test_last_error),
    T(test_store_new),
    T(test_store_new_errors),
    T(test_job_register_and_get),
    T(test_job_register_errors),
    T(test_job_get_errors),
    T(test_job_list),
    T(test_job_evaluate_and_evaluations),
    T(test_job_plan),
    T(test_job_deregister),
    T(test_job_stop_and_purge),
    T(test_job_versions_revert_and_stable),
    T(test_job_summary_and_scale),
    T(test_allocations),
    T(test_evaluation_allocations),
    T(test_lists),
    T(test_namespaces),
    T(test_trailing_garbage_is_refused),
    T(test_nodes),
    T(test_node_errors),
    T(test_node_eligibility_drain_evaluate_and_alloc_stop),
    T(test_limits),
    T(test_garbage_collect),
    T(test_advance_drains),
    T(test_manual_mode_process),
    T(test_manual_mode_nack_and_ack),
    T(test_manual_mode_errors),
    T(test_manual_mode_worker_thread),
    T(test_queued_mode),
    T(test_queued_mode_processing_thread),
    T(test_blocking_read_wakes_on_write),
    T(test_blocking_read_times_out),
    T(test_blocking_read_on_missing_job),
    T(test_waiters_follow_every_change),
    T(test_concurrent_writers_and_readers),
    T(test_event_stream),
    T(test_event_stream_buffer_bound),
};

int main(int argc, char **argv) {
  return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
