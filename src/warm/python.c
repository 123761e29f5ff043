/*
 * python.c - the interpreter of the warm starts: libpython, loaded at run
 * time (only the zygote pays for it), initialised once with the very
 * command line of a cold run, and run in each program's process.
 *
 * Built with Python.h of the version the build machine has; the library
 * loaded is that version's (libpythonX.Y.so.1.0), and the zygote refuses
 * to start when the sandbox's python3 is another version.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/util.h"
#include "warm/internal.h"

#define PY_STR2(x) #x
#define PY_STR(x) PY_STR2(x)
#define PY_SONAME "libpython" PY_STR(PY_MAJOR_VERSION) "." PY_STR(PY_MINOR_VERSION) ".so.1.0"
#define PY_PACKAGE "libpython" PY_STR(PY_MAJOR_VERSION) "." PY_STR(PY_MINOR_VERSION)

static struct {
#define F(name) __typeof__(name) *name
	F(PyConfig_InitPythonConfig);
	F(PyConfig_SetBytesArgv);
	F(PyConfig_Clear);
	F(Py_InitializeFromConfig);
	F(PyStatus_Exception);
	F(PyOS_AfterFork_Child);
	F(PyRun_SimpleStringFlags);
	F(PySys_SetObject);
	F(PyList_New);
	F(PyList_SetItem);
	F(PyUnicode_DecodeFSDefault);
	F(Py_DecRef);
	F(Py_GetVersion);
	F(PyImport_GetImporter);
	F(PyImport_GetModule);
	F(PyImport_AddModule);
	F(PyImport_ImportModule);
	F(PyModule_GetDict);
	F(PyModule_New);
	F(PyDict_Update);
	F(PyDict_SetItemString);
	F(PyDict_DelItemString);
	F(PyList_Insert);
	F(PySys_GetObject);
	F(PyObject_GetAttrString);
	F(PyObject_CallFunction);
	F(PyObject_CallMethod);
	F(PyObject_IsTrue);
	F(PyRun_FileExFlags);
	F(PyErr_ExceptionMatches);
	F(PyErr_Print);
	F(PyErr_Clear);
	F(PyErr_WriteUnraisable);
	F(_PyErr_WriteUnraisableMsg);
	F(PyGC_Collect);
	F(PyExc_SystemExit);
	F(PyExc_KeyboardInterrupt);
	F(_Py_NoneStruct);
#undef F
	/* Not in the public headers; what Python's own start calls. */
	int (*_Py_HandleSystemExit)(int *exitcode);
} py;

/* The dispositions Python's start set (SIGINT's handler, SIGPIPE and
 * SIGXFSZ ignored): the sandbox's init resets every signal, the program
 * gets these back, as a process of Python has them once started. */
static struct sigaction py_signals[NSIG];

