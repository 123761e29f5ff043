/* internal.h - what the files of src/judge0/ share and nobody else uses. */
#ifndef SAFEXEC_JUDGE0_INTERNAL_H
#define SAFEXEC_JUDGE0_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/runtime.h"

/* Base64 on one line, as a v1 request's files take it.  NULL on ENOMEM. */
char *j0_base64_plain(const void *data, size_t len);

/* One Judge0 language id served by one runtime; fmt is its name, with %s
 * for the version where it has one. */
struct j0_lang {
	int id;
	const char *runtime;
	const char *fmt;
};
extern const struct j0_lang j0_langs[];
extern const size_t j0_nlangs;

/* The row of id whose runtime is available (*rt; NULL for the built-in
 * Python, offered when reg has no python and python_version is not NULL),
 * or NULL. */
const struct j0_lang *j0_lang_find(const struct rt_registry *reg, const char *python_version,
				   long id, const struct runtime **rt);
void j0_lang_name(const struct j0_lang *l, const struct runtime *rt, const char *python_version,
		  char *buf, size_t len);

/* ms as Rails shows a decimal number of seconds: "5.0", "0.004". */
void j0_decimal(uint64_t ms, char *buf, size_t len);

/* The serializer's attributes, in order. */
extern const char *const j0_fields[];
extern const size_t j0_nfields;
int j0_field_index(const char *name, size_t len);

#endif
