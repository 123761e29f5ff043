/* codec.c - the run result as JSON, with UTF-8 made safe. */
#include <errno.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec/codec.h"
#include "util/util.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there do not start one.  Rejects overlongs, surrogates and code
 * points above U+10FFFF (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else
		return 0;
	if (len > n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

int codec_utf8_valid(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;

	for (size_t i = 0; i < len;) {
		size_t l = utf8_seq_len(s + i, len - i);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

char *codec_utf8_sanitize(const char *data, size_t len, size_t *outlen)
{
	static const char replacement[] = "\xEF\xBF\xBD";
	const unsigned char *s = (const unsigned char *)data;
	/* Worst case: every byte becomes a 3-byte U+FFFD. */
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(len * 3 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t l = utf8_seq_len(s + i, len - i);
		if (l) {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(out + o, replacement, 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

size_t codec_utf8_partial_tail(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;

	/* The last byte that is not a continuation byte, among the last
	 * three: only it can start a sequence still open at the end. */
	for (size_t k = 1; k <= 3 && k <= len; k++) {
		const unsigned char *p = s + len - k;
		unsigned char c = p[0], lo = 0x80, hi = 0xBF;
		size_t need;

		if ((c & 0xC0) == 0x80)
			continue;
		if (c >= 0xC2 && c <= 0xDF)
			need = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 4;
		else
			return 0;
		if (need <= k)
			return 0;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (k >= 2 && (p[1] < lo || p[1] > hi))
			return 0;
		return k;
	}
	return 0;
}

json_t *codec_string(const char *data, size_t len)
{
	if (!data)
		return json_string("");
	if (codec_utf8_valid(data, len))
		return json_stringn_nocheck(data, len);

	size_t n;
	char *clean = codec_utf8_sanitize(data, len, &n);
	if (!clean)
		return NULL;
	json_t *j = json_stringn_nocheck(clean, n);
	free(clean);
	return j;
}

static int set(json_t *obj, const char *key, json_t *value)
{
	/* json_object_set_new() takes the reference even when it fails. */
	if (!value || json_object_set_new(obj, key, value) < 0)
		return -ENOMEM;
	return 0;
}

int codec_result_add(json_t *obj, const struct sbx_result *res)
{
	int r = 0;

	r |= set(obj, "status", json_string(sbx_status_name(res->status)));
	r |= set(obj, "exit_code", res->has_exit_code ? json_integer(res->exit_code) : json_null());
	r |= set(obj, "signal", res->signal ? json_integer(res->signal) : json_null());
	r |= set(obj, "stdout", codec_string(res->out.data, res->out.len));
	r |= set(obj, "stderr", codec_string(res->err.data, res->err.len));
	r |= set(obj, "output", codec_string(res->output.data, res->output.len));
	r |= set(obj, "stdout_truncated", json_boolean(res->stdout_truncated));
	r |= set(obj, "stderr_truncated", json_boolean(res->stderr_truncated));
	r |= set(obj, "wall_time_ms", json_integer((json_int_t)res->wall_time_ms));
	r |= set(obj, "cpu_time_ms", json_integer((json_int_t)res->cpu_time_ms));
	r |= set(obj, "memory_bytes", json_integer((json_int_t)res->memory_bytes));
	return r ? -ENOMEM : 0;
}

json_t *codec_result_json(const struct sbx_result *res)
{
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	if (codec_result_add(obj, res) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* 10000 -> "10 s", 1500 -> "1.5 s", 250 -> "250 ms". */
static void format_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000) {
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	} else if (ms % 1000 == 0) {
		snprintf(buf, len, "%" PRIu64 " s", ms / 1000);
	} else {
		unsigned frac = (unsigned)(ms % 1000);
		int digits = 3;

		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(buf, len, "%" PRIu64 ".%0*u s", ms / 1000, digits, frac);
	}
}

char *codec_status_message(const struct sbx_result *res, const struct sbx_limits *l,
			 char *buf, size_t len)
{
	char v[48];
	const char *abbrev;

	switch (res->status) {
	case SBX_OK:
		snprintf(buf, len, "%s", "");
		break;
	case SBX_RUNTIME_ERROR:
		snprintf(buf, len, "Exited with code %d", res->exit_code);
		break;
	case SBX_SIGNALED:
		abbrev = sigabbrev_np(res->signal);
		if (abbrev)
			snprintf(buf, len, "Killed by signal %d (SIG%s)%s", res->signal, abbrev,
				 res->stopped ? ": stopped before the run ended (the service "
							"stopped, or the client went away)" : "");
		else
			snprintf(buf, len, "Killed by signal %d", res->signal);
		break;
	case SBX_TIMEOUT:
		/* Name the CPU limit only when it is the tighter one and was
		 * reached; with equal limits "time" is what people expect. */
		if (l->cpu_ms < l->wall_ms && res->cpu_time_ms >= l->cpu_ms) {
			format_ms(l->cpu_ms, v, sizeof(v));
			snprintf(buf, len, "CPU time limit exceeded (%s)", v);
		} else {
			format_ms(l->wall_ms, v, sizeof(v));
			snprintf(buf, len, "Time limit exceeded (%s)", v);
		}
		break;
	case SBX_MEMORY_LIMIT:
		snprintf(buf, len, "Memory limit exceeded (%s)",
			 util_format_size(l->memory_bytes, v, sizeof(v)));
		break;
	case SBX_OUTPUT_LIMIT:
		snprintf(buf, len, "Output limit exceeded (%s)",
			 util_format_size(l->output_bytes, v, sizeof(v)));
		break;
	default:
		snprintf(buf, len, "%s", "Internal error");
		break;
	}
	return buf;
}

char *codec_compile_failed_message(const char *compile_msg, char *buf, size_t len)
{
	const char *m = compile_msg ? compile_msg : "";

	snprintf(buf, len, "Compilation failed%s%.150s", m[0] ? ": " : "", m);
	return buf;
}

int codec_compile_add(json_t *obj, const struct sbx_result *compile, const struct sbx_limits *l)
{
	json_t *c = codec_result_json(compile);
	char msg[128], top[180];

	if (!c)
		return -ENOMEM;
	codec_status_message(compile, l, msg, sizeof(msg));
	if (set(c, "message", json_string(msg)) || set(obj, "compile", c))
		return -ENOMEM;
	if (compile->status == SBX_OK)
		return 0;
	/* The run did not start: the answer is the compile's failure. */
	codec_compile_failed_message(msg, top, sizeof(top));
	if (set(obj, "status", json_string(CODEC_COMPILE_ERROR)) ||
	    (json_object_get(obj, "message") && set(obj, "message", json_string(top))))
		return -ENOMEM;
	return 0;
}

char *codec_base64(const char *data, size_t len)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *o;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return NULL;
	out = o = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)(unsigned char)data[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)data[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

const char *codec_mime_type(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "gif", "image/gif" }, { "webp", "image/webp" }, { "svg", "image/svg+xml" },
		{ "pdf", "application/pdf" }, { "csv", "text/csv" }, { "txt", "text/plain" },
		{ "log", "text/plain" }, { "md", "text/plain" }, { "json", "application/json" },
		/* Never text/html: see codec.h. */
		{ "html", "text/plain" }, { "htm", "text/plain" },
	};
	const char *dot = name ? strrchr(name, '.') : NULL;

	for (size_t i = 0; dot && i < UTIL_ARRAY_SIZE(types); i++)
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

int codec_out_files_add(json_t *obj, const struct sbx_result *res)
{
	json_t *files = json_array(), *dropped;
	int bad = !files;

	for (size_t i = 0; !bad && i < res->nout_files; i++) {
		const struct sbx_file *f = &res->out_files[i];
		char *enc = codec_base64(f->data, f->len);
		/* Base64 is ASCII: its megabytes need no UTF-8 check. */
		bad = !enc || json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:o}",
			"name", f->name, "size", (json_int_t)f->len, "mime_type",
			codec_mime_type(f->name), "content",
			json_stringn_nocheck(enc, (f->len + 2) / 3 * 4))) < 0;
		free(enc);
	}
	if (set(obj, "files", bad ? NULL : files) < 0) {
		if (bad)
			json_decref(files);
		return -ENOMEM;
	}
	if (!res->out_dropped_total)
		return 0;
	dropped = json_array();
	bad = !dropped;
	for (size_t i = 0; !bad && i < res->nout_dropped; i++)
		bad = json_array_append_new(dropped, json_pack("{s:s, s:s}", "name",
			res->out_dropped[i].name, "reason",
			sbx_out_drop_reason_text(res->out_dropped[i].reason))) < 0;
	if (bad) {
		json_decref(dropped);
		return -ENOMEM;
	}
	if (set(obj, "files_dropped", dropped) < 0 ||
	    set(obj, "files_dropped_total", json_integer((json_int_t)res->out_dropped_total)) < 0)
		return -ENOMEM;
	return 0;
}
