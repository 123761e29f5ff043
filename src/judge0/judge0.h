/*
 * judge0.h - Judge0 CE 1.13.1's API as a translator over /api/v1: a
 * submission (json_t) becomes a v1 request (json_t) that api_parse_request()
 * checks and the engine runs, and the v1 answer is rendered back in
 * Judge0's shape.  Pure functions on json_t: no sockets, no threads, no
 * clock (the caller gives the times).  Errors come as the bodies Judge0
 * sends: 422 {"field": ["message", ...]} for a submission, 400 {"error":
 * "..."} for the request around it.
 */
#ifndef SAFEXEC_JUDGE0_H
#define SAFEXEC_JUDGE0_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "runtime/runtime.h"

#define J0_VERSION	  "1.13.1"
#define J0_BATCH_MAX	  20	/* submissions of one batch, tokens of one GET */
#define J0_TOKEN_LEN	  32	/* lowercase hex, as the job store makes them */
#define J0_ZIP_MAX_FILES  64
#define J0_ZIP_MAX_BYTES  (16u << 20)	/* uncompressed, all files together */
#define J0_ARGS_MAX	  512	/* bytes of compiler_options, command_line_arguments */

/* Judge0's settings in its own units (times in ms here, shown in seconds;
 * sizes in KB), from the configuration (judge0_* and max_*). */
struct j0_settings {
	uint64_t cpu_time_limit_ms, max_cpu_time_limit_ms;
	uint64_t cpu_extra_time_ms, max_cpu_extra_time_ms;
	uint64_t wall_time_limit_ms, max_wall_time_limit_ms;
	uint64_t memory_limit_kb, max_memory_limit_kb;
	uint64_t stack_limit_kb, max_stack_limit_kb;
	uint64_t max_processes_and_or_threads, max_max_processes_and_or_threads;
	uint64_t max_file_size_kb, max_max_file_size_kb;
	uint64_t number_of_runs, max_number_of_runs;
	bool redirect_stderr_to_stdout;
	bool enable_per_process_and_thread_time_limit;
	bool enable_per_process_and_thread_memory_limit;
	/* What the v1 request may ask for at most: limits are clamped to it. */
	uint64_t max_output_bytes;
	/* For /config_info. */
	uint64_t max_queue_size;		/* cfg jobs_max */
	bool enable_submission_delete;		/* cfg allow_delete */
	uint64_t callbacks_max_tries;		/* cfg callback_retries + 1 */
	uint64_t callbacks_timeout_s;		/* cfg callback_timeout */
};

/* Fills *s; a default above its maximum is lowered to it. */
void j0_settings_from_cfg(const struct cfg *c, struct j0_settings *s);

/*
 * One submission (POST /submissions, or one item of a batch) to a v1
 * request.  Checks every field Judge0 documents with its units, defaults
 * and maxima (unknown fields are ignored, as Rails' permit() does).
 * base64: source_code, stdin and expected_output come base64-encoded.
 * reg may be NULL (only the built-in Python).  On success returns 0 with
 * *v1 (the v1 request) and *normalized (the submission with defaults filled
 * as Judge0 echoes it back, texts decoded; for j0_render(), otherwise
 * opaque), both new references.  On a bad submission returns -EINVAL with
 * *errors = Judge0's 422 body; -ENOMEM when out of memory (nothing set).
 */
int j0_submission_to_v1(const json_t *sub, bool base64, const struct j0_settings *s,
			const struct rt_registry *reg, json_t **v1, json_t **normalized,
			json_t **errors);

/* POST /submissions/batch: {"submissions": [...]}, 1 to 20 items. */
struct j0_batch_item {
	json_t *v1, *normalized;	/* set when the item is good */
	json_t *errors;			/* else its 422 body */
};
/* Returns 0 with *items (n of them; free with j0_batch_free()), each item
 * good or with its errors (Judge0 answers 201 when any is good, else 422:
 * [{"token": ...} or errors, ...] in order); -EINVAL with *error a 400 body
 * when the batch itself is wrong; -ENOMEM. */
int j0_batch_to_v1(const json_t *body, bool base64, const struct j0_settings *s,
		   const struct rt_registry *reg, struct j0_batch_item **items, size_t *n,
		   json_t **error);
void j0_batch_free(struct j0_batch_item *items, size_t n);

/* A token in a path: 32 lowercase hex digits, or the same with a UUID's
 * dashes (8-4-4-4-12), copied without them into out.  true when well formed. */
bool j0_token_parse(const char *s, size_t len, char out[J0_TOKEN_LEN + 1]);

/* GET /submissions/batch?tokens=a,b,c: split at commas (blanks around the
 * list dropped, as Judge0 strips it).  Fills tokens[i] for each of *n
 * items, "" where the item is not a well formed token (Judge0 answers null
 * for it, as for an unknown one).  Returns 0, or -EINVAL with *error the 400
 * body (no token, more than 20). */
