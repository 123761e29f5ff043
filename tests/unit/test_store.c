/* Unit tests for src/store: the SQLite history and its JSON-lines log. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	ASSERT_EQ(jint(l, "file_size_bytes"), SBX_DEFAULT_FILE_SIZE);
	ASSERT_EQ(json_object_size(l), 6);
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
	ASSERT_EQ(db_scalar(t.db, "PRAGMA user_version"), 4);
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
			       "ALTER TABLE executions DROP COLUMN verdict;"
			       "ALTER TABLE executions DROP COLUMN tests;"
			       "ALTER TABLE executions DROP COLUMN limit_file_size_bytes;"
			       "ALTER TABLE executions DROP COLUMN files;"
			       "DROP TABLE jobs;"
			       "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);

	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(db_scalar(t.db, "PRAGMA user_version"), 4);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM pragma_table_info('executions')"
			    " WHERE name IN ('compile', 'verdict', 'tests')"), 3);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM jobs"), 0);
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

/* ---- tests of a judged request ------------------------------------------- */

/* The tests object as api_tests_json() gives it, with a NUL in an
 * output. */
static json_t *tests_object(const char *verdict)
{
	json_t *t = json_pack("{s:s, s:[{s:s, s:s, s:s%}, {s:s}],"
			      " s:{s:i, s:i, s:i, s:i}}",
			      "verdict", verdict,
			      "tests", "verdict", "accepted", "status", "ok",
			      "stdout", "a\0b", (size_t)3,
			      "verdict", "not_run",
			      "totals", "tests", 2, "accepted", 1, "failed", 0, "not_run", 1);
	return t;
}

TEST(store_tests_roundtrip)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	struct sbx_result comp = { 0 };
	struct sbx_limits cl;
	int64_t plain, judged;
	json_t *j = NULL, *tests = tests_object("wrong_answer");

	ASSERT(tests);
	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, t.log, 0, 0), 0);
	rec_init(&x, store_now_ms(), "print(1)");
	ASSERT_EQ(store_insert(st, &x.r, &plain), 0);
	rec_init(&x, store_now_ms(), "int main(void) { return 0; }");
	/* A compile stage whose output holds a NUL comes back whole too. */
	sbx_limits_default(&cl);
	comp.status = SBX_OK;
	comp.has_exit_code = true;
	comp.out = comp.output = (struct sbx_buf){ (char *)"w\0x", 3 };
	comp.err = (struct sbx_buf){ (char *)"", 0 };
	x.r.language = "c";
	x.r.compile = &comp;
	x.r.compile_limits = &cl;
	x.r.tests = tests;
	ASSERT_EQ(store_insert(st, &x.r, &judged), 0);
	/* The caller's object is as it was. */
	ASSERT_EQ(tests->refcount, 1);

	ASSERT_EQ(store_get(st, judged, &j), 0);
	ASSERT_STREQ(jstr(j, "verdict"), "wrong_answer");
	ASSERT(json_equal(json_object_get(j, "tests"), json_object_get(tests, "tests")));
	ASSERT(json_equal(json_object_get(j, "totals"), json_object_get(tests, "totals")));
	json_t *out = json_object_get(json_array_get(json_object_get(j, "tests"), 0), "stdout");
	ASSERT_MEMEQ(json_string_value(out), json_string_length(out), "a\0b", 3);
	out = json_object_get(json_object_get(j, "compile"), "stdout");
	ASSERT_MEMEQ(json_string_value(out), json_string_length(out), "w\0x", 3);
	/* The record's 21 keys, compile, and the three of the tests. */
	ASSERT_EQ(json_object_size(j), 25);
	/* Still the record's own result fields. */
	ASSERT_STREQ(jstr(j, "status"), "ok");
	json_decref(j);

	ASSERT_EQ(store_get(st, plain, &j), 0);
	ASSERT(!json_object_get(j, "verdict"));
	ASSERT(!json_object_get(j, "tests"));
	ASSERT(!json_object_get(j, "totals"));
	json_decref(j);

	ASSERT_EQ(store_list(st, 0, 10, &j), 0);
	json_t *items = json_object_get(j, "executions");
	ASSERT_EQ(json_array_size(items), 2);
	ASSERT_STREQ(jstr(json_array_get(items, 0), "verdict"), "wrong_answer");
	ASSERT(json_is_null(json_object_get(json_array_get(items, 1), "verdict")));
	ASSERT(!json_object_get(json_array_get(items, 0), "tests"));
	json_decref(j);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions WHERE verdict IS NULL"
			    " AND tests IS NULL"), 1);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions WHERE verdict = 'wrong_answer'"
			    " AND json_extract(tests, '$.totals.not_run') = 1"), 1);

	/* The log line is the same object. */
	size_t len;
	char *log = slurp(t.log, &len);
	ASSERT(log);
	char *second = strchr(log, '\n');
	ASSERT(second);
	json_t *fromlog = json_loads(second + 1, JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK, NULL);
	ASSERT(fromlog);
	ASSERT_EQ(store_get(st, judged, &j), 0);
	ASSERT(json_equal(fromlog, j));
	json_decref(fromlog);
	json_decref(j);
	free(log);
	store_close(st);
	json_decref(tests);
	tmp_remove(&t);
}

