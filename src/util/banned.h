/*
 * banned.h - functions this project does not call: unbounded copies and
 * formats (strcpy, strcat, sprintf, vsprintf, gets), number parsers that
 * cannot report errors (atoi, atol, atoll: use util_parse_u64), a tokenizer
 * with hidden state (strtok), anything that runs a shell (system, popen) and
 * temporary names that race (tmpnam, mktemp).
 *
 * The compiler enforces it: after this header any use of these names, a
 * call, a function pointer or a macro defined later, is an error
 * ("attempt to use poisoned"), in the .c file and in every header it
 * includes afterwards.  util.h includes it, and every .c file under src/
 * and fuzz/ includes util.h after its system headers; tools/check-banned.sh
 * (the `lint` suite) proves both.
 *
 * The three system headers that declare these functions are included first,
 * so that their declarations are read before the names are poisoned and a
 * file may include them after this header too.  A name the C library made
 * a macro (sprintf under clang's _FORTIFY_SOURCE) is undefined first: the
 * macro would otherwise still expand to the banned function.
 */
#ifndef SAFEXEC_BANNED_H
#define SAFEXEC_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef strcpy
#undef strcat
#undef sprintf
#undef vsprintf
#undef gets
#undef atoi
#undef atol
#undef atoll
#undef strtok
#undef system
#undef popen
#undef tmpnam
#undef mktemp

#pragma GCC poison strcpy strcat sprintf vsprintf gets atoi atol atoll strtok
#pragma GCC poison system popen tmpnam mktemp

#endif
