/*
 * pysite.h - Python's site in the sandbox: what a Python started in a
 * sandbox of a host finds in the sandbox's own /etc (sbx_host_set_etc()),
 * so that numpy and matplotlib work out of the box and quietly where the
 * host has Debian's python3-matplotlib, and plots come back as files
 * (docs/runtimes.md, "Plots").  In every run:
 *
 *	matplotlibrc                Debian's matplotlib reads it there (and
 *	                            refuses to start without one): Agg
 *	fonts/fonts.conf            fontconfig's: the system's fonts, a cache
 *	                            in /tmp (matplotlib runs fc-list when it
 *	                            builds a font list)
 *	alternatives/lib*.so.3-*    the host's links to the BLAS and LAPACK it
 *	                            chose, which numpy loads through
 *	                            /etc/alternatives
 *
 * and in a run with an output directory (out_only: Python pays for a
 * sitecustomize module at every start, about a millisecond):
 *
 *	python3.X/sitecustomize.py  Python imports it at every start (Debian
 *	                            links /usr/lib/python3.X/sitecustomize.py
 *	                            there; -E and -s leave it in force): it
 *	                            puts /etc/safexec last on sys.path and, as
 *	                            matplotlib is first imported, makes the
 *	                            backend safexec_plot and the configuration
 *	                            directory /tmp/matplotlib, seeded with the
 *	                            font list below
 *	safexec/safexec_plot.py     the backend: Agg, and plt.show() saves the
 *	                            figures into the output directory
 *	safexec/fontlist-vN.json    matplotlib's font list, built once in a
 *	                            sandbox (PYSITE_FONT_LIST), so that no run
 *	                            spends half a second building its own
 *
 * Every language's sandbox gets them: a Python its program starts too.
 */
#ifndef SAFEXEC_PYSITE_H
#define SAFEXEC_PYSITE_H

#include <stddef.h>

#include "sandbox/sandbox.h"

/* pysite_install() flags. */
#define PYSITE_FONT_LIST 1u	/* build matplotlib's font list now, in a sandbox
				   (about a second; nothing where matplotlib is
				   missing) */

/*
 * Gives every later run of host the site (sbx_host_set_etc(): before runs
 * start).  Returns 0 with what it did in note ("matplotlib's font list:
 * 33 KiB, built in 0.8 s", "no matplotlib"; "" when there is nothing to
 * say), or a negative errno with the reason in note: -ENOENT where the
 * host's Python reads no site customization from /etc (not Debian's
 * layout), and then the host's /etc entries are left as they were.  A font
 * list that cannot be built is no error: runs build their own (note says
 * why).
 */
int pysite_install(struct sbx_host *host, unsigned flags, char *note, size_t notelen);

#endif