/* A database as version 2 made it, by hand: its records stay readable and
 * it gains the tests columns and the jobs table. */
TEST(store_schema_2_migration)
{
	static const char v2[] =
		"PRAGMA journal_mode = WAL;"
		"CREATE TABLE executions ("
		" id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
		" client TEXT NOT NULL, endpoint TEXT NOT NULL, language TEXT NOT NULL,"
		" code BLOB NOT NULL, stdin BLOB, args TEXT NOT NULL,"
		" limit_wall_time_ms INTEGER NOT NULL, limit_cpu_time_ms INTEGER NOT NULL,"
		" limit_memory_bytes INTEGER NOT NULL, limit_max_processes INTEGER NOT NULL,"
		" limit_output_bytes INTEGER NOT NULL, status TEXT NOT NULL,"
		" exit_code INTEGER, signal INTEGER, stdout BLOB NOT NULL,"
		" stderr BLOB NOT NULL, output BLOB NOT NULL,"
		" stdout_truncated INTEGER NOT NULL, stderr_truncated INTEGER NOT NULL,"
		" wall_time_ms INTEGER NOT NULL, cpu_time_ms INTEGER NOT NULL,"
		" memory_bytes INTEGER NOT NULL, compile TEXT);"
		"CREATE INDEX executions_created_ms ON executions(created_ms);"
		"INSERT INTO executions VALUES (7, 1795773653123, '10.0.0.1', 'execute', 'c',"
		" 'int main(', NULL, '[]', 1000, 1000, 1048576, 8, 4096, 'compile_error',"
		" NULL, NULL, '', '', '', 0, 0, 0, 0, 0,"
		" '{\"status\":\"runtime_error\",\"exit_code\":1,\"message\":\"Exited with code 1\"}');"
		"PRAGMA user_version = 2;";
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	sqlite3 *h = NULL;
	int64_t id;
	json_t *j = NULL, *tests = tests_object("accepted");

	ASSERT_EQ(tmp_make(&t), 0);
	/* store_open() makes the directories; here they come first. */
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/data", t.dir);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/data/sub", t.dir);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	ASSERT_EQ(sqlite3_open(t.db, &h), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(h, v2, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);

	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(db_scalar(t.db, "PRAGMA user_version"), 4);
	ASSERT_EQ(store_get(st, 7, &j), 0);
	ASSERT_STREQ(jstr(j, "status"), "compile_error");
	ASSERT_STREQ(jstr(j, "client"), "10.0.0.1");
	ASSERT_STREQ(jstr(json_object_get(j, "compile"), "status"), "runtime_error");
	ASSERT(!json_object_get(j, "verdict"));
	json_decref(j);
	ASSERT_EQ(store_list(st, 0, 10, &j), 0);
	ASSERT(json_is_null(json_object_get(json_array_get(json_object_get(j, "executions"), 0),
					    "verdict")));
	json_decref(j);

	rec_init(&x, store_now_ms(), "print(1)");
	x.r.tests = tests;
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(id, 8);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT_STREQ(jstr(j, "verdict"), "accepted");
	json_decref(j);

	struct store_job job = { .token = "0123456789abcdef0123456789abcdef",
				 .api = "v1", .request = (char *)"{}" };
	ASSERT_EQ(store_job_add(st, &job), 0);
	store_close(st);

	/* And opening it again changes nothing. */
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 2);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM jobs"), 1);
	store_close(st);
	json_decref(tests);
	tmp_remove(&t);
}

