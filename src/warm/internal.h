/*
 * internal.h - what the files of the warm part share.
 *
 *	pool.c     the caller's side: the zygote's life, the runner
 *	zygote.c   `safexec zygote` and the supervisor it forks per run
 *	python.c   libpython: loaded, initialised, and run in a program
 *	wire.c     requests, results and /etc entries over a socket
 *
 * The sockets:
 *	control  SOCK_SEQPACKET, the caller's end and the zygote's fd 3.  The
 *	         zygote says 'R' when ready or 'E' and why it cannot be; the
 *	         caller then sends one byte with SCM_RIGHTS per run: the
 *	         zygote's end of that run's socket.  Its EOF stops the zygote.
 *	run      SOCK_STREAM, one per run.  The supervisor says its pid (u32)
 *	         first; the caller sends the request, the supervisor the
 *	         result, each as a u64 length and that many bytes.  The
 *	         caller's shutdown of its writing side stops the run.
 * fd 4 of the zygote holds the host's /etc entries (sbx_host_etc()).
 */
#ifndef SAFEXEC_WARM_INTERNAL_H
#define SAFEXEC_WARM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

#define WARM_CONTROL_FD	3
#define WARM_ETC_FD	4
/* The environment of the zygote and of every warm program: the sandbox's
 * own (make_envp() in src/sandbox/run.c without a request's), in its
 * order, since Python reads it once, at its start. */
#define WARM_ENV { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/box", \
		   "LANG=C.UTF-8", "TMPDIR=/tmp", NULL }
/* The warm program's command, what the cold one would execve(). */
#define WARM_SCRIPT	"/box/main.py"

/* ---- wire.c ---- */

/* A message being built; err is set by the first failed append. */
struct wire {
	char *p;
	size_t len, cap;
	int err;
};

/* A message being read; bad is set by the first read past its end or a
 * length past what the reader allows. */
struct wire_in {
	const char *p;
	size_t len, off;
	bool bad;
};

void wire_put_request(struct wire *w, const struct sbx_request *req);
/* Fills *req (sbx_request_init()'ed) with pointers into in's buffer and
 * arrays it allocates into *arrays (free() it).  0 or -EPROTO. */
int wire_get_request(struct wire_in *in, struct sbx_request *req, void **arrays);
void wire_put_result(struct wire *w, int r, const struct sbx_result *res);
/* Fills *res (its buffers allocated) and *r; no stream may be longer
 * than out_max bytes (output: twice that).  0, -EPROTO or -ENOMEM. */
int wire_get_result(struct wire_in *in, struct sbx_result *res, int *r, uint64_t out_max);
void wire_put_etc(struct wire *w, const struct sbx_etc_entry *e, size_t n);
/* *entries points into in's buffer; free() it.  0 or -EPROTO. */
int wire_get_etc(struct wire_in *in, struct sbx_etc_entry **entries, size_t *n);

/* Sends one byte and fd over the control socket, without blocking.
 * 0 or -errno. */
int wire_send_fd(int sock, int fd);
/* Receives what wire_send_fd() sent: the descriptor (close-on-exec), 0 at
 * EOF, -1 for anything else (a stray message, an error). */
int wire_recv_fd(int sock);
/* Sends the message: its u64 length, then it.  0 or -errno. */
int wire_send(int fd, const struct wire *w);
/* Receives one into *buf (malloc'ed, free() it): at most max bytes,
 * within timeout_ms (-1: none) in all.  0, -ETIMEDOUT, -EPROTO (EOF or
 * too long) or -errno. */
int wire_recv(int fd, char **buf, size_t *len, size_t max, int timeout_ms);
/* Reads exactly len bytes within timeout_ms (-1: none). */
int wire_read_exact(int fd, void *buf, size_t len, int timeout_ms);
void wire_free(struct wire *w);

/* ---- python.c ---- */

/* Loads libpython (the version the build was made for) and initialises it
 * as `python -E -s -u /box/main.py` would, python being the sandbox's
 * interpreter, whose version must be the library's.  Then freezes what
 * the start made for the collector and keeps the signal dispositions
 * Python set.  0, or -errno with why. */
int warm_py_init(const char *python, const char *version, char *why, size_t whylen);

/* struct sbx_request's program: runs /box/main.py in the inherited
 * interpreter as a new process of Python would, with argv's arguments
 * after WARM_SCRIPT as sys.argv[1:], and exits with its status. */
void warm_py_program(void *arg, char *const argv[], char *const envp[]);

/* ---- pool.c ---- */

/* Whether the request can run warm: the built-in Python command, no
 * environment of its own, the host's root, no files collected, no live
 * output (a supervisor answers once, at the end) and no hook of its own. */
bool warm_eligible(const struct sbx_host *host, const struct sbx_request *req);

#endif
