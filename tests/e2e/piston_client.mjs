// Piston's own client library, piston-client 1.0.2 as published, against a
// safexec server's /api/v2: what a program written for Piston sees.
//
//   PISTON_CLIENT_DIR=DIR node tests/e2e/piston_client.mjs http://127.0.0.1:8080
//
// DIR is where `npm install --prefix DIR piston-client@1.0.2` put it (DIR or
// DIR/node_modules).  Prints one JSON line per check; exits 1 on any
// mismatch or when the server cannot be reached, 2 when the client is not
// installed.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const server = process.argv[2];
if (!server) {
	console.error('usage: node piston_client.mjs SERVER_URL (PISTON_CLIENT_DIR=dir)');
	process.exit(2);
}

const dir = resolve(process.env.PISTON_CLIENT_DIR || 'node_modules');
const entry = [join(dir, 'node_modules', 'piston-client'), join(dir, 'piston-client')]
	.map(d => join(d, 'index.js')).find(existsSync);
if (!entry) {
	console.error(`piston-client is not installed under ${dir} ` +
		'(npm install --prefix DIR piston-client@1.0.2)');
	process.exit(2);
}
const { default: piston } = await import(pathToFileURL(entry).href);

// A server that accepts the connection and never answers must not hang
// the suite: node-fetch waits forever by default.
setTimeout(() => {
	console.log(JSON.stringify({ test: 'all', ok: false, error: 'timed out after 120 s' }));
	process.exit(1);
}, 120000).unref();

let failures = 0;
function report(test, ok, detail) {
	if (!ok)
		failures++;
	console.log(JSON.stringify({ test, ok, ...detail }));
}

// The client returns {success: false, error} instead of throwing.
function unreachable(r) {
	return r && r.success === false ? String(r.error && r.error.message || r.error) : null;
}

// Every field of a Piston stage, with the types Piston gives them.
function stageShapeErrors(stage) {
	const errs = [];
	if (!stage || typeof stage !== 'object')
		return ['missing'];
	for (const k of ['stdout', 'stderr', 'output'])
		if (typeof stage[k] !== 'string')
			errs.push(`${k} is not a string`);
	for (const k of ['code', 'cpu_time', 'wall_time', 'memory'])
		if (!(k in stage) || (stage[k] !== null && typeof stage[k] !== 'number'))
			errs.push(`${k} is not a number or null`);
	for (const k of ['signal', 'message', 'status'])
		if (!(k in stage) || (stage[k] !== null && typeof stage[k] !== 'string'))
			errs.push(`${k} is not a string or null`);
	return errs;
}

const client = piston({ server });

// 1. GET /api/v2/runtimes
const runtimes = await client.runtimes();
const down = unreachable(runtimes);
if (down) {
	report('runtimes', false, { error: `cannot reach ${server}: ${down}` });
	process.exit(1);
}
{
	const ok = Array.isArray(runtimes) && runtimes.every(r =>
		typeof r.language === 'string' && typeof r.version === 'string' &&
		/^\d+\.\d+\.\d+$/.test(r.version) && Array.isArray(r.aliases));
	const python = Array.isArray(runtimes) && runtimes.find(r => r.language === 'python');
	report('runtimes', ok && !!python, {
		count: Array.isArray(runtimes) ? runtimes.length : null,
		python: python ? python.version : null,
		languages: Array.isArray(runtimes) ? runtimes.map(r => r.language) : runtimes,
	});
}
const has = language => Array.isArray(runtimes) && runtimes.some(r => r.language === language);

// 2. The README's example, with every default of the client.
{
	const r = await client.execute('python', 'print("Hello World")');
	const errs = stageShapeErrors(r && r.run);
	const ok = r && r.language === 'python' && errs.length === 0 &&
		r.run.stdout === 'Hello World\n' && r.run.stderr === '' &&
		r.run.output === 'Hello World\n' && r.run.code === 0 && r.run.signal === null &&
		r.run.status === null && r.run.message === null && !('compile' in r);
	report('python_hello', !!ok, { result: r, shape: errs });
}

// 3. The client's default args reach the program; a non-zero exit is RE.
{
	const r = await client.execute('python',
		'import sys\nprint(sys.argv[1:])\nsys.exit(3)', { version: '3.x' });
	const ok = r && r.run && r.run.stdout === "['1', '2', '3']\n" && r.run.code === 3 &&
		r.run.status === 'RE' && r.run.message === 'Exited with error status 3' &&
		r.run.signal === null;
	report('python_args_exit', !!ok, { result: r });
}

// 4. C: compiled, stdin read, the compile stage shown.
if (has('c')) {
	const code = '#include <stdio.h>\n' +
		'int main(int argc, char **argv)\n{\n\tint n;\n' +
		'\tif (scanf("%d", &n) != 1)\n\t\treturn 2;\n' +
		'\tprintf("%d %d\\n", n * 2, argc - 1);\n\treturn 0;\n}\n';
	const r = await client.execute('c', code, { stdin: '21' });
	const errs = stageShapeErrors(r && r.run).concat(stageShapeErrors(r && r.compile));
	const ok = r && r.language === 'c' && errs.length === 0 &&
		r.compile.code === 0 && r.compile.status === null &&
		r.run.stdout === '42 3\n' && r.run.code === 0 && r.run.status === null;
	report('c_stdin', !!ok, { result: r, shape: errs });

	// 5. A compile error: the compile's failure, repeated as the run.
	const bad = await client.execute('c', 'int main( {\n');
	const okBad = bad && bad.compile && bad.compile.code !== 0 &&
		bad.compile.status === 'RE' && /error/.test(bad.compile.stderr) &&
		isDeepStrictEqual(bad.run, bad.compile);
	report('c_compile_error', !!okBad, { result: bad });
} else {
	report('c_stdin', true, { skipped: 'no c runtime on this server' });
	report('c_compile_error', true, { skipped: 'no c runtime on this server' });
}

// 6. A language the server lacks: the client sends no version, and the
// server answers as Piston does.
{
	const r = await client.execute('no-such-language', 'x');
	const ok = r && r.message === 'version is required as a string';
	report('unknown_language', !!ok, { result: r });
	const r2 = await client.execute('python', 'x', { version: '0.1' });
	const ok2 = r2 && r2.message === 'python-0.1 runtime is unknown';
	report('unknown_version', !!ok2, { result: r2 });
}

console.log(JSON.stringify({ test: 'all', ok: failures === 0, failures }));
process.exit(failures === 0 ? 0 : 1);