/* ---- output files ------------------------------------------------------------ */

static int open_store_files(struct store **st, const struct tmp *t, const char *log,
			    uint64_t files_max)
{
	struct store_config cfg = { .db_path = t->db, .log_path = log, .files_max = files_max };
	char why[256] = "";
	int r = store_open(st, &cfg, why, sizeof(why));
	if (r < 0)
		fprintf(stderr, "  store_open: %s\n", why);
	return r;
}

/* A run's files: names, sizes and types always; contents while the
 * execution's files_max lasts (the run's files first, then the tests'). */
TEST(store_output_files)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	struct sbx_file files[3] = {
		{ "a.txt", "hello", 5, false },
		{ "b.png", "\x89PNG\r\n\x1a\n", 8, false },
		{ "c.csv", "1,2\n", 4, false },
	};
	struct sbx_out_drop drops[1] = { { "fifo", SBX_OUT_NOT_REGULAR } };
	int64_t id, plain;
	json_t *j, *f;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store_files(&st, &t, t.log, 10), 0);
	rec_init(&x, store_now_ms(), "print(1)");
	ASSERT_EQ(store_insert(st, &x.r, &plain), 0);
	rec_init(&x, store_now_ms(), "print(2)");
	x.r.output_files = true;
	x.res.out_files = files;
	x.res.nout_files = 3;
	x.res.out_dropped = drops;
	x.res.nout_dropped = 1;
	x.res.out_dropped_total = 2;
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(store_get(st, id, &j), 0);
	f = json_object_get(j, "files");
	ASSERT_EQ(json_array_size(f), 3);
	/* 5 bytes fit the 10, 8 more do not, 4 more do. */
	ASSERT_STREQ(jstr(json_array_get(f, 0), "name"), "a.txt");
	ASSERT_STREQ(jstr(json_array_get(f, 0), "content"), "aGVsbG8=");
	ASSERT_STREQ(jstr(json_array_get(f, 0), "mime_type"), "text/plain");
	ASSERT_STREQ(jstr(json_array_get(f, 1), "name"), "b.png");
	ASSERT_EQ(jint(json_array_get(f, 1), "size"), 8);
	ASSERT_STREQ(jstr(json_array_get(f, 1), "mime_type"), "image/png");
	ASSERT(json_object_get(json_array_get(f, 1), "content") == NULL);
	ASSERT_STREQ(jstr(json_array_get(f, 2), "content"), "MSwyCg==");
	ASSERT_STREQ(jstr(json_array_get(json_object_get(j, "files_dropped"), 0), "reason"),
		     "not a regular file");
	ASSERT_EQ(jint(j, "files_dropped_total"), 2);
	json_decref(j);
	ASSERT_EQ(store_get(st, plain, &j), 0);
	ASSERT(json_object_get(j, "files") == NULL);
	json_decref(j);

	/* The log line is the same object. */
	size_t len;
	char *log = slurp(t.log, &len);
	ASSERT(log);
	char *second = strchr(log, '\n');
	ASSERT(second);
	json_t *fromlog = json_loads(second + 1, JSON_DISABLE_EOF_CHECK, NULL);
	ASSERT(fromlog);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT(json_equal(fromlog, j));
	json_decref(fromlog);
	json_decref(j);
	free(log);

	/* Tests' files share the execution's budget, after the run's. */
	json_t *tests = json_pack("{s:s, s:[{s:s, s:[{s:s, s:i, s:s, s:s}]}, {s:s}]}",
				  "verdict", "accepted", "tests", "verdict", "accepted", "files",
				  "name", "a.txt", "size", 5, "mime_type", "text/plain",
				  "content", "aGVsbG8=", "verdict", "not_run");
	ASSERT(tests);
	x.res.nout_files = 1;
	x.res.out_dropped_total = x.res.nout_dropped = 0;
	x.r.tests = tests;
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT_STREQ(jstr(json_array_get(json_object_get(j, "files"), 0), "content"), "aGVsbG8=");
	ASSERT(json_object_get(j, "files_dropped") == NULL);
	f = json_object_get(json_array_get(json_object_get(j, "tests"), 0), "files");
	ASSERT_EQ(json_array_size(f), 1);
	ASSERT_STREQ(jstr(json_array_get(f, 0), "content"), "aGVsbG8=");
	json_decref(j);
	/* The caller's object is untouched, also when contents are cut. */
	store_close(st);
	ASSERT_EQ(open_store_files(&st, &t, NULL, 0), 0);
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT(json_object_get(json_array_get(json_object_get(j, "files"), 0), "content") == NULL);
	ASSERT_EQ(jint(json_array_get(json_object_get(j, "files"), 0), "size"), 5);
	f = json_object_get(json_array_get(json_object_get(j, "tests"), 0), "files");
	ASSERT(json_object_get(json_array_get(f, 0), "content") == NULL);
	json_decref(j);
	f = json_object_get(json_array_get(json_object_get(tests, "tests"), 0), "files");
	ASSERT_STREQ(jstr(json_array_get(f, 0), "content"), "aGVsbG8=");
	ASSERT_EQ(tests->refcount, 1);
	store_close(st);
	json_decref(tests);
	tmp_remove(&t);
}

