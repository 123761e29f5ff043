/*
 * judge0.c - a Judge0 submission to a v1 request: every field checked as
 * Judge0 1.13.1's model does (app/models/submission.rb), with its messages,
 * then its units turned into ours.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "judge0/internal.h"
#include "judge0/judge0.h"
#include "sandbox/sandbox.h"
#include "util/util.h"

#define MS_PER_S 1000u

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

void j0_settings_from_cfg(const struct cfg *c, struct j0_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->max_cpu_time_limit_ms = c->max_cpu_time_ms;
	s->cpu_time_limit_ms = min_u64(c->judge0_cpu_time_limit_ms, s->max_cpu_time_limit_ms);
	s->max_cpu_extra_time_ms = c->judge0_max_cpu_extra_time_ms;
	s->cpu_extra_time_ms = min_u64(c->judge0_cpu_extra_time_ms, s->max_cpu_extra_time_ms);
	s->max_wall_time_limit_ms = c->max_wall_time_ms;
	s->wall_time_limit_ms = min_u64(c->judge0_wall_time_limit_ms, s->max_wall_time_limit_ms);
	s->max_memory_limit_kb = c->max_memory_bytes / 1024;
	s->memory_limit_kb = min_u64(c->judge0_memory_limit_kb, s->max_memory_limit_kb);
	s->max_stack_limit_kb = c->judge0_max_stack_limit_kb;
	s->stack_limit_kb = min_u64(c->judge0_stack_limit_kb, s->max_stack_limit_kb);
	s->max_max_processes_and_or_threads = c->max_processes;
	s->max_processes_and_or_threads = min_u64(c->judge0_max_processes_and_or_threads,
						  s->max_max_processes_and_or_threads);
	s->max_max_file_size_kb = c->judge0_max_max_file_size_kb;
	s->max_file_size_kb = min_u64(c->judge0_max_file_size_kb, s->max_max_file_size_kb);
	s->max_number_of_runs = c->judge0_max_number_of_runs;
	s->number_of_runs = min_u64(c->judge0_number_of_runs, s->max_number_of_runs);
	s->redirect_stderr_to_stdout = c->judge0_redirect_stderr_to_stdout != 0;
	s->enable_per_process_and_thread_time_limit =
		c->judge0_enable_per_process_and_thread_time_limit != 0;
	s->enable_per_process_and_thread_memory_limit =
		c->judge0_enable_per_process_and_thread_memory_limit != 0;
	s->max_output_bytes = c->max_output_bytes;
	s->max_queue_size = c->jobs_max;
	s->enable_submission_delete = c->allow_delete != 0;
	s->callbacks_max_tries = c->callback_retries + 1;
	s->callbacks_timeout_s = c->callback_timeout;
}

/* Judge0's language ids, each with the runtimes that may serve it (the
 * first available wins) and its name with the version. */
const struct j0_lang j0_langs[] = {
	{ 43, "plaintext", "Plain Text" },
	{ 46, "bash", "Bash (%s)" },
	{ 50, "c", "C (GCC %s)" },
	{ 51, "csharp", "C# (Mono %s)" },
	{ 52, "cpp", "C++ (GCC %s)" },
	{ 54, "cpp", "C++ (GCC %s)" },
	{ 59, "fortran", "Fortran (GFortran %s)" },
	{ 60, "go", "Go (%s)" },
	{ 62, "java", "Java (OpenJDK %s)" },
	{ 63, "javascript", "JavaScript (Node.js %s)" },
	{ 64, "lua", "Lua (%s)" },
	{ 67, "pascal", "Pascal (FPC %s)" },
	{ 68, "php", "PHP (%s)" },
	{ 71, "python", "Python (%s)" },
	{ 72, "ruby", "Ruby (%s)" },
	{ 73, "rust", "Rust (%s)" },
	{ 74, "typescript", "TypeScript (%s)" },
	{ 75, "c-clang", "C (Clang %s)" },
	{ 75, "c", "C (GCC %s)" },
	{ 76, "cpp-clang", "C++ (Clang %s)" },
	{ 76, "cpp", "C++ (GCC %s)" },
	{ 80, "r", "R (%s)" },
	{ 82, "sqlite", "SQL (SQLite %s)" },
	{ 85, "perl", "Perl (%s)" },
	{ 89, "multifile", "Multi-file program" },
};
const size_t j0_nlangs = UTIL_ARRAY_SIZE(j0_langs);

