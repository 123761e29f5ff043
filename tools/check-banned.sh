#!/usr/bin/env bash
# The `lint` suite: no C file of this project may use a function it bans
# (src/util/banned.h): unbounded copies and formats, number parsers that
# cannot report errors, a tokenizer with hidden state, anything that runs a
# shell, and temporary names that race.
#
# The compiler itself enforces the ban: banned.h poisons the names
# (#pragma GCC poison), util.h includes banned.h, and every .c file includes
# util.h after its system headers, so a banned name in a .c file, or in a
# header it includes afterwards, is a build error.  This script proves that
# mechanism holds, with the project's own flags taken from the Makefile:
#
#   mechanism  for each banned name and each compiler of the build (cc, and
#              clang, which builds the fuzzers, when installed): a tiny file
#              that includes util.h and then calls it, takes its address, or
#              calls it from a header or a macro, fails to compile, naming
#              the poisoned function; the same file with the call replaced
#              by snprintf compiles;
#   no false   the names in comments, string literals (with escaped quotes)
#   positive   and character literals, and as parts of longer names, compile;
#   in force   in every src/*.c, src/*/*.c and fuzz/*.c: a banned call
#              appended after the file's own code fails to compile, so the
#              file includes banned.h (directly or through util.h);
#   clean      every .c and .h of src/, fuzz/, tools/ and tests/unit/
#              compiles with banned.h forced in before anything else, for
#              every build variant that defines a macro (plain and the
#              `layers` build): no banned name anywhere in the file or in
#              any header it includes, whatever the include order;
#   text       no call of a banned name in the files' text, comments and
#              string and character literals removed, so code in a
#              conditional branch no build variant compiles is seen too.
#
# One line per check (`ok   name` or `FAIL name: why`), then
# `N passed, N failed`; exits 1 when anything failed.
set -u
cd "$(dirname "$0")/.."

BANNED=(strcpy strcat sprintf vsprintf gets atoi atol atoll strtok system popen tmpnam mktemp)

pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The compiler and flags the Makefile compiles src/ with (CFLAGS_ALL and
# HARDEN), read from the Makefile itself; extra make arguments select a
# variant (CC=clang, EXTRA_CFLAGS=...).
flags() {
	make -s --no-print-directory -f Makefile -f - "$@" safexec-lint-flags <<-'EOF'
	safexec-lint-flags: ; @echo $(CC) $(CFLAGS_ALL) $(HARDEN)
	EOF
}
# The variants of the build that define macros of their own: the plain build
# and `make layers` (the Makefile's layers target passes this).
LAYERS_CFLAGS="-DSBX_TEST_LAYERS"
if ! grep -q -- "EXTRA_CFLAGS=\"$LAYERS_CFLAGS\"" Makefile; then
	bad "variants" "the Makefile's layers target no longer passes $LAYERS_CFLAGS: update this script"
fi

if ! CC_FLAGS=$(flags) || [ -z "$CC_FLAGS" ]; then
	bad "flags" "cannot read the compile flags from the Makefile"
	echo "$pass passed, $fail failed"
	exit 1
fi
read -r -a CC_CMD <<<"$CC_FLAGS"
COMPILERS=(cc)
if command -v clang >/dev/null 2>&1; then
	COMPILERS+=(clang)
else
	echo "# clang not installed: the mechanism is checked with ${CC_CMD[0]} only"
fi

# compile NAME FILE [flags...]: compiles FILE with the flags of compiler NAME
# (-fsyntax-only), the diagnostics in $tmp/err.
compile() {
	local name=$1 file=$2
	shift 2
	local -a cmd
	if [ "$name" = cc ]; then
		cmd=("${CC_CMD[@]}")
	else
		read -r -a cmd <<<"$(flags CC="$name")"
	fi
	"${cmd[@]}" -Itests/unit "$@" -fsyntax-only "$file" >"$tmp/err" 2>&1
}

# A call of each banned name with arguments of the right types.
call_of() {
	case $1 in
	strcpy|strcat) echo "$1(d, s)" ;;
	sprintf) echo "$1(d, \"%s\", s)" ;;
	vsprintf) echo "$1(d, s, ap)" ;;
	gets|tmpnam|mktemp) echo "$1(d)" ;;
	atoi|atol|atoll|system) echo "$1(s)" ;;
	strtok) echo "$1(d, s)" ;;
	popen) echo "$1(s, \"r\")" ;;
	esac
}

