/* Unit tests for src/store: the SQLite history and its JSON-lines log. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */

struct tmp {
	char dir[64];
	char db[128];
	char log[128];
};

static int tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/safexec-store-XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->db, sizeof(t->db), "%s/data/sub/history.db", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/logs/executions.log", t->dir);
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void tmp_remove(struct tmp *t)
{
	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_store(struct store **st, const struct tmp *t, const char *log,
		      uint64_t keep_count, uint64_t keep_days)
{
	struct store_config cfg = {
		.db_path = t->db, .log_path = log,
		.keep_count = keep_count, .keep_days = keep_days,
	};
	char why[256] = "";
	int r = store_open(st, &cfg, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "  store_open: %s\n", why);
	return r;
}

/* A simple record; its buffers are static so there is nothing to free. */
struct rec {
	struct sbx_limits limits;
	struct sbx_result res;
	struct store_record r;
};

static void rec_init(struct rec *x, int64_t created_ms, const char *code)
{
	memset(x, 0, sizeof(*x));
	sbx_limits_default(&x->limits);
	x->res.status = SBX_OK;
	x->res.has_exit_code = true;
	x->res.out = (struct sbx_buf){ (char *)"hi\n", 3 };
	x->res.err = (struct sbx_buf){ (char *)"", 0 };
	x->res.output = (struct sbx_buf){ (char *)"hi\n", 3 };
	x->res.wall_time_ms = 12;
	x->res.cpu_time_ms = 7;
	x->res.memory_bytes = 4096;
	x->r = (struct store_record){
		.created_ms = created_ms, .client = "127.0.0.1",
		.endpoint = "run", .language = "python",
		.code = code, .code_len = strlen(code),
		.limits = &x->limits, .result = &x->res,
	};
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Counts the rows through a connection of our own. */
static long long db_scalar(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, 4096, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- tests ---------------------------------------------------------------- */

TEST(store_time_format)
{
	char buf[64];

	ASSERT_EQ(store_format_time(1795773653123LL, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "2026-11-27T10:00:53.123Z");
	ASSERT_EQ(store_format_time(0, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "1970-01-01T00:00:00.000Z");
	ASSERT_EQ(store_format_time(-1, buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "1969-12-31T23:59:59.999Z");
	ASSERT(store_format_time(0, buf, 5) < 0);
}

TEST(store_preview_chars)
{
	char code[400];
	json_t *p;

	/* 150 two-byte characters: the preview keeps 80 of them whole. */
	for (int i = 0; i < 150; i++)
		memcpy(code + 2 * i, "\xC3\xA9", 2);
	p = store_preview(code, 300);
	ASSERT(p);
	ASSERT_EQ(json_string_length(p), 160);
	json_decref(p);
	p = store_preview("short", 5);
	ASSERT_STREQ(json_string_value(p), "short");
	json_decref(p);
	p = store_preview("\xff" "a", 2);
	ASSERT_STREQ(json_string_value(p), "\xEF\xBF\xBD" "a");
	json_decref(p);
}

TEST(store_roundtrip_every_field)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	static const char code[] = "print('a')\0# after a NUL\n";
	static const char in[] = "line1\nline2\xff\n";
	static const char out[] = "ok \xff\xfe\x80 end";
	static const char err[] = "Traceback\n\0x";
	const char *argv[] = { "one", "two words", "\xc3\xa9" };
	int64_t id = 0;
	json_t *j = NULL;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	rec_init(&x, 1795773653123LL, "");
	x.r.code = code;
	x.r.code_len = sizeof(code) - 1;
	x.r.stdin_data = in;
	x.r.stdin_len = sizeof(in) - 1;
	x.r.argv = argv;
	x.r.argc = 3;
	x.r.client = "::1";
	x.r.endpoint = "execute";
	x.limits.wall_ms = 2500;
	x.limits.cpu_ms = 2000;
	x.limits.memory_bytes = 64ull << 20;
	x.limits.processes = 16;
	x.limits.output_bytes = 4096;
	x.res.status = SBX_RUNTIME_ERROR;
	x.res.exit_code = 3;
	x.res.out = (struct sbx_buf){ (char *)out, sizeof(out) - 1 };
	x.res.err = (struct sbx_buf){ (char *)err, sizeof(err) - 1 };
	x.res.output = (struct sbx_buf){ (char *)err, sizeof(err) - 1 };
	x.res.stdout_truncated = true;
	x.res.wall_time_ms = 1234;
	x.res.cpu_time_ms = 999;
	x.res.memory_bytes = 12345678;

	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(id, 1);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT(j);

	ASSERT_EQ(jint(j, "id"), 1);
	ASSERT_STREQ(jstr(j, "created_at"), "2026-11-27T10:00:53.123Z");
	ASSERT_STREQ(jstr(j, "client"), "::1");
	ASSERT_STREQ(jstr(j, "endpoint"), "execute");
	ASSERT_STREQ(jstr(j, "language"), "python");
	json_t *c = json_object_get(j, "code");
	ASSERT_MEMEQ(json_string_value(c), json_string_length(c), code, sizeof(code) - 1);
	ASSERT_STREQ(jstr(j, "stdin"), "line1\nline2\xEF\xBF\xBD\n");
	json_t *a = json_object_get(j, "args");
	ASSERT(json_is_array(a));
	ASSERT_EQ(json_array_size(a), 3);
	ASSERT_STREQ(json_string_value(json_array_get(a, 1)), "two words");
	ASSERT_STREQ(json_string_value(json_array_get(a, 2)), "\xc3\xa9");
	json_t *l = json_object_get(j, "limits");
	ASSERT_EQ(jint(l, "wall_time_ms"), 2500);
	ASSERT_EQ(jint(l, "cpu_time_ms"), 2000);
	ASSERT_EQ(jint(l, "memory_bytes"), 64ll << 20);
	ASSERT_EQ(jint(l, "max_processes"), 16);
	ASSERT_EQ(jint(l, "output_bytes"), 4096);
	ASSERT_EQ(json_object_size(l), 5);
	ASSERT_STREQ(jstr(j, "status"), "runtime_error");
	ASSERT_EQ(jint(j, "exit_code"), 3);
	ASSERT(json_is_null(json_object_get(j, "signal")));
	ASSERT_STREQ(jstr(j, "stdout"), "ok \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
	json_t *e = json_object_get(j, "stderr");
	ASSERT_MEMEQ(json_string_value(e), json_string_length(e), err, sizeof(err) - 1);
	e = json_object_get(j, "output");
	ASSERT_MEMEQ(json_string_value(e), json_string_length(e), err, sizeof(err) - 1);
	ASSERT(json_is_true(json_object_get(j, "stdout_truncated")));
	ASSERT(json_is_false(json_object_get(j, "stderr_truncated")));
	ASSERT_EQ(jint(j, "wall_time_ms"), 1234);
	ASSERT_EQ(jint(j, "cpu_time_ms"), 999);
	ASSERT_EQ(jint(j, "memory_bytes"), 12345678);
	/* The status in words, as the answer to the run gave it. */
	ASSERT_STREQ(jstr(j, "message"), "Exited with code 3");
	/* Exactly the documented keys: 9 of the record, 11 of the result,
	 * and the message. */
	ASSERT_EQ(json_object_size(j), 21);

	/* The database keeps the bytes as they were, not the sanitized text. */
	ASSERT_EQ(db_scalar(t.db, "SELECT length(code) FROM executions"), sizeof(code) - 1);
	ASSERT_EQ(db_scalar(t.db, "SELECT stdout = x'6f6b20fffe8020656e64' FROM executions"), 1);
	ASSERT_EQ(db_scalar(t.db, "SELECT length(stdin) FROM executions"), sizeof(in) - 1);
	json_decref(j);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_null_exit_code_and_signal)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	int64_t id1 = 0, id2 = 0;
	json_t *j = NULL;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	rec_init(&x, store_now_ms(), "import os; os.kill(0, 9)");
	x.res.status = SBX_SIGNALED;
	x.res.has_exit_code = false;
	x.res.exit_code = 0;
	x.res.signal = 9;
	x.res.out = (struct sbx_buf){ NULL, 0 };	/* never filled */
	ASSERT_EQ(store_insert(st, &x.r, &id1), 0);
	rec_init(&x, store_now_ms(), "pass");
	x.r.stdin_data = NULL;
	x.r.argv = NULL;
	x.r.argc = 0;
	ASSERT_EQ(store_insert(st, &x.r, &id2), 0);
	ASSERT(id2 > id1);

	ASSERT_EQ(store_get(st, id1, &j), 0);
	ASSERT(json_is_null(json_object_get(j, "exit_code")));
	ASSERT_EQ(jint(j, "signal"), 9);
	ASSERT_STREQ(jstr(j, "status"), "signaled");
	ASSERT_STREQ(jstr(j, "stdout"), "");
	json_decref(j);

	ASSERT_EQ(store_get(st, id2, &j), 0);
	ASSERT(json_is_integer(json_object_get(j, "exit_code")));
	ASSERT_EQ(jint(j, "exit_code"), 0);
	ASSERT(json_is_null(json_object_get(j, "signal")));
	ASSERT_STREQ(jstr(j, "stdin"), "");
	ASSERT_EQ(json_array_size(json_object_get(j, "args")), 0);
	json_decref(j);

	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions WHERE exit_code IS NULL"), 1);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions WHERE signal IS NULL"), 1);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions WHERE stdin IS NULL"), 2);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_get_missing)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	json_t *j = (json_t *)1;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(store_get(st, 1, &j), -ENOENT);
	ASSERT(j == NULL);
	rec_init(&x, store_now_ms(), "pass");
	ASSERT_EQ(store_insert(st, &x.r, NULL), 0);
	ASSERT_EQ(store_get(st, 2, &j), -ENOENT);
	ASSERT_EQ(store_get(st, 0, &j), -ENOENT);
	ASSERT_EQ(store_get(st, -5, &j), -ENOENT);
	ASSERT_EQ(store_get(st, INT64_MAX, &j), -ENOENT);
	ASSERT_EQ(store_get(st, 1, &j), 0);
	json_decref(j);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_list_pagination)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	char code[200];
	json_t *j = NULL, *items;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);

	ASSERT_EQ(store_list(st, 0, 10, &j), 0);
	ASSERT_EQ(json_array_size(json_object_get(j, "executions")), 0);
	ASSERT(json_is_null(json_object_get(j, "next_before")));
	json_decref(j);

	for (int i = 1; i <= 25; i++) {
		/* Long code to exercise code_preview. */
		char tag[16];
		int tl = snprintf(tag, sizeof(tag), "#%d ", i);
		memset(code, 'a' + i % 26, sizeof(code) - 1);
		code[sizeof(code) - 1] = '\0';
		memcpy(code, tag, (size_t)tl);
		rec_init(&x, 1000000LL * i, code);
		int64_t id;
		ASSERT_EQ(store_insert(st, &x.r, &id), 0);
		ASSERT_EQ(id, i);
	}

	int64_t before = 0, expect = 25;
	int pages = 0;
	do {
		ASSERT_EQ(store_list(st, before, 10, &j), 0);
		items = json_object_get(j, "executions");
		size_t n = json_array_size(items);
		ASSERT_EQ(n, expect >= 10 ? 10 : expect);
		for (size_t k = 0; k < n; k++) {
			json_t *it = json_array_get(items, k);
			ASSERT_EQ(jint(it, "id"), expect);
			ASSERT(json_string_length(json_object_get(it, "code_preview")) == 80);
			ASSERT_STREQ(jstr(it, "status"), "ok");
			ASSERT_STREQ(jstr(it, "client"), "127.0.0.1");
			ASSERT_STREQ(jstr(it, "endpoint"), "run");
			ASSERT_STREQ(jstr(it, "language"), "python");
			ASSERT(jstr(it, "created_at"));
			ASSERT_EQ(jint(it, "exit_code"), 0);
			ASSERT(json_is_null(json_object_get(it, "signal")));
			ASSERT_EQ(jint(it, "wall_time_ms"), 12);
			ASSERT_EQ(jint(it, "cpu_time_ms"), 7);
			ASSERT_EQ(jint(it, "memory_bytes"), 4096);
			ASSERT(!json_object_get(it, "stdout"));
			ASSERT(!json_object_get(it, "code"));
			expect--;
		}
		json_t *nb = json_object_get(j, "next_before");
		if (expect > 0) {
			ASSERT(json_is_integer(nb));
			ASSERT_EQ(json_integer_value(nb), expect + 1);
			before = json_integer_value(nb);
		} else {
			ASSERT(json_is_null(nb));
			before = -1;
		}
		json_decref(j);
		pages++;
	} while (before > 0);
	ASSERT_EQ(pages, 3);
	ASSERT_EQ(expect, 0);

	/* Exactly one page's worth left: no next_before. */
	ASSERT_EQ(store_list(st, 11, 10, &j), 0);
	ASSERT_EQ(json_array_size(json_object_get(j, "executions")), 10);
	ASSERT(json_is_null(json_object_get(j, "next_before")));
	json_decref(j);
	/* A preview starts with the code. */
	ASSERT_EQ(store_list(st, 0, 1, &j), 0);
	items = json_object_get(j, "executions");
	ASSERT_EQ(strncmp(jstr(json_array_get(items, 0), "code_preview"), "#25 ", 4), 0);
	ASSERT_EQ(jint(j, "next_before"), 25);
	json_decref(j);
	/* limit 0 is an empty page. */
	ASSERT_EQ(store_list(st, 0, 0, &j), 0);
	ASSERT_EQ(json_array_size(json_object_get(j, "executions")), 0);
	json_decref(j);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_retention_by_count)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	json_t *j = NULL;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 10, 0), 0);
	for (int i = 0; i < 250; i++) {
		rec_init(&x, store_now_ms(), "pass");
		ASSERT_EQ(store_insert(st, &x.r, NULL), 0);
	}
	/* Retention ran after inserts 100 and 200: 10 kept then 50 more. */
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 60);
	ASSERT_EQ(db_scalar(t.db, "SELECT min(id) FROM executions"), 191);
	store_close(st);

	ASSERT_EQ(open_store(&st, &t, t.log, 10, 0), 0);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 10);
	ASSERT_EQ(store_list(st, 0, 100, &j), 0);
	ASSERT_EQ(json_array_size(json_object_get(j, "executions")), 10);
	ASSERT_EQ(jint(json_array_get(json_object_get(j, "executions"), 9), "id"), 241);
	json_decref(j);
	/* AUTOINCREMENT: ids are never reused after a prune. */
	int64_t id;
	rec_init(&x, store_now_ms(), "pass");
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(id, 251);
	store_close(st);

	/* The log is never pruned. */
	size_t len;
	char *log = slurp(t.log, &len);
	ASSERT(log);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += log[i] == '\n';
	ASSERT_EQ(lines, 251);
	free(log);
	tmp_remove(&t);
}