static const struct runtime *by_name(const struct rt_registry *reg, const char *name)
{
	for (size_t i = 0; reg && i < reg->n; i++)
		if (strcmp(reg->rt[i].name, name) == 0)
			return &reg->rt[i];
	return NULL;
}

const struct j0_lang *j0_lang_find(const struct rt_registry *reg, const char *python_version,
				   long id, const struct runtime **rt)
{
	for (size_t i = 0; i < j0_nlangs; i++) {
		const struct j0_lang *l = &j0_langs[i];
		const struct runtime *r;

		if (l->id != id)
			continue;
		r = by_name(reg, l->runtime);
		if (r && r->available) {
			*rt = r;
			return l;
		}
		/* Python without a runtime file is the built-in one. */
		if (!r && strcmp(l->runtime, "python") == 0 && python_version) {
			*rt = NULL;
			return l;
		}
	}
	return NULL;
}

void j0_lang_name(const struct j0_lang *l, const struct runtime *rt, const char *python_version,
		  char *buf, size_t len)
{
	const char *v = rt ? rt->version_text : python_version ? python_version : "";
	const char *at = strstr(l->fmt, "%s");

	if (!at)
		snprintf(buf, len, "%s", l->fmt);
	else
		snprintf(buf, len, "%.*s%s%s", (int)(at - l->fmt), l->fmt, v, at + 2);
}

/* --- Judge0's errors: {"field": ["message", ...]} -------------------------- */

static int add_error(json_t *errors, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int add_error(json_t *errors, const char *field, const char *fmt, ...)
{
	json_t *list = json_object_get(errors, field);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!list) {
		list = json_array();
		if (!list || json_object_set_new(errors, field, list) < 0)
			return -ENOMEM;
	}
	return json_array_append_new(list, json_string(msg)) < 0 ? -ENOMEM : 0;
}

/* Rails' rendering of a decimal: "5.0", "0.5", "0.125". */
void j0_decimal(uint64_t ms, char *buf, size_t len)
{
	unsigned frac = (unsigned)(ms % 1000);

	if (frac == 0)
		snprintf(buf, len, "%llu.0", (unsigned long long)(ms / 1000));
	else if (frac % 100 == 0)
		snprintf(buf, len, "%llu.%u", (unsigned long long)(ms / 1000), frac / 100);
	else if (frac % 10 == 0)
		snprintf(buf, len, "%llu.%02u", (unsigned long long)(ms / 1000), frac / 10);
	else
		snprintf(buf, len, "%llu.%03u", (unsigned long long)(ms / 1000), frac);
}

/* --- reading the fields ------------------------------------------------- */

struct ctx {
	const json_t *sub;
	bool base64;
	const struct j0_settings *s;
	json_t *errors, *norm;
	int oom;
};

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n\v\f", s[i]))
			return false;
	return true;
}

/* A text field: absent or null leaves *data NULL.  Decoded from base64 when
 * coded.  The bytes are malloc'ed into *data. */
static void get_text(struct ctx *c, const char *key, bool coded, char **data, size_t *len)
{
	const json_t *v = json_object_get(c->sub, key);

	*data = NULL;
	*len = 0;
	if (!v || json_is_null(v))
		return;
	if (!json_is_string(v)) {
		c->oom |= add_error(c->errors, key, "is not a string");
		return;
	}
	if (coded) {
		int r = j0_base64_decode(json_string_value(v), json_string_length(v), data, len);

		if (r == -ENOMEM)
			c->oom = -ENOMEM;
		else if (r < 0)
			c->oom |= add_error(c->errors, key, "is not valid base64");
		return;
	}
	*len = json_string_length(v);
	*data = malloc(*len + 1);
	if (!*data) {
		c->oom = -ENOMEM;
		return;
	}
	memcpy(*data, json_string_value(v), *len);
	(*data)[*len] = '\0';
}

