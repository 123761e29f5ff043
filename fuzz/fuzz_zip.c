/* libFuzzer target: Judge0's additional_files, the input as a zip archive
 * (already base64-decoded) through j0_zip_extract().  libzip is loaded at
 * run time; where it cannot be, every input is skipped.
 *
 * Invariants (a trap when broken): a refusal says why; an extraction gives
 * at most J0_ZIP_MAX_FILES files, each {name, content, encoding: "base64"}
 * with a plain name ([A-Za-z0-9._+-], no leading '.' or '-', at most
 * API_FILE_NAME_MAX bytes), none the reserved name, no two alike, and
 * J0_ZIP_MAX_BYTES of content at most together. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "judge0/judge0.h"
#include "util/util.h"

#define RESERVED "main.py"

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > API_FILE_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

static void check(const json_t *files)
{
	size_t n = json_array_size(files);
	uint64_t total = 0;

	if (!json_is_array(files) || n > J0_ZIP_MAX_FILES)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		const json_t *f = json_array_get(files, i);
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *enc = json_string_value(json_object_get(f, "encoding"));
		const json_t *content = json_object_get(f, "content");
		char *raw = NULL;
		size_t len = 0;

		if (!name || !name_ok(name) || strcmp(name, RESERVED) == 0 || !enc ||
		    strcmp(enc, "base64") != 0 || !json_is_string(content))
			__builtin_trap();
		for (size_t k = 0; k < i; k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(files, k),
								       "name")), name) == 0)
				__builtin_trap();
		if (j0_base64_decode(json_string_value(content), json_string_length(content), &raw,
				     &len) == -EINVAL)
			__builtin_trap();
		free(raw);
		total += len;
	}
	if (total > J0_ZIP_MAX_BYTES)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool no_libzip;
	json_t *files = NULL;
	char why[256];
	int r;

	if (no_libzip)
		return 0;
	memset(why, 0, sizeof(why));
	r = j0_zip_extract(data, size, RESERVED, &files, why, sizeof(why));
	switch (r) {
	case 0:
		check(files);
		json_decref(files);
		break;
	case -ENOENT:
		/* libzip could not be loaded: nothing to fuzz here. */
		fprintf(stderr, "fuzz_zip: skipped: %s\n", why);
		no_libzip = true;
		break;
	case -EINVAL:
		if (files || why[0] == '\0' || !memchr(why, '\0', sizeof(why)))
			__builtin_trap();
		break;
	case -ENOMEM:
		break;
	default:
		__builtin_trap();
	}
	return 0;
}
