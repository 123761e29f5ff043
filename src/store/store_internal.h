/*
 * store_internal.h - helpers shared inside src/store/ and with its unit
 * tests; not part of the store's public contract.
 */
#ifndef SAFEXEC_STORE_INTERNAL_H
#define SAFEXEC_STORE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

/* One record, wherever it comes from (a struct store_record being inserted
 * or a database row being read).  Every pointer is borrowed. */
struct store_row {
	int64_t id;			/* <= 0: not in the database ("id": null) */
	int64_t created_ms;
	const char *client, *endpoint, *language;
	const char *code;
	size_t code_len;
	const char *stdin_data;		/* NULL: none ("stdin": "") */
	size_t stdin_len;
	json_t *args;			/* array of strings; NULL: [] */
	struct sbx_limits limits;	/* only the five stored ones are used */
	struct sbx_result result;	/* buffers borrowed */
	const char *status;		/* status text; NULL: from result.status */
	json_t *compile;		/* the compile stage as stored, or NULL */
	const json_t *tests;		/* {verdict, tests, totals}, or NULL */
	const json_t *files;		/* {files, files_dropped?,
					   files_dropped_total?}, or NULL */
};

/* The full JSON object of one record, as store_get() returns it and as the
 * log holds it: tests' verdict, tests and totals (whichever it has) come
 * at the top level.  NULL only when out of memory. */
json_t *store_row_json(const struct store_row *row);

/* code_preview: at most 80 characters of code, invalid UTF-8 replaced. */
json_t *store_preview(const char *code, size_t len);

/* Formats Unix time in ms as "2026-11-27T10:00:53.123Z".  Returns 0 or a
 * negative errno. */
int store_format_time(int64_t ms, char *buf, size_t len);

/* Wall-clock time now, in ms since the epoch. */
int64_t store_now_ms(void);

#endif