/* A number field as Rails' numericality reads it: a JSON number or a string
 * of one.  Returns 1 when present and a number, 0 when absent, -1 on error. */
static int get_number(struct ctx *c, const char *key, double *out)
{
	const json_t *v = json_object_get(c->sub, key);

	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 1;
	}
	if (json_is_string(v) && json_string_length(v) > 0) {
		const char *s = json_string_value(v);
		char *end;
		double d;

		while (*s == ' ')
			s++;
		d = strtod(s, &end);
		while (*end == ' ')
			end++;
		if (end != s && *end == '\0' && isfinite(d)) {
			*out = d;
			return 1;
		}
	}
	c->oom |= add_error(c->errors, key, "is not a number");
	return -1;
}

/* A time in seconds: min_ms and max_ms bound it, the message shows them as
 * Judge0 does.  Stores the value in ms (default when absent) in *ms and its
 * decimal text in the normalized submission. */
static void get_seconds(struct ctx *c, const char *key, uint64_t def_ms, uint64_t min_ms,
			uint64_t max_ms, uint64_t *ms)
{
	double d;
	int r = get_number(c, key, &d);
	char txt[48], lim[48];

	*ms = def_ms;
	if (r < 0)
		return;
	if (r > 0) {
		if (d < (double)min_ms / MS_PER_S) {
			c->oom |= add_error(c->errors, key, "must be greater than or equal to %llu",
					    (unsigned long long)(min_ms / MS_PER_S));
			return;
		}
		if (d > (double)max_ms / MS_PER_S) {
			j0_decimal(max_ms, lim, sizeof(lim));
			c->oom |= add_error(c->errors, key, "must be less than or equal to %s", lim);
			return;
		}
		*ms = (uint64_t)llround(d * MS_PER_S);
	}
	j0_decimal(*ms, txt, sizeof(txt));
	if (json_object_set_new(c->norm, key, json_string(txt)) < 0)
		c->oom = -ENOMEM;
}

/* An integer (KB, a count): gt_zero: "greater than 0", else min. */
static void get_integer(struct ctx *c, const char *key, uint64_t def, bool gt_zero, uint64_t min,
			uint64_t max, uint64_t *out)
{
	double d;
	int r = get_number(c, key, &d);

	*out = def;
	if (r < 0)
		return;
	if (r > 0) {
		if (gt_zero && d <= 0) {
			c->oom |= add_error(c->errors, key, "must be greater than 0");
			return;
		}
		if (!gt_zero && d < (double)min) {
			c->oom |= add_error(c->errors, key, "must be greater than or equal to %llu",
					    (unsigned long long)min);
			return;
		}
		if (d > (double)max) {
			c->oom |= add_error(c->errors, key, "must be less than or equal to %llu",
					    (unsigned long long)max);
			return;
		}
		*out = (uint64_t)d;	/* Rails casts 2.5 to 2 */
	}
	if (json_object_set_new(c->norm, key, json_integer((json_int_t)*out)) < 0)
		c->oom = -ENOMEM;
}

/* A boolean as Rails casts one; absent or null gives def. */
static bool get_bool(struct ctx *c, const char *key, bool def)
{
	const json_t *v = json_object_get(c->sub, key);
	bool b = def;

	if (!v || json_is_null(v)) {
		b = def;
	} else if (json_is_boolean(v)) {
		b = json_is_true(v);
	} else if (json_is_integer(v)) {
		b = json_integer_value(v) != 0;
	} else if (json_is_string(v)) {
		static const char *const no[] = { "false", "0", "f", "F", "FALSE", "off", "OFF", "" };

		b = true;
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(no); i++)
			if (strcmp(json_string_value(v), no[i]) == 0)
				b = false;
	} else {
		c->oom |= add_error(c->errors, key, "is not a boolean");
	}
	if (json_object_set_new(c->norm, key, json_boolean(b)) < 0)
		c->oom = -ENOMEM;
	return b;
}

/* A text kept in the normalized submission: as text when it is UTF-8, else
 * as {"base64": ...} (j0_render() gives it back either way). */