# probe FILE BODY: a file that includes util.h after the system headers and
# then has BODY in a function.
probe() {
	cat >"$1" <<-EOF
	#include <stdarg.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <string.h>

	#include "util/util.h"
	${3:-}
	void lint_probe(char *d, const char *s, va_list ap);
	void lint_probe(char *d, const char *s, va_list ap)
	{
		(void)d; (void)s; (void)ap;
		$2;
	}
	EOF
}

# poisoned NAME: true when the last compile refused NAME as poisoned.  GCC
# names it ('attempt to use poisoned "strcpy"'); clang only points at it
# ('FILE:LINE:COL: error: attempt to use a poisoned identifier'), so the
# name must be at that place.
poisoned() {
	local name=$1 at file line col
	grep -q "poisoned \"$name\"" "$tmp/err" && return 0
	while IFS= read -r at; do
		file=${at%%:*} at=${at#*:} line=${at%%:*} col=${at#*:}
		[ -f "$file" ] || continue
		sed -n "${line}p" "$file" | cut -c"$col"- | grep -q "^$name\\b" && return 0
	done < <(sed -nE 's/^(.*):([0-9]+):([0-9]+): error: attempt to use a poisoned identifier.*/\1:\2:\3/p' "$tmp/err")
	return 1
}

# Expects the last compile (exit status rc) to have failed because NAME is
# poisoned.
expect_poisoned() {
	local test=$1 name=$2 rc=$3
	if [ "$rc" -eq 0 ]; then
		bad "$test" "compiled: $name is not banned"
	elif poisoned "$name"; then
		ok "$test"
	else
		bad "$test" "failed for another reason: $(head -c 400 "$tmp/err")"
	fi
}

# --- mechanism -------------------------------------------------------------
for c in "${COMPILERS[@]}"; do
	probe "$tmp/control.c" 'snprintf(d, 8, "%s", s)'
	if compile "$c" "$tmp/control.c"; then
		ok "mechanism/$c/control"
	else
		bad "mechanism/$c/control" "a permitted call does not compile: $(head -c 400 "$tmp/err")"
	fi
	for name in "${BANNED[@]}"; do
		probe "$tmp/call.c" "$(call_of "$name")"
		compile "$c" "$tmp/call.c"
		expect_poisoned "mechanism/$c/call/$name" "$name" $?
	done
	# Not only direct calls: the address of one, a call from a header
	# included after util.h, a macro defined after it.
	probe "$tmp/addr.c" 'void *p = (void *)(strcpy); (void)p'
	compile "$c" "$tmp/addr.c"
	expect_poisoned "mechanism/$c/address" strcpy $?
	printf 'static inline void lint_h(char *d) { strcat(d, "x"); }\n' >"$tmp/lint_h.h"
	probe "$tmp/hdr.c" '(void)0' '#include "lint_h.h"'
	compile "$c" "$tmp/hdr.c"
	expect_poisoned "mechanism/$c/header" strcat $?
	probe "$tmp/macro.c" 'COPY(d, s)' '#define COPY(a, b) strcpy(a, b)'
	compile "$c" "$tmp/macro.c"
	expect_poisoned "mechanism/$c/macro" strcpy $?
done

# --- no false positive -----------------------------------------------------
cat >"$tmp/quotes.c" <<'EOF'
#include <stdio.h>

#include "util/util.h"
/* strcat(d, s); "sprintf(" */
// atoi(s) popen(
int lint_probe(char *d, size_t n);
int lint_probe(char *d, size_t n)
{
	char q = '"', e = '\\', r = '\'';
	const char *t = "say \"strcpy(\" and system(\"ls\")", *u = "\\";
	int my_system = 1, systems = 2, atoi_like = 'a';

	return snprintf(d, n, "%c%c%c%s%s%d%d%d gets(d)", q, e, r, t, u,
			my_system, systems, atoi_like);
}
EOF
if compile cc "$tmp/quotes.c"; then
	ok "no-false-positive/compiler"
else
	bad "no-false-positive/compiler" "$(head -c 400 "$tmp/err")"
fi

# --- in force --------------------------------------------------------------
for f in src/*.c src/*/*.c fuzz/*.c; do
	{
		printf '#include "%s/%s"\n' "$PWD" "$f"
		printf 'char *strcpy(char *, const char *);\n'
		printf 'void lint_probe_end(char *d);\n'
		printf 'void lint_probe_end(char *d) { strcpy(d, "x"); }\n'
	} >"$tmp/end.c"
	compile cc "$tmp/end.c"
	rc=$?
	if [ "$rc" -ne 0 ] && poisoned strcpy; then
		ok "in-force/$f"
	elif [ "$rc" -eq 0 ]; then
		bad "in-force/$f" "a banned call after its code compiles: include \"util/util.h\" after the system headers"
	else
		bad "in-force/$f" "does not compile: $(head -c 400 "$tmp/err")"
	fi
done

# --- clean -----------------------------------------------------------------
for variant in plain layers; do
	extra=()
	[ "$variant" = layers ] && extra=("$LAYERS_CFLAGS")
	for f in src/*.c src/*/*.c fuzz/*.c tools/*.c tests/unit/*.c src/*/*.h tests/unit/*.h; do
		[ -e "$f" ] || continue
		lang=()
		case $f in *.h) lang=(-x c -Wno-unused-function) ;; esac
		if compile cc "$f" "${extra[@]}" "${lang[@]}" -include src/util/banned.h; then
			ok "clean/$variant/$f"
		else
			bad "clean/$variant/$f" "$(grep -m 3 -E 'error' "$tmp/err" | head -c 600)"
		fi
	done
done

# --- text ------------------------------------------------------------------
# The compiler's own lexer drops the comments (-fpreprocessed keeps every
# conditional branch and include as written); then one left-to-right pass
# drops string and character literals, escaped quotes included.
words=$(IFS='|'; echo "${BANNED[*]}")
scan_text() {
	local text
	if ! text=$(cc -fpreprocessed -dD -E -P -x c "$1" 2>"$tmp/err"); then
		echo "$1: cannot strip comments: $(head -c 200 "$tmp/err")"
		return
	fi
	sed -E "s/\"([^\"\\]|\\\\.)*\"|'([^'\\]|\\\\.)*'//g" <<<"$text" |
		grep -nE "(^|[^_a-zA-Z0-9.>])($words)[[:space:]]*\\(" | sed "s|^|$1:|"
}
hits=""
for f in src/*.c src/*/*.c src/*/*.h fuzz/*.c tools/*.c tests/unit/*.c tests/unit/*.h; do
	[ -e "$f" ] || continue
	h=$(scan_text "$f")
	[ -n "$h" ] && hits+="$h"$'\n'
done
if [ -z "$hits" ]; then
	ok "text"
else
	bad "text" "banned calls:"$'\n'"$hits"
fi
# The filter itself: nothing in the file of quotes above, and a call between
# two literals with escaped quotes is found.
h=$(scan_text "$tmp/quotes.c")
if [ -z "$h" ]; then
	ok "text/no-false-positive"
else
	bad "text/no-false-positive" "$h"
fi
cat >"$tmp/between.c" <<'EOF'
void f(char *d, const char *s) { g("a\"b", '"'); strcpy(d, s); h("strcat(", '\''); }
EOF
h=$(scan_text "$tmp/between.c" | grep -oE "($words)[[:space:]]*\\(" | tr '\n' ' ')
if [ "$h" = "strcpy( " ]; then
	ok "text/between-quotes"
else
	bad "text/between-quotes" "found '$h' where only 'strcpy(' is"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