static int load(char *why, size_t whylen)
{
	static const struct util_sym syms[] = {
#define SYM(name) { #name, (void **)&py.name }
		SYM(PyConfig_InitPythonConfig), SYM(PyConfig_SetBytesArgv), SYM(PyConfig_Clear),
		SYM(Py_InitializeFromConfig), SYM(PyStatus_Exception),
		SYM(PyOS_AfterFork_Child), SYM(PyRun_SimpleStringFlags), SYM(PySys_SetObject),
		SYM(PyList_New), SYM(PyList_SetItem), SYM(PyUnicode_DecodeFSDefault),
		SYM(Py_DecRef), SYM(Py_GetVersion), SYM(PyImport_GetImporter),
		SYM(PyImport_GetModule), SYM(PyImport_AddModule), SYM(PyImport_ImportModule),
		SYM(PyModule_GetDict), SYM(PyModule_New), SYM(PyDict_Update), SYM(PyDict_SetItemString), SYM(PyDict_DelItemString),
		SYM(PyList_Insert), SYM(PySys_GetObject), SYM(PyObject_GetAttrString),
		SYM(PyObject_CallFunction), SYM(PyObject_CallMethod), SYM(PyObject_IsTrue),
		SYM(PyRun_FileExFlags), SYM(PyErr_ExceptionMatches), SYM(PyErr_Print),
		SYM(PyErr_Clear), SYM(PyErr_WriteUnraisable), SYM(_PyErr_WriteUnraisableMsg),
		SYM(PyGC_Collect), SYM(PyExc_SystemExit), SYM(PyExc_KeyboardInterrupt),
		SYM(_Py_NoneStruct), SYM(_Py_HandleSystemExit),
#undef SYM
	};
	int r = util_dlsyms(PY_SONAME, PY_PACKAGE, syms, UTIL_ARRAY_SIZE(syms), why, whylen);

	if (r < 0)
		return r;
	/* Extension modules (numpy's, _ctypes...) take the interpreter's
	 * symbols from the process, as in python3, which has them built in. */
	if (!dlopen(PY_SONAME, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
		snprintf(why, whylen, "%s: %s", PY_SONAME, dlerror());
		return -ENOENT;
	}
	return 0;
}

int warm_py_init(const char *python, const char *version, char *why, size_t whylen)
{
	char e[] = "-E", s[] = "-s", u[] = "-u", script[] = WARM_SCRIPT;
	char *args[] = { (char *)python, e, s, u, script, NULL };
	const char *have;
	PyConfig config;
	PyStatus st;
	int r;

	if ((r = load(why, whylen)) < 0)
		return r;
	have = py.Py_GetVersion();
	/* "3.11" or "3.11.2": the same release, or at least the same X.Y. */
	if (!version[0] || strncmp(have, version, strlen(version)) != 0 ||
	    !strchr(" .", have[strlen(version)])) {
		snprintf(why, whylen, "%s is Python %.*s, the sandbox's %s is %s", PY_SONAME,
			 (int)strcspn(have, " "), have, python, version[0] ? version : "unknown");
		return -ENOTSUP;
	}
	/* Python's own reading of the command line: -E, -s and -u, and
	 * /box/main.py as the script (opened only by Py_RunMain()). */
	py.PyConfig_InitPythonConfig(&config);
	st = py.PyConfig_SetBytesArgv(&config, UTIL_ARRAY_SIZE(args) - 1, args);
	if (!py.PyStatus_Exception(st))
		st = py.Py_InitializeFromConfig(&config);
	py.PyConfig_Clear(&config);
	if (py.PyStatus_Exception(st)) {
		snprintf(why, whylen, "Python's start failed: %s%s%s", st.func ? st.func : "",
			 st.func ? ": " : "", st.err_msg ? st.err_msg : "exit");
		return -EIO;
	}
	/*
	 * The sandbox's /etc has no python3.X/sitecustomize.py (Debian's
	 * stdlib links to it): the host's, imported here, is forgotten so
	 * that `import sitecustomize` fails in a warm run as in a cold one.
	 * What the start made is frozen for the collector, so that no
	 * collection in a run touches (and copies) the zygote's objects.
	 * Nothing is bound in __main__.
	 */
	if (py.PyRun_SimpleStringFlags("__import__('sys').modules.pop('sitecustomize', None)\n"
				       "__import__('gc').freeze()\n"
				       "__import__('sys').modules.pop('gc')\n", NULL) != 0) {
		snprintf(why, whylen, "Python's start: the zygote's preparation failed");
		return -EIO;
	}
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, NULL, &py_signals[sig]);
	return 0;
}

static PyObject *str_list(char *const *v, size_t n)
{
	PyObject *list = py.PyList_New((Py_ssize_t)n);

	for (size_t i = 0; list && i < n; i++) {
		/* As Python decodes its command line: UTF-8, surrogateescape. */
		PyObject *s = py.PyUnicode_DecodeFSDefault(v[i]);
		if (!s || py.PyList_SetItem(list, (Py_ssize_t)i, s) < 0) {
			py.Py_DecRef(list);
			return NULL;
		}
	}
	return list;
}

static int set_list(const char *name, char *const *v, size_t n)
{
	PyObject *list = str_list(v, n);
	int r = list ? py.PySys_SetObject(name, list) : -1;

	py.Py_DecRef(list);
	return r;
}