static json_t *norm_text(const char *data, size_t len)
{
	json_t *o;
	char *enc;

	if (!data)
		return json_null();
	if (codec_utf8_valid(data, len))
		return json_stringn(data, len);
	enc = j0_base64_plain(data, len);
	o = enc ? json_pack("{s:s}", "base64", enc) : NULL;
	free(enc);
	return o;
}

static json_t *file_json(const char *name, const char *data, size_t len)
{
	json_t *f;
	char *enc;

	if (codec_utf8_valid(data, len))
		return json_pack("{s:s, s:s%, s:s}", "name", name, "content", data, len,
				 "encoding", "utf8");
	enc = j0_base64_plain(data, len);
	f = enc ? json_pack("{s:s, s:s, s:s}", "name", name, "content", enc,
			    "encoding", "base64") : NULL;
	free(enc);
	return f;
}

static bool url_ok(const char *u, size_t len)
{
	const char *rest;

	if (len > 2048)
		return false;
	if (strncmp(u, "http://", 7) == 0)
		rest = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		rest = u + 8;
	else
		return false;
	if (!*rest || *rest == '/')
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A string field kept as given (compiler_options, ...), or NULL. */
static const char *get_plain(struct ctx *c, const char *key, size_t *len)
{
	const json_t *v = json_object_get(c->sub, key);

	*len = 0;
	if (json_object_set_new(c->norm, key, json_null()) < 0)
		c->oom = -ENOMEM;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		c->oom |= add_error(c->errors, key, "is not a string");
		return NULL;
	}
	*len = json_string_length(v);
	if (json_object_set(c->norm, key, (json_t *)v) < 0)
		c->oom = -ENOMEM;
	return json_string_value(v);
}

static uint64_t clamp(uint64_t v, enum sbx_limit_id id, uint64_t max)
{
	const struct sbx_limit_info *li = sbx_limit_info(id);

	if (max && v > max)
		v = max;
	if (v > li->max)
		v = li->max;
	if (v < li->min)
		v = li->min;
	return v;
}

