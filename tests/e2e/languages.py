#!/usr/bin/env python3
"""End-to-end tests of every default language of `safexec serve`.

    tests/e2e/languages.py --bin build/safexec [--runtimes DIR] [NAME-GLOB ...]

For each runtime file in runtimes/ (its language's packages are installed
by `tools/install-deps.sh --test`), over HTTP against the real binary on a
loopback port: hello world (the runtime's own `hello`), standard input,
command-line arguments, a compile error, a runtime error and a request of
several files (`files`, the entry point first, using the others); then
/api/v1/languages, the aliases, and file names the API must refuse.

A test that cannot apply to a language (arguments to SQL, standard input to
plain text, a compile error where nothing is compiled) is skipped with its
reason.  A language the server does not offer fails: its packages are
missing.  Test names are LANGUAGE/TEST (`java/*` runs Java's).  One line per
test, the compile and run times seen, then "N passed, N failed, N skipped".
Python 3 standard library only.
"""
import argparse
import base64
import fnmatch
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Fail, Server, check, eq, expect_error  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = ["one", "two words", "--three", "ünïcödé", ""]
NAME = "safexec"
GREETING = f"Hello, {NAME}!\n"
FILES_GREETING = "Hello, files!\n"


class Skip(Exception):
    pass


class NA(str):
    """Why a test cannot apply to a language: it is skipped with this reason."""


# --- What each language is expected to do ---------------------------------------
#
# compiled: whether the runtime has a compile stage.  aliases: the names a
# request may use besides the language's own (each must be offered).
# stdin: a program printing "Hello, NAME!" for the line NAME on its input.
# args: a program printing each argument on a line of its own.
# compile_error: (program, words the compiler's message has).
# runtime_error: (program, words its standard error has).
# files: the files of a request (the entry point first) printing
# FILES_GREETING, the entry using the others.
# extra: tests of one language only, by name: (program, status, stdout,
# words its standard error has, the most CPU time its compile may take or
# None).
# NA("why") instead says why the test cannot apply: it is skipped.

