/*
 * wire.c - requests, results and /etc entries between the caller and a
 * zygote's supervisor.  Both ends are the same build: the format is a
 * plain sequence of little-endian integers and length-prefixed bytes,
 * every length checked against what the reader allows.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"
#include "warm/internal.h"

#define WIRE_VERSION	0x5357a001u	/* changes with the format */

static void put(struct wire *w, const void *data, size_t n)
{
	if (w->err || !n)
		return;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap - w->len < n)
			cap *= 2;
		char *p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put_u64(struct wire *w, uint64_t v)
{
	put(w, &v, sizeof(v));
}

static void put_bytes(struct wire *w, const void *data, size_t n)
{
	put_u64(w, n);
	put(w, data, n);
}

static void put_str(struct wire *w, const char *s)
{
	put_bytes(w, s, strlen(s));
}

static uint64_t get_u64(struct wire_in *in, uint64_t max)
{
	uint64_t v;

	if (in->bad || in->len - in->off < sizeof(v)) {
		in->bad = true;
		return 0;
	}
	memcpy(&v, in->p + in->off, sizeof(v));
	in->off += sizeof(v);
	if (v > max) {
		in->bad = true;
		return 0;
	}
	return v;
}

/* A pointer into the message, and the length of what it points at. */
static const char *get_bytes(struct wire_in *in, size_t max, size_t *n)
{
	*n = get_u64(in, max);
	if (in->bad || in->len - in->off < *n) {
		in->bad = true;
		*n = 0;
		return "";
	}
	const char *p = in->p + in->off;
	in->off += *n;
	return p;
}

void wire_free(struct wire *w)
{
	free(w->p);
	*w = (struct wire){ 0 };
}

/* ---- requests ---- */

/* Strings of a request (file names, arguments, binds) are sent with their
 * NUL, so that the reader can point at them. */
static void put_cstr(struct wire *w, const char *s)
{
	put_bytes(w, s, strlen(s) + 1);
}

static const char *get_cstr(struct wire_in *in, size_t max)
{
	size_t n;
	const char *s = get_bytes(in, max + 1, &n);

	if (n == 0 || s[n - 1] != '\0' || memchr(s, '\0', n - 1)) {
		in->bad = true;
		return "";
	}
	return s;
}

void wire_put_request(struct wire *w, const struct sbx_request *req)
{
	put_u64(w, WIRE_VERSION);
	for (int id = 0; id < SBX_LIMIT_COUNT; id++)
		put_u64(w, sbx_limit_get(&req->limits, (enum sbx_limit_id)id));
	put_u64(w, req->merge_stderr);
	put_bytes(w, req->code, req->code ? req->code_len : 0);
	put_bytes(w, req->stdin_data, req->stdin_data ? req->stdin_len : 0);
	put_u64(w, req->nfiles);
	for (size_t i = 0; i < req->nfiles; i++) {
		put_cstr(w, req->files[i].name);
		put_bytes(w, req->files[i].data, req->files[i].len);
		put_u64(w, req->files[i].executable);
	}
	put_u64(w, req->argc);
	for (size_t i = 0; i < req->argc; i++)
		put_cstr(w, req->argv[i]);
	put_u64(w, req->nbinds);
	for (size_t i = 0; i < req->nbinds; i++)
		put_cstr(w, req->binds[i]);
}

/* What a received request's arrays point into. */
struct request_arrays {
	struct sbx_file files[SBX_MAX_FILES];
	const char *argv[SBX_MAX_ARGS + 1];
	const char *binds[SBX_MAX_BINDS + 1];
};