static int translate(struct ctx *c, const struct rt_registry *reg, json_t **v1)
{
	const struct j0_settings *s = c->s;
	const struct j0_lang *lang = NULL;
	const struct runtime *rt = NULL;
	const json_t *lid = json_object_get(c->sub, "language_id");
	const char *opts, *args, *url;
	_cleanup_free_ char *code = NULL, *in = NULL, *want = NULL, *zip = NULL;
	size_t code_len, in_len, want_len, zip_len = 0, opts_len, args_len, url_len;
	uint64_t cpu, extra, wall, mem, stack, procs, fsize, runs;
	bool project = false, redirect;
	long id = -1;
	json_t *req = NULL, *files = NULL, *argv = NULL, *copts = NULL, *zipfiles = NULL;
	json_t *limits = NULL, *v;
	char why[256], *enc;
	int r;

	get_text(c, "source_code", c->base64, &code, &code_len);
	get_text(c, "stdin", c->base64, &in, &in_len);
	get_text(c, "expected_output", c->base64, &want, &want_len);
	if (c->oom < 0)
		return -ENOMEM;

	/* language_id: required, and one offered here. */
	if (json_is_integer(lid)) {
		id = (long)json_integer_value(lid);
	} else if (json_is_string(lid) && json_string_length(lid) > 0) {
		uint64_t u;

		if (util_parse_u64(json_string_value(lid), 1000000, &u) == 0)
			id = (long)u;
	}
	if (!lid || json_is_null(lid) || (json_is_string(lid) && json_string_length(lid) == 0)) {
		c->oom |= add_error(c->errors, "language_id", "can't be blank");
	} else {
		/* "": the built-in Python runs when the registry has none. */
		lang = id >= 0 ? j0_lang_find(reg, "", id, &rt) : NULL;
		if (!lang) {
			char shown[64];

			if (json_is_string(lid))
				snprintf(shown, sizeof(shown), "%.40s", json_string_value(lid));
			else if (id >= 0)
				snprintf(shown, sizeof(shown), "%ld", id);
			else
				snprintf(shown, sizeof(shown), "?");
			c->oom |= add_error(c->errors, "language_id",
					    "language with id %s doesn't exist", shown);
		}
		project = lang && lang->id == 89;
	}

	/* source_code: required, except for a multi-file program, which
	 * takes none (its files come in additional_files). */
	if (project && code && !blank(code, code_len))
		c->oom |= add_error(c->errors, "source_code", "must be blank");
	else if (!project && (!code || blank(code, code_len)) &&
		 !json_object_get(c->errors, "source_code"))
		c->oom |= add_error(c->errors, "source_code", "can't be blank");
	if (in && !codec_utf8_valid(in, in_len))
		c->oom |= add_error(c->errors, "stdin", "is not UTF-8 text");
	if (want && !codec_utf8_valid(want, want_len))
		c->oom |= add_error(c->errors, "expected_output", "is not UTF-8 text");
	if (json_object_set_new(c->norm, "source_code", norm_text(code, code_len)) < 0 ||
	    json_object_set_new(c->norm, "language_id", json_integer(id)) < 0 ||
	    json_object_set_new(c->norm, "stdin", norm_text(in, in_len)) < 0 ||
	    json_object_set_new(c->norm, "expected_output", norm_text(want, want_len)) < 0)
		return -ENOMEM;

	get_integer(c, "number_of_runs", s->number_of_runs, true, 0, s->max_number_of_runs, &runs);
	get_seconds(c, "cpu_time_limit", s->cpu_time_limit_ms, 0, s->max_cpu_time_limit_ms, &cpu);
	get_seconds(c, "cpu_extra_time", s->cpu_extra_time_ms, 0, s->max_cpu_extra_time_ms, &extra);
	get_seconds(c, "wall_time_limit", s->wall_time_limit_ms, 1000, s->max_wall_time_limit_ms,
		    &wall);
	get_integer(c, "memory_limit", s->memory_limit_kb, false, 2048, s->max_memory_limit_kb, &mem);
	get_integer(c, "stack_limit", s->stack_limit_kb, false, 0, s->max_stack_limit_kb, &stack);
	get_integer(c, "max_processes_and_or_threads", s->max_processes_and_or_threads, true, 0,
		    s->max_max_processes_and_or_threads, &procs);
	get_bool(c, "enable_per_process_and_thread_time_limit",
		 s->enable_per_process_and_thread_time_limit);
	get_bool(c, "enable_per_process_and_thread_memory_limit",
		 s->enable_per_process_and_thread_memory_limit);
	get_integer(c, "max_file_size", s->max_file_size_kb, false, 0, s->max_max_file_size_kb,
		    &fsize);

	opts = get_plain(c, "compiler_options", &opts_len);
	args = get_plain(c, "command_line_arguments", &args_len);
	if (opts && opts_len > J0_ARGS_MAX)
		c->oom |= add_error(c->errors, "compiler_options",
				    "is too long (maximum is %d characters)", J0_ARGS_MAX);
	if (args && args_len > J0_ARGS_MAX)
		c->oom |= add_error(c->errors, "command_line_arguments",
				    "is too long (maximum is %d characters)", J0_ARGS_MAX);
	redirect = get_bool(c, "redirect_stderr_to_stdout", s->redirect_stderr_to_stdout);
	url = get_plain(c, "callback_url", &url_len);
	if (url && url_len > 0 && !url_ok(url, url_len))
		c->oom |= add_error(c->errors, "callback_url", "is not an http or https URL "
				    "(at most 2048 bytes)");
	if (get_bool(c, "enable_network", false))
		c->oom |= add_error(c->errors, "enable_network", "enabling network is not allowed");

	/* additional_files: a zip, base64 whatever base64_encoded says. */
	if (json_object_set_new(c->norm, "additional_files", json_null()) < 0)
		return -ENOMEM;
	v = json_object_get(c->sub, "additional_files");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			c->oom |= add_error(c->errors, "additional_files", "is not a string");
		} else {
			r = j0_base64_decode(json_string_value(v), json_string_length(v), &zip,
					     &zip_len);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				c->oom |= add_error(c->errors, "additional_files",
						    "is not valid base64");
		}
	}
	if (project && zip_len == 0 && !json_object_get(c->errors, "additional_files"))
		c->oom |= add_error(c->errors, "additional_files", "can't be blank");
	if (zip_len > 0) {
		r = j0_zip_extract(zip, zip_len, project ? NULL : rt ? rt->source_file : "main.py",
				   &zipfiles, why, sizeof(why));
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			c->oom |= add_error(c->errors, "additional_files", "%s", why);
		enc = j0_base64_encode(zip, zip_len);
		if (!enc || json_object_set_new(c->norm, "additional_files", json_string(enc)) < 0) {
			free(enc);
			json_decref(zipfiles);
			return -ENOMEM;
		}
		free(enc);
	}

	/* compiler_options: only where a compile command takes them. */
	if (opts && !blank(opts, opts_len) && lang &&
	    (project || (rt && !rt_compiles(rt)) || !rt))
		c->oom |= add_error(c->errors, "compiler_options",
				    "setting compiler options is only allowed for compiled languages");
	if (opts && !blank(opts, opts_len) && !json_object_get(c->errors, "compiler_options")) {
		r = j0_split_words(opts, opts_len, &copts);
		if (r == -ENOMEM)
			goto oom;
		if (r < 0)
			c->oom |= add_error(c->errors, "compiler_options", "has an unclosed quote");
		else if (json_array_size(copts) > 32)
			c->oom |= add_error(c->errors, "compiler_options",
					    "has more than 32 words");
		else
			for (size_t i = 0; i < json_array_size(copts); i++)
				if (json_string_length(json_array_get(copts, i)) > 128) {
					c->oom |= add_error(c->errors, "compiler_options",
							    "has a word longer than 128 bytes");
					break;
				}
	}
	if (args && !blank(args, args_len)) {
		r = j0_split_words(args, args_len, &argv);
		if (r == -ENOMEM)
			goto oom;
		if (r < 0)
			c->oom |= add_error(c->errors, "command_line_arguments",
					    "has an unclosed quote");
	}
	if (c->oom < 0)
		goto oom;
	if (json_object_size(c->errors) > 0) {
		r = -EINVAL;
		goto out;
	}

	/* The v1 request. */
	files = zipfiles ? zipfiles : json_array();
	zipfiles = NULL;
	if (!files)
		goto oom;
	if (!project) {
		json_t *f = file_json(rt ? rt->source_file : "main.py", code, code_len);

		if (!f || json_array_insert_new(files, 0, f) < 0)
			goto oom;
	} else {
		/* The entry point first: the run script, when there is one. */
		for (size_t i = 1; i < json_array_size(files); i++) {
			json_t *f = json_array_get(files, i);

			if (strcmp(json_string_value(json_object_get(f, "name")), "run") == 0) {
				json_incref(f);
				json_array_remove(files, i);
				if (json_array_insert_new(files, 0, f) < 0)
					goto oom;
				break;
			}
		}
	}
	/* Judge0 gives isolate cpu_time_limit + cpu_extra_time before it
	 * kills; 0 is no limit there, the most here. */
	limits = json_pack("{s:I, s:I, s:I, s:I}",
			   "cpu_time_ms", (json_int_t)clamp(cpu ? cpu + extra : s->max_cpu_time_limit_ms,
							    SBX_LIMIT_CPU_MS, s->max_cpu_time_limit_ms),
			   "wall_time_ms", (json_int_t)clamp(wall, SBX_LIMIT_WALL_MS,
							     s->max_wall_time_limit_ms),
			   "memory_bytes", (json_int_t)clamp(mem * 1024, SBX_LIMIT_MEMORY,
							     s->max_memory_limit_kb * 1024),
			   "max_processes", (json_int_t)clamp(procs, SBX_LIMIT_PROCESSES,
							      s->max_max_processes_and_or_threads));
	if (!limits)
		goto oom;
	/* max_file_size bounds every file, stdout's too (isolate writes it
	 * to a file); 0 is no limit there, the server's here. */
	if (fsize > 0 &&
	    (json_object_set_new(limits, "file_size_bytes",
				 json_integer((json_int_t)clamp(fsize * 1024, SBX_LIMIT_FILE_SIZE, 0))) < 0 ||
	     json_object_set_new(limits, "output_bytes",
				 json_integer((json_int_t)clamp(fsize * 1024, SBX_LIMIT_OUTPUT,
								s->max_output_bytes))) < 0))
		goto oom;
	req = json_pack("{s:s, s:o, s:o, s:I, s:b}", "language", rt ? rt->name : "python",
			"files", files, "limits", limits, "runs", (json_int_t)runs,
			"redirect_stderr", redirect);
	files = limits = NULL;
	if (!req)
		goto oom;
	if (argv && json_array_size(argv) > 0 && json_object_set(req, "args", argv) < 0)
		goto oom;
	if (copts && json_array_size(copts) > 0 && json_object_set(req, "compile_options", copts) < 0)
		goto oom;
	if (url && url_len > 0 && json_object_set_new(req, "callback_url", json_string(url)) < 0)
		goto oom;
	if (want) {
		json_t *t = json_pack("{s:s%, s:s%}", "stdin", in ? in : "", in ? in_len : 0,
				      "expected_output", want, want_len);

		if (!t || json_object_set_new(req, "tests", json_pack("[o]", t)) < 0)
			goto oom;
	} else if (in && json_object_set_new(req, "stdin", json_stringn(in, in_len)) < 0) {
		goto oom;
	}
	*v1 = req;
	req = NULL;
	r = 0;
	goto out;
