/*
 * pysite.c - Python's site in the sandbox (see pysite.h): the files, and
 * matplotlib's font list built once in a sandbox.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysite/pysite.h"
#include "util/util.h"

/* Where the site's own files are, inside the sandbox: the backend module
 * and the font list in one directory, on sys.path (nothing else there is
 * importable), and matplotlib's configuration directory. */
#define SITE_DIR	"/etc/safexec"
#define CONFIG_DIR	"/tmp/matplotlib"

/*
 * Imported by Python at every start (in a run with an output directory:
 * a source module costs every Python process the first compile(), about a
 * millisecond, which other runs do not pay), before the program: it must
 * stay cheap and leave no trace where matplotlib is not used (/tmp stays
 * empty).  So matplotlib is set up as it is first imported, by a finder at
 * the head of sys.meta_path that then leaves: the backend, unless the
 * program's environment names one, and a configuration directory in /tmp
 * (matplotlib wants one it can write) with a link to the font list built
 * once (building one takes half a second).
 */
static const char sitecustomize[] =
	"# Python's site customization in the safexec sandbox, in a run with an\n"
	"# output directory (docs/runtimes.md, \"Plots\"): once matplotlib is\n"
	"# imported, its backend is safexec_plot, and its configuration directory\n"
	"# one of the run's own holding the font list built for the sandbox.\n"
	"import os\n"
	"import sys\n"
	"\n"
	"sys.path.append(\"" SITE_DIR "\")\n"
	"\n"
	"\n"
	"class _MatplotlibConfig:\n"
	"    \"\"\"Sets matplotlib up as it is first imported, then leaves.\"\"\"\n"
	"\n"
	"    @staticmethod\n"
	"    def find_spec(name, path=None, target=None):\n"
	"        if name != \"matplotlib\":\n"
	"            return None\n"
	"        sys.meta_path.remove(_MatplotlibConfig)\n"
	"        os.environ.setdefault(\"MPLBACKEND\", \"module://safexec_plot\")\n"
	"        if \"MPLCONFIGDIR\" in os.environ:\n"
	"            return None\n"
	"        os.environ[\"MPLCONFIGDIR\"] = \"" CONFIG_DIR "\"\n"
	"        try:\n"
	"            os.mkdir(\"" CONFIG_DIR "\", 0o700)\n"
	"            for name in os.listdir(\"" SITE_DIR "\"):\n"
	"                if name.startswith(\"fontlist-\"):\n"
	"                    os.symlink(\"" SITE_DIR "/\" + name, \"" CONFIG_DIR "/\" + name)\n"
	"        except OSError:\n"
	"            pass\n"
	"        return None\n"
	"\n"
	"\n"
	"sys.meta_path.insert(0, _MatplotlibConfig)\n";

static const char matplotlibrc[] =
	"# matplotlib's site configuration in the safexec sandbox, where Debian's\n"
	"# matplotlib reads it (docs/runtimes.md, \"Plots\"): figures are drawn by\n"
	"# Agg, without a display.  In a run with an output directory the backend\n"
	"# is safexec_plot, Agg whose plt.show() saves the figures there.  The\n"
	"# defaults of everything else are matplotlib's.\n"
	"backend: agg\n";

static const char backend[] =
	"\"\"\"safexec's matplotlib backend: Agg, and show() saves the figures.\n"
	"\n"
	"In a run with an output directory (the request asks for output_files),\n"
	"the sandbox's sitecustomize makes it matplotlib's backend\n"
	"(docs/runtimes.md, \"Plots\").  A figure plt.show() or Figure.show()\n"
	"would show is saved into that directory, $SAFEXEC_OUT, as figure-N.png,\n"
	"N the first number not taken there; then\n"
	"plt.show() closes the figures, as a user closing their windows would.\n"
	"plt.show(block=False) and plt.pause() save nothing and close nothing.\n"
	"\"\"\"\n"
	"import os\n"
	"import sys\n"
	"\n"
	"from matplotlib._pylab_helpers import Gcf\n"
	"from matplotlib.backend_bases import FigureManagerBase\n"
	"from matplotlib.backends.backend_agg import FigureCanvasAgg\n"
	"\n"
	"_number = 0\n"
	"_told = False\n"
	"\n"
	"\n"
	"def _say(text):\n"
	"    print(\"safexec: \" + text, file=sys.stderr)\n"
	"\n"
	"\n"
	"def _save(figure):\n"
	"    global _number, _told\n"
	"    out = os.environ.get(\"SAFEXEC_OUT\")\n"
	"    if not out:\n"
	"        if not _told:\n"
	"            _say(\"a figure shown is not saved: this run has no output \"\n"
	"                 \"directory (ask for output_files)\")\n"
	"            _told = True\n"
	"        return\n"
	"    while True:\n"
	"        _number += 1\n"
	"        path = os.path.join(out, \"figure-%d.png\" % _number)\n"
	"        try:\n"
	"            with open(path, \"xb\") as f:\n"
	"                figure.savefig(f, format=\"png\")\n"
	"            return\n"
	"        except FileExistsError:\n"
	"            continue\n"
	"        except OSError as e:\n"
	"            _say(\"%s: %s\" % (path, e.strerror))\n"
	"            return\n"
	"\n"
	"\n"
	"class FigureManager(FigureManagerBase):\n"
	"    def show(self):\n"
	"        _save(self.canvas.figure)\n"
	"\n"
	"\n"
	"class FigureCanvas(FigureCanvasAgg):\n"
	"    manager_class = FigureManager\n"
	"\n"
	"\n"
	"def show(*args, block=None, **kwargs):\n"
	"    if block is False:\n"
	"        return\n"
	"    for manager in Gcf.get_all_fig_managers():\n"
	"        manager.show()\n"
	"    Gcf.destroy_all()\n";

