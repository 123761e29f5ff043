/* Unit tests: UTF-8 validation and repair, the result as JSON. */
#include <jansson.h>
#include <stdlib.h>

#include "codec/codec.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

/* obj[key] is a JSON integer equal to want: json_integer_value() gives 0 for
 * a missing key, a null or a string, so the type is checked first. */
#define ASSERT_JSON_INT(obj, key, want) do {				\
		json_t *v_ = json_object_get((obj), (key));		\
		if (!json_is_integer(v_))				\
			TEST_FAIL_("%s is not an integer (type %d)", (key), \
				   v_ ? (int)json_typeof(v_) : -1);	\
		ASSERT_EQ(json_integer_value(v_), (want));		\
	} while (0)

TEST(codec_utf8_valid_accepts_and_rejects)
{
	ASSERT(codec_utf8_valid(S("")));
	ASSERT(codec_utf8_valid(S("plain ascii\n")));
	ASSERT(codec_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
	ASSERT(codec_utf8_valid(S("nul\0inside")));
	ASSERT(!codec_utf8_valid(S("\xff")));
	ASSERT(!codec_utf8_valid(S("\xc0\xaf")));		/* overlong '/' */
	ASSERT(!codec_utf8_valid(S("\xe0\x80\xaf")));		/* overlong */
	ASSERT(!codec_utf8_valid(S("\xed\xa0\x80")));		/* surrogate */
	ASSERT(!codec_utf8_valid(S("\xf4\x90\x80\x80")));	/* > U+10FFFF */
	ASSERT(!codec_utf8_valid(S("\xe2\x82")));		/* cut short */
	ASSERT(!codec_utf8_valid(S("\x80")));			/* lone continuation */
}

TEST(codec_utf8_sanitize_replaces_each_bad_byte)
{
	size_t n;
	char *s = codec_utf8_sanitize(S("a\xff" "b\xe2\x82" "c"), &n);
	ASSERT(s != NULL);
	/* \xff -> U+FFFD; the cut-short sequence: one U+FFFD per byte. */
	static const char want[] = "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c";
	ASSERT_MEMEQ(s, n, want, sizeof(want) - 1);
	ASSERT(codec_utf8_valid(s, n));
	free(s);
}

TEST(codec_string_binary_gives_valid_json)
{
	json_t *j = codec_string(S("\x00\x01\xfe\xff ok \xc3\xa9"));
	ASSERT(j != NULL);
	char *dump = json_dumps(j, JSON_ENCODE_ANY);
	ASSERT(dump != NULL);
	json_error_t err;
	json_t *back = json_loads(dump, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	ASSERT(back != NULL);
	static const char want[] = "\x00\x01\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9";
	ASSERT_MEMEQ(json_string_value(back), json_string_length(back), want, sizeof(want) - 1);
	json_decref(back);
	free(dump);
	json_decref(j);
}

TEST(codec_result_json_has_every_field)
{
	char out[] = "out", err[] = "err\xff", output[] = "outerr\xff";
	struct sbx_result res = { 0 };
	res.status = SBX_SIGNALED;
	res.signal = 11;
	res.out = (struct sbx_buf){ out, 3 };
	res.err = (struct sbx_buf){ err, 4 };
	res.output = (struct sbx_buf){ output, 7 };
	res.stderr_truncated = true;
	res.wall_time_ms = 12;
	res.cpu_time_ms = 7;
	res.memory_bytes = 4096;

	json_t *j = codec_result_json(&res);
	ASSERT(j != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(j, "status")), "signaled");
	ASSERT(json_is_null(json_object_get(j, "exit_code")));
	ASSERT_JSON_INT(j, "signal", 11);
	ASSERT_STREQ(json_string_value(json_object_get(j, "stdout")), "out");
	ASSERT_STREQ(json_string_value(json_object_get(j, "stderr")), "err\xef\xbf\xbd");
	ASSERT_STREQ(json_string_value(json_object_get(j, "output")), "outerr\xef\xbf\xbd");
	ASSERT(json_is_false(json_object_get(j, "stdout_truncated")));
	ASSERT(json_is_true(json_object_get(j, "stderr_truncated")));
	ASSERT_JSON_INT(j, "wall_time_ms", 12);
	ASSERT_JSON_INT(j, "cpu_time_ms", 7);
	ASSERT_JSON_INT(j, "memory_bytes", 4096);
	ASSERT_EQ(json_object_size(j), 11);
	json_decref(j);

	/* An exit code of 0 is a number, not null; a signal of 0 is null. */
	res.status = SBX_OK;
	res.signal = 0;
	res.has_exit_code = true;
	res.exit_code = 0;
	j = codec_result_json(&res);
	ASSERT(j != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(j, "status")), "ok");
	ASSERT_JSON_INT(j, "exit_code", 0);
	ASSERT(json_is_null(json_object_get(j, "signal")));
	ASSERT_EQ(json_object_size(j), 11);
	json_decref(j);

	/* An empty result: every number is 0, not null, every string "". */
	struct sbx_result none = { 0 };
	none.status = SBX_RUNTIME_ERROR;
	none.has_exit_code = true;
	none.exit_code = 1;
	j = codec_result_json(&none);
	ASSERT(j != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(j, "status")), "runtime_error");
	ASSERT_JSON_INT(j, "exit_code", 1);
	ASSERT_STREQ(json_string_value(json_object_get(j, "stdout")), "");
	ASSERT_STREQ(json_string_value(json_object_get(j, "output")), "");
	ASSERT_JSON_INT(j, "wall_time_ms", 0);
	ASSERT_JSON_INT(j, "cpu_time_ms", 0);
	ASSERT_JSON_INT(j, "memory_bytes", 0);
	json_decref(j);
}