/* A version 3 database (no files column) gains it on open and keeps its
 * records, which have no files. */
TEST(store_schema_3_migration)
{
	struct tmp t;
	struct store *st = NULL;
	struct rec x;
	struct sbx_file file = { "a.txt", "hi", 2, false };
	sqlite3 *h = NULL;
	int64_t old_id, id;
	json_t *j;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store_files(&st, &t, NULL, 1 << 20), 0);
	rec_init(&x, store_now_ms(), "print(1)");
	ASSERT_EQ(store_insert(st, &x.r, &old_id), 0);
	store_close(st);
	ASSERT_EQ(sqlite3_open(t.db, &h), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(h, "ALTER TABLE executions DROP COLUMN files;"
			       "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM pragma_table_info('executions')"
			    " WHERE name = 'files'"), 0);

	ASSERT_EQ(open_store_files(&st, &t, NULL, 1 << 20), 0);
	ASSERT_EQ(db_scalar(t.db, "PRAGMA user_version"), 4);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM pragma_table_info('executions')"
			    " WHERE name = 'files'"), 1);
	ASSERT_EQ(store_get(st, old_id, &j), 0);
	ASSERT_STREQ(jstr(j, "code"), "print(1)");
	ASSERT(json_object_get(j, "files") == NULL);
	json_decref(j);
	rec_init(&x, store_now_ms(), "print(2)");
	x.r.output_files = true;
	x.res.out_files = &file;
	x.res.nout_files = 1;
	ASSERT_EQ(store_insert(st, &x.r, &id), 0);
	ASSERT_EQ(store_get(st, id, &j), 0);
	ASSERT_STREQ(jstr(json_array_get(json_object_get(j, "files"), 0), "content"), "aGk=");
	json_decref(j);
	store_close(st);
	tmp_remove(&t);
}

/* ---- submissions ----------------------------------------------------------- */

static void job_init(struct store_job *j, unsigned n, int64_t created_ms)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->token, sizeof(j->token), "%032x", n);
	snprintf(j->api, sizeof(j->api), "v1");
	snprintf(j->client, sizeof(j->client), "127.0.0.1");
	j->created_ms = created_ms;
	j->request = (char *)"{\"language\":\"python\",\"code\":\"print(1)\"}";
}

static char *token_of(unsigned n, char buf[STORE_TOKEN_MAX])
{
	snprintf(buf, STORE_TOKEN_MAX, "%032x", n);
	return buf;
}