oom:
	r = -ENOMEM;
out:
	json_decref(req);
	json_decref(files);
	json_decref(limits);
	json_decref(zipfiles);
	json_decref(argv);
	json_decref(copts);
	return r;
}

int j0_submission_to_v1(const json_t *sub, bool base64, const struct j0_settings *s,
			const struct rt_registry *reg, json_t **v1, json_t **normalized,
			json_t **errors)
{
	struct ctx c = { .sub = sub, .base64 = base64, .s = s };
	json_t *req = NULL;
	int r;

	c.errors = json_object();
	c.norm = json_object();
	if (!c.errors || !c.norm) {
		r = -ENOMEM;
		goto out;
	}
	if (!json_is_object(sub)) {
		/* Rails sees no parameters at all. */
		if (add_error(c.errors, "source_code", "can't be blank") < 0 ||
		    add_error(c.errors, "language_id", "can't be blank") < 0) {
			r = -ENOMEM;
			goto out;
		}
		r = -EINVAL;
	} else {
		r = translate(&c, reg, &req);
	}
	if (r == 0) {
		*v1 = req;
		*normalized = c.norm;
		c.norm = NULL;
	} else if (r == -EINVAL) {
		*errors = c.errors;
		c.errors = NULL;
	}
out:
	json_decref(c.errors);
	json_decref(c.norm);
	return r;
}

