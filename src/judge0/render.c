/*
 * render.c - Judge0's answers: a submission from its normalized request and
 * the v1 answer (as SubmissionSerializer writes it, isolate's words in
 * message), and the informative GETs (/languages, /statuses, /about,
 * /config_info, /system_info, /workers).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "judge0/internal.h"
#include "judge0/judge0.h"
#include "util/util.h"

static const char *const status_names[] = {
	NULL, "In Queue", "Processing", "Accepted", "Wrong Answer", "Time Limit Exceeded",
	"Compilation Error", "Runtime Error (SIGSEGV)", "Runtime Error (SIGXFSZ)",
	"Runtime Error (SIGFPE)", "Runtime Error (SIGABRT)", "Runtime Error (NZEC)",
	"Runtime Error (Other)", "Internal Error", "Exec Format Error",
};

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The word that decides: the tests' verdict, else the run's status. */
static const char *outcome(const json_t *a)
{
	const char *v = str(a, "verdict");

	return v ? v : str(a, "status");
}

int j0_status_id(const struct j0_view *v)
{
	const char *o;

	if (v->state == J0_QUEUED)
		return 1;
	if (v->state == J0_RUNNING || !v->answer)
		return 2;
	o = outcome(v->answer);
	if (!o)
		return 13;
	if (strcmp(o, "accepted") == 0 || strcmp(o, "ok") == 0)
		return 3;
	if (strcmp(o, "wrong_answer") == 0)
		return 4;
	if (strcmp(o, "timeout") == 0)
		return 5;
	if (strcmp(o, "compile_error") == 0)
		return 6;
	if (strcmp(o, "signaled") == 0) {
		/* Judge0's Status.find_runtime_error_by_status_code. */
		switch (json_integer_value(json_object_get(v->answer, "signal"))) {
		case 11: return 7;	/* SIGSEGV */
		case 25: return 8;	/* SIGXFSZ */
		case 8: return 9;	/* SIGFPE */
		case 6: return 10;	/* SIGABRT */
		default: return 12;
		}
	}
	if (strcmp(o, "runtime_error") == 0)
		return 11;
	if (strcmp(o, "memory_limit") == 0 || strcmp(o, "output_limit") == 0)
		return 12;
	return 13;
}

