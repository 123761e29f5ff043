/* text.c - Judge0's text handling: base64 as Ruby writes and reads it, and
 * command lines split into words the way a shell would, without a shell. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "judge0/internal.h"
#include "judge0/judge0.h"
#include "util/util.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *encode(const void *data, size_t len, bool lines)
{
	const unsigned char *p = data;
	size_t quads = (len + 2) / 3, nl = (quads + 14) / 15;
	char *out = malloc(quads * 4 + nl + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0, q = 0; i < len; i += 3, q++) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
		/* encode64 ends every 60 characters, and the whole, with "\n". */
		if (lines && (q % 15 == 14 || i + 3 >= len))
			*o++ = '\n';
	}
	*o = '\0';
	return out;
}

char *j0_base64_encode(const void *data, size_t len)
{
	return encode(data, len, true);
}

char *j0_base64_plain(const void *data, size_t len)
{
	return encode(data, len, false);
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int j0_base64_decode(const char *s, size_t len, char **out, size_t *outlen)
{
	char *buf = malloc(len / 4 * 3 + 4);
	size_t n = 0, pad = 0;
	unsigned acc = 0, bits = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || pad)
			goto bad;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)(acc >> bits & 0xff);
		}
	}
	/* Six bits alone cannot be a byte; more than two '=' never occur. */
	if (bits >= 6 || pad > 2)
		goto bad;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Judge0 removes these before its shell sees the line. */
static int is_dropped(char c)
{
	return c != '\0' && strchr("$&;<>|`", c) != NULL;
}

int j0_split_words(const char *s, size_t len, json_t **words)
{
	json_t *arr = json_array();
	char *clean = malloc(len + 1), *word = malloc(len + 1);
	size_t n = 0, w = 0;
	int r = -ENOMEM;

	if (!arr || !clean || !word)
		goto out;
	for (size_t i = 0; i < len; i++)
		if (!is_dropped(s[i]))
			clean[n++] = s[i];

	for (size_t i = 0; i < n;) {
		bool in_word = false;

		while (i < n && is_blank(clean[i]))
			i++;
		if (i >= n)
			break;
		w = 0;
		while (i < n && !is_blank(clean[i])) {
			char c = clean[i++];

			in_word = true;
			if (c == '\'') {
				while (i < n && clean[i] != '\'')
					word[w++] = clean[i++];
				if (i >= n)
					goto unclosed;
				i++;
			} else if (c == '"') {
				while (i < n && clean[i] != '"') {
					if (clean[i] == '\\' && i + 1 < n &&
					    strchr("\"\\\n", clean[i + 1])) {
						if (clean[i + 1] != '\n')
							word[w++] = clean[i + 1];
						i += 2;
						continue;
					}
					word[w++] = clean[i++];
				}
				if (i >= n)
					goto unclosed;
				i++;
			} else if (c == '\\') {
				if (i < n) {
					if (clean[i] != '\n')
						word[w++] = clean[i];
					i++;
				}
			} else {
				word[w++] = c;
			}
		}
		if (in_word && json_array_append_new(arr, json_stringn(word, w)) < 0)
			goto out;
	}
	*words = arr;
	arr = NULL;
	r = 0;
	goto out;
unclosed:
	r = -EINVAL;
out:
	json_decref(arr);
	free(clean);
	free(word);
	return r;
}