/* Reads data in the pieces cut at a and b, each piece's end held back as
 * codec_utf8_partial_tail() says; the repaired text of it all, or NULL. */
static char *read_in_pieces(const char *data, size_t len, size_t a, size_t b, size_t *outlen)
{
	char *out = malloc(3 * len + 1), *held = malloc(len + 1);
	size_t o = 0, h = 0, cuts[] = { a, b, len }, from = 0;

	for (size_t k = 0; out && held && k < 3; k++) {
		memcpy(held + h, data + from, cuts[k] - from);
		h += cuts[k] - from;
		from = cuts[k];
		size_t keep = k == 2 ? 0 : codec_utf8_partial_tail(held, h), n;
		char *clean = codec_utf8_sanitize(held, h - keep, &n);
		if (!clean)
			break;
		memcpy(out + o, clean, n);
		o += n;
		free(clean);
		memmove(held, held + h - keep, keep);
		h = keep;
	}
	free(held);
	*outlen = o;
	return out;
}

TEST(codec_utf8_partial_tail)
{
	ASSERT_EQ(codec_utf8_partial_tail(S("")), 0);
	ASSERT_EQ(codec_utf8_partial_tail(S("ab")), 0);
	ASSERT_EQ(codec_utf8_partial_tail(S("a\xe2")), 1);
	ASSERT_EQ(codec_utf8_partial_tail(S("a\xe2\x82")), 2);
	ASSERT_EQ(codec_utf8_partial_tail(S("\xe2\x82\xac")), 0);
	ASSERT_EQ(codec_utf8_partial_tail(S("\xf0\x9f\x98")), 3);
	ASSERT_EQ(codec_utf8_partial_tail(S("\xc3")), 1);
	ASSERT_EQ(codec_utf8_partial_tail(S("\xe0\x80")), 0);	/* overlong: never whole */
	ASSERT_EQ(codec_utf8_partial_tail(S("\xed\xa0")), 0);	/* a surrogate */
	ASSERT_EQ(codec_utf8_partial_tail(S("\xf4\x90")), 0);	/* above U+10FFFF */
	ASSERT_EQ(codec_utf8_partial_tail(S("\xc0")), 0);
	ASSERT_EQ(codec_utf8_partial_tail(S("\xff")), 0);
	ASSERT_EQ(codec_utf8_partial_tail(S("\x80\x80\x80")), 0);
	ASSERT_EQ(codec_utf8_partial_tail(S("\xe2\x82\x41")), 0);

	/* Cut anywhere, read piece by piece: the same text as read whole. */
	static const struct { const char *s; size_t n; } samples[] = {
		{ S("price: \xe2\x82\xac!") },
		{ S("\xf0\x9f\x98\x80x\xe2\x82") },
		{ S("\xff\xe2\x82" "A\xc3") },
		{ S("\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80\xc3\xa9") },
		{ S("\xe2\xe2\x82\xac\x80\xf0\x9f") },
	};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		size_t n = samples[i].n, wl;
		char *whole = codec_utf8_sanitize(samples[i].s, n, &wl);
		ASSERT(whole != NULL);
		for (size_t a = 0; a <= n; a++) {
			for (size_t b = a; b <= n; b++) {
				size_t pl;
				char *p = read_in_pieces(samples[i].s, n, a, b, &pl);
				ASSERT(p != NULL);
				if (pl != wl || memcmp(p, whole, wl) != 0)
					TEST_FAIL_("sample %zu cut at %zu and %zu reads otherwise", i, a, b);
				free(p);
			}
		}
		free(whole);
	}
}
