/*
 * mhd.h - libmicrohttpd, loaded when the server starts.
 *
 * Debian's libmicrohttpd links GnuTLS and the eight libraries under it.
 * Linked into the binary, they are loaded and initialized by every process
 * that starts it: measured, 1.3 ms more for every `safexec run` (perf stat,
 * an empty program linked with and without -lmicrohttpd), more than a tenth
 * of a Python hello world, for a library only `safexec serve` uses.  So the
 * server loads it with dlopen(), as systemd does its optional libraries,
 * and the calls below go through a table filled by http_mhd_load().
 *
 * server.c includes this header instead of <microhttpd.h>.
 */
#ifndef SAFEXEC_HTTP_MHD_H
#define SAFEXEC_HTTP_MHD_H

#include <stddef.h>
#include <microhttpd.h>

/* The library's ABI (the soname's major version) this code was built for. */
#define HTTP_MHD_SONAME "libmicrohttpd.so.12"

struct http_mhd {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_quiesce_daemon) *quiesce_daemon;
	__typeof__(MHD_suspend_connection) *suspend_connection;
	__typeof__(MHD_resume_connection) *resume_connection;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_create_response_from_callback) *create_response_from_callback;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
};

extern struct http_mhd http_mhd;

/* Loads the library once (thread-safe); 0, or -ENOENT with a message. */
int http_mhd_load(char *why, size_t whylen);

#define MHD_start_daemon http_mhd.start_daemon
#define MHD_stop_daemon http_mhd.stop_daemon
#define MHD_quiesce_daemon http_mhd.quiesce_daemon
#define MHD_suspend_connection http_mhd.suspend_connection
#define MHD_resume_connection http_mhd.resume_connection
#define MHD_get_connection_info http_mhd.get_connection_info
#define MHD_lookup_connection_value http_mhd.lookup_connection_value
#define MHD_create_response_from_buffer http_mhd.create_response_from_buffer
#define MHD_create_response_from_callback http_mhd.create_response_from_callback
#define MHD_add_response_header http_mhd.add_response_header
#define MHD_queue_response http_mhd.queue_response
#define MHD_destroy_response http_mhd.destroy_response

#endif