TEST(store_retention_by_age)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	int64_t now = store_now_ms(), day = 86400000;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	for (int i = 0; i < 10; i++) {
		/* Ages: 0, 1, ..., 9 days (and a minute). */
		rec_init(&x, now - i * day - 60000, "pass");
		ASSERT_EQ(store_insert(st, &x.r, NULL), 0);
	}
	store_close(st);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 10);

	ASSERT_EQ(open_store(&st, &t, NULL, 0, 5), 0);
	/* Younger than 5 days: ages 0..4. */
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 5);
	ASSERT_EQ(db_scalar(t.db, "SELECT max(id) FROM executions"), 5);

	/* And every 100 inserts while open. */
	for (int i = 0; i < 100; i++) {
		rec_init(&x, now - 30 * day, "pass");
		ASSERT_EQ(store_insert(st, &x.r, NULL), 0);
	}
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 5);
	store_close(st);

	/* Both limits at once. */
	ASSERT_EQ(open_store(&st, &t, NULL, 2, 5), 0);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 2);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_log_matches_get)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	int64_t ids[5];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	for (int i = 0; i < 5; i++) {
		rec_init(&x, store_now_ms(), "print('x')\n\n# \"quoted\"\t\xff");
		x.res.out = (struct sbx_buf){ (char *)"a\nb\r\n\0c", 7 };
		ASSERT_EQ(store_insert(st, &x.r, &ids[i]), 0);
	}
	size_t len;
	char *log = slurp(t.log, &len);
	ASSERT(log);
	ASSERT(len > 0 && log[len - 1] == '\n');
	char *save = NULL;
	int n = 0;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *fromlog = json_loads(line, JSON_ALLOW_NUL, &err), *fromdb = NULL;
		ASSERT(fromlog);
		ASSERT(n < 5);
		ASSERT_EQ(jint(fromlog, "id"), ids[n]);
		ASSERT_EQ(store_get(st, ids[n], &fromdb), 0);
		ASSERT(json_equal(fromlog, fromdb));
		json_decref(fromlog);
		json_decref(fromdb);
		n++;
	}
	ASSERT_EQ(n, 5);
	free(log);
	store_close(st);
	tmp_remove(&t);
}

