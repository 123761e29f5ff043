// Checks safexec's OpenAPI document, and answers against it, with real
// validators from npm: @apidevtools/swagger-parser (the document against
// the OpenAPI 3.1 schema, every $ref resolved) and Ajv's JSON Schema
// 2020-12 validator with ajv-formats (each answer's body against the
// schema the document gives for its path, method, status and media type).
//
//   OPENAPI_NPM_DIR=DIR node tests/e2e/openapi_check.mjs validate DOC.json
//   OPENAPI_NPM_DIR=DIR node tests/e2e/openapi_check.mjs answers DOC.json ANSWERS.json
//
// DIR is where tests/e2e/openapi.py installed the packages (DIR/node_modules).
// ANSWERS.json is a list of {method, path, status, headers: {name: value},
// content_type, body, request?}: body is the parsed JSON (or the text of
// another media type), request the JSON body sent, which must fit the
// operation's request schema when the answer is a 2xx.  A path the document
// does not list must be answered as components.responses.NotFound (404), a
// method a listed path does not list as components.responses.MethodNotAllowed
// (405), either of them as components.responses.UnknownHost (403) too; a
// status the operation does not list fails.  Prints one JSON line per answer
// ({i, ok, error}), or one for the document ({ok, error}); exits 0 when all
// pass, 1 when one fails, 2 when the packages are missing or the input
// cannot be read.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [mode, docFile, answersFile] = process.argv.slice(2);
if (!['validate', 'answers'].includes(mode) || !docFile || (mode === 'answers' && !answersFile)) {
	console.error('usage: node openapi_check.mjs validate DOC | answers DOC ANSWERS');
	process.exit(2);
}
const dir = resolve(process.env.OPENAPI_NPM_DIR || '.');
if (!existsSync(join(dir, 'node_modules', '@apidevtools', 'swagger-parser'))) {
	console.error(`@apidevtools/swagger-parser is not installed under ${dir}`);
	process.exit(2);
}
const require = createRequire(join(dir, 'node_modules', 'index.js'));
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

let doc;
try {
	doc = JSON.parse(readFileSync(docFile, 'utf8'));
} catch (e) {
	console.error(`cannot read ${docFile}: ${e.message}`);
	process.exit(2);
}

// The document against the OpenAPI 3.1 schema; validate() also resolves
// every $ref (a missing target fails).  It changes what it is given: a copy.
// Then (both modes) every schema in it must compile with Ajv in strict mode
// and its examples fit their schemas.
try {
	await SwaggerParser.validate(structuredClone(doc));
} catch (e) {
	console.log(JSON.stringify({ ok: false, error: String(e.message).slice(0, 2000) }));
	process.exit(1);
}
const api = await SwaggerParser.dereference(structuredClone(doc));
// Strict: a keyword Ajv does not know (a typo in the document) is an error.
const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
addFormats(ajv);
const compiled = new Map();
function validator(schema) {
	if (!compiled.has(schema))
		compiled.set(schema, ajv.compile(schema));
	return compiled.get(schema);
}

// Every schema compiles (in strict mode), answered here or not, and the
// document's own examples fit theirs.
try {
	const ops = Object.values(api.paths).flatMap(item => Object.values(item));
	const media = [...ops.flatMap(op => Object.values((op.requestBody || {}).content || {})),
		...[...ops.flatMap(op => Object.values(op.responses || {})),
			...Object.values(api.components.responses)]
			.flatMap(resp => Object.values(resp.content || {}))];
	const examples = [];
	for (const m of media) {
		validator(m.schema);
		for (const [name, ex] of Object.entries(m.examples || {}))
			examples.push([`example ${name}`, m.schema, ex.value]);
	}
	const others = [...ops.flatMap(op => op.parameters || []),
		...Object.values(api.components.headers || {}),
		...Object.values(api.components.responses).flatMap(r => Object.values(r.headers || {}))];
	for (const x of others)
		validator(x.schema);
	for (const [name, schema] of Object.entries(api.components.schemas)) {
		validator(schema);
		for (const ex of schema.examples || [])
			examples.push([`components.schemas.${name}'s example`, schema, ex]);
	}
	for (const [what, schema, value] of examples)
		if (!validator(schema)(value)) {
			console.log(JSON.stringify({ ok: false, error: `${what} does not fit its schema: ` +
				ajv.errorsText(validator(schema).errors, { separator: '; ' }) }));
			process.exit(1);
		}
} catch (e) {
	console.log(JSON.stringify({ ok: false, error: `a schema does not compile: ${e.message}` }));
	process.exit(1);
}
if (mode === 'validate') {
	console.log(JSON.stringify({ ok: true }));
	process.exit(0);
}

