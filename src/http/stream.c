/*
 * stream.c - live output: POST /api/v1/execute answered with Server-Sent
 * Events while the program runs ("stream": true, or Accept:
 * text/event-stream): "stdout" and "stderr" events in the order read, then
 * one "result" event with the answer the request would have had, or one
 * "error" event when the run could not be made.
 *
 * Three threads share a struct http_stream, under its lock:
 *   - the worker running the job appends what on_output gives it (from
 *     sbx_run(), whose timers wait meanwhile: it never blocks), and at the
 *     end the last event;
 *   - the event thread's reader callback (the response's) turns what is
 *     waiting into events and writes them; with nothing waiting it
 *     suspends the connection, and the worker resumes it when there is;
 *   - the event thread's on_completed says the connection is over.
 * The connection is answered (200, text/event-stream) as the run is
 * queued, and is never suspended by the queue: only by the reader.
 *
 * Bounds.  on_output only gives what the result keeps, at most
 * output_bytes per stream, so each stream's buffer holds at most that many
 * bytes, whatever the reader's pace: a reader slower than the program
 * makes the server hold the run's kept output (2 x output_bytes) and the
 * result, never more.  Their order is a ring of STREAM_RUNS_MAX runs (of
 * one stream's bytes each); a reader so far behind that the ring is full
 * (a program that alternates stdout and stderr thousands of times) gets
 * no more stdout and stderr events: the result event has all the output.
 * All of it is reserved in the answers' memory (HTTP_PENDING_BYTES_MAX)
 * before the run starts.
 *
 * The end of a client.  libmicrohttpd does not watch a suspended
 * connection, so the run's cancel_fd is an epoll descriptor of its own
 * that becomes readable when the client's socket is hung up (EPOLLRDHUP:
 * the client closed, or shut its sending side) or when on_completed
 * closes the write end of a pipe (the connection ended otherwise: a write
 * failed, or it timed out with a reader that took nothing for
 * connection_timeout seconds).  Either kills the run; it is recorded as
 * signaled and stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "codec/codec.h"
#include "http/internal.h"
#include "job/job.h"
#include "util/util.h"

/* The most output bytes one event carries: an event is made in the event
 * thread, under the stream's lock, at most six times this in JSON. */
#define STREAM_EVENT_RAW (16u << 10)
/* Runs (stretches of one stream's output) waiting to be sent. */
#define STREAM_RUNS_MAX 4096u
/* The reader's block: what libmicrohttpd asks for at most at once. */
#define STREAM_BLOCK (32u << 10)

/* One stream's output that is not sent yet: data[sent..ready) is in the
 * runs, data[ready..len) is held back (a character not complete yet). */
struct stream_buf {
	char *data;
	size_t cap, max;	/* allocated; the most it may hold (output_bytes) */
	size_t sent, ready, len;
};

struct stream_run {
	int stream;		/* 1: stdout, 2: stderr */
	size_t len;
};