int wire_get_request(struct wire_in *in, struct sbx_request *req, void **arrays)
{
	struct request_arrays *a = calloc(1, sizeof(*a));
	size_t n;

	if (!(*arrays = a))
		return -ENOMEM;
	if (get_u64(in, UINT64_MAX) != WIRE_VERSION)
		return -EPROTO;
	for (int id = 0; id < SBX_LIMIT_COUNT; id++)
		sbx_limit_set(&req->limits, (enum sbx_limit_id)id, get_u64(in, UINT64_MAX));
	req->merge_stderr = get_u64(in, 1);
	req->code = get_bytes(in, SBX_MAX_CODE, &req->code_len);
	req->stdin_data = get_bytes(in, SBX_MAX_STDIN, &req->stdin_len);
	req->nfiles = get_u64(in, SBX_MAX_FILES);
	for (size_t i = 0; i < req->nfiles && !in->bad; i++) {
		a->files[i].name = get_cstr(in, SBX_MAX_NAME);
		a->files[i].data = get_bytes(in, SBX_MAX_FILES_BYTES, &n);
		a->files[i].len = n;
		a->files[i].executable = get_u64(in, 1);
	}
	req->files = req->nfiles ? a->files : NULL;	/* NULL: code is main.py */
	req->argc = get_u64(in, SBX_MAX_ARGS);
	for (size_t i = 0; i < req->argc && !in->bad; i++)
		a->argv[i] = get_cstr(in, SBX_MAX_ARG_LEN);
	req->argv = a->argv;
	req->nbinds = get_u64(in, SBX_MAX_BINDS);
	for (size_t i = 0; i < req->nbinds && !in->bad; i++)
		a->binds[i] = get_cstr(in, SBX_MAX_PATH);
	req->binds = a->binds;
	return in->bad || in->off != in->len ? -EPROTO : 0;
}

/* ---- results ---- */

void wire_put_result(struct wire *w, int r, const struct sbx_result *res)
{
	put_u64(w, WIRE_VERSION);
	put_u64(w, (uint64_t)(int64_t)r);
	put_u64(w, res->status);
	put_u64(w, (uint64_t)(int64_t)res->exit_code);
	put_u64(w, res->has_exit_code);
	put_u64(w, (uint64_t)res->signal);
	put_u64(w, res->stdout_truncated);
	put_u64(w, res->stderr_truncated);
	put_u64(w, res->stopped);
	put_u64(w, res->wall_time_ms);
	put_u64(w, res->cpu_time_ms);
	put_u64(w, res->memory_bytes);
	put_str(w, res->error);
	put_bytes(w, res->out.data, res->out.len);
	put_bytes(w, res->err.data, res->err.len);
	put_bytes(w, res->output.data, res->output.len);
}

static int get_buf(struct wire_in *in, struct sbx_buf *b, uint64_t max)
{
	size_t n;
	const char *p = get_bytes(in, max, &n);

	if (in->bad)
		return -EPROTO;
	if (!(b->data = malloc(n + 1)))
		return -ENOMEM;
	memcpy(b->data, p, n);
	b->data[n] = '\0';
	b->len = n;
	return 0;
}

int wire_get_result(struct wire_in *in, struct sbx_result *res, int *r, uint64_t out_max)
{
	size_t n;
	int e;

	memset(res, 0, sizeof(*res));
	if (get_u64(in, UINT64_MAX) != WIRE_VERSION)
		return -EPROTO;
	*r = (int)(int64_t)get_u64(in, UINT64_MAX);
	res->status = (enum sbx_status)get_u64(in, SBX_INTERNAL_ERROR);
	res->exit_code = (int)(int64_t)get_u64(in, UINT64_MAX);
	res->has_exit_code = get_u64(in, 1);
	res->signal = (int)get_u64(in, 64);
	res->stdout_truncated = get_u64(in, 1);
	res->stderr_truncated = get_u64(in, 1);
	res->stopped = get_u64(in, 1);
	res->wall_time_ms = get_u64(in, UINT64_MAX);
	res->cpu_time_ms = get_u64(in, UINT64_MAX);
	res->memory_bytes = get_u64(in, UINT64_MAX);
	const char *err = get_bytes(in, sizeof(res->error) - 1, &n);
	memcpy(res->error, err, n);
	if (in->bad)
		return -EPROTO;
	if ((e = get_buf(in, &res->out, out_max)) < 0 ||
	    (e = get_buf(in, &res->err, out_max)) < 0 ||
	    (e = get_buf(in, &res->output, 2 * out_max)) < 0)
		return e;
	return in->off == in->len ? 0 : -EPROTO;
}

