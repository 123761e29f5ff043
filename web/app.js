// safexec web page: a small editor, a Run button, the result and the history.
//
// Everything the server returns (output, code, previews) is untrusted, so it
// only ever reaches the page through textContent, never through innerHTML.
'use strict';

(function () {
	const INDENT = '    ';
	const HISTORY_PAGE = 20;

	const $ = (id) => document.getElementById(id);
	const el = {
		code: $('code'),
		gutter: $('gutter'),
		cursorPos: $('cursor-pos'),
		run: $('run'),
		runLabel: document.querySelector('#run .btn-label'),
		runHint: $('run-hint'),
		stdin: $('stdin'),
		stdinFold: $('stdin-fold'),
		limitWall: $('limit-wall'),
		limitMemory: $('limit-memory'),
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
		historyList: $('history-list'),
		historyNote: $('history-note'),
		historyMore: $('history-more'),
		historyRefresh: $('history-refresh'),
	};

	let running = false;
	let selectedId = null;
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

	// The status of a run in words, with the limit that stopped it.
	function describeStatus(r) {
		const lim = r.limits || {};
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
		case 'internal_error':
			return { text: 'Internal error', kind: 'bad' };
		default:
			return { text: 'Unknown status: ' + String(r.status), kind: 'bad' };
		}
	}

	// The short label of a history badge.
	function badgeFor(item) {
		switch (item.status) {
		case 'ok': return { text: 'OK', kind: 'ok' };
		case 'runtime_error': return { text: 'Exit ' + item.exit_code, kind: 'bad' };
		case 'signaled': return { text: 'Signal ' + item.signal, kind: 'bad' };
		case 'timeout': return { text: 'Time limit', kind: 'warn' };
		case 'memory_limit': return { text: 'Memory limit', kind: 'warn' };
		case 'output_limit': return { text: 'Output limit', kind: 'warn' };
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

	function indentLines(dedent) {
		const ta = el.code;
		const v = ta.value;
		const s = ta.selectionStart;
		let e = ta.selectionEnd;
		const multi = v.slice(s, e).indexOf('\n') !== -1;

		if (!dedent && !multi) {
			replaceRange(s, e, INDENT, s + INDENT.length, s + INDENT.length);
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
				d = INDENT.length;
				res = INDENT + line;
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
		// A Python block opener: the next line goes one level deeper.
		if (/:\s*(#.*)?$/.test(before)) indent += INDENT;
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
	el.code.addEventListener('input', updateGutter);
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

	// Ctrl+Enter also runs from the stdin box and the limit fields.
	for (const field of [el.stdin, el.limitWall, el.limitMemory]) {
		field.addEventListener('keydown', (ev) => {
			if (isRunShortcut(ev)) {
				ev.preventDefault();
				run();
			}
		});
	}

	// ---- Output -----------------------------------------------------------

	function setStatus(text, kind) {
		el.status.textContent = text;
		el.status.dataset.kind = kind;
	}

	function clearOutput() {
		el.error.hidden = true;
		el.error.textContent = '';
		el.metrics.hidden = true;
		el.runId.textContent = '';
		for (const b of [el.stdoutBlock, el.stderrBlock, el.noOutput, el.stdoutTrunc, el.stderrTrunc]) b.hidden = true;
		el.stdout.textContent = '';
		el.stderr.textContent = '';
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

	function showResult(r) {
		clearOutput();
		const st = describeStatus(r);
		setStatus(st.text, st.kind);
		if (r.id !== undefined && r.id !== null) el.runId.textContent = '#' + r.id;
		if (r.status === 'internal_error') {
			showError(r.message || r.error || 'The server could not run the program.');
		}

		const lim = r.limits || {};
		const a = showStream(el.stdoutBlock, el.stdout, el.stdoutTrunc, r.stdout,
			r.stdout_truncated === true, lim.output_bytes, 'stdout');
		const b = showStream(el.stderrBlock, el.stderr, el.stderrTrunc, r.stderr,
			r.stderr_truncated === true, lim.output_bytes, 'stderr');
		el.noOutput.hidden = a || b;

		let anyMetric = false;
		const metric = (dd, v, fmt) => {
			dd.parentElement.hidden = !isNum(v);
			if (isNum(v)) {
				dd.textContent = fmt(v);
				anyMetric = true;
			}
		};
		metric(el.mWall, r.wall_time_ms, formatDuration);
		metric(el.mCpu, r.cpu_time_ms, formatDuration);
		metric(el.mMem, r.memory_bytes, (v) => formatBytes(v, 1));
		el.metrics.hidden = !anyMetric;
	}

	// ---- Requests ---------------------------------------------------------

	class ApiError extends Error {}

	async function api(path, options) {
		let res;
		try {
			res = await fetch(path, Object.assign({
				headers: { 'Accept': 'application/json' },
				cache: 'no-store',
				credentials: 'same-origin',
			}, options || {}));
		} catch (e) {
			throw new ApiError('Could not reach the server. Is safexec still running?');
		}
		let body = null;
		const text = await res.text();
		try {
			body = text ? JSON.parse(text) : null;
		} catch (e) {
			body = null;
		}
		if (!res.ok) {
			let msg = body && body.error && typeof body.error.message === 'string' ?
				body.error.message : 'The server answered ' + res.status + ' ' + res.statusText + '.';
			const retry = res.headers.get('Retry-After');
			if (res.status === 503 && retry && /^\d+$/.test(retry)) {
				msg += ' Try again in ' + retry + ' s.';
			}
			throw new ApiError(msg);
		}
		if (body === null || typeof body !== 'object') {
			throw new ApiError('The server sent an answer that is not JSON.');
		}
		return body;
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

	function setBusy(busy) {
		running = busy;
		el.run.disabled = busy;
		el.run.classList.toggle('is-busy', busy);
		el.run.setAttribute('aria-busy', busy ? 'true' : 'false');
		el.runLabel.textContent = busy ? 'Running…' : 'Run';
	}

	async function run() {
		if (running) return;
		const body = { language: 'python', code: el.code.value, stdin: el.stdin.value };
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

		setBusy(true);
		selectedId = null;
		markSelected();
		clearOutput();
		setStatus('Running…', 'running');
		try {
			const r = await api('/api/v1/execute', {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
				body: JSON.stringify(body),
			});
			showResult(r);
			if (!body.limits) showDefaults(r.limits);
			selectedId = r.id !== undefined ? r.id : null;
		} catch (e) {
			clearOutput();
			setStatus('Not run', 'bad');
			showError(e instanceof ApiError ? e.message : 'Unexpected error: ' + e);
		} finally {
			setBusy(false);
		}
		loadHistory(false);
	}

	// The server's defaults, learnt from a run that set no limits, become the
	// placeholders of the limit fields.
	function showDefaults(lim) {
		if (!lim) return;
		if (isNum(lim.wall_time_ms)) el.limitWall.placeholder = trimNumber(lim.wall_time_ms / 1000, 3);
		if (isNum(lim.memory_bytes)) el.limitMemory.placeholder = trimNumber(lim.memory_bytes / 1048576, 2);
	}

	el.run.addEventListener('click', run);

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
		btn.setAttribute('aria-label', 'Run ' + item.id + ': ' + b.text + ', ' +
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
			el.code.value = typeof r.code === 'string' ? r.code : '';
			el.code.scrollTop = 0;
			el.code.setSelectionRange(0, 0);
			updateGutter();
			el.stdin.value = typeof r.stdin === 'string' ? r.stdin : '';
			if (el.stdin.value) el.stdinFold.open = true;
			showResult(r);
		} catch (e) {
			clearOutput();
			setStatus('Could not load run #' + id, 'bad');
			showError(e instanceof ApiError ? e.message : 'Unexpected error: ' + e);
		}
	}

	el.historyMore.addEventListener('click', () => loadHistory(true));
	el.historyRefresh.addEventListener('click', () => loadHistory(false));

	// ---- Start ------------------------------------------------------------

	updateGutter();
	loadHistory(false);
	el.code.focus();
	el.code.setSelectionRange(el.code.value.length, el.code.value.length);
}());
