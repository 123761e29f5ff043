/*
 * zip.c - additional_files: a zip archive to the request's files, with
 * libzip loaded at the first use (as src/http/mhd.c loads libmicrohttpd:
 * `safexec run` never pays for it).
 *
 * Nothing the archive declares is trusted: names are checked as a v1
 * request's are (no paths, so no traversal), and sizes are counted as the
 * bytes come out of the decompressor, so that a header lying about a
 * member's size, or a member that inflates a thousandfold, stops at the cap
 * instead of filling memory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "api/api.h"
#include "judge0/internal.h"
#include "judge0/judge0.h"
#include "util/util.h"

#define ZIP_SONAME "libzip.so.4"

static struct {
	__typeof__(zip_source_buffer_create) *source_buffer_create;
	__typeof__(zip_source_free) *source_free;
	__typeof__(zip_open_from_source) *open_from_source;
	__typeof__(zip_discard) *discard;
	__typeof__(zip_get_num_entries) *get_num_entries;
	__typeof__(zip_stat_index) *stat_index;
	__typeof__(zip_fopen_index) *fopen_index;
	__typeof__(zip_fread) *fread;
	__typeof__(zip_fclose) *fclose;
	__typeof__(zip_error_init) *error_init;
	__typeof__(zip_error_fini) *error_fini;
	__typeof__(zip_error_strerror) *error_strerror;
} lz;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static char load_error[256];

static void load(void)
{
	static const struct util_sym syms[] = {
#define SYM(field) { "zip_" #field, (void **)&lz.field }
		SYM(source_buffer_create), SYM(source_free), SYM(open_from_source),
		SYM(discard), SYM(get_num_entries), SYM(stat_index), SYM(fopen_index),
		SYM(fread), SYM(fclose), SYM(error_init), SYM(error_fini),
		SYM(error_strerror),
#undef SYM
	};

	load_result = util_dlsyms(ZIP_SONAME, "libzip4", syms, UTIL_ARRAY_SIZE(syms),
				  load_error, sizeof(load_error));
}

/* The name as it may be shown: printable ASCII, at most 64 bytes. */
static const char *shown(const char *name, char *buf, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; name[i] && j + 4 < len; i++)
		buf[j++] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	if (j + 4 >= len)
		memcpy(buf + j, "...", 4);
	else
		buf[j] = '\0';
	return buf;
}

int j0_zip_extract(const void *data, size_t len, const char *reserved, json_t **files,
		   char *why, size_t whylen)
{
	zip_error_t zerr;
	zip_source_t *src = NULL;
	zip_t *za = NULL;
	json_t *arr = NULL;
	char *buf = NULL, sb[80];
	uint64_t total = 0;
	zip_int64_t n;
	int r;

	pthread_once(&once, load);
	if (load_result < 0) {
		snprintf(why, whylen, "%s", load_error);
		return -ENOENT;
	}
	lz.error_init(&zerr);
	src = lz.source_buffer_create(data, len, 0, &zerr);
	if (!src) {
		r = -ENOMEM;
		goto out;
	}
	za = lz.open_from_source(src, ZIP_RDONLY, &zerr);
	if (!za) {
		lz.source_free(src);
		r = util_msg(why, whylen, "is not a zip archive (%s)", lz.error_strerror(&zerr));
		goto out;
	}
	n = lz.get_num_entries(za, 0);
	if (n < 0 || n > J0_ZIP_MAX_FILES) {
		r = util_msg(why, whylen, "holds more than %d files", J0_ZIP_MAX_FILES);
		goto out;
	}
	arr = json_array();
	/* One member can at most fill what is left; +1 tells a bigger one. */
	buf = malloc((size_t)J0_ZIP_MAX_BYTES + 1);
	if (!arr || !buf) {
		r = -ENOMEM;
		goto out;
	}
	for (zip_int64_t i = 0; i < n; i++) {
		zip_stat_t st;
		zip_file_t *zf;
		size_t got = 0, nlen, room = (size_t)(J0_ZIP_MAX_BYTES - total);
		json_t *f;
		char *enc;

		if (lz.stat_index(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW, &st) < 0 ||
		    !(st.valid & ZIP_STAT_NAME)) {
			r = util_msg(why, whylen, "member %lld cannot be read", (long long)i);
			goto out;
		}
		nlen = strlen(st.name);
		if (nlen > 0 && st.name[nlen - 1] == '/') {
			r = util_msg(why, whylen, "holds a directory ('%s'): only files at its top "
				     "level are taken", shown(st.name, sb, sizeof(sb)));
			goto out;
		}
		if (!api_file_name_ok(st.name, nlen)) {
			r = util_msg(why, whylen, "holds a file named '%s': names are [A-Za-z0-9._+-], "
				     "not starting with '.' or '-', at most %d bytes, no directories",
				     shown(st.name, sb, sizeof(sb)), API_FILE_NAME_MAX);
			goto out;
		}
		if (reserved && strcmp(st.name, reserved) == 0) {
			r = util_msg(why, whylen, "holds a file named '%s', the name of the source file",
				     st.name);
			goto out;
		}
		for (size_t k = 0; k < json_array_size(arr); k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(arr, k), "name")),
				   st.name) == 0) {
				r = util_msg(why, whylen, "holds two files named '%s'", st.name);
				goto out;
			}
		/* A declared size beyond the cap is refused before inflating. */
		if ((st.valid & ZIP_STAT_SIZE) && st.size > room) {
			r = util_msg(why, whylen, "is larger than %u MiB uncompressed ('%s')",
				     J0_ZIP_MAX_BYTES >> 20, st.name);
			goto out;
		}
		zf = lz.fopen_index(za, (zip_uint64_t)i, 0);
		if (!zf) {
			r = util_msg(why, whylen, "member '%s' cannot be opened (encrypted, or an "
				     "unknown compression)", st.name);
			goto out;
		}
		/* Count what comes out, whatever the header said. */
		for (;;) {
			zip_int64_t k = lz.fread(zf, buf + got, room + 1 - got);

			if (k < 0) {
				lz.fclose(zf);
				r = util_msg(why, whylen, "member '%s' is damaged", st.name);
				goto out;
			}
			if (k == 0)
				break;
			got += (size_t)k;
			if (got > room) {
				lz.fclose(zf);
				r = util_msg(why, whylen, "is larger than %u MiB uncompressed ('%s')",
					     J0_ZIP_MAX_BYTES >> 20, st.name);
				goto out;
			}
		}
		lz.fclose(zf);
		total += got;
		enc = j0_base64_plain(buf, got);
		f = enc ? json_pack("{s:s, s:s, s:s}", "name", st.name, "content", enc,
				    "encoding", "base64") : NULL;
		free(enc);
		if (!f || json_array_append_new(arr, f) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	*files = arr;
	arr = NULL;
	r = 0;
out:
	if (za)
		lz.discard(za);
	lz.error_fini(&zerr);
	json_decref(arr);
	free(buf);
	return r;
}
