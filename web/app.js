// safexec web page: a language, a small editor, tests, a Run button, the result
// (the compile stage's apart, the files the program returned) and the history.
//
// Everything the server returns (output, code, previews, language names) is
// untrusted, so it only ever reaches the page through textContent or a
// form control's value, never through innerHTML.
'use strict';

(function () {
	const HISTORY_PAGE = 20;
	// What this browser keeps between visits (localStorage).
	const STORE_LANGUAGE = 'safexec.language';
	const STORE_DRAFTS = 'safexec.drafts';
	const STORE_LANGUAGES = 'safexec.languages';
	const STORE_TESTS = 'safexec.tests';
	const STORE_OUTPUT_FILES = 'safexec.outputFiles';
	// The most tests one request may carry.
	const MAX_TESTS = 256;
	// The returned files shown inline as images, by the type the server
	// gives them (from their names).  An SVG is only ever an <img>'s source:
	// an image runs no script and loads nothing, markup in the page would.
	const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml']);
	// The bytes of a text file shown in its viewer; the rest is downloaded.
	const TEXT_VIEW_MAX = 256 * 1024;
	// Used until the server's list has come (and if it never does).
	const PYTHON = {
		language: 'python',
		display_name: 'Python 3',
		version: '',
		aliases: ['python3', 'py'],
		compiled: false,
		extensions: ['py'],
		source_file: 'main.py',
		hello: 'print("Hello World")\n',
		limits: null,
	};

	const $ = (id) => document.getElementById(id);
	const el = {
		language: $('language'),
		sourceFile: $('source-file'),
		languageNote: $('language-note'),
		draftNote: $('draft-note'),
		draftText: $('draft-text'),
		draftBring: $('draft-bring'),
		draftClose: $('draft-close'),
		code: $('code'),
		gutter: $('gutter'),
		cursorPos: $('cursor-pos'),
		run: $('run'),
		runLabel: document.querySelector('#run .btn-label'),
		runHint: $('run-hint'),
		stop: $('stop'),
		stdin: $('stdin'),
		stdinFold: $('stdin-fold'),
		args: $('args'),
		limitWall: $('limit-wall'),
		limitMemory: $('limit-memory'),
		limitsHelp: $('limits-help'),
		compile: $('compile'),
		compileStatus: $('compile-status'),
		compileMetrics: $('compile-metrics'),
		cWall: $('c-wall'),
		cCpu: $('c-cpu'),
		cMem: $('c-mem'),
		compileOutput: $('compile-output'),
		compileNone: $('compile-none'),
		compileTrunc: $('compile-trunc'),
		status: $('status'),
		runId: $('run-id'),
		metrics: $('metrics'),
		mWall: $('m-wall'),
		mCpu: $('m-cpu'),
		mMem: $('m-mem'),
		error: $('error'),
		stdoutBlock: $('stdout-block'),
		stdout: $('stdout'),
		stdoutTrunc: $('stdout-trunc'),
		stderrBlock: $('stderr-block'),
		stderr: $('stderr'),
		stderrTrunc: $('stderr-trunc'),
		noOutput: $('no-output'),
		streams: $('streams'),
		historyList: $('history-list'),
		historyNote: $('history-note'),
		historyMore: $('history-more'),
		historyRefresh: $('history-refresh'),
		testsFold: $('tests-fold'),
		testsCount: $('tests-count'),
		testCases: $('test-cases'),
		testAdd: $('test-add'),
		stopOnFailure: $('stop-on-failure'),
		testResults: $('test-results'),
		testResultList: $('test-result-list'),
		outputFiles: $('output-files'),
		files: $('files'),
		filesTitle: $('files-title'),
		fileList: $('file-list'),
		filesNone: $('files-none'),
		filesDropped: $('files-dropped'),
	};

	let running = false;
	// The run in flight (its AbortController), which Stop aborts.
	let inFlight = null;
	let selectedId = null;
	// The object URLs of the files shown, revoked when the output is cleared.
	const objectUrls = [];
	let nextBefore = null;
	// Escape hands Tab back to the browser once, so keyboard users can leave
	// the editor (the usual convention of code editors in web pages).
	let tabEscapes = false;

	const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
	if (isMac) el.runHint.textContent = '⌘+Enter';

	// ---- Formatting -------------------------------------------------------

	// Numbers without needless decimals: 10 -> "10", 2.5 -> "2.5", 1.25 -> "1.25".
	function trimNumber(n, maxDecimals) {
		return String(Number(n.toFixed(maxDecimals)));
	}

	// A configured limit, in seconds: 10000 -> "10 s", 500 -> "0.5 s".
	function formatLimitTime(ms) {
		return trimNumber(ms / 1000, 3) + ' s';
	}

	// A byte size in binary units without needless decimals: "128 MiB", "1.5 GiB".
	function formatBytes(bytes, maxDecimals) {
		const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
		let v = bytes;
		let i = 0;
		while (v >= 1024 && i < units.length - 1) {
			v /= 1024;
			i++;
		}
		if (i === 0) return v + (v === 1 ? ' byte' : ' bytes');
		return trimNumber(v, maxDecimals) + ' ' + units[i];
	}

	// Time used: "37 ms" below a second, else "1.24 s".
	function formatDuration(ms) {
		if (ms < 1000) return Math.round(ms) + ' ms';
		if (ms < 10000) return trimNumber(ms / 1000, 2) + ' s';
		return trimNumber(ms / 1000, 1) + ' s';
	}

	function isNum(v) {
		return typeof v === 'number' && Number.isFinite(v);
	}

	// The run stage's effective limits: the answer's `limits`, or their
	// `run` part where the server gives each stage its own.
	function runLimits(r) {
		const lim = r && r.limits && typeof r.limits === 'object' ? r.limits : {};
		return lim.run && typeof lim.run === 'object' ? lim.run : lim;
	}

	// The compile stage's effective limits (`compile_limits`), where the
	// answer has them.
	function compileLimits(r) {
		const lim = r.compile_limits;
		return lim && typeof lim === 'object' ? lim : {};
	}

	// The status of a run in words, with the limit that stopped it.
	function describeStatus(r) {
		const lim = runLimits(r);
		switch (r.status) {
		case 'ok':
			return { text: 'Finished (exit ' + (isNum(r.exit_code) ? r.exit_code : 0) + ')', kind: 'ok' };
		case 'runtime_error':
			return { text: 'Exited with code ' + r.exit_code, kind: 'bad' };
		case 'signaled':
			return { text: 'Killed by signal ' + r.signal, kind: 'bad' };
		case 'timeout':
			return {
				text: 'Time limit exceeded' + (isNum(lim.wall_time_ms) ? ' (' + formatLimitTime(lim.wall_time_ms) + ')' : ''),
				kind: 'warn',
			};
		case 'memory_limit':
			return {
				text: 'Memory limit exceeded' + (isNum(lim.memory_bytes) ? ' (' + formatBytes(lim.memory_bytes, 2) + ')' : ''),
				kind: 'warn',
			};
		case 'output_limit':
			return {
				text: 'Output limit exceeded' + (isNum(lim.output_bytes) ? ' (' + formatBytes(lim.output_bytes, 2) + ')' : ''),
				kind: 'warn',
			};
		case 'compile_error':
			return { text: 'Compilation failed', kind: 'bad' };
		case 'internal_error':
			return { text: 'Internal error', kind: 'bad' };
		default:
			return { text: 'Unknown status: ' + String(r.status), kind: 'bad' };
		}
	}

	// The compile stage's status in words.
	function describeCompile(c, lim) {
		if (c.status === 'ok') return { text: 'Compiled', kind: 'ok' };
		if (c.status === 'runtime_error') {
			return { text: 'Compilation failed (exit ' + c.exit_code + ')', kind: 'bad' };
		}
		const st = describeStatus({ status: c.status, exit_code: c.exit_code, signal: c.signal, limits: lim });
		// Without the stage's limits the server's own words name the limit.
		const limitless = Object.keys(lim).length === 0;
		const text = limitless && typeof c.message === 'string' && c.message ? c.message : st.text;
		return { text: 'Compilation failed: ' + text, kind: st.kind };
	}

	// A test's verdict (or a run's, over its tests) in words, and its
	// colour: accepted green, a wrong answer red, a test that did not run
	// grey, any other way of failing orange.
	function describeVerdict(v) {
		switch (v) {
		case 'accepted': return { text: 'Accepted', kind: 'ok' };
		case 'wrong_answer': return { text: 'Wrong answer', kind: 'bad' };
		case 'not_run': return { text: 'Not run', kind: 'neutral' };
		case 'compile_error': return { text: 'Compilation failed', kind: 'bad' };
		case 'runtime_error': return { text: 'Runtime error', kind: 'warn' };
		case 'signaled': return { text: 'Killed by a signal', kind: 'warn' };
		case 'timeout': return { text: 'Time limit exceeded', kind: 'warn' };
		case 'memory_limit': return { text: 'Memory limit exceeded', kind: 'warn' };
		case 'output_limit': return { text: 'Output limit exceeded', kind: 'warn' };
		case 'internal_error': return { text: 'Internal error', kind: 'warn' };
		default: return { text: 'Verdict: ' + String(v), kind: 'warn' };
		}
	}

	// The short label of a history badge: the verdict of a run with tests
	// that ran to the end (its status is only that of the deciding test).
	function badgeFor(item) {
		if (item.verdict === 'accepted') return { text: 'Accepted', kind: 'ok' };
		if (item.verdict === 'wrong_answer') return { text: 'Wrong answer', kind: 'bad' };
		switch (item.status) {
		case 'ok': return { text: 'OK', kind: 'ok' };
		case 'runtime_error': return { text: 'Exit ' + item.exit_code, kind: 'bad' };
		case 'signaled': return { text: 'Signal ' + item.signal, kind: 'bad' };
		case 'timeout': return { text: 'Time limit', kind: 'warn' };
		case 'memory_limit': return { text: 'Memory limit', kind: 'warn' };
		case 'output_limit': return { text: 'Output limit', kind: 'warn' };
		case 'compile_error': return { text: 'Compile error', kind: 'bad' };
		case 'internal_error': return { text: 'Error', kind: 'bad' };
		default: return { text: String(item.status), kind: 'neutral' };
		}
	}

	// created_at may be an ISO 8601 string or a Unix time in seconds or ms.
	function parseTime(v) {
		if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v);
		if (typeof v === 'string') {
			const d = new Date(v);
			if (!Number.isNaN(d.getTime())) return d;
		}
		return null;
	}

	function relativeTime(d) {
		const s = Math.round((Date.now() - d.getTime()) / 1000);
		if (s < 45) return 'just now';
		if (s < 3600) return Math.round(s / 60) + ' min ago';
		if (s < 86400) return Math.round(s / 3600) + ' h ago';
		const sameYear = d.getFullYear() === new Date().getFullYear();
		return d.toLocaleDateString(undefined, sameYear ?
			{ month: 'short', day: 'numeric' } : { year: 'numeric', month: 'short', day: 'numeric' });
	}

	// ---- Editor -----------------------------------------------------------

	let gutterLines = 0;

	function updateGutter() {
		let n = 1;
		const v = el.code.value;
		for (let i = v.indexOf('\n'); i !== -1; i = v.indexOf('\n', i + 1)) n++;
		if (n !== gutterLines) {
			const parts = new Array(n);
			for (let i = 0; i < n; i++) parts[i] = i + 1;
			el.gutter.textContent = parts.join('\n');
			gutterLines = n;
		}
		syncScroll();
		updateCursor();
	}

	function syncScroll() {
		el.gutter.scrollTop = el.code.scrollTop;
	}

	function updateCursor() {
		const v = el.code.value;
		const pos = el.code.selectionEnd;
		let line = 1;
		for (let i = v.indexOf('\n'); i !== -1 && i < pos; i = v.indexOf('\n', i + 1)) line++;
		const col = pos - lineStart(v, pos) + 1;
		const sel = Math.abs(el.code.selectionEnd - el.code.selectionStart);
		el.cursorPos.textContent = 'Ln ' + line + ', Col ' + col + (sel ? ' (' + sel + ' selected)' : '');
	}

	// Replaces [start, end) with text the way typing would, so that undo
	// (Ctrl+Z) keeps working; falls back to setRangeText where execCommand
	// is not available.
	function replaceRange(start, end, text, selStart, selEnd) {
		const ta = el.code;
		ta.focus();
		ta.setSelectionRange(start, end);
		let done = false;
		if (text.length > 0 || start !== end) {
			try {
				done = text.length > 0 ?
					document.execCommand('insertText', false, text) :
					document.execCommand('delete', false);
			} catch (e) {
				done = false;
			}
			if (!done || ta.value.slice(start, start + text.length) !== text) {
				ta.setRangeText(text, start, end, 'end');
				done = true;
			}
		}
		ta.setSelectionRange(selStart, selEnd);
		updateGutter();
	}

	function lineStart(v, pos) {
		return v.lastIndexOf('\n', pos - 1) + 1;
	}

	// What Tab inserts: a tab where the language's template indents with
	// tabs, else four spaces.
	let indentUnit = '    ';

	function indentLines(dedent) {
		const ta = el.code;
		const v = ta.value;
		const s = ta.selectionStart;
		let e = ta.selectionEnd;
		const multi = v.slice(s, e).indexOf('\n') !== -1;

		if (!dedent && !multi) {
			replaceRange(s, e, indentUnit, s + indentUnit.length, s + indentUnit.length);
			return;
		}

		// A selection ending at the start of a line does not take that line.
		if (multi && e > s && v[e - 1] === '\n') e--;
		const from = lineStart(v, s);
		let to = v.indexOf('\n', e);
		if (to === -1) to = v.length;
		const lines = v.slice(from, to).split('\n');
		let firstDelta = 0;
		let total = 0;
		const out = lines.map((line, i) => {
			let d;
			let res;
			if (dedent) {
				const m = /^( {1,4}|\t)/.exec(line);
				d = m ? -m[0].length : 0;
				res = line.slice(-d);
			} else {
				d = indentUnit.length;
				res = indentUnit + line;
			}
			if (i === 0) firstDelta = d;
			total += d;
			return res;
		});
		if (total === 0) return;
		const text = out.join('\n');
		if (!multi) {
			const caret = Math.max(from, s + firstDelta);
			replaceRange(from, to, text, caret, Math.max(from, ta.selectionEnd + firstDelta));
			return;
		}
		const newStart = Math.max(from, s + firstDelta);
		replaceRange(from, to, text, newStart, from + text.length);
	}

	function newlineKeepingIndent() {
		const ta = el.code;
		const v = ta.value;
		const s = ta.selectionStart;
		const from = lineStart(v, s);
		const before = v.slice(from, s);
		let indent = /^[ \t]*/.exec(before)[0];
		// A block opener (an open bracket, or Python's colon): the next line
		// goes one level deeper.
		const opener = current.language === 'python' ? /[:{([]\s*(#.*)?$/ : /[{([]\s*(\/\/.*)?$/;
		if (opener.test(before)) indent += indentUnit;
		const text = '\n' + indent;
		replaceRange(s, ta.selectionEnd, text, s + text.length, s + text.length);
	}

	function isRunShortcut(ev) {
		return ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !ev.altKey;
	}

	el.code.addEventListener('keydown', (ev) => {
		if (ev.isComposing) return;
		if (ev.key === 'Escape') {
			tabEscapes = true;
			return;
		}
		if (ev.key === 'Tab' && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
			if (tabEscapes) {
				tabEscapes = false;
				return;
			}
			ev.preventDefault();
			indentLines(ev.shiftKey);
			return;
		}
		tabEscapes = false;
		if (isRunShortcut(ev)) {
			ev.preventDefault();
			run();
			return;
		}
		if (ev.key === 'Enter' && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
			ev.preventDefault();
			newlineKeepingIndent();
		}
	});
	el.code.addEventListener('blur', () => { tabEscapes = false; });
	el.code.addEventListener('input', () => {
		updateGutter();
		hideDraftNote();
		keepDraftSoon();
	});
	// selectionchange fires on the textarea itself in current Chromium and
	// Firefox; the document-level event covers the rest.
	document.addEventListener('selectionchange', () => {
		if (document.activeElement === el.code) updateCursor();
	});
	el.code.addEventListener('keyup', updateCursor);
	el.code.addEventListener('mouseup', updateCursor);
	el.code.addEventListener('scroll', syncScroll);
	// Resizing the editor changes how far the textarea can scroll.
	if (typeof ResizeObserver === 'function') new ResizeObserver(syncScroll).observe(el.code);

	// Ctrl+Enter also runs from the language, stdin, arguments, limits,
	// tests and the output files' checkbox.
	for (const field of [el.language, el.stdin, el.args, el.limitWall, el.limitMemory, el.testCases,
		el.stopOnFailure, el.outputFiles]) {
		field.addEventListener('keydown', (ev) => {
			if (isRunShortcut(ev)) {
				ev.preventDefault();
				run();
			}
		});
	}

	// ---- Languages and drafts ---------------------------------------------

	// The server's languages, as GET /api/v1/languages lists them, with what
	// an older server leaves out filled in.
	let languages = [PYTHON];
	let current = PYTHON;
	// Code the user wrote, per language: what the editor held when it was
	// neither empty nor that language's untouched template.  Kept in this
	// browser, so that neither a switch nor a reload loses it.
	const drafts = new Map();
	// Until the first language is in place the editor's (empty) text is
	// nobody's draft.
	let editorReady = false;
	// The language whose draft the note under the toolbar offers.
	let offered = null;

	function readStore(key) {
		try {
			const v = localStorage.getItem(key);
			return v === null ? null : JSON.parse(v);
		} catch (e) {
			return null;
		}
	}

	// False when the browser keeps nothing (storage off, or full).
	function writeStore(key, value) {
		try {
			localStorage.setItem(key, JSON.stringify(value));
			return true;
		} catch (e) {
			return false;
		}
	}

	{
		const saved = readStore(STORE_DRAFTS);
		if (Array.isArray(saved)) {
			for (const d of saved) {
				if (Array.isArray(d) && typeof d[0] === 'string' && typeof d[1] === 'string') drafts.set(d[0], d[1]);
			}
		}
	}

	function strings(v) {
		return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
	}

	function normalizeLanguage(item) {
		if (!item || typeof item !== 'object' || typeof item.language !== 'string' || !item.language) return null;
		const py = item.language === PYTHON.language;
		const str = (v, fallback) => (typeof v === 'string' && v !== '' ? v : fallback);
		const extensions = strings(item.extensions);
		return {
			language: item.language,
			display_name: str(item.display_name, py ? PYTHON.display_name : item.language),
			version: str(item.version, ''),
			aliases: strings(item.aliases),
			compiled: item.compiled === true,
			extensions: extensions,
			source_file: str(item.source_file, py ? PYTHON.source_file :
				'main' + (extensions.length ? '.' + extensions[0] : '')),
			hello: typeof item.hello === 'string' ? item.hello : (py ? PYTHON.hello : ''),
			limits: item.limits && typeof item.limits === 'object' ? item.limits : null,
		};
	}

	function findLanguage(name, list) {
		if (typeof name !== 'string') return null;
		const all = list || languages;
		return all.find((l) => l.language === name) || all.find((l) => l.aliases.indexOf(name) !== -1) || null;
	}

	// A language's limits for one stage ('run' or 'compile'), 'default' or 'max'.
	function stageLimits(lang, stage, which) {
		const s = lang.limits && lang.limits[stage];
		const v = s && s[which];
		return v && typeof v === 'object' ? v : {};
	}

	function untouched(text, lang) {
		const t = text.trim();
		return t === '' || t === lang.hello.trim();
	}

	let draftTimer = 0;

	// The editor's text becomes the current language's draft, or stops being
	// one when it is empty or the template again.
	function keepDraft() {
		clearTimeout(draftTimer);
		draftTimer = 0;
		if (!editorReady) return;
		if (untouched(el.code.value, current)) drafts.delete(current.language);
		else drafts.set(current.language, el.code.value);
		writeStore(STORE_DRAFTS, Array.from(drafts));
	}

	// While the user types, at most every half second.
	function keepDraftSoon() {
		if (!draftTimer) draftTimer = setTimeout(keepDraft, 500);
	}

	function setCode(text) {
		el.code.value = text;
		el.code.scrollTop = 0;
		el.code.setSelectionRange(0, 0);
		updateGutter();
	}

	function fillLanguageSelect() {
		el.language.textContent = '';
		for (const l of languages) {
			const o = document.createElement('option');
			o.value = l.language;
			o.textContent = l.display_name + (l.version ? ' \u00b7 ' + l.version : '');
			el.language.appendChild(o);
		}
		el.language.value = current.language;
	}

	// What depends on the language besides the code: the file name, the
	// indentation, the limits' placeholders and bounds.
	function applyLanguage() {
		el.language.value = current.language;
		el.sourceFile.textContent = current.source_file;
		indentUnit = /^\t/m.test(current.hello) ? '\t' : '    ';
		const def = stageLimits(current, 'run', 'default');
		const max = stageLimits(current, 'run', 'max');
		el.limitWall.placeholder = isNum(def.wall_time_ms) ? trimNumber(def.wall_time_ms / 1000, 3) : 'default';
		el.limitMemory.placeholder = isNum(def.memory_bytes) ? trimNumber(def.memory_bytes / 1048576, 2) : 'default';
		const most = [];
		if (isNum(max.wall_time_ms)) most.push(formatLimitTime(max.wall_time_ms));
		if (isNum(max.memory_bytes)) most.push(formatBytes(max.memory_bytes, 2));
		el.limitsHelp.textContent = 'Leave empty for ' + current.display_name + "'s default" +
			(most.length ? '; at most ' + most.join(' and ') : '') + '.';
	}

	function hideDraftNote() {
		offered = null;
		el.draftNote.hidden = true;
	}

	// After a switch away from code the user wrote, to a language that has
	// none of its own: say where that code went, and offer it here.
	function offerDraft(from) {
		offered = from;
		el.draftText.textContent = 'Your ' + from.display_name + ' code is kept: it comes back when you switch back.';
		el.draftBring.textContent = 'Use it in ' + current.display_name;
		el.draftNote.hidden = false;
	}

	// Switches the editor to another language: what it holds stays as the
	// old language's draft, and the new one's draft or template comes in.
	function switchTo(lang, offer) {
		if (lang === current) return;
		keepDraft();
		const from = current;
		current = lang;
		writeStore(STORE_LANGUAGE, lang.language);
		const draft = drafts.get(lang.language);
		setCode(draft !== undefined ? draft : lang.hello);
		applyLanguage();
		if (offer && draft === undefined && drafts.has(from.language)) offerDraft(from);
		else hideDraftNote();
	}

	// A new list of languages (the cached one, then the server's): the
	// stored choice if it is still offered, else Python, else the first.
	function setLanguages(list) {
		const out = [];
		for (const item of Array.isArray(list) ? list : []) {
			const l = normalizeLanguage(item);
			if (l && !out.some((o) => o.language === l.language)) out.push(l);
		}
		if (!out.length) return false;
		keepDraft();  // measured against the template the editor was given
		languages = out;
		current = findLanguage(readStore(STORE_LANGUAGE), out) || findLanguage(current.language, out) ||
			findLanguage(PYTHON.language, out) || out[0];
		fillLanguageSelect();
		applyLanguage();
		const draft = drafts.get(current.language);
		const code = draft !== undefined ? draft : current.hello;
		if (el.code.value !== code) setCode(code);
		editorReady = true;
		return true;
	}

	async function loadLanguages() {
		try {
			const list = await api('/api/v1/languages');
			if (!setLanguages(list)) throw new ApiError('The server lists no language.');
			writeStore(STORE_LANGUAGES, list);
			el.languageNote.hidden = true;
		} catch (e) {
			el.languageNote.textContent = 'Could not load the list of languages: ' +
				(e instanceof ApiError ? e.message : String(e));
			el.languageNote.hidden = false;
		}
	}

	// A run from the history: its language, and its code in the editor as
	// typed, so that Ctrl+Z there brings back what the editor held.
	function loadCode(lang, code) {
		const back = document.activeElement;
		if (lang !== current) switchTo(lang, false);
		hideDraftNote();
		if (el.code.value !== code) replaceRange(0, el.code.value.length, code, 0, 0);
		el.code.setSelectionRange(0, 0);
		el.code.scrollTop = 0;
		updateGutter();
		keepDraft();
		if (back && back !== el.code && typeof back.focus === 'function') back.focus();
	}

	el.language.addEventListener('change', () => {
		const lang = findLanguage(el.language.value);
		if (lang) switchTo(lang, true);
	});
	el.draftBring.addEventListener('click', () => {
		const from = offered;
		hideDraftNote();
		const text = from && drafts.get(from.language);
		if (typeof text !== 'string') return;
		// As typed: Ctrl+Z brings the template back.  The code stays the
		// other language's draft too.
		replaceRange(0, el.code.value.length, text, 0, 0);
		keepDraft();
	});
	el.draftClose.addEventListener('click', () => {
		hideDraftNote();
		el.code.focus();
	});
	window.addEventListener('pagehide', keepDraft);

	// ---- Arguments ----------------------------------------------------------

	// Words separated by white space; '...' keeps everything, "..." keeps
	// all but \" and \\, and a backslash outside quotes keeps the next
	// character.
	function splitArgs(s) {
		const out = [];
		let word = null;
		for (let i = 0; i < s.length; i++) {
			const ch = s[i];
			if (ch === "'") {
				const j = s.indexOf("'", i + 1);
				if (j === -1) throw new Error("Arguments: a ' is not closed.");
				word = (word || '') + s.slice(i + 1, j);
				i = j;
			} else if (ch === '"') {
				let j = i + 1;
				let w = '';
				for (; j < s.length && s[j] !== '"'; j++) {
					if (s[j] === '\\' && (s[j + 1] === '"' || s[j + 1] === '\\')) j++;
					w += s[j];
				}
				if (j >= s.length) throw new Error('Arguments: a " is not closed.');
				word = (word || '') + w;
				i = j;
			} else if (ch === '\\' && i + 1 < s.length) {
				word = (word || '') + s[++i];
			} else if (/\s/.test(ch)) {
				if (word !== null) out.push(word);
				word = null;
			} else {
				word = (word || '') + ch;
			}
		}
		if (word !== null) out.push(word);
		return out;
	}

	// The other way: a list as splitArgs reads it back.
	function formatArgs(list) {
		return strings(list).map((a) => (/^[^\s'"\\]+$/.test(a) ? a :
			"'" + a.replace(/'/g, "'\\''") + "'")).join(' ');
	}

	// ---- Tests -------------------------------------------------------------

	// Test cases: an input and an expected output each.  When there are
	// any, Run sends them as `tests` and the answer's verdicts are shown.
	// They are kept in this browser, like the drafts.

	let testsTimer = 0;

	function testCaseItems() {
		return Array.from(el.testCases.children);
	}

	// What the editor holds, as the request's `tests`.
	function readTests() {
		return testCaseItems().map((li) => ({
			stdin: li.querySelector('.test-stdin').value,
			expected_output: li.querySelector('.test-expected').value,
		}));
	}

	function keepTests() {
		clearTimeout(testsTimer);
		testsTimer = 0;
		writeStore(STORE_TESTS, {
			tests: readTests().map((t) => [t.stdin, t.expected_output]),
			stop_on_failure: el.stopOnFailure.checked,
		});
	}

	function keepTestsSoon() {
		if (!testsTimer) testsTimer = setTimeout(keepTests, 500);
	}

	// Numbers, labels and the count in the fold's title, after a test came
	// or went.
	function renumberTests() {
		const items = testCaseItems();
		items.forEach((li, i) => {
			const n = String(i + 1);
			li.querySelector('.test-case-title').textContent = 'Test ' + n;
			for (const s of li.querySelectorAll('.test-case-n')) s.textContent = 'Test ' + n + ' ';
			li.querySelector('.test-remove').setAttribute('aria-label', 'Remove test ' + n);
		});
		el.testsCount.textContent = items.length ? '(' + items.length + ')' : '';
		el.testAdd.disabled = items.length >= MAX_TESTS;
	}

	// A labelled textarea of a test: its input or its expected output.
	function testField(cls, label, value) {
		const wrap = document.createElement('label');
		wrap.className = 'field test-field';
		const title = document.createElement('span');
		const n = document.createElement('span');
		n.className = 'sr-only test-case-n';
		title.appendChild(n);
		title.appendChild(document.createTextNode(label));
		const ta = document.createElement('textarea');
		ta.className = 'stdin test-text ' + cls;
		ta.rows = 3;
		ta.spellcheck = false;
		ta.wrap = 'off';
		ta.setAttribute('autocapitalize', 'off');
		ta.setAttribute('autocomplete', 'off');
		ta.value = value;
		wrap.appendChild(title);
		wrap.appendChild(ta);
		return wrap;
	}

	function addTestCase(stdin, expected) {
		const li = document.createElement('li');
		li.className = 'test-case';
		const head = document.createElement('div');
		head.className = 'test-case-head';
		const title = document.createElement('h3');
		title.className = 'test-case-title';
		const remove = document.createElement('button');
		remove.type = 'button';
		remove.className = 'btn btn-quiet btn-small test-remove';
		remove.textContent = 'Remove';
		remove.addEventListener('click', () => removeTestCase(li));
		head.appendChild(title);
		head.appendChild(remove);
		const fields = document.createElement('div');
		fields.className = 'test-case-fields';
		fields.appendChild(testField('test-stdin', 'Input', stdin));
		fields.appendChild(testField('test-expected', 'Expected output', expected));
		li.appendChild(head);
		li.appendChild(fields);
		el.testCases.appendChild(li);
		renumberTests();
		return li;
	}

	// The focus goes to the test that takes its place, else the one
	// before, else the Add button.
	function removeTestCase(li) {
		const next = li.nextElementSibling || li.previousElementSibling;
		li.remove();
		renumberTests();
		keepTests();
		if (next) next.querySelector('.test-stdin').focus();
		else el.testAdd.focus();
	}

	el.testAdd.addEventListener('click', () => {
		if (testCaseItems().length >= MAX_TESTS) return;
		const li = addTestCase('', '');
		keepTests();
		li.querySelector('.test-stdin').focus();
	});
	el.testCases.addEventListener('input', keepTestsSoon);
	el.stopOnFailure.addEventListener('change', keepTests);
	window.addEventListener('pagehide', keepTests);

	{
		const saved = readStore(STORE_TESTS);
		if (saved && typeof saved === 'object') {
			for (const t of Array.isArray(saved.tests) ? saved.tests.slice(0, MAX_TESTS) : []) {
				if (Array.isArray(t) && typeof t[0] === 'string' && typeof t[1] === 'string') addTestCase(t[0], t[1]);
			}
			el.stopOnFailure.checked = saved.stop_on_failure === true;
		}
		renumberTests();
	}

	// ---- Output -----------------------------------------------------------

	function setStatus(text, kind) {
		el.status.textContent = text;
		el.status.dataset.kind = kind;
	}

	function clearOutput() {
		el.error.hidden = true;
		el.error.textContent = '';
		el.compile.hidden = true;
		el.compileOutput.textContent = '';
		el.metrics.hidden = true;
		el.runId.textContent = '';
		for (const b of [el.stdoutBlock, el.stderrBlock, el.noOutput, el.stdoutTrunc, el.stderrTrunc]) b.hidden = true;
		el.stdout.textContent = '';
		el.stderr.textContent = '';
		el.streams.hidden = false;
		el.testResults.hidden = true;
		el.testResultList.textContent = '';
		el.files.hidden = true;
		el.fileList.textContent = '';
		el.filesDropped.textContent = '';
		for (const url of objectUrls.splice(0)) URL.revokeObjectURL(url);
	}

	function showError(message) {
		el.error.textContent = message;
		el.error.hidden = false;
	}

	function showStream(block, pre, truncNote, text, truncated, limitBytes, name) {
		const has = typeof text === 'string' && text.length > 0;
		pre.textContent = has ? text : '';
		if (truncated) {
			truncNote.textContent = name + ' was cut off' +
				(isNum(limitBytes) ? ' at ' + formatBytes(limitBytes, 2) : '') + '.';
		}
		truncNote.hidden = !truncated;
		block.hidden = !has && !truncated;
		return has || truncated;
	}

	// Wall time, CPU time and memory into a <dl> of three; false when none
	// of them is known.
	function showMetrics(dl, wall, cpu, mem, r) {
		let any = false;
		const metric = (dd, v, fmt) => {
			dd.parentElement.hidden = !isNum(v);
			if (isNum(v)) {
				dd.textContent = fmt(v);
				any = true;
			}
		};
		metric(wall, r.wall_time_ms, formatDuration);
		metric(cpu, r.cpu_time_ms, formatDuration);
		metric(mem, r.memory_bytes, (v) => formatBytes(v, 1));
		dl.hidden = !any;
		return any;
	}

	// The compile stage, when there was one: its status, usage and the
	// compiler's messages.
	function showCompile(r) {
		const c = r.compile;
		if (!c || typeof c !== 'object') return;
		const st = describeCompile(c, compileLimits(r));
		el.compileStatus.textContent = st.text;
		el.compileStatus.dataset.kind = st.kind;
		el.compile.dataset.kind = st.kind;
		const text = typeof c.output === 'string' ? c.output :
			strings([c.stdout, c.stderr]).join('');
		el.compileOutput.textContent = text;
		el.compileOutput.hidden = text === '';
		el.compileNone.hidden = text !== '';
		const lim = compileLimits(r);
		const cut = c.stdout_truncated === true || c.stderr_truncated === true;
		el.compileTrunc.textContent = cut ? "The compiler's output was cut off" +
			(isNum(lim.output_bytes) ? ' at ' + formatBytes(lim.output_bytes, 2) : '') + '.' : '';
		el.compileTrunc.hidden = !cut;
		showMetrics(el.compileMetrics, el.cWall, el.cCpu, el.cMem, c);
		el.compile.hidden = false;
	}

	// ---- Output files ------------------------------------------------------

	// The files a run returned (`files`, with `output_files`): each with its
	// name, size and a download link; an image shown, a text file in a
	// viewer; then what was not returned, and why.  Their names and bytes
	// are the program's: they reach the page as text, as a data: URL of
	// checked base64 for an <img>, or as a Blob to download.

	function isTextType(mime) {
		return mime.startsWith('text/') || mime === 'application/json';
	}

	// The bytes of base64 text, or null when it is not base64.
	function decodeBase64(b64) {
		if (typeof b64 !== 'string' || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
			return null;
		}
		let bin;
		try {
			bin = atob(b64);
		} catch (e) {
			return null;
		}
		const bytes = new Uint8Array(bin.length);
		for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
		return bytes;
	}

	function fileNote(text) {
		const p = document.createElement('p');
		p.className = 'file-note';
		p.textContent = text;
		return p;
	}

	function fileItem(f) {
		const name = typeof f.name === 'string' ? f.name : '';
		const mime = typeof f.mime_type === 'string' ? f.mime_type : 'application/octet-stream';
		const bytes = decodeBase64(f.content);
		const size = isNum(f.size) ? f.size : (bytes ? bytes.length : null);
		const li = document.createElement('li');
		li.className = 'file';
		const head = document.createElement('div');
		head.className = 'file-head';
		const nameEl = document.createElement('span');
		nameEl.className = 'file-name';
		nameEl.textContent = name;
		head.appendChild(nameEl);
		const meta = document.createElement('span');
		meta.className = 'file-meta';
		meta.textContent = (size !== null ? formatBytes(size, 1) + ' · ' : '') + mime;
		head.appendChild(meta);
		li.appendChild(head);
		if (!bytes) {
			li.dataset.kind = 'none';
			li.appendChild(fileNote(f.content === undefined ?
				'Its content is not kept: only its name and size.' : 'Its content cannot be read.'));
			return li;
		}
		const link = document.createElement('a');
		link.className = 'file-download';
		link.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
		objectUrls.push(link.href);
		link.download = name || 'file';
		link.textContent = 'Download';
		link.setAttribute('aria-label', 'Download ' + name + (size !== null ? ' (' + formatBytes(size, 1) + ')' : ''));
		head.appendChild(link);
		if (IMAGE_TYPES.has(mime)) {
			li.dataset.kind = 'image';
			const img = document.createElement('img');
			img.className = 'file-image';
			img.alt = name;
			img.decoding = 'async';
			img.addEventListener('error', () => {
				img.replaceWith(fileNote('This image cannot be shown here: download it.'));
			}, { once: true });
			img.src = 'data:' + mime + ';base64,' + f.content;
			li.appendChild(img);
		} else if (isTextType(mime)) {
			li.dataset.kind = 'text';
			const pre = document.createElement('pre');
			pre.className = 'stream-text file-text';
			pre.tabIndex = 0;
			pre.setAttribute('aria-label', name);
			pre.textContent = new TextDecoder('utf-8').decode(bytes.subarray(0, TEXT_VIEW_MAX));
			li.appendChild(pre);
			if (bytes.length > TEXT_VIEW_MAX) {
				li.appendChild(fileNote('The first ' + formatBytes(TEXT_VIEW_MAX, 0) + ' only: download it for the rest.'));
			}
		} else {
			li.dataset.kind = 'binary';
		}
		return li;
	}

	// The entries of the output directory that were not returned.
	function fillDropped(box, r) {
		const list = Array.isArray(r.files_dropped) ? r.files_dropped.filter((d) => d && typeof d === 'object') : [];
		const total = isNum(r.files_dropped_total) ? r.files_dropped_total : list.length;
		box.textContent = '';
		box.hidden = total === 0;
		if (total === 0) return;
		const p = document.createElement('p');
		p.className = 'files-dropped-title';
		p.textContent = 'Not returned: ' + total + (total === 1 ? ' entry' : ' entries');
		box.appendChild(p);
		const ul = document.createElement('ul');
		ul.className = 'files-dropped-list';
		for (const d of list) {
			const li = document.createElement('li');
			const code = document.createElement('code');
			code.textContent = typeof d.name === 'string' ? d.name : '';
			li.appendChild(code);
			li.appendChild(document.createTextNode(': ' + (typeof d.reason === 'string' ? d.reason : 'not returned')));
			ul.appendChild(li);
		}
		if (total > list.length) {
			const li = document.createElement('li');
			li.textContent = 'and ' + (total - list.length) + ' more';
			ul.appendChild(li);
		}
		box.appendChild(ul);
	}

	// Fills a files section (the run's, or a test's) from an answer with
	// `files`; false when the answer has none (no output_files).
	function fillFiles(parts, r) {
		if (!Array.isArray(r.files)) return false;
		// By name, numbers as numbers: figure-2.png before figure-10.png.
		const files = r.files.filter((f) => f && typeof f === 'object').sort((a, b) =>
			String(a.name).localeCompare(String(b.name), 'en', { numeric: true }));
		parts.title.textContent = 'Files' + (files.length ? ' (' + files.length + ')' : '');
		for (const f of files) parts.list.appendChild(fileItem(f));
		fillDropped(parts.dropped, r);
		parts.none.textContent = parts.dropped.hidden ? 'The program left no file in /box/out.' :
			'No file returned.';
		parts.none.hidden = files.length > 0;
		return true;
	}

	// A test's own files section, as the run's.
	function testFiles(t) {
		const section = document.createElement('section');
		section.className = 'files test-files';
		const h = document.createElement('h4');
		h.className = 'files-title';
		h.textContent = 'Files';
		const list = document.createElement('ul');
		list.className = 'file-list';
		const none = document.createElement('p');
		none.className = 'files-none';
		const dropped = document.createElement('div');
		dropped.className = 'files-dropped';
		section.appendChild(h);
		section.appendChild(list);
		section.appendChild(none);
		section.appendChild(dropped);
		return fillFiles({ title: h, list, none, dropped }, t) ? section : null;
	}

	el.outputFiles.checked = readStore(STORE_OUTPUT_FILES) === true;
	el.outputFiles.addEventListener('change', () => writeStore(STORE_OUTPUT_FILES, el.outputFiles.checked));

	// ---- Test results ------------------------------------------------------

	// One stream of a test (its stdout, the expected output, its stderr),
	// in the style of the run's own.
	function testStream(title, text, cls, truncNote) {
		const box = document.createElement('div');
		box.className = 'stream ' + cls;
		const h = document.createElement('h4');
		h.className = 'stream-title';
		h.textContent = title;
		box.appendChild(h);
		if (text === '') {
			const none = document.createElement('p');
			none.className = 'stream-none';
			none.textContent = 'Empty.';
			box.appendChild(none);
		} else {
			const pre = document.createElement('pre');
			pre.className = 'stream-text';
			pre.tabIndex = 0;
			pre.setAttribute('aria-label', title);
			pre.textContent = text;
			box.appendChild(pre);
		}
		if (truncNote) {
			const p = document.createElement('p');
			p.className = 'truncated';
			p.textContent = truncNote;
			box.appendChild(p);
		}
		return box;
	}

	// A metric cell of a test's row: its value, named for screen readers.
	function testMetric(cls, name, v, fmt) {
		const span = document.createElement('span');
		span.className = cls;
		if (isNum(v)) {
			const sr = document.createElement('span');
			sr.className = 'sr-only';
			sr.textContent = name + ' ';
			span.appendChild(sr);
			span.appendChild(document.createTextNode(fmt(v)));
		}
		return span;
	}

	// One test as a row that opens onto its streams: number, verdict, time
	// and memory; then what the program printed, what was expected and its
	// stderr.  `input` is the test as sent ({stdin, expected_output}),
	// when the page knows it.
	function testResultItem(t, i, r, input) {
		const verdict = typeof t.verdict === 'string' ? t.verdict : '';
		const v = describeVerdict(verdict);
		const li = document.createElement('li');
		li.className = 'test-result';
		li.dataset.verdict = verdict;
		const details = document.createElement('details');
		const summary = document.createElement('summary');
		summary.className = 'test-row';
		const num = document.createElement('span');
		num.className = 'test-num';
		const sr = document.createElement('span');
		sr.className = 'sr-only';
		sr.textContent = 'Test ';
		num.appendChild(sr);
		num.appendChild(document.createTextNode(String(i + 1)));
		const badge = document.createElement('span');
		badge.className = 'badge test-verdict';
		badge.dataset.kind = v.kind;
		badge.textContent = v.text;
		badge.title = v.text;
		summary.appendChild(num);
		summary.appendChild(badge);
		summary.appendChild(testMetric('test-time', 'time', t.wall_time_ms, formatDuration));
		summary.appendChild(testMetric('test-mem', 'memory', t.memory_bytes, (x) => formatBytes(x, 1)));
		details.appendChild(summary);

		const body = document.createElement('div');
		body.className = 'test-detail';
		const note = document.createElement('p');
		note.className = 'test-note';
		if (verdict === 'not_run') {
			note.textContent = r.verdict === 'compile_error' ? 'Not run: the program did not compile.' :
				'Not run: an earlier test failed.';
		} else if (typeof t.status === 'string' && t.status !== 'ok') {
			note.textContent = describeStatus(Object.assign({}, t, { limits: r.limits })).text + '.';
		} else if (isNum(t.exit_code) && t.exit_code !== 0) {
			note.textContent = 'Exited with code ' + t.exit_code + '.';
		}
		if (note.textContent) body.appendChild(note);
		if (verdict !== 'not_run') {
			const lim = runLimits(r);
			const cut = (name) => name + ' was cut off' +
				(isNum(lim.output_bytes) ? ' at ' + formatBytes(lim.output_bytes, 2) : '') + '.';
			const streams = document.createElement('div');
			streams.className = 'test-streams';
			streams.appendChild(testStream('stdout', typeof t.stdout === 'string' ? t.stdout : '',
				'test-stdout', t.stdout_truncated === true ? cut('stdout') : ''));
			if (input && typeof input.expected_output === 'string') {
				streams.appendChild(testStream('Expected output', input.expected_output, 'test-expected-output', ''));
			}
			const stderr = typeof t.stderr === 'string' ? t.stderr : '';
			if (stderr !== '' || t.stderr_truncated === true) {
				streams.appendChild(testStream('stderr', stderr, 'stream-stderr test-stderr',
					t.stderr_truncated === true ? cut('stderr') : ''));
			}
			body.appendChild(streams);
			const files = testFiles(t);
			if (files) body.appendChild(files);
		}
		details.appendChild(body);
		li.appendChild(details);
		return li;
	}

	// A run with tests: the verdict over them all in the status line
	// ("Accepted 3/3", "Wrong answer: 2/3 passed") and a row per test, the
	// first one that failed open.
	function showTests(r, inputs) {
		const tests = r.tests.filter((t) => t && typeof t === 'object');
		const tot = r.totals && typeof r.totals === 'object' ? r.totals : {};
		const n = isNum(tot.tests) ? tot.tests : tests.length;
		const ok = isNum(tot.accepted) ? tot.accepted : tests.filter((t) => t.verdict === 'accepted').length;
		const verdict = typeof r.verdict === 'string' ? r.verdict :
			(ok === n ? 'accepted' : (tests.find((t) => t.verdict !== 'accepted') || {}).verdict);
		const v = describeVerdict(verdict);
		if (verdict === 'accepted') setStatus(v.text + ' ' + ok + '/' + n, 'ok');
		else if (verdict === 'compile_error') setStatus(v.text, 'bad');
		else setStatus(v.text + ': ' + ok + '/' + n + ' passed', v.kind === 'neutral' ? 'warn' : v.kind);
		let opened = false;
		tests.forEach((t, i) => {
			const li = testResultItem(t, i, r, inputs && inputs[i]);
			if (!opened && t.verdict !== 'accepted' && t.verdict !== 'not_run') {
				li.firstChild.open = true;
				opened = true;
			}
			el.testResultList.appendChild(li);
		});
		el.testResults.hidden = tests.length === 0;
	}

	// `inputs`: the tests as sent, when the answer is to this page's run.
	function showResult(r, inputs) {
		clearOutput();
		const st = describeStatus(r);
		setStatus(st.text, st.kind);
		if (r.id !== undefined && r.id !== null) el.runId.textContent = '#' + r.id;
		if (r.status === 'internal_error') {
			showError(r.message || r.error || 'The server could not run the program.');
		}
		showCompile(r);
		const withTests = Array.isArray(r.tests);
		if (withTests) showTests(r, inputs);
		if (r.status === 'compile_error') {
			// The program never ran: no streams, no usage, and a word on why.
			el.noOutput.textContent = 'The program did not run.';
			el.noOutput.hidden = false;
			return;
		}
		// Each test has its own streams and usage: the run's top-level ones
		// are only those of the test that decided.
		if (withTests) {
			el.streams.hidden = true;
			return;
		}

		const lim = runLimits(r);
		const a = showStream(el.stdoutBlock, el.stdout, el.stdoutTrunc, r.stdout,
			r.stdout_truncated === true, lim.output_bytes, 'stdout');
		const b = showStream(el.stderrBlock, el.stderr, el.stderrTrunc, r.stderr,
			r.stderr_truncated === true, lim.output_bytes, 'stderr');
		el.noOutput.textContent = 'No output.';
		el.noOutput.hidden = a || b;
		showMetrics(el.metrics, el.mWall, el.mCpu, el.mMem, r);
		el.files.hidden = !fillFiles({ title: el.filesTitle, list: el.fileList, none: el.filesNone,
			dropped: el.filesDropped }, r);
	}

	// ---- API key ----------------------------------------------------------

	// A server with a keys file answers 401 to requests without a key.  The
	// page then asks for it once, in the header's form, keeps it in this
	// browser (localStorage; in memory only where that is refused) and
	// sends it as Authorization: Bearer until "Forget key".  Requests that
	// got 401 meanwhile wait for the form and are sent again.
	const STORE_KEY = 'safexec.key';
	const keyUi = { form: $('key-form'), input: $('key-input'), label: $('key-label'),
		note: $('key-note'), forget: $('key-forget') };
	let memoryKey = '';
	let keyAsked = null;
	let keyGiven = null;

	function storedKey() {
		try {
			return localStorage.getItem(STORE_KEY) || memoryKey;
		} catch (e) {
			return memoryKey;
		}
	}

	function setKey(key) {
		memoryKey = key;
		try {
			if (key) localStorage.setItem(STORE_KEY, key);
			else localStorage.removeItem(STORE_KEY);
		} catch (e) {
			// Kept in memory only.
		}
		keyUi.forget.hidden = !key;
	}

	function withKey(options) {
		const key = storedKey();
		if (key) options.headers = Object.assign({}, options.headers, { 'Authorization': 'Bearer ' + key });
		return options;
	}

	// Resolves once a key has been entered.  sent: the key the 401 answered.
	function askKey(sent) {
		// Another key was entered since this request went: just send it again.
		if (storedKey() && sent !== storedKey()) return Promise.resolve();
		if (sent && sent === storedKey()) setKey('');
		if (!keyAsked) {
			keyUi.label.textContent = sent ? 'The server refused the API key; enter another'
				: 'This server needs an API key';
			keyUi.note.textContent = '';
			keyUi.form.hidden = false;
			keyUi.input.value = '';
			keyUi.input.focus();
			keyAsked = new Promise((resolve) => { keyGiven = resolve; });
		}
		return keyAsked;
	}

	keyUi.form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const key = keyUi.input.value.trim();
		if (!key) {
			keyUi.note.textContent = 'Enter the key.';
			return;
		}
		setKey(key);
		keyUi.input.value = '';
		keyUi.form.hidden = true;
		const given = keyGiven;
		keyAsked = keyGiven = null;
		if (given) given();
	});

	keyUi.forget.addEventListener('click', () => setKey(''));
	keyUi.forget.hidden = !storedKey();

	// ---- Requests ---------------------------------------------------------

	class ApiError extends Error {}
	// The run was stopped from this page (its request aborted).
	class Stopped extends Error {}

	// The answer to a request, with the key this page keeps (if any); a 401
	// asks for a key once and sends the request again.
	async function send(path, options) {
		let res;
		const sent = storedKey();
		try {
			res = await fetch(path, withKey(Object.assign({
				headers: { 'Accept': 'application/json' },
				cache: 'no-store',
				credentials: 'same-origin',
			}, options || {})));
		} catch (e) {
			if (e && e.name === 'AbortError') throw new Stopped();
			throw new ApiError('Could not reach the server. Is safexec still running?');
		}
		if (res.status === 401) {
			await askKey(sent);
			return send(path, options);
		}
		return res;
	}

	// A JSON answer's body, or an ApiError with the server's message.
	async function jsonOf(res) {
		let body = null;
		let text;
		try {
			text = await res.text();
		} catch (e) {
			if (e && e.name === 'AbortError') throw new Stopped();
			throw new ApiError('The connection to the server was lost.');
		}
		try {
			body = text ? JSON.parse(text) : null;
		} catch (e) {
			body = null;
		}
		if (!res.ok) {
			let msg = body && body.error && typeof body.error.message === 'string' ?
				body.error.message : 'The server answered ' + res.status + ' ' + res.statusText + '.';
			const retry = res.headers.get('Retry-After');
			if ((res.status === 503 || res.status === 429) && retry && /^\d+$/.test(retry)) {
				msg += ' Try again in ' + retry + ' s.';
			}
			throw new ApiError(msg);
		}
		if (body === null || typeof body !== 'object') {
			throw new ApiError('The server sent an answer that is not JSON.');
		}
		return body;
	}

	async function api(path, options) {
		return jsonOf(await send(path, options));
	}

	// Server-Sent Events from a streamed answer, as they arrive: onEvent
	// (name, data) for each.  The server writes "event:" and one "data:"
	// line, then an empty line; the rest of the format is read too.
	async function readEvents(res, onEvent) {
		const reader = res.body.getReader();
		const decoder = new TextDecoder();
		let buf = '';
		const dispatch = (block) => {
			let name = 'message';
			const data = [];
			for (const line of block.split(/\r\n|\r|\n/)) {
				if (line === '' || line[0] === ':') continue;
				const colon = line.indexOf(':');
				const field = colon < 0 ? line : line.slice(0, colon);
				let value = colon < 0 ? '' : line.slice(colon + 1);
				if (value[0] === ' ') value = value.slice(1);
				if (field === 'event') name = value;
				else if (field === 'data') data.push(value);
			}
			if (data.length) onEvent(name, data.join('\n'));
		};
		for (;;) {
			let chunk;
			try {
				chunk = await reader.read();
			} catch (e) {
				if (e && e.name === 'AbortError') throw new Stopped();
				throw new ApiError('The connection to the server was lost.');
			}
			if (chunk.done) break;
			buf += decoder.decode(chunk.value, { stream: true });
			let m;
			while ((m = /\r\n\r\n|\n\n|\r\r/.exec(buf))) {
				dispatch(buf.slice(0, m.index));
				buf = buf.slice(m.index + m[0].length);
			}
		}
	}

	// Output as it arrives, before the result: appended as text.
	function appendLive(name, text) {
		if (!text) return;
		const block = name === 'stderr' ? el.stderrBlock : el.stdoutBlock;
		const pre = name === 'stderr' ? el.stderr : el.stdout;
		pre.appendChild(document.createTextNode(text));
		block.hidden = false;
	}

	// One run with live output (POST /api/v1/execute with stream): the
	// output shown as the program prints it, then the result as any run's.
	async function runStreamed(body, signal) {
		const res = await send('/api/v1/execute', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' },
			body: JSON.stringify(Object.assign({ stream: true }, body)),
			signal,
		});
		const type = res.headers.get('Content-Type') || '';
		if (!res.ok || !/^text\/event-stream/i.test(type)) return jsonOf(res);
		let result = null;
		let failure = null;
		await readEvents(res, (name, data) => {
			let v;
			try {
				v = JSON.parse(data);
			} catch (e) {
				return;
			}
			if ((name === 'stdout' || name === 'stderr') && v && typeof v.data === 'string') {
				appendLive(name, v.data);
			} else if (name === 'result' && v && typeof v === 'object') {
				result = v;
			} else if (name === 'error') {
				failure = v && v.error && typeof v.error.message === 'string' ?
					v.error.message : 'The server could not run the program.';
			}
		});
		if (failure !== null) throw new ApiError(failure);
		if (result === null) throw new ApiError('The connection to the server was lost before the run ended.');
		return result;
	}

	// Reads a limit field: undefined when empty (the server's default applies),
	// NaN when it holds something that is not a positive number.
	function readLimit(input, scale) {
		const raw = input.value.trim();
		if (input.validity && input.validity.badInput) return NaN;
		if (raw === '') return undefined;
		const v = Number(raw);
		if (!Number.isFinite(v) || v <= 0) return NaN;
		return Math.round(v * scale);
	}

	// stoppable: Stop can end this run (a streamed one; the server runs a
	// run with tests to its end whoever waits for it).
	function setBusy(busy, stoppable) {
		running = busy;
		el.run.disabled = busy;
		el.stop.disabled = !(busy && stoppable);
		el.run.classList.toggle('is-busy', busy);
		el.run.setAttribute('aria-busy', busy ? 'true' : 'false');
		el.runLabel.textContent = busy ? 'Running…' : 'Run';
	}

	async function run() {
		if (running) return;
		const lang = current;
		const body = { language: lang.language, code: el.code.value, stdin: el.stdin.value };
		let args;
		try {
			args = splitArgs(el.args.value);
		} catch (e) {
			clearOutput();
			setStatus('Not run', 'bad');
			showError(e.message);
			el.stdinFold.open = true;
			el.args.focus();
			return;
		}
		if (args.length) body.args = args;
		const limits = {};
		const wall = readLimit(el.limitWall, 1000);
		const mem = readLimit(el.limitMemory, 1024 * 1024);
		if (Number.isNaN(wall) || Number.isNaN(mem)) {
			clearOutput();
			setStatus('Not run', 'bad');
			showError('Limits must be positive numbers (or empty for the default).');
			(Number.isNaN(wall) ? el.limitWall : el.limitMemory).focus();
			return;
		}
		if (wall !== undefined) limits.wall_time_ms = wall;
		if (mem !== undefined) limits.memory_bytes = mem;
		if (Object.keys(limits).length) body.limits = limits;
		const tests = readTests();
		if (tests.length) {
			body.tests = tests;
			body.stop_on_failure = el.stopOnFailure.checked;
		}
		if (el.outputFiles.checked) body.output_files = true;

		setBusy(true, !tests.length);
		hideDraftNote();
		selectedId = null;
		markSelected();
		clearOutput();
		keepDraft();
		keepTests();
		setStatus((lang.compiled ? 'Compiling and running' : 'Running') +
			(tests.length ? ' ' + tests.length + (tests.length === 1 ? ' test' : ' tests') : '') + '…', 'running');
		const controller = new AbortController();
		inFlight = controller;
		let stopped = false;
		try {
			// A plain run shows its output as it comes; with tests the
			// answer comes whole.
			const r = tests.length ? await api('/api/v1/execute', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
				body: JSON.stringify(body),
				signal: controller.signal,
			}) : await runStreamed(body, controller.signal);
			showResult(r, tests.length ? tests : null);
			if (!body.limits && lang === current) showDefaults(runLimits(r));
			selectedId = r.id !== undefined ? r.id : null;
		} catch (e) {
			if (e instanceof Stopped) {
				// What came before the stop stays on the page.
				stopped = true;
				setStatus('Stopped', 'bad');
			} else {
				clearOutput();
				setStatus('Not run', 'bad');
				showError(e instanceof ApiError ? e.message : 'Unexpected error: ' + e);
			}
		} finally {
			inFlight = null;
			setBusy(false);
		}
		loadHistory(false);
		// The server records a stopped run as it has killed it, a moment
		// after the page has let go.
		if (stopped) setTimeout(() => loadHistory(false), 1000);
	}

	function stop() {
		if (inFlight) inFlight.abort();
	}

	// The defaults, learnt from a run that set no limits (a server that does
	// not list them), become the placeholders of the limit fields.
	function showDefaults(lim) {
		if (!lim) return;
		if (isNum(lim.wall_time_ms)) el.limitWall.placeholder = trimNumber(lim.wall_time_ms / 1000, 3);
		if (isNum(lim.memory_bytes)) el.limitMemory.placeholder = trimNumber(lim.memory_bytes / 1048576, 2);
	}

	el.run.addEventListener('click', run);
	el.stop.addEventListener('click', stop);

	// ---- History ----------------------------------------------------------

	function historyItem(item) {
		const li = document.createElement('li');
		const btn = document.createElement('button');
		btn.type = 'button';
		btn.className = 'history-item';
		btn.dataset.id = String(item.id);
		if (String(item.id) === String(selectedId)) btn.setAttribute('aria-current', 'true');

		const meta = document.createElement('span');
		meta.className = 'history-meta';
		const badge = document.createElement('span');
		badge.className = 'badge';
		const b = badgeFor(item);
		badge.textContent = b.text;
		badge.dataset.kind = b.kind;
		meta.appendChild(badge);

		const idSpan = document.createElement('span');
		idSpan.className = 'history-id';
		idSpan.textContent = '#' + item.id;
		meta.appendChild(idSpan);

		const lang = typeof item.language === 'string' ? item.language : '';
		const known = findLanguage(lang);
		if (lang) {
			const langSpan = document.createElement('span');
			langSpan.className = 'history-lang';
			langSpan.textContent = lang;
			if (known) langSpan.title = known.display_name;
			meta.appendChild(langSpan);
		}

		// Runs that came through the original service's endpoint.
		if (item.endpoint === 'run') {
			const via = document.createElement('span');
			via.className = 'history-via';
			via.textContent = '/run';
			meta.appendChild(via);
		}

		const when = parseTime(item.created_at);
		const time = document.createElement('time');
		time.className = 'history-time';
		if (when) {
			time.dateTime = when.toISOString();
			time.textContent = relativeTime(when);
			time.title = when.toLocaleString();
		}
		meta.appendChild(time);

		const preview = document.createElement('span');
		preview.className = 'history-preview';
		const firstLines = String(item.code_preview || '').split('\n').filter((l) => l.trim() !== '');
		preview.textContent = firstLines.length ? firstLines[0].trim() : '(empty)';
		preview.title = String(item.code_preview || '');

		btn.appendChild(meta);
		btn.appendChild(preview);
		const extra = [];
		if (isNum(item.wall_time_ms)) extra.push(formatDuration(item.wall_time_ms));
		if (item.endpoint) extra.push('via ' + String(item.endpoint));
		if (item.client) extra.push('from ' + String(item.client));
		btn.setAttribute('aria-label', 'Run ' + item.id + (lang ? ' (' + (known ? known.display_name : lang) + ')' : '') +
			': ' + b.text + ', ' +
			(when ? relativeTime(when) + ', ' : '') + preview.textContent);
		if (extra.length) btn.title = extra.join(' · ');
		btn.addEventListener('click', () => openExecution(item.id));
		li.appendChild(btn);
		return li;
	}

	let historySeq = 0;

	async function loadHistory(more) {
		const seq = ++historySeq;
		let url = '/api/v1/executions?limit=' + HISTORY_PAGE;
		if (more && nextBefore !== null) url += '&before=' + encodeURIComponent(nextBefore);
		el.historyMore.disabled = true;
		try {
			const body = await api(url);
			if (seq !== historySeq) return;
			const items = Array.isArray(body.executions) ? body.executions : [];
			if (!more) el.historyList.textContent = '';
			for (const item of items) el.historyList.appendChild(historyItem(item));
			nextBefore = body.next_before !== undefined ? body.next_before : null;
			el.historyMore.hidden = nextBefore === null;
			const empty = el.historyList.childElementCount === 0;
			el.historyNote.textContent = empty ? 'No runs yet.' : '';
			el.historyNote.hidden = !empty;
		} catch (e) {
			if (seq !== historySeq) return;
			el.historyNote.textContent = 'History unavailable: ' + e.message;
			el.historyNote.hidden = false;
		} finally {
			el.historyMore.disabled = false;
		}
	}

	function markSelected() {
		for (const b of el.historyList.querySelectorAll('.history-item')) {
			if (b.dataset.id === String(selectedId)) b.setAttribute('aria-current', 'true');
			else b.removeAttribute('aria-current');
		}
	}

	async function openExecution(id) {
		if (running) return;
		selectedId = id;
		markSelected();
		try {
			const r = await api('/api/v1/executions/' + encodeURIComponent(id));
			if (String(selectedId) !== String(id)) return;
			const name = typeof r.language === 'string' ? r.language : PYTHON.language;
			const lang = findLanguage(name);
			if (lang) loadCode(lang, typeof r.code === 'string' ? r.code : '');
			el.stdin.value = typeof r.stdin === 'string' ? r.stdin : '';
			el.args.value = formatArgs(r.args);
			if (el.stdin.value || el.args.value) el.stdinFold.open = true;
			showResult(r, null);
			if (!lang) {
				showError('This server does not offer ' + name + ' any more: the run\'s code is not loaded ' +
					'into the editor.');
			}
		} catch (e) {
			clearOutput();
			setStatus('Could not load run #' + id, 'bad');
			showError(e instanceof ApiError ? e.message : 'Unexpected error: ' + e);
		}
	}

	el.historyMore.addEventListener('click', () => loadHistory(true));
	el.historyRefresh.addEventListener('click', () => loadHistory(false));

	// ---- Start ------------------------------------------------------------

	// The languages of the last visit at once, the server's when they come.
	if (!setLanguages(readStore(STORE_LANGUAGES))) setLanguages([PYTHON]);
	loadLanguages();
	loadHistory(false);
	el.code.focus();
	el.code.setSelectionRange(el.code.value.length, el.code.value.length);
}());