int j0_tokens_parse(const char *list, char tokens[J0_BATCH_MAX][J0_TOKEN_LEN + 1],
		    size_t *n, json_t **error);

/* The query's fields=: NULL or "" is Judge0's default set (token, time,
 * memory, stdout, stderr, compile_output, message, status), "*" every
 * field.  Returns 0, or -EINVAL with *error = {"error": "invalid fields:
 * [a, b]"} (400); -ENOMEM. */
int j0_fields_check(const char *fields, json_t **error);

enum j0_state { J0_QUEUED, J0_RUNNING, J0_DONE };

/* A submission as the job store holds it. */
struct j0_view {
	const char *token;
	enum j0_state state;
	int64_t created_ms, started_ms, finished_ms;	/* Unix ms; 0 = not yet */
	const json_t *normalized;	/* from j0_submission_to_v1() */
	const json_t *answer;		/* the v1 answer when done, else NULL */
	const struct rt_registry *reg;	/* for the language's name; may be NULL */
	const char *python_version;	/* the built-in Python's, or NULL */
};

/* The submission in Judge0's shape with the fields asked for (checked by
 * j0_fields_check(); unknown names are skipped).  base64: stdout, stderr,
 * compile_output, message, source_code, stdin and expected_output are
 * base64 (as Ruby's encode64 writes it: lines of 60, each ending "\n").
 * NULL only when out of memory. */
json_t *j0_render(const struct j0_view *v, bool base64, const char *fields);

/* The status of a view: {"id": 3, "description": "Accepted"}'s id. */
int j0_status_id(const struct j0_view *v);

/* GET /languages: [{id, name}] for each Judge0 id whose runtime is
 * available (python_version: the built-in Python's, used when reg has no
 * python runtime; NULL = not offered), sorted by id. */
json_t *j0_languages_json(const struct rt_registry *reg, const char *python_version);
/* GET /languages/{id}: {id, name, is_archived, source_file, compile_cmd,
 * run_cmd}, or NULL when the id is not offered (404). */
json_t *j0_language_json(const struct rt_registry *reg, const char *python_version, long id);
/* GET /statuses: [{id, description}], 1 to 14. */
json_t *j0_statuses_json(void);
/* GET /about: {"version": "1.13.1", homepage, source_code, maintainer}
 * (Judge0 takes the three from its environment; NULL is ""). */
json_t *j0_about_json(const char *homepage, const char *source_code, const char *maintainer);
/* GET /config_info: every field of Judge0's (and of its Python SDK's
 * Config model). */
json_t *j0_config_info_json(const struct j0_settings *s);
/* GET /system_info: lscpu's and free's lines as Judge0 shows them, from
 * /proc/cpuinfo, /proc/meminfo and uname(). */
json_t *j0_system_info_json(void);
/* GET /workers: [{queue, size, available, idle, working, paused, failed}]. */
json_t *j0_workers_json(const char *queue, uint64_t size, uint64_t available, uint64_t idle,
			uint64_t working, uint64_t paused, uint64_t failed);
/* {"error": msg}: Judge0's body for 400, 404 and 503 answers. */
json_t *j0_error_json(const char *msg);

/*
 * additional_files: a zip archive (already base64-decoded) to files.
 * libzip is loaded at the first call.  At most J0_ZIP_MAX_FILES regular
 * files, each named as a v1 file is ([A-Za-z0-9._+-], no leading '.' or
 * '-', at most 64 bytes: no directories, no paths), none named reserved
 * (the source file; NULL = none), J0_ZIP_MAX_BYTES together, counted as
 * they are read.  Returns 0 with *files a new array of {name, content,
 * encoding: "base64"}; -EINVAL with a message in why; -ENOENT when libzip
 * cannot be loaded; -ENOMEM.
 */
int j0_zip_extract(const void *zip, size_t len, const char *reserved, json_t **files,
		   char *why, size_t whylen);

/* command_line_arguments or compiler_options to words: blanks separate,
 * '...' keeps everything, "..." keeps everything but \" \\ and
 * \newline, a \ outside quotes keeps the next byte; nothing is expanded.
 * Judge0's refused bytes $&;<>|` are dropped first, as it does.  Returns 0
 * with a new array of strings, or -EINVAL (an unclosed quote). */
int j0_split_words(const char *s, size_t len, json_t **words);

/* Base64 as Judge0 reads it: blanks and newlines skipped, padding
 * optional.  Returns 0 with a malloc'ed buffer (NUL after len bytes), or
 * -EINVAL / -ENOMEM. */
int j0_base64_decode(const char *s, size_t len, char **out, size_t *outlen);
/* Ruby's Base64.encode64: lines of 60 characters, each ending in "\n".
 * Malloc'ed, NUL-terminated; NULL when out of memory. */
char *j0_base64_encode(const void *data, size_t len);

#endif