LANGS = {
    "python": dict(
        compiled=False, aliases=["python3", "py"],
        stdin='name = input()\nprint(f"Hello, {name}!")\n',
        args="import sys\nfor a in sys.argv[1:]:\n    print(a)\n",
        compile_error=NA("Python is not compiled: a syntax error is a runtime error"),
        runtime_error=("def f():\n    return 1 / 0\n\n\nf()\n",
                       ["Traceback", 'File "/box/main.py", line 2', "ZeroDivisionError"]),
        files=[("main.py", "import greet\n\nprint(greet.greeting(\"files\"))\n"),
               ("greet.py", 'def greeting(who):\n    return f"Hello, {who}!"\n')],
    ),
    "c": dict(
        compiled=True, aliases=["gcc"],
        stdin='#include <stdio.h>\n#include <string.h>\n\nint main(void)\n{\n'
              '\tchar name[100];\n\n\tif (!fgets(name, sizeof(name), stdin))\n\t\treturn 1;\n'
              '\tname[strcspn(name, "\\n")] = \'\\0\';\n\tprintf("Hello, %s!\\n", name);\n'
              '\treturn 0;\n}\n',
        args='#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n'
             '\tfor (int i = 1; i < argc; i++)\n\t\tputs(argv[i]);\n\treturn 0;\n}\n',
        compile_error=("#include <stdio.h>\n\nint main(void)\n{\n"
                       "\treturn undeclared_variable;\n}\n",
                       ["main.c", "error", "undeclared_variable"]),
        runtime_error=('#include <stdio.h>\n\nint main(void)\n{\n'
                       '\tFILE *f = fopen("/no/such/file", "r");\n\n\tif (!f) {\n'
                       '\t\tperror("/no/such/file");\n\t\treturn 1;\n\t}\n\treturn 0;\n}\n',
                       ["/no/such/file: No such file or directory"]),
        files=[("main.c", '#include <stdio.h>\n#include "greet.h"\n\nint main(void)\n{\n'
                          '\tputs(greeting(GREETED));\n\treturn 0;\n}\n'),
               ("greet.h", '#define GREETED "files"\n\nconst char *greeting(const char *who);\n'),
               ("greet.c", '#include <stdio.h>\n#include "greet.h"\n\n'
                           'const char *greeting(const char *who)\n{\n\tstatic char buf[64];\n\n'
                           '\tsnprintf(buf, sizeof(buf), "Hello, %s!", who);\n\treturn buf;\n}\n')],
    ),
    "cpp": dict(
        compiled=True, aliases=["c++", "g++"],
        stdin='#include <iostream>\n#include <string>\n\nint main()\n{\n\tstd::string name;\n'
              '\tstd::getline(std::cin, name);\n\tstd::cout << "Hello, " << name << "!\\n";\n}\n',
        args='#include <iostream>\n\nint main(int argc, char **argv)\n{\n'
             '\tfor (int i = 1; i < argc; i++)\n\t\tstd::cout << argv[i] << "\\n";\n}\n',
        compile_error=("#include <string>\n\nint main()\n{\n\tstd::string s = 42;\n"
                       "\treturn undeclared_variable;\n}\n",
                       ["main.cpp", "error", "undeclared_variable"]),
        runtime_error=('#include <fstream>\n#include <iostream>\n\nint main()\n{\n'
                       '\tstd::ifstream in("/no/such/file");\n\n\tif (!in) {\n'
                       '\t\tstd::cerr << "cannot open /no/such/file\\n";\n\t\treturn 1;\n'
                       '\t}\n}\n',
                       ["cannot open /no/such/file"]),
        files=[("main.cpp", '#include <iostream>\n#include "greet.hpp"\n\nint main()\n{\n'
                            '\tstd::cout << greeting("files") << "\\n";\n}\n'),
               ("greet.hpp", "#include <string>\n\nstd::string greeting(const std::string &who);\n"),
               ("greet.cpp", '#include "greet.hpp"\n\nstd::string greeting(const std::string &who)\n'
                             '{\n\treturn "Hello, " + who + "!";\n}\n')],
    ),
    "javascript": dict(
        compiled=False, aliases=["js", "node"],
        stdin='const name = require("fs").readFileSync(0, "utf8").trim();\n'
              'console.log(`Hello, ${name}!`);\n',
        args="for (const a of process.argv.slice(2)) console.log(a);\n",
        compile_error=NA("JavaScript is not compiled: a syntax error is a runtime error"),
        runtime_error=('function f() {\n  throw new Error("boom");\n}\nf();\n',
                       ["Error: boom", "main.js:2"]),
        files=[("main.js", 'const { greeting } = require("./greet");\n'
                           'console.log(greeting("files"));\n'),
               ("greet.js", "exports.greeting = (who) => `Hello, ${who}!`;\n")],
    ),
    "typescript": dict(
        compiled=True, aliases=["ts"],
        stdin='import * as fs from "fs";\n\nconst name: string = fs.readFileSync(0, "utf8").trim();\n'
              'console.log(`Hello, ${name}!`);\n',
        args="const args: string[] = process.argv.slice(2);\n"
             "for (const a of args) console.log(a);\n",
        compile_error=('const n: number = "not a number";\nconsole.log(n);\n',
                       ["main.ts", "TS2322", "not assignable to type 'number'"]),
        runtime_error=('function f(): never {\n  throw new Error("boom");\n}\nf();\n',
                       ["Error: boom"]),
        files=[("main.ts", 'import { greeting } from "./greet";\n\n'
                           'console.log(greeting("files"));\n'),
               ("greet.ts", "export function greeting(who: string): string {\n"
                            "  return `Hello, ${who}!`;\n}\n")],
    ),
    "bash": dict(
        compiled=False, aliases=["sh"],
        stdin='read -r name\necho "Hello, $name!"\n',
        args='for a in "$@"; do\n\techo "$a"\ndone\n',
        compile_error=NA("Bash is not compiled"),
        runtime_error=('set -u\necho "$undefined_variable"\n',
                       ["main.sh: line 2: undefined_variable: unbound variable"]),
        files=[("main.sh", ". ./greet.sh\ngreeting files\n"),
               ("greet.sh", 'greeting() {\n\techo "Hello, $1!"\n}\n')],
    ),
    # Judge0's multi-file program: the files are a project with its own
    # scripts (compile, then run, with bash); `code` is the run script.
    "multifile": dict(
        compiled=True, aliases=["multi-file", "project"],
        stdin='read -r name\necho "Hello, $name!"\n',
        args='for a in "$@"; do\n\techo "$a"\ndone\n',
        compile_error=NA("a project's compile script comes with its files, not with code"),
        runtime_error=('set -u\necho "$undefined_variable"\n',
                       ["run: line 2: undefined_variable: unbound variable"]),
        files=[("run", "cat greeting.txt\n"),
               ("compile", "sed 's/NAME/files/' template.txt > greeting.txt\n"),
               ("template.txt", "Hello, NAME!\n")],
    ),
    "ruby": dict(
        compiled=False, aliases=["rb"],
        stdin='name = $stdin.gets.chomp\nputs "Hello, #{name}!"\n',
        args="ARGV.each { |a| puts a }\n",
        compile_error=NA("Ruby is not compiled: a syntax error is a runtime error"),
        runtime_error=('def f\n  raise "boom"\nend\nf\n', ["main.rb:2", "boom (RuntimeError)"]),
        files=[("main.rb", 'require_relative "greet"\nputs greeting("files")\n'),
               ("greet.rb", 'def greeting(who)\n  "Hello, #{who}!"\nend\n')],
    ),
    "php": dict(
        compiled=False, aliases=[],
        stdin='<?php\n$name = trim(fgets(STDIN));\necho "Hello, $name!\\n";\n',
        args='<?php\nforeach (array_slice($argv, 1) as $a) {\n    echo $a, "\\n";\n}\n',
        compile_error=NA("PHP is not compiled: a syntax error is a runtime error"),
        runtime_error=('<?php\nfunction f() {\n    throw new Exception("boom");\n}\nf();\n',
                       ["Uncaught Exception: boom"]),
        files=[("main.php", '<?php\nrequire __DIR__ . "/greet.php";\necho greeting("files"), "\\n";\n'),
               ("greet.php", '<?php\nfunction greeting($who) {\n    return "Hello, $who!";\n}\n')],
    ),
    "perl": dict(
        compiled=False, aliases=["pl"],
        stdin='my $name = <STDIN>;\nchomp $name;\nprint "Hello, $name!\\n";\n',
        args='print "$_\\n" for @ARGV;\n',
        compile_error=NA("Perl is not compiled: a syntax error is a runtime error"),
        runtime_error=("use strict;\nmy $zero = 0;\nmy $x = 1 / $zero;\n",
                       ["Illegal division by zero at main.pl line 3"]),
        files=[("main.pl", 'use strict;\nuse lib ".";\nuse Greet;\n\n'
                           'print Greet::greeting("files"), "\\n";\n'),
               ("Greet.pm", 'package Greet;\n\nsub greeting {\n    return "Hello, $_[0]!";\n}\n\n1;\n')],
    ),
    "lua": dict(
        compiled=False, aliases=[],
        stdin='local name = io.read("l")\nprint("Hello, " .. name .. "!")\n',
        args="for i = 1, #arg do\n  print(arg[i])\nend\n",
        compile_error=NA("Lua is not compiled: a syntax error is a runtime error"),
        runtime_error=("local t = nil\nprint(t.field)\n", ["main.lua:2", "attempt to index a nil value"]),
        files=[("main.lua", 'local greet = require("greet")\nprint(greet.greeting("files"))\n'),
               ("greet.lua", 'local M = {}\n\nfunction M.greeting(who)\n'
                             '  return "Hello, " .. who .. "!"\nend\n\nreturn M\n')],
    ),
    "go": dict(
        compiled=True, aliases=["golang"],
        stdin='package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n'
              '\ts := bufio.NewScanner(os.Stdin)\n\ts.Scan()\n\tfmt.Printf("Hello, %s!\\n", s.Text())\n}\n',
        args='package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n'
             '\tfor _, a := range os.Args[1:] {\n\t\tfmt.Println(a)\n\t}\n}\n',
        compile_error=("package main\n\nfunc main() {\n\tunused := 1\n}\n",
                       ["main.go:4", "unused declared but not used"]),
        runtime_error=('package main\n\nimport "fmt"\n\nfunc main() {\n\tvar a []int\n'
                       '\ti := 5\n\tfmt.Println(a[i])\n}\n',
                       ["panic: runtime error: index out of range [5] with length 0"]),
        files=[("main.go", 'package main\n\nimport "fmt"\n\nfunc main() {\n'
                           '\tfmt.Println(greeting("files"))\n}\n'),
               ("greet.go", 'package main\n\nfunc greeting(who string) string {\n'
                            '\treturn "Hello, " + who + "!"\n}\n')],
        # The packages of the standard library that use cgo are not rebuilt
        # on every compile: it stays well within the compile's CPU limit
        # (700 ms here; 9 s when they are rebuilt).
        extra={"cgo_packages": ('package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os/user"\n)\n\n'
                                'func main() {\n\t_, err := http.Get("http://127.0.0.1:1/")\n'
                                '\t_, uerr := user.Current()\n\tfmt.Println(err != nil, uerr == nil)\n}\n',
                                "ok", "true true\n", [], 5000)},
    ),
    "rust": dict(
        compiled=True, aliases=["rs"],
        stdin='use std::io;\n\nfn main() {\n    let mut name = String::new();\n'
              '    io::stdin().read_line(&mut name).unwrap();\n'
              '    println!("Hello, {}!", name.trim());\n}\n',
        args='fn main() {\n    for a in std::env::args().skip(1) {\n        println!("{}", a);\n    }\n}\n',
        compile_error=('fn main() {\n    let x: i32 = "text";\n    println!("{}", x);\n}\n',
                       ["main.rs:2", "error[E0308]", "mismatched types"]),
        runtime_error=('fn main() {\n    let v: Vec<i32> = Vec::new();\n    let i = 5;\n'
                       '    println!("{}", v[i]);\n}\n',
                       ["panicked at", "index out of bounds"]),
        files=[("main.rs", 'mod greet;\n\nfn main() {\n    println!("{}", greet::greeting("files"));\n}\n'),
               ("greet.rs", 'pub fn greeting(who: &str) -> String {\n    format!("Hello, {}!", who)\n}\n')],
    ),
    "java": dict(
        compiled=True, aliases=[],
        stdin='import java.util.Scanner;\n\npublic class Main {\n'
              '    public static void main(String[] args) {\n'
              '        Scanner in = new Scanner(System.in);\n        String name = in.nextLine();\n'
              '        System.out.println("Hello, " + name + "!");\n    }\n}\n',
        args='public class Main {\n    public static void main(String[] args) {\n'
             '        for (String a : args)\n            System.out.println(a);\n    }\n}\n',
        compile_error=('public class Main {\n    public static void main(String[] args) {\n'
                       '        int x = "text";\n    }\n}\n',
                       ["Main.java:3", "error", "incompatible types"]),
        runtime_error=('public class Main {\n    public static void main(String[] args) {\n'
                       '        int[] a = new int[1];\n        System.out.println(a[5]);\n    }\n}\n',
                       ['Exception in thread "main" java.lang.ArrayIndexOutOfBoundsException',
                        "Main.java:4"]),
        files=[("Main.java", 'public class Main {\n    public static void main(String[] args) {\n'
                             '        System.out.println(Greeter.greeting("files"));\n    }\n}\n'),
               ("Greeter.java", 'public class Greeter {\n    static String greeting(String who) {\n'
                                '        return "Hello, " + who + "!";\n    }\n}\n')],
        # The heap is sized from the memory limit: too much allocation is
        # Java's own OutOfMemoryError, not the sandbox's OOM killer.
        extra={"heap_within_memory_limit": (
            'import java.util.ArrayList;\n\npublic class Main {\n'
            '    public static void main(String[] args) {\n'
            '        ArrayList<byte[]> keep = new ArrayList<>();\n'
            '        for (int i = 0; i < 1000; i++)\n            keep.add(new byte[1 << 20]);\n'
            '    }\n}\n',
            "runtime_error", "", ["java.lang.OutOfMemoryError: Java heap space"], None)},
    ),
    "fortran": dict(
        compiled=True, aliases=["gfortran"],
        stdin="program main\n  implicit none\n  character(len=100) :: name\n"
              "  read (*, '(a)') name\n  print '(a)', 'Hello, ' // trim(name) // '!'\nend program main\n",
        args="program main\n  implicit none\n  character(len=256) :: a\n  integer :: i\n"
             "  do i = 1, command_argument_count()\n    call get_command_argument(i, a)\n"
             "    print '(a)', trim(a)\n  end do\nend program main\n",
        compile_error=("program main\n  implicit none\n  print *, undeclared_variable\n"
                       "end program main\n",
                       ["main.f90:3", "Error", "undeclared_variable"]),
        runtime_error=("program main\n  implicit none\n"
                       "  open (unit=10, file='/no/such/file', status='old')\nend program main\n",
                       ["Fortran runtime error: Cannot open file '/no/such/file'"]),
        files=[("main.f90", "program main\n  use greet\n  implicit none\n"
                            "  print '(a)', greeting('files')\nend program main\n"),
               ("greet.f90", "module greet\n  implicit none\ncontains\n"
                             "  function greeting(who) result(s)\n"
                             "    character(len=*), intent(in) :: who\n"
                             "    character(len=:), allocatable :: s\n"
                             "    s = 'Hello, ' // who // '!'\n  end function greeting\n"
                             "end module greet\n")],
    ),
    "pascal": dict(
        compiled=True, aliases=["fpc"],
        stdin="program Main;\nvar\n  name: string;\nbegin\n  ReadLn(name);\n"
              "  WriteLn('Hello, ', name, '!');\nend.\n",
        args="program Main;\nvar\n  i: Integer;\nbegin\n  for i := 1 to ParamCount do\n"
             "    WriteLn(ParamStr(i));\nend.\n",
        compile_error=("program Main;\nbegin\n  WriteLn(undeclared_variable);\nend.\n",
                       ["main.pas(3", "Error", "undeclared_variable"]),
        runtime_error=("program Main;\nvar\n  f: Text;\nbegin\n  Assign(f, '/no/such/file');\n"
                       "  Reset(f);\nend.\n",
                       ["Runtime error 2"]),
        files=[("main.pas", "program Main;\nuses Greet;\nbegin\n  WriteLn(Greeting('files'));\nend.\n"),
               ("greet.pas", "unit Greet;\n\ninterface\n\nfunction Greeting(const who: string): string;\n\n"
                             "implementation\n\nfunction Greeting(const who: string): string;\nbegin\n"
                             "  Greeting := 'Hello, ' + who + '!';\nend;\n\nend.\n")],
    ),
    "csharp": dict(
        compiled=True, aliases=["cs", "c#"],
        stdin="using System;\n\nclass Program\n{\n    static void Main()\n    {\n"
              "        string name = Console.ReadLine();\n"
              "        Console.WriteLine(\"Hello, \" + name + \"!\");\n    }\n}\n",
        args="using System;\n\nclass Program\n{\n    static void Main(string[] args)\n    {\n"
             "        foreach (string a in args)\n            Console.WriteLine(a);\n    }\n}\n",
        compile_error=("class Program\n{\n    static void Main()\n    {\n        int x = \"text\";\n"
                       "    }\n}\n",
                       ["main.cs(5", "error CS0029"]),
        runtime_error=("using System;\n\nclass Program\n{\n    static void Main()\n    {\n"
                       "        int[] a = new int[1];\n        Console.WriteLine(a[5]);\n    }\n}\n",
                       ["System.IndexOutOfRangeException"]),
        files=[("main.cs", "using System;\n\nclass Program\n{\n    static void Main()\n    {\n"
                           "        Console.WriteLine(Greeter.Greeting(\"files\"));\n    }\n}\n"),
               ("greeter.cs", "static class Greeter\n{\n    public static string Greeting(string who)\n"
                              "    {\n        return \"Hello, \" + who + \"!\";\n    }\n}\n")],
    ),
    "r": dict(
        compiled=False, aliases=["rscript"],
        stdin='con <- file("stdin")\nname <- readLines(con, n = 1)\nclose(con)\n'
              'cat("Hello, ", name, "!\\n", sep = "")\n',
        args='for (a in commandArgs(trailingOnly = TRUE)) cat(a, "\\n", sep = "")\n',
        compile_error=NA("R is not compiled: a syntax error is a runtime error"),
        runtime_error=("x <- 1\nundefined_function(x)\n",
                       ['could not find function "undefined_function"', "Execution halted"]),
        files=[("main.R", 'source("greet.R")\ncat(greeting("files"), "\\n", sep = "")\n'),
               ("greet.R", 'greeting <- function(who) paste0("Hello, ", who, "!")\n')],
    ),
    "sqlite": dict(
        compiled=False, aliases=["sqlite3", "sql"],
        stdin="SELECT 'Hello, ' || trim(CAST(readfile('/dev/stdin') AS TEXT), char(10)) || '!';\n",
        args=NA("SQL programs take no command-line arguments"),
        compile_error=NA("SQL is not compiled: an error in a statement is a runtime error"),
        runtime_error=("SELECT 1;\nSELECT * FROM no_such_table;\nSELECT 2;\n",
                       ["no such table: no_such_table"]),
        files=[("main.sql", ".read greetings.sql\nSELECT greeting FROM greetings;\n"),
               ("greetings.sql", "CREATE TABLE greetings (greeting TEXT);\n"
                                 "INSERT INTO greetings VALUES ('Hello, files!');\n")],
    ),
    "plaintext": dict(
        compiled=False, aliases=["text"],
        stdin=NA("plain text is printed, not run: it reads no input"),
        args=NA("plain text is printed, not run: it takes no arguments"),
        compile_error=NA("plain text is not compiled"),
        runtime_error=NA("plain text is printed, not run: it cannot fail"),
        files=NA("plain text is printed, not run: it uses no other file"),
    ),
}