// Concrete paths first, then templated ones ({name}: one segment).
const paths = Object.keys(api.paths).sort((a, b) => a.includes('{') - b.includes('{'));
const matchers = paths.map(p => [p, new RegExp('^' + p.replace(/[.]/g, '\\.')
	.replace(/\{[^}]+\}/g, '[^/]+') + '$')]);

function check(a) {
	const path = a.path.split('?')[0];
	const found = matchers.find(([, re]) => re.test(path));
	let resp, where;
	if (!(found && found[1] && api.paths[found[0]][a.method.toLowerCase()]) && a.status === 403) {
		// The Host header is checked before the path and the method.
		resp = api.components.responses.UnknownHost;
		where = `${a.method} ${path} (unknown host)`;
	} else if (!found) {
		if (a.status !== 404)
			return `${path} is not in the document, so its answer must be 404, not ${a.status}`;
		resp = api.components.responses.NotFound;
		where = `${a.method} ${path} (no such path)`;
	} else {
		const op = api.paths[found[0]][a.method.toLowerCase()];
		if (!op) {
			if (a.status !== 405)
				return `${found[0]} has no ${a.method}, so its answer must be 405, not ${a.status}`;
			resp = api.components.responses.MethodNotAllowed;
			where = `${a.method} ${found[0]} (no such method)`;
		} else {
			resp = op.responses[String(a.status)];
			where = `${a.method} ${found[0]} ${a.status}`;
			if (!resp)
				return `status ${a.status} is not documented for ${a.method} ${found[0]} ` +
					`(documented: ${Object.keys(op.responses).join(', ')})`;
			// A request the server took must be one the document allows.
			const body = ((op.requestBody || {}).content || {})['application/json'];
			if (body && 'request' in a && a.status < 300 && !validator(body.schema)(a.request))
				return `${where}: the request the server took does not fit the document's: ` +
					ajv.errorsText(validator(body.schema).errors, { separator: '; ' });
		}
	}
	const headers = Object.fromEntries(Object.entries(a.headers || {})
		.map(([k, v]) => [k.toLowerCase(), v]));
	for (const [name, h] of Object.entries(resp.headers || {})) {
		const v = headers[name.toLowerCase()];
		if (v === undefined) {
			if (h.required)
				return `${where}: no ${name} header`;
			continue;
		}
		if (h.schema && !validator(h.schema)(v))
			return `${where}: header ${name}: ${v}: ${ajv.errorsText(validator(h.schema).errors)}`;
	}
	const type = String(a.content_type || '').split(';')[0].trim().toLowerCase();
	const media = (resp.content || {})[type];
	if (!media)
		return `${where}: Content-Type ${a.content_type} is not documented ` +
			`(documented: ${Object.keys(resp.content || {}).join(', ') || 'none'})`;
	const validate = validator(media.schema);
	if (!validate(a.body))
		return `${where}: ${ajv.errorsText(validate.errors, { separator: '; ' })}`.slice(0, 2000);
	return null;
}

let answers;
try {
	answers = JSON.parse(readFileSync(answersFile, 'utf8'));
} catch (e) {
	console.error(`cannot read ${answersFile}: ${e.message}`);
	process.exit(2);
}
let failed = 0;
answers.forEach((a, i) => {
	let error;
	try {
		error = check(a);
	} catch (e) {
		error = `checker: ${e.message}`;
	}
	if (error)
		failed++;
	console.log(JSON.stringify({ i, ok: !error, error: error || undefined }));
});
process.exit(failed ? 1 : 0);