static const char fonts_conf[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">\n"
	"<!-- fontconfig's configuration in the safexec sandbox: the system's\n"
	"     fonts, and a cache of the run's own. -->\n"
	"<fontconfig>\n"
	"\t<dir>/usr/share/fonts</dir>\n"
	"\t<dir>/usr/local/share/fonts</dir>\n"
	"\t<cachedir>/tmp/fontconfig</cachedir>\n"
	"</fontconfig>\n";

/* Builds the font list into the output directory: matplotlib writes it
 * into its configuration directory when it first loads its fonts. */
static const char build_font_list[] =
	"import os\n"
	"os.environ[\"MPLCONFIGDIR\"] = os.environ[\"SAFEXEC_OUT\"]\n"
	"import matplotlib.font_manager\n";

#define FONT_LIST_MAX	(2u << 20)	/* bytes; 33 KiB with Debian's own fonts */

/* The shared libraries numpy loads, which Debian's /usr reaches through
 * /etc/alternatives (libblas.so.3 -> /etc/alternatives/libblas.so.3-...
 * -> the BLAS the host chose), and those the BLAS and LAPACK Debian offers
 * load the same way in turn (OpenBLAS's libblas.so.3 needs
 * libopenblas.so.0, itself an alternative).  A name the host lacks is
 * left out. */
static const char *const alternative_libs[] = {
	"libblas.so.3", "liblapack.so.3", "libopenblas.so.0",
	"libblas64.so.3", "liblapack64.so.3", "libopenblas64.so.0",
};
#define NLIBS (sizeof(alternative_libs) / sizeof(alternative_libs[0]))

/* What the site gives the sandbox's /etc: the entries and their storage. */
struct site {
	struct sbx_etc_entry e[SBX_MAX_ETC];
	size_t n;
	char sitecustomize_path[96];
	char lib_names[NLIBS][PATH_MAX + 16];	/* "alternatives/NAME" */
	char lib_targets[NLIBS][PATH_MAX];
	char font_path[NAME_MAX + 32];
};

static void add(struct site *s, const char *path, const char *data, size_t len, bool link,
		bool out_only)
{
	if (s->n < SBX_MAX_ETC)
		s->e[s->n++] = (struct sbx_etc_entry){ path, data, len, link, out_only };
}

/*
 * The host's links to the shared libraries of alternative_libs, found in
 * the directory of the C library safexec runs on (Debian's multiarch
 * directory, /lib/x86_64-linux-gnu): where /usr's link to one leads into
 * /etc/alternatives, the sandbox's /etc gets that alternative's link, to
 * the same library in /usr.  Names and targets of links, never a file of
 * the host's /etc.
 */
static void add_library_alternatives(struct site *s)
{
	static const char alt[] = "/etc/alternatives/";
	char dir[PATH_MAX], path[PATH_MAX + 32], via[PATH_MAX];
	Dl_info info;
	const char *slash;

	if (!dladdr((void *)&getpid, &info) || !info.dli_fname ||
	    !(slash = strrchr(info.dli_fname, '/')))
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - info.dli_fname), info.dli_fname);
	for (size_t i = 0; i < NLIBS; i++) {
		char *name = s->lib_names[i], *target = s->lib_targets[i];
		snprintf(path, sizeof(path), "%s/%s", dir, alternative_libs[i]);
		ssize_t n = readlink(path, via, sizeof(via) - 1);
		if (n <= (ssize_t)sizeof(alt) - 1 || n >= (ssize_t)sizeof(via) - 1)
			continue;
		via[n] = '\0';
		if (strncmp(via, alt, sizeof(alt) - 1) != 0 || !sbx_file_name_ok(via + sizeof(alt) - 1))
			continue;
		n = readlink(via, target, PATH_MAX - 1);
		if (n <= 5 || n >= PATH_MAX - 1 || strncmp(target, "/usr/", 5) != 0)
			continue;
		target[n] = '\0';
		snprintf(name, sizeof(s->lib_names[i]), "alternatives/%s", via + sizeof(alt) - 1);
		add(s, name, target, (size_t)n, true, false);
	}
}

/* The site's files without a font list.  -ENOENT when the host's Python
 * does not read its site customization from /etc/python3.X. */