/* "2024-01-01T12:00:00.123Z", as Rails writes a time. */
static json_t *iso_time(int64_t ms)
{
	struct tm tm;
	time_t t;
	char buf[64];

	if (ms <= 0)
		return json_null();
	t = (time_t)(ms / 1000);
	if (!gmtime_r(&t, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

static json_t *seconds(const json_t *ms)
{
	char buf[48];

	if (!json_is_integer(ms))
		return json_null();
	j0_decimal((uint64_t)json_integer_value(ms), buf, sizeof(buf));
	return json_string(buf);
}

/* A text of the answer: null when empty (Judge0 stores empty output as
 * nil), base64 when asked. */
static json_t *text(const char *s, size_t len, bool base64)
{
	json_t *j;
	char *enc;

	if (!s || len == 0)
		return json_null();
	if (!base64)
		return json_stringn(s, len);
	enc = j0_base64_encode(s, len);
	j = enc ? json_string(enc) : NULL;
	free(enc);
	return j;
}

static json_t *text_of(const json_t *v, bool base64)
{
	return text(json_string_value(v), json_string_length(v), base64);
}

/* A text of the normalized request: a string, {"base64": ...} for bytes
 * that are not UTF-8, or null.  Empty stays "" (Judge0 keeps it). */
static json_t *request_text(const json_t *v, bool base64)
{
	const char *b = json_string_value(json_object_get(v, "base64"));
	char *raw, *enc;
	size_t len;
	json_t *j;

	if (json_is_string(v)) {
		if (!base64)
			return json_incref((json_t *)v);
		enc = j0_base64_encode(json_string_value(v), json_string_length(v));
		j = enc ? json_string(enc) : NULL;
		free(enc);
		return j;
	}
	if (!b)
		return json_null();
	if (j0_base64_decode(b, strlen(b), &raw, &len) < 0)
		return json_null();
	/* Bytes that are not text: as Judge0 does, only base64 shows them. */
	enc = base64 ? j0_base64_encode(raw, len) : NULL;
	j = enc ? json_string(enc) : json_null();
	free(enc);
	free(raw);
	return j;
}

/* isolate's words, which Judge0 passes on as message. */
static json_t *message(const json_t *a, int status, bool base64)
{
	const char *o = outcome(a), *m = str(a, "message");
	const json_t *lim = json_object_get(a, "limits");
	char buf[128];

	if (status == 3 || status == 4 || status == 6)
		return json_null();
	if (status == 11)
		snprintf(buf, sizeof(buf), "Exited with error status %lld",
			 (long long)json_integer_value(json_object_get(a, "exit_code")));
	else if (o && strcmp(o, "signaled") == 0)
		snprintf(buf, sizeof(buf), "Caught fatal signal %lld",
			 (long long)json_integer_value(json_object_get(a, "signal")));
	else if (status == 5)
		snprintf(buf, sizeof(buf), "Time limit exceeded%s",
			 json_integer_value(json_object_get(a, "wall_time_ms")) >=
			 json_integer_value(json_object_get(lim, "wall_time_ms")) &&
			 json_object_get(lim, "wall_time_ms") ? " (wall clock)" : "");
	else
		snprintf(buf, sizeof(buf), "%s", m ? m : "");
	return text(buf, strlen(buf), base64);
}

static json_t *language(const struct j0_view *v)
{
	long id = (long)json_integer_value(json_object_get(v->normalized, "language_id"));
	const struct runtime *rt = NULL;
	const struct j0_lang *l = j0_lang_find(v->reg, v->python_version, id, &rt);
	char name[128];

	if (!l) {
		/* No longer offered: the name without its version. */
		for (size_t i = 0; i < j0_nlangs && !l; i++)
			if (j0_langs[i].id == id)
				l = &j0_langs[i];
		if (!l)
			return json_pack("{s:I, s:n}", "id", (json_int_t)id, "name");
	}
	j0_lang_name(l, rt, v->python_version, name, sizeof(name));
	return json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name);
}

/* Which fields: the default set, every one ("*"), or those named. */
static void wanted(const char *fields, bool want[])
{
	static const char *const defaults[] = {
		"token", "time", "memory", "stdout", "stderr", "compile_output", "message", "status",
	};
	const char *p = fields ? fields : "";
	bool any = false;

	memset(want, 0, j0_nfields * sizeof(bool));
	while (*p) {
		size_t len = strcspn(p, ",");
		int i = j0_field_index(p, len);

		if (len == 1 && *p == '*') {
			for (size_t k = 0; k < j0_nfields; k++)
				want[k] = true;
			any = true;
		} else if (i >= 0) {
			want[i] = true;
			any = true;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (!any)
		for (size_t k = 0; k < UTIL_ARRAY_SIZE(defaults); k++)
			want[j0_field_index(defaults[k], strlen(defaults[k]))] = true;
}

json_t *j0_render(const struct j0_view *v, bool base64, const char *fields)
{
	const json_t *n = v->normalized, *a = v->state == J0_DONE ? v->answer : NULL;
	const json_t *comp = json_object_get(a, "compile");
	int status = j0_status_id(v);
	/* Judge0 clears the run's fields when the compile failed. */
	bool ran = a && status != 6;
	bool want[64];
	json_t *out = json_object();

	if (!out)
		return NULL;
	wanted(fields, want);
	for (size_t i = 0; i < j0_nfields; i++) {
		const char *f = j0_fields[i];
		json_t *val;

		if (!want[i])
			continue;
		if (!strcmp(f, "source_code") || !strcmp(f, "stdin") || !strcmp(f, "expected_output")) {
			val = request_text(json_object_get(n, f), base64);
		} else if (!strcmp(f, "stdout") || !strcmp(f, "stderr")) {
			val = ran ? text_of(json_object_get(a, f), base64) : json_null();
		} else if (!strcmp(f, "status_id")) {
			val = json_integer(status);
		} else if (!strcmp(f, "created_at")) {
			val = iso_time(v->created_ms);
		} else if (!strcmp(f, "finished_at")) {
			val = a ? iso_time(v->finished_ms) : json_null();
		} else if (!strcmp(f, "time")) {
			val = ran ? seconds(json_object_get(a, "cpu_time_ms")) : json_null();
		} else if (!strcmp(f, "wall_time")) {
			val = ran ? seconds(json_object_get(a, "wall_time_ms")) : json_null();
		} else if (!strcmp(f, "memory")) {
			const json_t *m = json_object_get(a, "memory_bytes");

			val = ran && json_is_integer(m) ?
				json_integer(json_integer_value(m) / 1024) : json_null();
		} else if (!strcmp(f, "token")) {
			val = json_string(v->token ? v->token : "");
		} else if (!strcmp(f, "compile_output")) {
			if (status == 6 && !strcmp(str(comp, "status") ? str(comp, "status") : "",
						   "timeout"))
				val = text("Compilation time limit exceeded.", 32, base64);
			else
				val = text_of(json_object_get(comp, "output"), base64);
		} else if (!strcmp(f, "exit_code")) {
			const json_t *e = json_object_get(a, "exit_code");

			/* isolate writes no exitcode when a signal ended it:
			 * Judge0 shows 0. */
			val = ran ? json_integer(json_is_integer(e) ? json_integer_value(e) : 0)
				  : json_null();
		} else if (!strcmp(f, "exit_signal")) {
			const json_t *sg = json_object_get(a, "signal");

			val = ran && json_is_integer(sg) ? json_integer(json_integer_value(sg))
							 : json_null();
		} else if (!strcmp(f, "message")) {
			val = ran ? message(a, status, base64) : json_null();
			if (json_is_string(val) && json_string_length(val) == 0) {
				json_decref(val);
				val = json_null();
			}
		} else if (!strcmp(f, "status")) {
			val = json_pack("{s:i, s:s}", "id", status, "description",
					status_names[status]);
		} else if (!strcmp(f, "language")) {
			val = language(v);
		} else {
			/* Every other field is the request's, echoed. */
			val = json_object_get(n, f);
			val = val ? json_incref(val) : json_null();
		}
		if (!val || json_object_set_new(out, f, val) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* --- the informative GETs ------------------------------------------------- */

static bool offered_before(const struct rt_registry *reg, const char *pv, size_t i)
{
	for (size_t k = 0; k < i; k++) {
		const struct runtime *rt;

		if (j0_langs[k].id == j0_langs[i].id && j0_lang_find(reg, pv, j0_langs[k].id, &rt))
			return true;
	}
	return false;
}

json_t *j0_languages_json(const struct rt_registry *reg, const char *python_version)
{
	json_t *arr = json_array();

	/* The table is sorted by id. */
	for (size_t i = 0; arr && i < j0_nlangs; i++) {
		const struct runtime *rt = NULL;
		const struct j0_lang *l;
		char name[128];

		if (offered_before(reg, python_version, i))
			continue;
		l = j0_lang_find(reg, python_version, j0_langs[i].id, &rt);
		if (!l)
			continue;
		j0_lang_name(l, rt, python_version, name, sizeof(name));
		if (json_array_append_new(arr, json_pack("{s:i, s:s}", "id", l->id, "name", name)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* A command's words as one line; a word with a blank is quoted. */
static json_t *command(char **words)
{
	char buf[2048];
	size_t n = 0;

	if (!words)
		return json_null();
	buf[0] = '\0';
	for (size_t i = 0; words[i] && n < sizeof(buf); i++) {
		bool q = strpbrk(words[i], " \t") != NULL;

		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s%s%s", i ? " " : "",
				      q ? "\"" : "", words[i], q ? "\"" : "");
	}
	return json_string(buf);
}

json_t *j0_language_json(const struct rt_registry *reg, const char *python_version, long id)
{
	const struct runtime *rt = NULL;
	const struct j0_lang *l = j0_lang_find(reg, python_version, id, &rt);
	char name[128];

	if (!l)
		return NULL;
	j0_lang_name(l, rt, python_version, name, sizeof(name));
	if (l->id == 89)	/* Judge0 shows a project's as nothing */
		return json_pack("{s:i, s:s, s:b, s:n, s:n, s:n}", "id", l->id, "name", name,
				 "is_archived", 0, "source_file", "compile_cmd", "run_cmd");
	if (!rt)
		return json_pack("{s:i, s:s, s:b, s:s, s:n, s:s}", "id", l->id, "name", name,
				 "is_archived", 0, "source_file", "main.py", "compile_cmd",
				 "run_cmd", "/usr/bin/python3 main.py");
	return json_pack("{s:i, s:s, s:b, s:s, s:o, s:o}", "id", l->id, "name", name,
			 "is_archived", 0, "source_file", rt->source_file,
			 "compile_cmd", command(rt->compile), "run_cmd", command(rt->run));
}

json_t *j0_statuses_json(void)
{
	json_t *arr = json_array();

	for (int i = 1; arr && i < (int)UTIL_ARRAY_SIZE(status_names); i++)
		if (json_array_append_new(arr, json_pack("{s:i, s:s}", "id", i, "description",
							 status_names[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

json_t *j0_about_json(const char *homepage, const char *source_code, const char *maintainer)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "version", J0_VERSION,
			 "homepage", homepage ? homepage : "",
			 "source_code", source_code ? source_code : "",
			 "maintainer", maintainer ? maintainer : "");
}

static json_t *secs(uint64_t ms)
{
	return json_real((double)ms / 1000.0);
}

json_t *j0_config_info_json(const struct j0_settings *s)
{
	json_t *o = json_object(), *langs = json_array();

	if (!o || !langs)
		goto fail;
	/* In Judge0's order (Config.config_info). */
#define SET(k, v) do { if (json_object_set_new(o, k, v) < 0) goto fail; } while (0)
	SET("maintenance_mode", json_false());
	SET("enable_wait_result", json_true());
	SET("enable_compiler_options", json_true());
	SET("allowed_languages_for_compile_options", langs);
	langs = NULL;
	SET("enable_command_line_arguments", json_true());
	SET("enable_submission_delete", json_boolean(s->enable_submission_delete));
	SET("enable_callbacks", json_true());
	SET("callbacks_max_tries", json_integer((json_int_t)s->callbacks_max_tries));
	SET("callbacks_timeout", json_real((double)s->callbacks_timeout_s));
	SET("enable_additional_files", json_true());
	SET("max_queue_size", json_integer((json_int_t)s->max_queue_size));
	SET("cpu_time_limit", secs(s->cpu_time_limit_ms));
	SET("max_cpu_time_limit", secs(s->max_cpu_time_limit_ms));
	SET("cpu_extra_time", secs(s->cpu_extra_time_ms));
	SET("max_cpu_extra_time", secs(s->max_cpu_extra_time_ms));
	SET("wall_time_limit", secs(s->wall_time_limit_ms));
	SET("max_wall_time_limit", secs(s->max_wall_time_limit_ms));
	SET("memory_limit", json_integer((json_int_t)s->memory_limit_kb));
	SET("max_memory_limit", json_integer((json_int_t)s->max_memory_limit_kb));
	SET("stack_limit", json_integer((json_int_t)s->stack_limit_kb));
	SET("max_stack_limit", json_integer((json_int_t)s->max_stack_limit_kb));
	SET("max_processes_and_or_threads", json_integer((json_int_t)s->max_processes_and_or_threads));
	SET("max_max_processes_and_or_threads",
	    json_integer((json_int_t)s->max_max_processes_and_or_threads));
	SET("enable_per_process_and_thread_time_limit",
	    json_boolean(s->enable_per_process_and_thread_time_limit));
	SET("allow_enable_per_process_and_thread_time_limit", json_true());
	SET("enable_per_process_and_thread_memory_limit",
	    json_boolean(s->enable_per_process_and_thread_memory_limit));
	SET("allow_enable_per_process_and_thread_memory_limit", json_true());
	SET("max_file_size", json_integer((json_int_t)s->max_file_size_kb));
	SET("max_max_file_size", json_integer((json_int_t)s->max_max_file_size_kb));
	SET("number_of_runs", json_integer((json_int_t)s->number_of_runs));
	SET("max_number_of_runs", json_integer((json_int_t)s->max_number_of_runs));
	SET("redirect_stderr_to_stdout", json_boolean(s->redirect_stderr_to_stdout));
	SET("max_extract_size", json_integer(J0_ZIP_MAX_BYTES / 1024));
	SET("enable_batched_submissions", json_true());
	SET("max_submission_batch_size", json_integer(J0_BATCH_MAX));
	SET("submission_cache_duration", json_real(0.0));
	SET("use_docs_as_homepage", json_false());
	SET("allow_enable_network", json_false());
	SET("enable_network", json_false());
#undef SET
	return o;
fail:
	json_decref(o);
	json_decref(langs);
	return NULL;
}

/* "7.7Gi", as free -h writes a size given in KiB. */
static void human(unsigned long long kib, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	double v = (double)kib;
	int u = 0;

	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluKi", kib);
	else
		snprintf(buf, len, v < 10 ? "%.1f%ci" : "%.0f%ci", v, units[u]);
}

json_t *j0_system_info_json(void)
{
	json_t *o = json_object();
	struct utsname un;
	char line[1024], buf[64];
	unsigned long long mem = 0, swap = 0;
	long cpus = sysconf(_SC_NPROCESSORS_CONF), online = sysconf(_SC_NPROCESSORS_ONLN);
	FILE *f;

	if (!o)
		return NULL;
	if (uname(&un) == 0)
		json_object_set_new(o, "Architecture", json_string(un.machine));
	json_object_set_new(o, "Byte Order", json_string(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ?
							 "Little Endian" : "Big Endian"));
	snprintf(buf, sizeof(buf), "%ld", cpus);
	json_object_set_new(o, "CPU(s)", json_string(buf));
	snprintf(buf, sizeof(buf), "0-%ld", online > 0 ? online - 1 : 0);
	json_object_set_new(o, "On-line CPU(s) list", json_string(buf));
	/* lscpu's names for the first processor's lines. */
	f = fopen("/proc/cpuinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		static const char *const keys[][2] = {
			{ "vendor_id", "Vendor ID" }, { "cpu family", "CPU family" },
			{ "model", "Model" }, { "model name", "Model name" },
			{ "stepping", "Stepping" }, { "cpu MHz", "CPU MHz" },
			{ "bogomips", "BogoMIPS" }, { "cache size", "L2 cache" },
		};
		char *colon = strchr(line, ':'), *k = line, *val;
		size_t klen;

		if (line[0] == '\n')
			break;	/* the first processor only */
		if (!colon)
			continue;
		klen = (size_t)(colon - line);
		while (klen > 0 && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
			klen--;
		val = colon + 1;
		while (*val == ' ')
			val++;
		val[strcspn(val, "\n")] = '\0';
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(keys); i++)
			if (strlen(keys[i][0]) == klen && memcmp(k, keys[i][0], klen) == 0)
				json_object_set_new(o, keys[i][1], json_string(val));
	}
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "MemTotal: %llu", &mem);
		sscanf(line, "SwapTotal: %llu", &swap);
	}
	if (f)
		fclose(f);
	human(mem, buf, sizeof(buf));
	json_object_set_new(o, "Mem", json_string(buf));
	human(swap, buf, sizeof(buf));
	json_object_set_new(o, "Swap", json_string(buf));
	return o;
}

json_t *j0_workers_json(const char *queue, uint64_t size, uint64_t available, uint64_t idle,
			uint64_t working, uint64_t paused, uint64_t failed)
{
	return json_pack("[{s:s, s:I, s:I, s:I, s:I, s:I, s:I}]", "queue", queue ? queue : J0_VERSION,
			 "size", (json_int_t)size, "available", (json_int_t)available,
			 "idle", (json_int_t)idle, "working", (json_int_t)working,
			 "paused", (json_int_t)paused, "failed", (json_int_t)failed);
}