struct http_stream {
	pthread_mutex_t lock;
	unsigned refs;			/* the context's, and the response's */
	struct http_server *srv;
	struct MHD_Connection *conn;	/* valid until gone */
	struct stream_buf out[2];
	struct stream_run *runs;	/* a ring of STREAM_RUNS_MAX */
	size_t run_head, nruns;
	bool lagging;			/* the ring was full: no more live output */
	char *event;			/* the event being written */
	size_t event_len, event_off;
	char *last;			/* the result or error event */
	size_t last_len;
	bool finished;			/* the worker is done: last is all there is */
	bool suspended;			/* by the reader, waiting for output */
	bool gone;			/* on_completed came: the connection is over */
	bool worker;			/* a worker holds the context */
	bool orphan;			/* ... and frees it, the connection being over */
	int cancel_rd, cancel_wr, cancel_ep;
	size_t reserved;		/* bytes of the server's answer memory */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void http_stream_put(struct http_stream *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (!last)
		return;
	close_fd(&s->cancel_wr);
	close_fd(&s->cancel_ep);
	close_fd(&s->cancel_rd);
	for (int i = 0; i < 2; i++)
		free(s->out[i].data);
	free(s->runs);
	free(s->event);
	free(s->last);
	http_mem_release(s->srv, s->reserved);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The cancel descriptor: readable once the client's socket is hung up or
 * the pipe's write end is closed. */
static int cancel_setup(struct http_stream *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	s->cancel_rd = p[0];
	s->cancel_wr = p[1];
	if ((s->cancel_ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(s->cancel_ep, EPOLL_CTL_ADD, s->cancel_rd, &ev) < 0)
		return -errno;
	/* Only the hang-up: what the client may still send is not read, and
	 * must not count. */
	ev.events = EPOLLRDHUP;
	if (ci && ci->connect_fd != MHD_INVALID_SOCKET &&
	    epoll_ctl(s->cancel_ep, EPOLL_CTL_ADD, ci->connect_fd, &ev) < 0)
		return -errno;
	return 0;
}

int http_stream_wanted(struct conn_ctx *ctx, struct api_error *err)
{
	const char *accept;

	if (ctx->route.id != HTTP_R_EXECUTE)
		return 0;
	if (ctx->req.stream_given)
		return ctx->req.stream;	/* checked by the parser */
	accept = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	if (!api_accepts_event_stream(accept))
		return 0;
	return api_check_stream(&ctx->req, err) < 0 ? -EINVAL : 1;
}

enum MHD_Result http_stream_start(struct conn_ctx *ctx)
{
	struct http_stream *s = calloc(1, sizeof(*s));
	struct api_error err;

	if (!s) {
		api_fail(&err, API_E_INTERNAL, "out of memory");
		return http_send_error(ctx, &err);
	}
	pthread_mutex_init(&s->lock, NULL);
	s->refs = 1;
	s->srv = ctx->srv;
	s->conn = ctx->conn;
	s->cancel_rd = s->cancel_wr = s->cancel_ep = -1;
	for (int i = 0; i < 2; i++)
		s->out[i].max = ctx->req.limits.output_bytes;
	ctx->stream = s;
	s->runs = calloc(STREAM_RUNS_MAX, sizeof(*s->runs));
	int r = s->runs ? cancel_setup(s, ctx->conn) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "safexec: cannot set up a stream: %s\n", strerror(-r));
		api_fail(&err, API_E_INTERNAL, "the server could not set up the stream");
		return http_send_error(ctx, &err);
	}
	return http_enqueue(ctx);
}

/* --- The worker's side --------------------------------------------------- */

/* Adds len bytes of stream to the runs, one more run unless the last one
 * is of the same stream.  -ENOSPC when the ring is full. */
static int add_run(struct http_stream *s, int stream, size_t len)
{
	struct stream_run *last;

	if (s->nruns) {
		last = &s->runs[(s->run_head + s->nruns - 1) % STREAM_RUNS_MAX];
		if (last->stream == stream) {
			last->len += len;
			return 0;
		}
	}
	if (s->nruns == STREAM_RUNS_MAX)
		return -ENOSPC;
	s->runs[(s->run_head + s->nruns) % STREAM_RUNS_MAX] = (struct stream_run){ stream, len };
	s->nruns++;
	return 0;
}

/* Makes room for n more bytes, within the buffer's maximum. */
static int buf_room(struct stream_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > b->max - b->len)
		return -ENOSPC;
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	if (!(p = realloc(b->data, cap)))
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Takes a suspended connection for the caller to resume (after the lock):
 * the reader suspended it waiting for what is there now. */
static struct MHD_Connection *take_waiting(struct http_stream *s)
{
	if (!s->suspended || s->gone)
		return NULL;
	s->suspended = false;
	return s->conn;
}

/* sbx_request.on_output, on the worker's thread: keeps the bytes and
 * wakes the reader.  Output the stream cannot hold any more (the ring is
 * full) is left to the result event. */
static void on_output(void *arg, int stream, const char *data, size_t len)
{
	struct http_stream *s = arg;
	struct MHD_Connection *wake = NULL;
	struct stream_buf *b;

	if (stream != 1 && stream != 2)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->gone || s->lagging)
		goto out;
	b = &s->out[stream - 1];
	if (buf_room(b, len) < 0) {
		s->lagging = true;
		goto out;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	/* A character cut between two reads waits for its end. */
	size_t n = b->len - b->ready;
	n -= codec_utf8_partial_tail(b->data + b->ready, n);
	if (n && add_run(s, stream, n) < 0) {
		s->lagging = true;
		goto out;
	}
	b->ready += n;
	wake = take_waiting(s);
out:
	pthread_mutex_unlock(&s->lock);
	if (wake)
		MHD_resume_connection(wake);
}

void http_stream_job(struct http_stream *s, struct job_spec *spec)
{
	spec->on_output = on_output;
	spec->output_arg = s;
	spec->cancel_fd = s->cancel_ep;
}

void http_stream_run(struct http_server *srv, struct conn_ctx *ctx)
{
	struct http_stream *s = ctx->stream;
	struct MHD_Connection *wake;
	struct api_error err;
	json_t *answer;
	char *last = NULL;
	size_t last_len = 0, hold;
	bool gone, orphan;

	pthread_mutex_lock(&s->lock);
	gone = s->gone;
	pthread_mutex_unlock(&s->lock);
	if (!gone) {
		/* What the stream may hold, as the module's comment says. */
		hold = s->out[0].max + s->out[1].max + STREAM_RUNS_MAX * sizeof(*s->runs) +
		       api_output_event_max(STREAM_EVENT_RAW);
		http_mem_reserve(srv, hold);
		pthread_mutex_lock(&s->lock);
		s->reserved = hold;
		gone = s->gone;
		pthread_mutex_unlock(&s->lock);
	}
	/* A client gone before its run started: nothing ran, nothing is
	 * recorded. */
	if (!gone) {
		if (http_execute(srv, ctx, true, &answer, &err) == 0)
			last = api_event("result", answer, &last_len);
		else
			last = api_event("error", api_error_json(&err), &last_len);
		/* The answer's memory: what its event holds stays reserved,
		 * with the stream's, until the stream is freed. */
		size_t keep = ctx->resp_bytes < last_len ? ctx->resp_bytes : last_len;
		http_mem_release(srv, ctx->resp_bytes - keep);
		ctx->resp_bytes = 0;
		pthread_mutex_lock(&s->lock);
		s->reserved += keep;
		pthread_mutex_unlock(&s->lock);
		if (!last)
			fprintf(stderr, "safexec: out of memory ending a stream\n");
	}
	api_request_release(&ctx->req);

	pthread_mutex_lock(&s->lock);
	/* What was held back for a character's end goes as it is. */
	for (int i = 0; i < 2 && !s->lagging; i++) {
		struct stream_buf *b = &s->out[i];
		if (b->len > b->ready && add_run(s, i + 1, b->len - b->ready) == 0)
			b->ready = b->len;
	}
	s->last = last;
	s->last_len = last_len;
	s->finished = true;
	s->worker = false;
	orphan = s->orphan;
	wake = take_waiting(s);
	pthread_mutex_unlock(&s->lock);
	/* From here on the context is the event thread's, unless orphan. */
	if (wake)
		MHD_resume_connection(wake);
	if (orphan)
		http_ctx_free(ctx);
}

/* --- The event thread's side --------------------------------------------- */

bool http_stream_completed(struct http_stream *s)
{
	bool held;

	pthread_mutex_lock(&s->lock);
	s->gone = true;
	s->suspended = false;
	/* Stops the run, if it goes on. */
	close_fd(&s->cancel_wr);
	held = s->worker;
	s->orphan = held;
	pthread_mutex_unlock(&s->lock);
	return !held;
}

/* Makes the next output event from the first run into s->event.  Returns
 * false when no output waits. */
static bool next_event(struct http_stream *s)
{
	struct stream_run *run;
	struct stream_buf *b;
	size_t take;

	while (s->nruns) {
		run = &s->runs[s->run_head];
		b = &s->out[run->stream - 1];
		take = run->len;
		if (take > STREAM_EVENT_RAW) {
			take = STREAM_EVENT_RAW;
			take -= codec_utf8_partial_tail(b->data + b->sent, take);
		}
		s->event = api_output_event(run->stream, b->data + b->sent, take, &s->event_len);
		s->event_off = 0;
		if (!s->event) {
			/* Out of memory: the result event still has it all. */
			s->lagging = true;
			s->nruns = 0;
			return false;
		}
		b->sent += take;
		run->len -= take;
		if (!run->len) {
			s->run_head = (s->run_head + 1) % STREAM_RUNS_MAX;
			s->nruns--;
		}
		/* All sent: start the buffer over, with what is held back. */
		if (b->sent == b->ready) {
			memmove(b->data, b->data + b->ready, b->len - b->ready);
			b->len -= b->ready;
			b->sent = b->ready = 0;
		}
		return true;
	}
	return false;
}

/* The response's reader, on the event thread. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	ssize_t n;

	(void)pos;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (s->event_off < s->event_len) {
			size_t k = s->event_len - s->event_off;
			if (k > max)
				k = max;
			memcpy(buf, s->event + s->event_off, k);
			s->event_off += k;
			n = (ssize_t)k;
			break;
		}
		free(s->event);
		s->event = NULL;
		s->event_len = s->event_off = 0;
		if (next_event(s))
			continue;
		if (s->last) {
			s->event = s->last;
			s->event_len = s->last_len;
			s->last = NULL;
			continue;
		}
		if (s->finished) {
			/* Without a last event (out of memory) the answer ends
			 * broken, as the client should see it. */
			n = s->last_len ? MHD_CONTENT_READER_END_OF_STREAM
					: MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
		/* Nothing yet: the worker resumes the connection when there
		 * is (libmicrohttpd allows suspending from a reader). */
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		n = 0;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void stream_free(void *cls)
{
	http_stream_put(cls);
}

enum MHD_Result http_stream_answer(struct conn_ctx *ctx)
{
	struct http_stream *s = ctx->stream;
	struct MHD_Response *resp;

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
						 stream_free);
	if (!resp)
		return MHD_NO;
	pthread_mutex_lock(&s->lock);
	s->refs++;
	/* Taken by a worker as soon as it is queued (the caller queues it
	 * next, under the queue's lock). */
	s->worker = true;
	pthread_mutex_unlock(&s->lock);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* nginx would otherwise hold the events back in its buffer. */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	http_common_headers(resp);
	if (http_send_response(ctx, MHD_HTTP_OK, resp) != MHD_YES) {
		pthread_mutex_lock(&s->lock);
		s->worker = false;
		pthread_mutex_unlock(&s->lock);
		return MHD_NO;
	}
	return MHD_YES;
}