# Where a runtime error's exit status is not 1: PHP's and Perl's die is
# 255, Go's panic 2, Rust's 101, GFortran's runtime errors 2, Free Pascal's
# its error's number (2: file not found).
EXIT_STATUS = {"php": 255, "perl": 255, "go": 2, "rust": 101, "fortran": 2, "pascal": 2}


# --- Helpers -----------------------------------------------------------------------

def execute(s, body, what):
    r = s.post("/api/v1/execute", body, timeout=120)
    eq(r.status, 200, f"{what}: HTTP status ({r.body[:400]!r})")
    return r.json


def show(j):
    """The parts of an answer that say what went wrong."""
    parts = [f"status {j.get('status')!r}", f"message {j.get('message')!r}"]
    c = j.get("compile")
    if isinstance(c, dict):
        parts.append(f"compile {c.get('status')!r} {c.get('message')!r} "
                     f"output {(c.get('output') or '')[-600:]!r}")
    parts.append(f"stdout {(j.get('stdout') or '')[-300:]!r}")
    parts.append(f"stderr {(j.get('stderr') or '')[-600:]!r}")
    return "; ".join(parts)


def times(j):
    c = j.get("compile")
    run = f"run {j.get('wall_time_ms')} ms"
    if isinstance(c, dict):
        return f"compile {c.get('wall_time_ms')} ms, {run}"
    return run