/* --- batches, tokens, fields -------------------------------------------- */

json_t *j0_error_json(const char *msg)
{
	return json_pack("{s:s}", "error", msg);
}

static int batch_error(json_t **error, const char *msg)
{
	*error = j0_error_json(msg);
	return *error ? -EINVAL : -ENOMEM;
}

int j0_batch_to_v1(const json_t *body, bool base64, const struct j0_settings *s,
		   const struct rt_registry *reg, struct j0_batch_item **items, size_t *n,
		   json_t **error)
{
	const json_t *subs = json_is_object(body) ? json_object_get(body, "submissions") : NULL;
	size_t count = json_is_array(subs) ? json_array_size(subs) : 0;
	struct j0_batch_item *it;
	char msg[128];

	if (count == 0)
		return batch_error(error, "there should be at least one submission in a batch");
	if (count > J0_BATCH_MAX) {
		snprintf(msg, sizeof(msg), "number of submissions in a batch should be less than "
			 "or equal to %d", J0_BATCH_MAX);
		return batch_error(error, msg);
	}
	it = calloc(count, sizeof(*it));
	if (!it)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		int r = j0_submission_to_v1(json_array_get(subs, i), base64, s, reg, &it[i].v1,
					    &it[i].normalized, &it[i].errors);

		if (r == -ENOMEM) {
			j0_batch_free(it, count);
			return r;
		}
	}
	*items = it;
	*n = count;
	return 0;
}

