/*
 * codec.h - the run result as JSON, shared by `safexec run --json` and the
 * HTTP API so that both speak exactly the same fields.
 */
#ifndef SAFEXEC_CODEC_H
#define SAFEXEC_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "sandbox/sandbox.h"

/* Returns a new JSON object with every field of the result: status,
 * exit_code, signal, stdout, stderr, output, stdout_truncated,
 * stderr_truncated, wall_time_ms, cpu_time_ms, memory_bytes.  Output that is
 * not valid UTF-8 has each bad byte replaced by U+FFFD.  The caller owns the
 * reference.  NULL only when out of memory. */
json_t *codec_result_json(const struct sbx_result *res);

/* Adds the result's fields to an existing object (same fields as above).
 * Returns 0 or -ENOMEM. */
int codec_result_add(json_t *obj, const struct sbx_result *res);

/* A JSON string of len bytes of arbitrary data: valid UTF-8 is kept, every
 * byte of an invalid sequence becomes U+FFFD.  NULL only when out of memory. */
json_t *codec_string(const char *data, size_t len);

/* Copies data into a new malloc'ed, NUL-terminated buffer with invalid UTF-8
 * replaced as above; *outlen gets its length.  NULL when out of memory. */
char *codec_utf8_sanitize(const char *data, size_t len, size_t *outlen);

/* The status in words, for people: "" for ok, "Exited with code 1",
 * "Killed by signal 11 (SIGSEGV)", "Time limit exceeded (10 s)", "CPU time
 * limit exceeded (2 s)", "Memory limit exceeded (128 MiB)", "Output limit
 * exceeded (1 MiB)", "Internal error".  Returns buf. */
char *codec_status_message(const struct sbx_result *res, const struct sbx_limits *l,
			   char *buf, size_t len);

/* The status of a request whose compile stage failed. */
#define CODEC_COMPILE_ERROR "compile_error"

/* The message of a request whose compile failed, from the compile
 * stage's: "Compilation failed: Exited with code 1".  Returns buf. */
char *codec_compile_failed_message(const char *compile_msg, char *buf, size_t len);

/* Adds "compile": the compile stage's result fields and its message (l:
 * its limits).  When it failed, also sets obj's "status" to
 * "compile_error" and, where obj has a "message", "Compilation failed:
 * ...": the run did not start.  Returns 0 or -ENOMEM. */
int codec_compile_add(json_t *obj, const struct sbx_result *compile, const struct sbx_limits *l);

/* Standard base64 (RFC 4648, padded, no line breaks) of len bytes: a new
 * NUL-terminated string, or NULL when out of memory. */
char *codec_base64(const char *data, size_t len);

/* The media type an output file is given, from its name's extension (any
 * case): png, jpg/jpeg, gif, webp, svg (image/svg+xml), pdf, csv, txt,
 * log, md, json; html and htm as text/plain (a client that renders by
 * type must never run a program's page in its own origin); anything else
 * application/octet-stream. */
const char *codec_mime_type(const char *name);

/* Adds a run's output directory to obj: "files" [{name, size, mime_type,
 * content (base64)}], and, when any entry was dropped, "files_dropped"
 * [{name, reason}] and "files_dropped_total".  Returns 0 or -ENOMEM. */
int codec_out_files_add(json_t *obj, const struct sbx_result *res);

/* How many bytes at the end of data (0 to 3) begin a UTF-8 sequence that
 * is valid so far but not complete: what a reader of output in pieces
 * keeps back for the next piece, so that a character cut between two
 * pieces is not turned into U+FFFD twice.  Data cut just before those
 * bytes reads, piece by piece with codec_string(), as the whole does. */
size_t codec_utf8_partial_tail(const char *data, size_t len);

/* True when data is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int codec_utf8_valid(const char *data, size_t len);

#endif