TEST(store_job_every_call)
{
	struct tmp t;
	struct store *st = NULL;
	struct store_job j, got;
	char tok[STORE_TOKEN_MAX];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_STREQ(store_job_state_name(STORE_JOB_QUEUED), "queued");
	ASSERT_STREQ(store_job_state_name(STORE_JOB_RUNNING), "running");
	ASSERT_STREQ(store_job_state_name(STORE_JOB_DONE), "done");

	job_init(&j, 1, 1795773653123LL);
	snprintf(j.api, sizeof(j.api), "judge0");
	snprintf(j.client, sizeof(j.client), "::1");
	j.peer = (char *)"{\"source_code\":\"print(1)\",\"language_id\":71}";
	j.callback_url = (char *)"https://example.com/cb";
	/* Ignored by add. */
	j.state = STORE_JOB_DONE;
	j.attempts = 9;
	j.answer = (char *)"{}";
	j.execution_id = 42;
	ASSERT_EQ(store_job_add(st, &j), 0);
	ASSERT_EQ(store_job_add(st, &j), -EEXIST);

	ASSERT_EQ(store_job_get(st, j.token, &got), 0);
	ASSERT_STREQ(got.token, j.token);
	ASSERT_STREQ(got.api, "judge0");
	ASSERT_EQ(got.state, STORE_JOB_QUEUED);
	ASSERT_EQ(got.attempts, 0);
	ASSERT_EQ(got.created_ms, 1795773653123LL);
	ASSERT_EQ(got.started_ms, 0);
	ASSERT_EQ(got.finished_ms, 0);
	ASSERT_STREQ(got.request, j.request);
	ASSERT_STREQ(got.peer, j.peer);
	ASSERT(got.answer == NULL);
	ASSERT_STREQ(got.callback_url, "https://example.com/cb");
	ASSERT_EQ(got.execution_id, 0);
	ASSERT_STREQ(got.client, "::1");
	store_job_release(&got);
	ASSERT(got.request == NULL && got.peer == NULL && got.callback_url == NULL);
	store_job_release(&got);	/* twice is harmless */

	/* Without peer or callback, and created now when created_ms is 0. */
	int64_t before = store_now_ms();
	job_init(&j, 2, 0);
	ASSERT_EQ(store_job_add(st, &j), 0);
	ASSERT_EQ(store_job_get(st, j.token, &got), 0);
	ASSERT(got.peer == NULL);
	ASSERT(got.callback_url == NULL);
	ASSERT(got.created_ms >= before && got.created_ms <= store_now_ms());
	store_job_release(&got);

	/* Malformed tokens: refused by add, unknown to the others. */
	job_init(&j, 3, 1);
	j.token[0] = 'A';
	ASSERT_EQ(store_job_add(st, &j), -EINVAL);
	j.token[0] = '0';
	j.token[31] = '\0';
	ASSERT_EQ(store_job_add(st, &j), -EINVAL);
	job_init(&j, 3, 1);
	j.request = NULL;
	ASSERT_EQ(store_job_add(st, &j), -EINVAL);
	job_init(&j, 3, 1);
	j.api[0] = '\0';
	ASSERT_EQ(store_job_add(st, &j), -EINVAL);
	ASSERT_EQ(store_job_get(st, "0123", &got), -ENOENT);
	ASSERT(got.request == NULL);
	ASSERT_EQ(store_job_get(st, NULL, &got), -ENOENT);
	ASSERT_EQ(store_job_get(st, token_of(99, tok), &got), -ENOENT);
	ASSERT_EQ(store_job_start(st, token_of(99, tok), 5), -ENOENT);
	ASSERT_EQ(store_job_finish(st, token_of(99, tok), 0, "{}", 0, 5), -ENOENT);
	ASSERT_EQ(store_job_start(st, "../../etc", 5), -ENOENT);

	/* Started twice (as after a crash): two attempts, the last start. */
	token_of(1, tok);
	ASSERT_EQ(store_job_start(st, tok, 1795773654000LL), 0);
	ASSERT_EQ(store_job_get(st, tok, &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_RUNNING);
	ASSERT_EQ(got.attempts, 1);
	ASSERT_EQ(got.started_ms, 1795773654000LL);
	store_job_release(&got);
	ASSERT_EQ(store_job_start(st, tok, 1795773655000LL), 0);

	/* A large answer: megabytes are fine. */
	size_t big = 4u << 20;
	char *answer = malloc(big + 1);
	ASSERT(answer);
	memset(answer, 'x', big);
	memcpy(answer, "{\"stdout\":\"", 11);
	memcpy(answer + big - 2, "\"}", 2);
	answer[big] = '\0';
	/* Only the start that holds it may finish it: the first start's
	 * finish, after the second began, changes nothing. */
	ASSERT_EQ(store_job_finish(st, tok, 1, "{\"late\":1}", 16, 1795773655500LL), -EALREADY);
	ASSERT_EQ(store_job_get(st, tok, &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_RUNNING);
	ASSERT(got.answer == NULL);
	store_job_release(&got);
	ASSERT_EQ(store_job_finish(st, tok, 2, answer, 17, 1795773656000LL), 0);
	ASSERT_EQ(store_job_get(st, tok, &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_DONE);
	ASSERT_EQ(got.attempts, 2);
	ASSERT_EQ(got.started_ms, 1795773655000LL);
	ASSERT_EQ(got.finished_ms, 1795773656000LL);
	ASSERT_EQ(got.execution_id, 17);
	ASSERT(got.answer && strlen(got.answer) == big);
	ASSERT(strcmp(got.answer, answer) == 0);
	store_job_release(&got);
	free(answer);

	/* Done is final. */
	ASSERT_EQ(store_job_start(st, tok, 1), -EALREADY);
	ASSERT_EQ(store_job_finish(st, tok, 0, "{}", 1, 1), -EALREADY);
	ASSERT_EQ(store_job_get(st, tok, &got), 0);
	ASSERT_EQ(got.execution_id, 17);
	ASSERT_EQ(got.attempts, 2);
	store_job_release(&got);

	/* A queued job given up on is finished without a start. */
	ASSERT_EQ(store_job_finish(st, token_of(2, tok), 0, NULL, 0, 1795773657000LL), 0);
	ASSERT_EQ(store_job_get(st, tok, &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_DONE);
	ASSERT_EQ(got.attempts, 0);
	ASSERT(got.answer == NULL);
	store_job_release(&got);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_job_delete_rules)
{
	struct tmp t;
	struct store *st = NULL;
	struct store_job j;
	char tok[STORE_TOKEN_MAX];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	job_init(&j, 1, 1000);
	ASSERT_EQ(store_job_add(st, &j), 0);
	ASSERT_EQ(store_job_delete(st, j.token), -EBUSY);
	ASSERT_EQ(store_job_start(st, j.token, 2000), 0);
	ASSERT_EQ(store_job_delete(st, j.token), -EBUSY);
	ASSERT_EQ(store_job_finish(st, j.token, 0, "{}", 1, 3000), 0);
	ASSERT_EQ(store_job_delete(st, j.token), 0);
	ASSERT_EQ(store_job_delete(st, j.token), -ENOENT);
	struct store_job got;
	ASSERT_EQ(store_job_get(st, j.token, &got), -ENOENT);
	ASSERT_EQ(store_job_delete(st, token_of(7, tok)), -ENOENT);
	ASSERT_EQ(store_job_delete(st, "not a token"), -ENOENT);
	/* The token is free again. */
	ASSERT_EQ(store_job_add(st, &j), 0);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM jobs"), 1);
	store_close(st);
	tmp_remove(&t);
}

TEST(store_job_counts)
{
	struct tmp t;
	struct store *st = NULL;
	struct store_job j;
	uint64_t q = 9, r = 9, d = 9;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(store_job_counts(st, &q, &r, &d), 0);
	ASSERT(q == 0 && r == 0 && d == 0);
	for (unsigned i = 0; i < 10; i++) {
		job_init(&j, i, 1000 + i);
		ASSERT_EQ(store_job_add(st, &j), 0);
		if (i >= 4)
			ASSERT_EQ(store_job_start(st, j.token, 2000), 0);
		if (i >= 7)
			ASSERT_EQ(store_job_finish(st, j.token, 0, "{}", 0, 3000), 0);
	}
	ASSERT_EQ(store_job_counts(st, &q, &r, &d), 0);
	ASSERT_EQ(q, 4);
	ASSERT_EQ(r, 3);
	ASSERT_EQ(d, 3);
	/* Any pointer may be NULL. */
	d = 0;
	ASSERT_EQ(store_job_counts(st, NULL, NULL, &d), 0);
	ASSERT_EQ(d, 3);
	ASSERT_EQ(store_job_counts(st, NULL, NULL, NULL), 0);
	store_close(st);
	tmp_remove(&t);
}

/* A process killed with jobs queued and running leaves them for the next
 * one, oldest first; a job it had added is there, committed. */
TEST(store_job_unfinished_after_crash)
{
	struct tmp t;
	struct store *st = NULL;
	struct store_job *jobs = (struct store_job *)1;
	size_t n = 9;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(store_job_unfinished(st, &jobs, &n), 0);
	ASSERT(jobs == NULL);
	ASSERT_EQ(n, 0);
	store_close(st);

	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct store_job j;
		int bad = open_store(&st, &t, NULL, 0, 0) < 0;
		/* Created out of token order: 3 oldest, then 1, 2, 4, 5. */
		static const int64_t created[] = { 0, 2000, 3000, 1000, 4000, 5000 };
		for (unsigned i = 1; i <= 5; i++) {
			job_init(&j, i, created[i]);
			bad |= store_job_add(st, &j) < 0;
		}
		char tok[STORE_TOKEN_MAX];
		bad |= store_job_start(st, token_of(2, tok), 6000) < 0;
		bad |= store_job_start(st, token_of(4, tok), 6000) < 0;
		bad |= store_job_finish(st, token_of(4, tok), 0, "{\"status\":\"ok\"}", 3, 7000) < 0;
		bad |= store_job_start(st, token_of(5, tok), 6000) < 0;
		if (bad)
			_exit(1);
		/* No store_close(): the process dies as under kill -9. */
		raise(SIGKILL);
		_exit(2);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	ASSERT_EQ(store_job_unfinished(st, &jobs, &n), 0);
	ASSERT_EQ(n, 4);
	static const unsigned order[] = { 3, 1, 2, 5 };
	for (size_t i = 0; i < n; i++) {
		char tok[STORE_TOKEN_MAX];
		ASSERT_STREQ(jobs[i].token, token_of(order[i], tok));
		ASSERT(jobs[i].request && strstr(jobs[i].request, "print(1)"));
		ASSERT_EQ(jobs[i].state, order[i] == 2 || order[i] == 5
			  ? STORE_JOB_RUNNING : STORE_JOB_QUEUED);
		ASSERT_EQ(jobs[i].attempts, jobs[i].state == STORE_JOB_RUNNING);
	}
	store_job_release_all(jobs, n);
	/* The one finished before the crash kept its answer. */
	struct store_job got;
	char tok[STORE_TOKEN_MAX];
	ASSERT_EQ(store_job_get(st, token_of(4, tok), &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_DONE);
	ASSERT_STREQ(got.answer, "{\"status\":\"ok\"}");
	store_job_release(&got);
	/* Queued again and run: a second attempt for the running ones. */
	ASSERT_EQ(store_job_start(st, token_of(2, tok), 8000), 0);
	ASSERT_EQ(store_job_get(st, tok, &got), 0);
	ASSERT_EQ(got.attempts, 2);
	store_job_release(&got);
	store_close(st);
	tmp_remove(&t);
}

/* A job added through one store is there for another connection to the
 * same file at once: store_job_add() returns after the commit. */
TEST(store_job_committed)
{
	struct tmp t;
	struct store *a = NULL, *b = NULL;
	struct store_job j, got;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&a, &t, NULL, 0, 0), 0);
	ASSERT_EQ(open_store(&b, &t, NULL, 0, 0), 0);
	job_init(&j, 77, 1000);
	ASSERT_EQ(store_job_add(a, &j), 0);
	ASSERT_EQ(store_job_get(b, j.token, &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_QUEUED);
	store_job_release(&got);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM jobs WHERE state = 'queued'"), 1);
	/* And back the other way. */
	ASSERT_EQ(store_job_finish(b, j.token, 0, "{}", 0, 2000), 0);
	ASSERT_EQ(store_job_get(a, j.token, &got), 0);
	ASSERT_EQ(got.state, STORE_JOB_DONE);
	store_job_release(&got);
	store_close(b);
	store_close(a);
	tmp_remove(&t);
}

TEST(store_job_retention)
{
	struct tmp t;
	struct store *st = NULL;
	struct store_job j;
	struct rec x;
	int64_t now = store_now_ms(), day = 86400000;
	uint64_t q, r, d;
	char tok[STORE_TOKEN_MAX];

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	/* Ten done, finished 0..9 days ago (and a minute), created in the
	 * other order; two queued and one running, all created long ago. */
	for (unsigned i = 0; i < 10; i++) {
		job_init(&j, i, now - 30 * day + i);
		ASSERT_EQ(store_job_add(st, &j), 0);
		ASSERT_EQ(store_job_finish(st, j.token, 0, "{}", 0, now - i * day - 60000), 0);
	}
	for (unsigned i = 10; i < 13; i++) {
		job_init(&j, i, now - 40 * day);
		ASSERT_EQ(store_job_add(st, &j), 0);
	}
	ASSERT_EQ(store_job_start(st, token_of(12, tok), now - 40 * day), 0);
	/* Executions are counted apart. */
	for (int i = 0; i < 3; i++) {
		rec_init(&x, now, "pass");
		ASSERT_EQ(store_insert(st, &x.r, NULL), 0);
	}
	store_close(st);

	/* By age: finished within 5 days. */
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 5), 0);
	ASSERT_EQ(store_job_counts(st, &q, &r, &d), 0);
	ASSERT_EQ(q, 2);
	ASSERT_EQ(r, 1);
	ASSERT_EQ(d, 5);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM jobs WHERE state = 'done'"
			    " AND token > '00000000000000000000000000000004'"), 0);
	store_close(st);

	/* By count: the two that finished last, not the two created last. */
	ASSERT_EQ(open_store(&st, &t, NULL, 2, 0), 0);
	ASSERT_EQ(store_job_counts(st, &q, &r, &d), 0);
	ASSERT_EQ(q, 2);
	ASSERT_EQ(r, 1);
	ASSERT_EQ(d, 2);
	struct store_job got;
	ASSERT_EQ(store_job_get(st, token_of(0, tok), &got), 0);
	store_job_release(&got);
	ASSERT_EQ(store_job_get(st, token_of(1, tok), &got), 0);
	store_job_release(&got);
	ASSERT_EQ(db_scalar(t.db, "SELECT count(*) FROM executions"), 2);

	/* And every 100 finished while open. */
	for (unsigned i = 100; i < 199; i++) {
		job_init(&j, i, now);
		ASSERT_EQ(store_job_add(st, &j), 0);
		ASSERT_EQ(store_job_finish(st, j.token, 0, "{}", 0, now), 0);
	}
	ASSERT_EQ(store_job_counts(st, NULL, NULL, &d), 0);
	ASSERT_EQ(d, 101);
	job_init(&j, 199, now);
	ASSERT_EQ(store_job_add(st, &j), 0);
	ASSERT_EQ(store_job_finish(st, j.token, 0, "{}", 0, now + 1), 0);
	ASSERT_EQ(store_job_counts(st, &q, &r, &d), 0);
	ASSERT_EQ(d, 2);
	ASSERT_EQ(q, 2);
	ASSERT_EQ(r, 1);
	ASSERT_EQ(store_job_get(st, token_of(199, tok), &got), 0);
	store_job_release(&got);
	store_close(st);
	tmp_remove(&t);
}