static __attribute__((noreturn)) void refuse(const char *what)
{
	dprintf(2, "safexec: warm start: %s\n", what);
	_exit(125);
}

#define NONE (py._Py_NoneStruct)

/* Drops a reference the caller owned; NULL is fine. */
static void drop(PyObject *o)
{
	if (o)
		py.Py_DecRef(o);
}

/*
 * A __main__ of the run's own, a copy of the zygote's: the zygote's was
 * frozen with the rest, and the collector would never reclaim it, or run
 * the finalisers of what it holds, at the end.  Returns it, borrowed.
 */
static PyObject *fresh_main(void)
{
	PyObject *modules = py.PySys_GetObject("modules");	/* borrowed */
	PyObject *old = py.PyImport_AddModule("__main__");	/* borrowed */
	PyObject *main = py.PyModule_New("__main__");

	if (!modules || !old || !main ||
	    py.PyDict_Update(py.PyModule_GetDict(main), py.PyModule_GetDict(old)) < 0 ||
	    py.PyDict_SetItemString(modules, "__main__", main) < 0)
		refuse("Python's __main__");
	drop(main);
	return py.PyImport_AddModule("__main__");
}

/*
 * What Python's start does for a script before running it (pymain_run_python
 * and _PyRun_SimpleFileObject of CPython 3.11): the importer cache asked
 * about the script's path, the script's directory first in sys.path, and
 * __main__'s __file__, __cached__ and __loader__.  Then the script runs in
 * __main__.  Returns the exit status a process of Python would have: 0, 1
 * after a traceback, SystemExit's code; *interrupted for an uncaught
 * KeyboardInterrupt.
 */
static int run_script(bool *interrupted)
{
	PyObject *path = py.PyUnicode_DecodeFSDefault(WARM_SCRIPT);
	PyObject *dir = py.PyUnicode_DecodeFSDefault("/box");
	PyObject *sys_path = py.PySys_GetObject("path");		/* borrowed */
	PyObject *main = fresh_main();				/* borrowed */
	PyObject *d = py.PyModule_GetDict(main);			/* borrowed */
	PyObject *ext = py.PyImport_ImportModule("_frozen_importlib_external");
	PyObject *loader = NULL, *v = NULL;
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	FILE *fp;
	int status = 1;

	*interrupted = false;
	if (!path || !dir || !sys_path || !d || !ext)
		refuse("Python's __main__");
	drop(py.PyImport_GetImporter(path));
	py.PyErr_Clear();
	loader = py.PyObject_CallMethod(ext, "SourceFileLoader", "sO", "__main__", path);
	if (py.PyList_Insert(sys_path, 0, dir) < 0 || !loader ||
	    py.PyDict_SetItemString(d, "__file__", path) < 0 ||
	    py.PyDict_SetItemString(d, "__cached__", NONE) < 0 ||
	    py.PyDict_SetItemString(d, "__loader__", loader) < 0)
		refuse("Python's __main__");
	if (!(fp = fopen(WARM_SCRIPT, "rb"))) {
		dprintf(2, "%s: can't open file '%s': [Errno %d] %s\n", "/usr/bin/python3",
			WARM_SCRIPT, errno, strerror(errno));
		return 2;
	}
	v = py.PyRun_FileExFlags(fp, WARM_SCRIPT, Py_file_input, d, d, 1, &cf);
	if (v)
		status = 0;
	else if (py._Py_HandleSystemExit(&status) == 0) {
		*interrupted = py.PyErr_ExceptionMatches(*py.PyExc_KeyboardInterrupt);
		py.PyErr_Print();
		status = 1;
	}
	drop(v);
	if (py.PyDict_DelItemString(d, "__file__") < 0 || py.PyDict_DelItemString(d, "__cached__") < 0)
		py.PyErr_Clear();
	drop(loader);
	drop(ext);
	drop(dir);
	drop(path);
	return status;
}