struct worker {
	struct store *st;
	int64_t ids[50];
	int failures;
};

static void *insert_worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 50; i++) {
		struct rec x;
		rec_init(&x, store_now_ms(), "print('concurrent')");
		if (store_insert(w->st, &x.r, &w->ids[i]) < 0 || w->ids[i] <= 0)
			w->failures++;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

TEST(store_concurrent_inserts)
{
	struct tmp t;
	struct store *st = NULL;
	struct worker w[4];
	pthread_t th[4];
	int64_t all[200];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	for (int i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		ASSERT_EQ(pthread_create(&th[i], NULL, insert_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(w[i].failures, 0);
		memcpy(all + 50 * i, w[i].ids, sizeof(w[i].ids));
	}
	qsort(all, 200, sizeof(all[0]), cmp_i64);
	for (int i = 1; i < 200; i++)
		ASSERT(all[i] != all[i - 1]);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 200);

	size_t len;
	char *log = slurp(t.log, &len);
	ASSERT(log);
	int64_t seen[200];
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		ASSERT(j);
		ASSERT(n < 200);
		seen[n++] = jint(j, "id");
		json_decref(j);
	}
	ASSERT_EQ(n, 200);
	qsort(seen, 200, sizeof(seen[0]), cmp_i64);
	for (int i = 0; i < 200; i++)
		ASSERT_EQ(seen[i], all[i]);
	free(log);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_wal_schema_and_modes)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	struct stat sb;
	char path[160];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	rec_init(&x, store_now_ms(), "pass");
	ASSERT_EQ(store_insert(st, &x.r, NULL), 0);

	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	ASSERT_EQ(db_scalar(t.db, "PRAGMA user_version"), 2);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
			    " AND name = 'executions_created_ms'"), 1);

	ASSERT_EQ(stat(t.db, &sb), 0);
	ASSERT_EQ(sb.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s-wal", t.db);
	ASSERT_EQ(stat(path, &sb), 0);
	ASSERT_EQ(sb.st_mode & 07777, 0600);
	ASSERT_EQ(stat(t.log, &sb), 0);
	ASSERT_EQ(sb.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/data", t.dir);
	ASSERT_EQ(stat(path, &sb), 0);
	ASSERT_EQ(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/data/sub", t.dir);
	ASSERT_EQ(stat(path, &sb), 0);
	ASSERT_EQ(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/logs", t.dir);
	ASSERT_EQ(stat(path, &sb), 0);
	ASSERT_EQ(sb.st_mode & 07777, 0700);
	store_close(st);

	/* Reopening an existing database keeps its records. */
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 1);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_refuses_newer_schema)
{
	struct tmp t;
	struct store *st = NULL;
	sqlite3 *h = NULL;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	store_close(st);
	ASSERT_EQ(sqlite3_open(t.db, &h), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	struct store_config cfg = { .db_path = t.db };
	char why[256] = "";
	ASSERT_EQ(store_open(&st, &cfg, why, sizeof(why)), -EPROTO);
	ASSERT(strstr(why, "newer"));
	ASSERT(st == NULL);
	tmp_remove(&t);
}

TEST(store_open_errors)
{
	struct tmp t;
	struct store *st = NULL;
	struct store_config cfg = { 0 };
	char why[256] = "", path[160];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(store_open(&st, &cfg, why, sizeof(why)), -EINVAL);
	/* A regular file where a directory should be. */
	snprintf(path, sizeof(path), "%s/file", t.dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/file/history.db", t.dir);
	cfg.db_path = path;
	ASSERT(store_open(&st, &cfg, why, sizeof(why)) < 0);
	ASSERT(strstr(why, "history.db"));
	ASSERT(st == NULL);
	/* Not a database. */
	snprintf(path, sizeof(path), "%s/junk.db", t.dir);
	FILE *f = fopen(path, "w");
	ASSERT(f);
	fputs("this is not an SQLite database, not even close to one........\n", f);
	fclose(f);
	ASSERT(store_open(&st, &cfg, why, sizeof(why)) < 0);
	ASSERT(st == NULL);
	tmp_remove(&t);
}

TEST(store_log_failure_keeps_record)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	char errpath[160];
	int64_t id = 0;
	json_t *j = NULL;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	/* Capture stderr to count the reports. */
	snprintf(errpath, sizeof(errpath), "%s/stderr", t.dir);
	int efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(efd >= 0);
	ASSERT(dup2(efd, 2) == 2);
	close(efd);

	/* Make the log unwritable even for root: a directory in its place. */
	ASSERT_EQ(unlink(t.log), 0);
	ASSERT_EQ(mkdir(t.log, 0700), 0);
	for (int i = 0; i < 3; i++) {
		rec_init(&x, store_now_ms(), "pass");
		ASSERT_EQ(store_insert(st, &x.r, &id), 0);
		ASSERT_EQ(id, i + 1);
	}
	ASSERT_EQ(store_get(st, 3, &j), 0);
	json_decref(j);
	ASSERT_EQ(rmdir(t.log), 0);
	rec_init(&x, store_now_ms(), "pass");
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	store_close(st);

	size_t len;
	char *errs = slurp(errpath, &len);
	ASSERT(errs);
	int reports = 0, recovered = 0;
	for (char *p = errs; (p = strstr(p, "cannot append")); p++)
		reports++;
	for (char *p = errs; (p = strstr(p, "appending to")); p++)
		recovered++;
	ASSERT_EQ(reports, 1);
	ASSERT_EQ(recovered, 1);
	free(errs);
	char *log = slurp(t.log, &len);
	ASSERT(log);
	ASSERT(strstr(log, "\"id\":4,"));
	ASSERT(strstr(log, "\"id\":5,"));
	free(log);
	tmp_remove(&t);
}

/* A compile stage is kept with its record, and a failed one makes the
 * record's status compile_error; a version 1 database (no compile column)
 * gains the column on open and keeps its records. */
TEST(store_compile_stage_and_schema_1)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	struct sbx_result comp = { 0 };
	struct sbx_limits cl;
	sqlite3 *h = NULL;
	int64_t old_id, id;
	json_t *j;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	rec_init(&x, store_now_ms(), "print(1)");
	ASSERT_EQ(store_insert(st, &x.r, &old_id), 0);
	store_close(st);
	/* Back to version 1. */
	ASSERT_EQ(sqlite3_open(t.db, &h), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(h, "ALTER TABLE executions DROP COLUMN compile;"
			       "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);

	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(db_scalar(t.db, "PRAGMA user_version"), 2);
	ASSERT_EQ(store_get(st, old_id, &j), 0);
	ASSERT_STREQ(jstr(j, "status"), "ok");
	ASSERT(json_object_get(j, "compile") == NULL);
	json_decref(j);

	sbx_limits_default(&cl);
	comp.status = SBX_RUNTIME_ERROR;
	comp.has_exit_code = true;
	comp.exit_code = 1;
	comp.err = comp.output = (struct sbx_buf){ (char *)"main.c:1: error\n", 16 };
	comp.out = (struct sbx_buf){ (char *)"", 0 };
	rec_init(&x, store_now_ms(), "int main(");
	x.r.language = "c";
	x.r.compile = &comp;
	x.r.compile_limits = &cl;
	x.res.out = x.res.output = (struct sbx_buf){ (char *)"", 0 };
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT_STREQ(jstr(j, "status"), "compile_error");
	ASSERT_STREQ(jstr(j, "message"), "Compilation failed: Exited with code 1");
	json_t *c = json_object_get(j, "compile");
	ASSERT(json_is_object(c));
	ASSERT_STREQ(jstr(c, "status"), "runtime_error");
	ASSERT_STREQ(jstr(c, "stderr"), "main.c:1: error\n");
	ASSERT_EQ(json_integer_value(json_object_get(c, "exit_code")), 1);
	json_decref(j);
	store_close(st);
	tmp_remove(&t);
}