def expect_ok(j, stdout, lang, what):
    check(j.get("status") == "ok", f"{what}: not ok: {show(j)}")
    eq(j.get("language"), lang, f"{what}: language")
    eq(j.get("stdout"), stdout, f"{what}: stdout ({show(j)})")
    eq(j.get("exit_code"), 0, f"{what}: exit_code")
    compiled = LANGS[lang]["compiled"]
    c = j.get("compile")
    if compiled:
        check(isinstance(c, dict), f"{what}: a compiled language's answer has no compile object")
        eq(c.get("status"), "ok", f"{what}: compile.status")
        eq(c.get("exit_code"), 0, f"{what}: compile.exit_code")
        for k in ("signal", "stdout", "stderr", "output", "wall_time_ms", "cpu_time_ms",
                  "memory_bytes", "message"):
            check(k in c, f"{what}: compile has no {k}")
    else:
        check(c is None, f"{what}: a language that is not compiled has compile {c!r}")


class Languages:
    """GET /api/v1/languages, fetched once, by name."""

    def __init__(self, s):
        r = s.get("/api/v1/languages")
        eq(r.status, 200, f"GET /api/v1/languages ({r.body[:300]!r})")
        self.list = r.json
        check(isinstance(self.list, list), f"/api/v1/languages is not a list: {self.list!r}")
        self.by_name = {x.get("language"): x for x in self.list if isinstance(x, dict)}

    def need(self, lang):
        x = self.by_name.get(lang)
        if x is None:
            raise Fail(f"the server does not offer {lang} (its packages are installed by "
                       f"tools/install-deps.sh --test; safexec check says why)")
        return x