struct job_worker {
	struct store *st;
	unsigned base;
	int failures;
};

static void *job_worker(void *arg)
{
	struct job_worker *w = arg;

	for (unsigned i = 0; i < 25; i++) {
		struct store_job j, got;
		job_init(&j, w->base + i, store_now_ms());
		if (store_job_add(w->st, &j) < 0 ||
		    store_job_start(w->st, j.token, store_now_ms()) < 0 ||
		    store_job_finish(w->st, j.token, 0, "{}", i + 1, store_now_ms()) < 0 ||
		    store_job_get(w->st, j.token, &got) < 0)
			w->failures++;
		else if (got.state != STORE_JOB_DONE || got.execution_id != i + 1)
			w->failures++;
		store_job_release(&got);
	}
	return NULL;
}

TEST(store_job_concurrent)
{
	struct tmp t;
	struct store *st = NULL;
	struct job_worker w[4];
	pthread_t th[4];
	uint64_t d = 0;

	ASSERT_EQ(tmp_make(&t), 0);
	ASSERT_EQ(open_store(&st, &t, NULL, 0, 0), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct job_worker){ .st = st, .base = 1000u * (unsigned)i };
		ASSERT_EQ(pthread_create(&th[i], NULL, job_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(w[i].failures, 0);
	ASSERT_EQ(store_job_counts(st, NULL, NULL, &d), 0);
	ASSERT_EQ(d, 100);
	store_close(st);
	tmp_remove(&t);
}