void j0_batch_free(struct j0_batch_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++) {
		json_decref(items[i].v1);
		json_decref(items[i].normalized);
		json_decref(items[i].errors);
	}
	free(items);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool j0_token_parse(const char *s, size_t len, char out[J0_TOKEN_LEN + 1])
{
	size_t o = 0;

	if (len == J0_TOKEN_LEN + 4) {
		/* 8-4-4-4-12 */
		for (size_t i = 0; i < len; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;

			if (dash ? s[i] != '-' : !is_hex(s[i]))
				return false;
			if (!dash)
				out[o++] = s[i];
		}
	} else if (len == J0_TOKEN_LEN) {
		for (size_t i = 0; i < len; i++) {
			if (!is_hex(s[i]))
				return false;
			out[o++] = s[i];
		}
	} else {
		return false;
	}
	out[o] = '\0';
	return true;
}

int j0_tokens_parse(const char *list, char tokens[J0_BATCH_MAX][J0_TOKEN_LEN + 1],
		    size_t *n, json_t **error)
{
	const char *p = list ? list : "", *end;
	size_t count = 0;
	char msg[128];

	/* Ruby: tokens.to_s.strip.split(","): empty items at the end vanish. */
	while (*p && strchr(" \t\r\n\v\f", *p))
		p++;
	end = p + strlen(p);
	while (end > p && strchr(" \t\r\n\v\f", end[-1]))
		end--;
	while (end > p && end[-1] == ',')
		end--;
	for (const char *q = p; q < end;) {
		const char *comma = memchr(q, ',', (size_t)(end - q));
		size_t len = comma ? (size_t)(comma - q) : (size_t)(end - q);

		if (count == J0_BATCH_MAX) {
			snprintf(msg, sizeof(msg), "number of submissions in a batch should be less "
				 "than or equal to %d", J0_BATCH_MAX);
			return batch_error(error, msg);
		}
		if (!j0_token_parse(q, len, tokens[count]))
			tokens[count][0] = '\0';
		count++;
		q += len + (comma ? 1 : 0);
		if (!comma)
			break;
	}
	if (count == 0)
		return batch_error(error, "there should be at least one submission in a batch");
	*n = count;
	return 0;
}

/* Every attribute of Judge0's SubmissionSerializer, in its order. */
const char *const j0_fields[] = {
	"source_code", "language_id", "stdin", "expected_output", "stdout", "status_id",
	"created_at", "finished_at", "time", "memory", "stderr", "token", "number_of_runs",
	"cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
	"max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
	"enable_per_process_and_thread_memory_limit", "max_file_size", "compile_output",
	"exit_code", "exit_signal", "message", "wall_time", "compiler_options",
	"command_line_arguments", "redirect_stderr_to_stdout", "callback_url",
	"additional_files", "enable_network", "status", "language",
};
const size_t j0_nfields = UTIL_ARRAY_SIZE(j0_fields);

int j0_field_index(const char *name, size_t len)
{
	for (size_t i = 0; i < j0_nfields; i++)
		if (strlen(j0_fields[i]) == len && memcmp(j0_fields[i], name, len) == 0)
			return (int)i;
	return -1;
}

int j0_fields_check(const char *fields, json_t **error)
{
	char msg[512];
	size_t m = 0, bad = 0;
	const char *p = fields ? fields : "";

	m = (size_t)snprintf(msg, sizeof(msg), "invalid fields: [");
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len > 0 && !(len == 1 && *p == '*') && j0_field_index(p, len) < 0) {
			if (m + len + 8 < sizeof(msg))
				m += (size_t)snprintf(msg + m, sizeof(msg) - m, "%s%.*s",
						      bad ? ", " : "", (int)len, p);
			bad++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (!bad)
		return 0;
	snprintf(msg + m, sizeof(msg) - m, "]");
	*error = j0_error_json(msg);
	return *error ? -EINVAL : -ENOMEM;
}