# --- The tests of one language ------------------------------------------------------

def t_hello(s, langs, lang):
    info = langs.need(lang)
    hello = info.get("hello")
    check(isinstance(hello, str) and hello, f"no hello for {lang}: {info!r}")
    j = execute(s, {"language": lang, "code": hello}, "hello")
    expect_ok(j, "Hello World\n", lang, "hello")
    eq(j.get("stderr"), "", f"hello: stderr ({show(j)})")
    return times(j)


def t_stdin(s, langs, lang):
    prog = LANGS[lang]["stdin"]
    langs.need(lang)
    if isinstance(prog, NA):
        raise Skip(prog)
    j = execute(s, {"language": lang, "code": prog, "stdin": NAME + "\n"}, "stdin")
    expect_ok(j, GREETING, lang, "stdin")
    return times(j)


def t_args(s, langs, lang):
    prog = LANGS[lang]["args"]
    langs.need(lang)
    if isinstance(prog, NA):
        raise Skip(prog)
    j = execute(s, {"language": lang, "code": prog, "args": ARGS}, "args")
    expect_ok(j, "".join(a + "\n" for a in ARGS), lang, "args")
    return times(j)


def t_compile_error(s, langs, lang):
    case = LANGS[lang]["compile_error"]
    info = langs.need(lang)
    eq(info.get("compiled"), LANGS[lang]["compiled"], "compiled in /api/v1/languages")
    if isinstance(case, NA):
        raise Skip(case)
    prog, words = case
    j = execute(s, {"language": lang, "code": prog, "stdin": "x\n", "args": ["a"]},
                "compile error")
    eq(j.get("status"), "compile_error", f"status ({show(j)})")
    c = j.get("compile")
    check(isinstance(c, dict), f"no compile object: {show(j)}")
    check(c.get("status") != "ok", f"compile.status is ok: {show(j)}")
    check(c.get("exit_code") not in (0,), f"compile.exit_code is {c.get('exit_code')!r}")
    said = (c.get("stdout") or "") + (c.get("stderr") or "")
    for w in words:
        check(w in said, f"the compiler's message lacks {w!r}: {said[-800:]!r}")
    check(w in (c.get("output") or ""), "compile.output has the message too")
    # The run never started: its fields are empty.
    for k in ("stdout", "stderr", "output"):
        eq(j.get(k), "", f"run field {k}")
    eq(j.get("exit_code"), None, "run exit_code")
    eq(j.get("signal"), None, "run signal")
    check(j.get("message"), f"a compile error has a message: {j.get('message')!r}")
    return times(j)