/* Python's flush_std_files(): -1 when sys.stdout's flush failed. */
static int flush_std(void)
{
	static const char *const names[] = { "stdout", "stderr" };
	int status = 0;

	for (int i = 0; i < 2; i++) {
		PyObject *f = py.PySys_GetObject(names[i]);	/* borrowed */
		PyObject *closed = f && f != NONE ? py.PyObject_GetAttrString(f, "closed") : NULL;
		int is_closed = closed ? py.PyObject_IsTrue(closed) : 1;
		drop(closed);
		py.PyErr_Clear();
		if (is_closed)
			continue;
		PyObject *r = py.PyObject_CallMethod(f, "flush", NULL);
		if (!r) {
			if (i == 0)
				py._PyErr_WriteUnraisableMsg("on flushing sys.stdout", NULL);
			py.PyErr_Clear();
			status = -1;
		}
		drop(r);
	}
	return status;
}

/*
 * The part of Python's end (Py_FinalizeEx) that a program can see, and no
 * more: non-daemon threads are joined, the atexit functions run, stdout
 * and stderr are flushed, __main__ leaves sys.modules and garbage is
 * collected (the finalisers of its objects run, files it left open are
 * flushed, as in Python's own end); the
 * rest of the teardown, which would touch, and copy, every object the
 * zygote holds, is left to _exit().  Returns the status, 120 when a flush
 * failed, as Python's.
 */
static int finish(int status)
{
	PyObject *name = py.PyUnicode_DecodeFSDefault("threading");
	PyObject *threading = name ? py.PyImport_GetModule(name) : NULL;
	PyObject *r;

	drop(name);
	if (threading) {
		if (!(r = py.PyObject_CallMethod(threading, "_shutdown", NULL)))
			py.PyErr_WriteUnraisable(threading);
		drop(r);
		drop(threading);
	}
	py.PyErr_Clear();
	PyObject *atexit = (name = py.PyUnicode_DecodeFSDefault("atexit")) ?
			   py.PyImport_GetModule(name) : NULL;
	drop(name);
	if (atexit) {
		drop(py.PyObject_CallMethod(atexit, "_run_exitfuncs", NULL));
		drop(atexit);
	}
	py.PyErr_Clear();
	int flushed = flush_std();
	PyObject *modules = py.PySys_GetObject("modules");	/* borrowed */
	if (!modules || py.PyDict_DelItemString(modules, "__main__") < 0)
		py.PyErr_Clear();
	py.PyGC_Collect();
	py.PyErr_Clear();
	if (flushed < 0 || flush_std() < 0)
		return 120;
	return status;
}

void warm_py_program(void *arg, char *const argv[], char *const envp[])
{
	extern char **environ;
	size_t script, argc, i;
	bool interrupted;

	(void)arg;
	for (script = 0; argv[script] && strcmp(argv[script], WARM_SCRIPT) != 0; script++)
		;
	if (!argv[script])
		refuse("not the interpreter's command");
	for (argc = script; argv[argc]; argc++)
		;
	/* Python read its environment once, in the zygote: the program's
	 * must be that one (warm_eligible() sees to it). */
	for (i = 0; envp[i] && environ[i] && strcmp(envp[i], environ[i]) == 0; i++)
		;
	if (envp[i] || environ[i])
		refuse("another environment than the interpreter's");
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &py_signals[sig], NULL);	/* KILL, STOP: refused, fine */
	/* The name a process of python3 has. */
	prctl(PR_SET_NAME, "python3", 0, 0, 0);
	/* Python's state after a fork: locks, threads, the at-fork hooks
	 * (random reseeds itself there). */
	py.PyOS_AfterFork_Child();
	if (set_list("argv", argv + script, argc - script) < 0 ||
	    set_list("orig_argv", argv, argc) < 0)
		refuse("sys.argv");
	int status = finish(run_script(&interrupted));
	if (interrupted) {
		/* As Python ends on an uncaught KeyboardInterrupt. */
		signal(SIGINT, SIG_DFL);
		kill(getpid(), SIGINT);
		status = 128 + SIGINT;
	}
	_exit(status);
}