/* ---- the host's /etc entries ---- */

void wire_put_etc(struct wire *w, const struct sbx_etc_entry *e, size_t n)
{
	put_u64(w, WIRE_VERSION);
	put_u64(w, n);
	for (size_t i = 0; i < n; i++) {
		put_cstr(w, e[i].path);
		put_bytes(w, e[i].data, e[i].len);
		put_u64(w, e[i].link);
		put_u64(w, e[i].out_only);
	}
}

int wire_get_etc(struct wire_in *in, struct sbx_etc_entry **entries, size_t *n)
{
	size_t len;

	*entries = NULL;
	if (get_u64(in, UINT64_MAX) != WIRE_VERSION)
		return -EPROTO;
	*n = get_u64(in, SBX_MAX_ETC);
	if (in->bad || !(*entries = calloc(*n + 1, sizeof(**entries))))
		return in->bad ? -EPROTO : -ENOMEM;
	for (size_t i = 0; i < *n && !in->bad; i++) {
		(*entries)[i].path = get_cstr(in, SBX_MAX_NAME);
		(*entries)[i].data = get_bytes(in, SBX_MAX_ETC_BYTES, &len);
		(*entries)[i].len = len;
		(*entries)[i].link = get_u64(in, 1);
		(*entries)[i].out_only = get_u64(in, 1);
	}
	return in->bad || in->off != in->len ? -EPROTO : 0;
}

/* ---- the socket ---- */

/* One byte with a descriptor (SCM_RIGHTS), and where it goes.  The
 * control buffer has a fixed size (CMSG_SPACE() is no constant to every
 * compiler), more than the one descriptor needs. */
struct fd_msg {
	char byte;
	struct iovec iov;
	struct msghdr msg;
	union {
		struct cmsghdr h;
		char buf[64];
	} cm;
};

static void fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->byte = 'r';
	m->iov = (struct iovec){ &m->byte, 1 };
	m->msg = (struct msghdr){ .msg_iov = &m->iov, .msg_iovlen = 1,
				  .msg_control = m->cm.buf,
				  .msg_controllen = CMSG_SPACE(sizeof(int)) };
}

int wire_send_fd(int sock, int fd)
{
	struct fd_msg m;

	fd_msg_init(&m);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int wire_recv_fd(int sock)
{
	struct fd_msg m;
	int fd = -1;

	fd_msg_init(&m);
	ssize_t n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
	if (n == 0)
		return 0;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (n == 1 && fd > 2)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : (int64_t)(util_now_ns() / 1000000) + timeout_ms;
}

static int left_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - (int64_t)(util_now_ns() / 1000000);
	return left > 0 ? (int)left : 0;
}

static int read_until(int fd, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int p = poll(&pfd, 1, left_ms(deadline));
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return -errno;
		if (p == 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO;
		got += (size_t)n;
	}
	return 0;
}

int wire_read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	return read_until(fd, buf, len, deadline_of(timeout_ms));
}

int wire_send(int fd, const struct wire *w)
{
	uint64_t len = w->len;

	if (w->err)
		return w->err;
	for (size_t off = 0, total = sizeof(len) + w->len; off < total;) {
		const char *p = off < sizeof(len) ? (const char *)&len + off : w->p + (off - sizeof(len));
		size_t n = off < sizeof(len) ? sizeof(len) - off : total - off;
		ssize_t s = send(fd, p, n, MSG_NOSIGNAL);
		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0)
			return -errno;
		off += (size_t)s;
	}
	return 0;
}

int wire_recv(int fd, char **buf, size_t *len, size_t max, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	uint64_t n;
	int r;

	*buf = NULL;
	if ((r = read_until(fd, &n, sizeof(n), deadline)) < 0)
		return r;
	if (n > max)
		return -EPROTO;
	if (!(*buf = malloc(n ? n : 1)))
		return -ENOMEM;
	if ((r = read_until(fd, *buf, n, deadline)) < 0) {
		free(*buf);
		*buf = NULL;
		return r;
	}
	*len = n;
	return 0;
}