def t_runtime_error(s, langs, lang):
    case = LANGS[lang]["runtime_error"]
    langs.need(lang)
    if isinstance(case, NA):
        raise Skip(case)
    prog, words = case
    j = execute(s, {"language": lang, "code": prog}, "runtime error")
    eq(j.get("status"), "runtime_error", f"status ({show(j)})")
    want = EXIT_STATUS.get(lang, 1)
    eq(j.get("exit_code"), want, f"exit_code ({show(j)})")
    eq(j.get("message"), f"Exited with code {want}", "message")
    for w in words:
        check(w in j.get("stderr", ""), f"stderr lacks {w!r}: {j.get('stderr', '')[-800:]!r}")
    if LANGS[lang]["compiled"]:
        eq((j.get("compile") or {}).get("status"), "ok", f"compile.status ({show(j)})")
    return times(j)


def t_files(s, langs, lang):
    files = LANGS[lang]["files"]
    langs.need(lang)
    if isinstance(files, NA):
        raise Skip(files)
    body = {"language": lang,
            "files": [{"name": n, "content": c, "encoding": "utf8"} for n, c in files]}
    j = execute(s, body, "files")
    expect_ok(j, FILES_GREETING, lang, "files")
    # The same with the second file in base64 and no encoding on the first.
    body["files"][0].pop("encoding")
    body["files"][1]["content"] = base64.b64encode(files[1][1].encode()).decode()
    body["files"][1]["encoding"] = "base64"
    j2 = execute(s, body, "files, base64")
    expect_ok(j2, FILES_GREETING, lang, "files, one in base64")
    return times(j)


def t_aliases(s, langs, lang):
    info = langs.need(lang)
    want = LANGS[lang]["aliases"]
    got = info.get("aliases")
    check(isinstance(got, list), f"aliases is {got!r}")
    for a in want:
        check(a in got, f"alias {a!r} not in {got!r}")
    if not got:
        raise Skip(f"{lang} has no aliases")
    for a in got:
        j = execute(s, {"language": a, "code": info["hello"]}, f"alias {a}")
        expect_ok(j, "Hello World\n", lang, f"alias {a!r}")
    return f"{len(got)} aliases"