static int site_files(struct site *s, const struct sbx_features *f, char *note, size_t notelen)
{
	char link[PATH_MAX], want[96], target[96];
	ssize_t n;

	memset(s, 0, sizeof(*s));
	snprintf(link, sizeof(link), "/usr/lib/python%s/sitecustomize.py", f->python_version);
	snprintf(want, sizeof(want), "/etc/python%s/sitecustomize.py", f->python_version);
	n = f->python_version[0] ? readlink(link, target, sizeof(target) - 1) : -1;
	if (n < 0 || (size_t)n != strlen(want) || memcmp(target, want, (size_t)n) != 0) {
		snprintf(note, notelen, "no Python site: %s is not Debian's link to %s",
			 f->python_version[0] ? link : "/usr/bin/python3's version", want);
		return -ENOENT;
	}
	snprintf(s->sitecustomize_path, sizeof(s->sitecustomize_path), "%s", want + 5);
	add(s, "matplotlibrc", matplotlibrc, sizeof(matplotlibrc) - 1, false, false);
	add(s, "fonts/fonts.conf", fonts_conf, sizeof(fonts_conf) - 1, false, false);
	add_library_alternatives(s);
	add(s, s->sitecustomize_path, sitecustomize, sizeof(sitecustomize) - 1, false, true);
	add(s, "safexec/safexec_plot.py", backend, sizeof(backend) - 1, false, true);
	return 0;
}

/* Runs build_font_list in a sandbox of the host, which has the site's
 * files already.  0 with *out (the caller's to release) holding the font
 * list, or -1 with why in note. */
static int build_fonts(struct sbx_host *host, struct sbx_result *out, const struct sbx_file **list,
		       char *note, size_t notelen)
{
	struct sbx_request req;

	sbx_request_init(&req);
	req.code = build_font_list;
	req.code_len = sizeof(build_font_list) - 1;
	req.collect_out = true;
	req.out_max_files = 4;
	req.out_max_bytes = FONT_LIST_MAX;
	req.limits.wall_ms = req.limits.cpu_ms = 60000;	/* a host with many fonts */
	req.limits.memory_bytes = 512ull << 20;
	*list = NULL;
	if (sbx_run(host, &req, out) < 0 || out->status != SBX_OK) {
		/* The last line of its stderr says why (a traceback's). */
		size_t len = out->err.len;
		while (len && out->err.data[len - 1] == '\n')
			len--;
		const char *last = memrchr(out->err.data, '\n', len);
		last = last ? last + 1 : out->err.data;
		len -= (size_t)(last - out->err.data);
		if (out->status == SBX_RUNTIME_ERROR &&
		    strstr(out->err.data, "No module named 'matplotlib'"))
			snprintf(note, notelen, "no matplotlib");
		else
			snprintf(note, notelen, "matplotlib's font list could not be built: %s%s%.*s",
				 out->error[0] ? out->error : sbx_status_name(out->status),
				 len ? ": " : "", (int)(len > 200 ? 200 : len), last);
		return -1;
	}
	for (size_t i = 0; i < out->nout_files; i++)
		if (strncmp(out->out_files[i].name, "fontlist-", 9) == 0)
			*list = &out->out_files[i];
	if (!*list) {
		snprintf(note, notelen, "matplotlib's font list could not be built: %s",
			 out->out_dropped_total ? "larger than 2 MiB" : "matplotlib wrote none");
		return -1;
	}
	return 0;
}

int pysite_install(struct sbx_host *host, unsigned flags, char *note, size_t notelen)
{
	struct site *s = calloc(1, sizeof(*s));
	struct sbx_result res;
	const struct sbx_file *list;
	int r;

	note[0] = '\0';
	if (!s)
		return -ENOMEM;
	if ((r = site_files(s, sbx_host_features(host), note, notelen)) < 0 ||
	    (r = sbx_host_set_etc(host, s->e, s->n)) < 0)
		goto out;
	if (!(flags & PYSITE_FONT_LIST))
		goto out;

	uint64_t start = util_now_ns();
	memset(&res, 0, sizeof(res));
	if (build_fonts(host, &res, &list, note, notelen) == 0) {
		char size[32];
		int e;
		snprintf(s->font_path, sizeof(s->font_path), "safexec/%s", list->name);
		add(s, s->font_path, list->data, list->len, false, true);
		/* On failure the host keeps the site without it. */
		if ((e = sbx_host_set_etc(host, s->e, s->n)) == 0)
			snprintf(note, notelen, "matplotlib's font list: %s, built in %.1f s",
				 util_format_size(list->len, size, sizeof(size)),
				 (double)(util_now_ns() - start) / 1e9);
		else
			snprintf(note, notelen, "matplotlib's font list (%s) not kept: %s",
				 util_format_size(list->len, size, sizeof(size)), strerror(-e));
	}
	sbx_result_release(&res);
out:
	if (r < 0 && !note[0])
		snprintf(note, notelen, "the Python site: %s", strerror(-r));
	free(s);
	return r;
}
