# safexec: `make` builds build/safexec; `make test` runs the whole suite.
#
# Plain make rather than meson or cmake: one binary, a handful of folders, and
# nothing a newcomer has to install beyond the compiler and the -dev packages.
# Every .c file under src/<part>/ is part of the build, so adding a file to a
# part needs no edit here.

CC       ?= cc
PKGS     := libseccomp jansson libmicrohttpd sqlite3 nettle libcurl libzip libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Every `safexec run` pays for loading the binary's shared libraries before
# the sandbox starts: libmicrohttpd (with GnuTLS under it) is therefore not
# linked at all but loaded by the server when it starts (src/http/mhd.h), and
# libseccomp, jansson and SQLite come from the static archives of the same
# Debian -dev packages (0.5 ms less per run, measured with bench/startup.py
# side by side).  A Debian update of those three takes a rebuild: `make`.
# libseccomp is needed only at build time: tools/seccomp-gen.c compiles the
# filter of src/sandbox/seccomp.c once and the binary carries the BPF.
STATIC_PKGS := jansson sqlite3 nettle
PKG_LIBS   := -Wl,-Bstatic $(shell pkg-config --libs-only-l $(STATIC_PKGS) 2>/dev/null) \
	-Wl,-Bdynamic -lm
SECCOMP_LIBS := -Wl,-Bstatic $(shell pkg-config --libs-only-l libseccomp 2>/dev/null) -Wl,-Bdynamic

WARN := -Wall -Wextra -Wformat=2 -Wformat-security -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings \
	-Wimplicit-fallthrough -Wundef -Wno-unused-parameter \
	-Werror=implicit-function-declaration -Werror=return-type
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -fPIE -fno-strict-overflow -fno-delete-null-pointer-checks
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--as-needed

# Python's headers, for the warm starts' embedding of libpython (loaded at
# run time, by the zygote only: src/warm/python.c) and that file alone.
PY_CFLAGS := $(shell pkg-config --cflags python3-embed 2>/dev/null)

OPT      ?= -O2 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Isrc $(PKG_CFLAGS) $(OBJ_CFLAGS) $(EXTRA_CFLAGS)
LIBS     := $(PKG_LIBS) -lpthread

B        ?= build
POLICY   := src/sandbox/seccomp.c
SRC      := $(filter-out src/main.c $(POLICY),$(wildcard src/*/*.c))
WEB      := $(wildcard web/*)
OBJ      := $(SRC:%.c=$(B)/%.o) $(B)/web_assets.o $(B)/seccomp_bpf.o
UNIT_SRC := $(wildcard tests/unit/*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

.PHONY: all clean test unit asan fuzz serve layers
all: $(B)/safexec

# The two commands of README.md.  Each installs the Debian packages it needs
# first, then builds in a fresh make (pkg-config must see them).
serve:
	tools/install-deps.sh
	$(MAKE) all
	exec $(B)/safexec serve $(ARGS)

test:
	tools/install-deps.sh --test
	$(MAKE) all unit asan layers
	tests/run

$(B)/safexec: $(B)/src/main.o $(OBJ)
	$(CC) $(OPT) $(LDHARDEN) $(EXTRA_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/src/warm/python.o: OBJ_CFLAGS = $(PY_CFLAGS)
$(B)/%.o: %.c $(wildcard src/*/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(HARDEN) -c -o $@ $<

# The web page's files go into the binary as one generated C table.
$(B)/web_assets.c: $(WEB) tools/embed.sh
	@mkdir -p $(B)
	sh tools/embed.sh $(WEB) > $@
$(B)/web_assets.o: $(B)/web_assets.c
	$(CC) $(CFLAGS_ALL) $(HARDEN) -c -o $@ $<

# The seccomp filters, compiled by libseccomp at build time.
$(B)/seccomp-gen: tools/seccomp-gen.c $(POLICY) src/sandbox/internal.h src/sandbox/sandbox.h
	@mkdir -p $(B)
	$(CC) $(CFLAGS_ALL) -o $@ tools/seccomp-gen.c $(POLICY) $(SECCOMP_LIBS)
$(B)/seccomp_bpf.c: $(B)/seccomp-gen
	$(B)/seccomp-gen > $@.tmp && mv $@.tmp $@
$(B)/seccomp_bpf.o: $(B)/seccomp_bpf.c
	$(CC) $(CFLAGS_ALL) $(HARDEN) -c -o $@ $<

$(B)/unit-tests: $(UNIT_SRC) $(OBJ) $(B)/$(POLICY:.c=.o)
	$(CC) $(CFLAGS_ALL) $(LDHARDEN) $(EXTRA_LDFLAGS) -Itests/unit -o $@ $^ $(LIBS) $(SECCOMP_LIBS)

unit: $(B)/unit-tests

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) B=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" build/asan/safexec build/asan/unit-tests

# For the escape suite only: a binary that can leave one protection layer
# out (SAFEXEC_TEST_WITHOUT=caps|seccomp, see src/sandbox/internal.h), so
# that each remaining layer is shown to hold by itself.  Never installed.
layers:
	$(MAKE) B=build/layers EXTRA_CFLAGS="-DSBX_TEST_LAYERS" build/layers/safexec

# libFuzzer targets (clang).
fuzz:
	$(MAKE) CC=clang B=build/fuzz OPT="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build/fuzz/objs
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "clang $$f -> build/fuzz/$$n"; \
	  clang -std=c11 -D_GNU_SOURCE -O1 -g -Isrc $(PKG_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n $$f $(OBJ:$(B)/%=build/fuzz/%) $(LIBS) || exit 1; done
build/fuzz/objs: $(OBJ)
	@touch $@

clean:
	rm -rf build