def t_extra(s, langs, lang, name):
    prog, status, stdout, words, compile_cpu = LANGS[lang]["extra"][name]
    langs.need(lang)
    j = execute(s, {"language": lang, "code": prog}, name)
    eq(j.get("status"), status, f"status ({show(j)})")
    if compile_cpu is not None:
        took = (j.get("compile") or {}).get("cpu_time_ms")
        check(isinstance(took, int) and took <= compile_cpu,
              f"the compile took {took} ms of CPU time, more than {compile_cpu}")
    eq(j.get("stdout"), stdout, f"stdout ({show(j)})")
    for w in words:
        check(w in j.get("stderr", ""), f"stderr lacks {w!r}: {j.get('stderr', '')[-800:]!r}")
    return times(j)


PER_LANGUAGE = [("hello", t_hello), ("stdin", t_stdin), ("args", t_args),
                ("compile_error", t_compile_error), ("runtime_error", t_runtime_error),
                ("files", t_files), ("aliases", t_aliases)]


# --- Tests of the whole list ----------------------------------------------------------

def t_runtime_files_have_tests(s, langs):
    """Every runtime file of runtimes/ is a default language with tests here."""
    names = set()
    d = os.path.join(ROOT, "runtimes")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".conf"):
            continue
        with open(os.path.join(d, f)) as fh:
            for line in fh:
                k, _, v = line.partition("=")
                if k.strip() == "name":
                    names.add(v.strip().strip('"'))
    eq(sorted(names), sorted(LANGS), "the languages of runtimes/*.conf")


def t_languages_list(s, langs):
    fields = {"language", "display_name", "version", "aliases", "compiled", "extensions",
              "source_file", "hello", "limits"}
    missing = [lang for lang in LANGS if lang not in langs.by_name]
    check(not missing, f"not offered: {missing} (packages missing?)")
    for x in langs.list:
        name = x.get("language")
        check(fields <= set(x), f"{name}: fields {sorted(x)} lack {sorted(fields - set(x))}")
        check(isinstance(x["version"], str) and x["version"].strip(),
              f"{name}: empty version {x['version']!r}")
        check(any(ch.isdigit() for ch in x["version"]), f"{name}: version {x['version']!r}")
        check(isinstance(x["display_name"], str) and x["display_name"], f"{name}: display_name")
        # A multi-file project has no extension of its own.
        check(isinstance(x["extensions"], list) and (x["extensions"] or name == "multifile"),
              f"{name}: extensions")
        check(isinstance(x["source_file"], str) and x["source_file"], f"{name}: source_file")
        check(isinstance(x["compiled"], bool), f"{name}: compiled")
        check(isinstance(x["limits"], dict), f"{name}: limits")
        if name in LANGS:
            eq(x["compiled"], LANGS[name]["compiled"], f"{name}: compiled")
    # Every name and alias names one language only.
    seen = {}
    for x in langs.list:
        for n in [x.get("language")] + list(x.get("aliases") or []):
            check(n not in seen, f"{n!r} names both {seen.get(n)} and {x.get('language')}")
            seen[n] = x.get("language")
    return ", ".join(f"{x['language']} {x['version']}" for x in langs.list)


def t_default_limits(s, langs):
    """Every language runs within the original API's default limits (10 s,
    128 MiB, 64 processes) and compiles within the compile stage's (10 s,
    512 MiB, 64 processes): none of the runtime files needs more."""
    run_default = {"wall_time_ms": 10000, "cpu_time_ms": 10000, "memory_bytes": 128 << 20,
                   "max_processes": 64, "output_bytes": 1 << 20, "file_size_bytes": 16 << 20}
    compile_default = {"wall_time_ms": 10000, "cpu_time_ms": 10000, "memory_bytes": 512 << 20,
                       "max_processes": 64, "output_bytes": 1 << 20,
                       "file_size_bytes": 16 << 20}
    for lang in LANGS:
        lim = langs.need(lang).get("limits") or {}
        check(isinstance(lim.get("run"), dict), f"{lang}: limits {lim!r} have no run stage")
        eq(lim["run"].get("default"), run_default, f"{lang}: the run stage's default limits")
        if LANGS[lang]["compiled"]:
            check(isinstance(lim.get("compile"), dict), f"{lang}: no compile stage limits: {lim!r}")
            eq(lim["compile"].get("default"), compile_default,
               f"{lang}: the compile stage's default limits")
        else:
            check("compile" not in lim, f"{lang} is not compiled but has compile limits {lim!r}")


def t_bad_file_names(s, langs):
    """A file name the sandbox cannot take is a 400 that names it."""
    langs.need("python")
    unnamed = []
    for name in ("../main.py", "/etc/passwd", "a/../../b.py", "./main.py", "a//b.py",
                 "dir/", ".hidden.py", "n" * 62 + ".py", "x\u0000y.py"):
        r = s.post("/api/v1/execute", {"language": "python", "files": [
            {"name": "main.py", "content": "print(1)\n"},
            {"name": name, "content": "x = 1\n"}]})
        j = expect_error(r, 400, "invalid_request")
        msg = j["error"]["message"]
        # A NUL may be shown escaped, as \x00 or \u0000.
        if not any(n in msg for n in (name, name.replace("\0", "\\x00"),
                                      name.replace("\0", "\\u0000"))):
            unnamed.append(f"{name!r} (message {j['error']['message']!r})")
    r = s.post("/api/v1/execute", {"language": "python", "files": [
        {"name": "", "content": "print(1)\n"}]})
    expect_error(r, 400, "invalid_request")
    # Two files of the same name.
    r = s.post("/api/v1/execute", {"language": "python", "files": [
        {"name": "main.py", "content": "print(1)\n"}, {"name": "main.py", "content": "x\n"}]})
    expect_error(r, 400, "invalid_request", "main.py")
    # A bad encoding, and base64 that is not.
    r = s.post("/api/v1/execute", {"language": "python", "files": [
        {"name": "main.py", "content": "print(1)\n", "encoding": "rot13"}]})
    expect_error(r, 400, "invalid_request", "files[0]", "encoding")
    r = s.post("/api/v1/execute", {"language": "python", "files": [
        {"name": "main.py", "content": "!!!", "encoding": "base64"}]})
    expect_error(r, 400, "invalid_request", "main.py")
    check(not unnamed, "the 400's message does not name " + "; ".join(unnamed))


def t_code_and_files_conflict(s, langs):
    langs.need("python")
    r = s.post("/api/v1/execute", {"language": "python", "code": "print(1)",
                                   "files": [{"name": "main.py", "content": "print(2)"}]})
    check(r.status == 400, f"code and files together: HTTP {r.status} {r.body[:200]!r}")


def t_unknown_language(s, langs):
    r = s.post("/api/v1/execute", {"language": "no-such-language", "code": "x"})
    expect_error(r, 400, "unknown_language", "no-such-language")


def t_python_as_before(s, langs):
    """Python through the runtime file behaves as the original service's."""
    info = langs.need("python")
    r = s.post("/run", {"code": "import sys\nprint(sys.argv, sys.flags.ignore_environment, "
                                "sys.flags.no_user_site)\n"})
    eq(r.status, 200, "POST /run")
    eq(r.json["stdout"], "['/box/main.py'] 1 1\n", "/run: argv and flags")
    j = execute(s, {"code": "import sys\nprint(sys.argv)\n", "args": ["x"]}, "no language")
    eq(j["language"], "python", "the default language")
    eq(j["stdout"], "['/box/main.py', 'x']\n", "argv")
    check(info["version"].startswith("3."), f"python version {info['version']!r}")


WHOLE = [("runtime_files_have_tests", t_runtime_files_have_tests),
         ("languages_list", t_languages_list), ("default_limits", t_default_limits),
         ("bad_file_names", t_bad_file_names), ("code_and_files_conflict", t_code_and_files_conflict),
         ("unknown_language", t_unknown_language), ("python_as_before", t_python_as_before)]


# --- Runner ------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runtimes", help="the server's runtimes setting (default: its own)")
    ap.add_argument("only", nargs="*", help="glob patterns of test names (LANGUAGE/TEST)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"languages: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1

    tests = [(n, (lambda f: lambda s, langs: f(s, langs))(f)) for n, f in WHOLE]
    for lang in LANGS:
        for t, f in PER_LANGUAGE:
            tests.append((f"{lang}/{t}", (lambda f, lang: lambda s, langs: f(s, langs, lang))(f, lang)))
        for t in LANGS[lang].get("extra", {}):
            tests.append((f"{lang}/{t}", (lambda lang, t: lambda s, langs: t_extra(s, langs, lang, t))(lang, t)))
    if args.only:
        tests = [(n, f) for n, f in tests if any(fnmatch.fnmatch(n, p) for p in args.only)]

    passed = failed = skipped = 0
    start = time.time()
    extra = ["--workers", "2"] + (["--runtimes", args.runtimes] if args.runtimes else [])
    try:
        s = Server(binary, *extra)
    except Exception as e:
        print(f"FAIL server_start: {e}")
        print(f"{passed} passed, {failed + 1} failed, {skipped} skipped")
        return 1
    try:
        try:
            langs = Languages(s)
        except Exception as e:
            print(f"FAIL languages_fetch: {e}")
            print(f"{passed} passed, {failed + 1} failed, {skipped} skipped")
            return 1
        for name, fn in tests:
            t0 = time.time()
            try:
                note = fn(s, langs)
                extra_note = f", {note}" if isinstance(note, str) else ""
                print(f"ok   {name} ({time.time() - t0:.1f}s{extra_note})", flush=True)
                passed += 1
            except Skip as e:
                print(f"skip {name}: {e}", flush=True)
                skipped += 1
            except Exception as e:
                failed += 1
                print(f"FAIL {name}: {e}", flush=True)
                if not isinstance(e, Fail):
                    traceback.print_exc(file=sys.stdout)
    finally:
        rc = s.stop()
        if rc != 0:
            failed += 1
            print(f"FAIL server_stops_cleanly: exit status {rc}; stderr: {s.errors()}")
        s.close()
    print(f"languages took {time.time() - start:.0f} s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
