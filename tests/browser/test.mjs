// The safexec web page in real headless Chromium against the real server.
//
// Starts `safexec serve` on a free loopback port with a fresh data directory,
// drives the page the way a user would, prints one line per test and ends
// with "N passed, N failed".  Screenshots go to build/browser/.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.SAFEXEC_BIN || 'build/safexec';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT_DIR = 'build/browser';
const CHROMIUM_ARGS = [
	'--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let passed = 0;
let failed = 0;

function log(line) {
	process.stdout.write(line + '\n');
}

async function test(name, fn, timeoutMs = 30000) {
	const started = Date.now();
	let timer;
	try {
		await Promise.race([
			fn(),
			new Promise((_, reject) => {
				timer = setTimeout(() => reject(new Error('timed out after ' + timeoutMs + ' ms')), timeoutMs);
			}),
		]);
		passed++;
		log(`ok   ${name} (${Date.now() - started} ms)`);
	} catch (e) {
		failed++;
		const msg = String(e && e.message ? e.message : e).split('\n').slice(0, 6).join('\n       ');
		log(`FAIL ${name}: ${msg}`);
	} finally {
		clearTimeout(timer);
	}
}

function check(cond, what) {
	if (!cond) throw new Error(what);
}

function checkEq(actual, expected, what) {
	if (actual !== expected) {
		throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
	}
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- The server ------------------------------------------------------------

async function startServer(tmp) {
	const port = await freePort();
	const dataDir = path.join(tmp, 'data');
	fs.mkdirSync(dataDir);
	const logFile = path.join(tmp, 'server.out');
	const out = fs.openSync(logFile, 'w');
	const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
		'--log', path.join(tmp, 'executions.log')], { stdio: ['ignore', out, out] });
	fs.closeSync(out);
	let exited = null;
	proc.on('exit', (code, sig) => { exited = sig ? `signal ${sig}` : `exit ${code}`; });
	proc.on('error', (e) => { exited = String(e.message); });
	const base = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + 15000;
	for (;;) {
		if (exited) throw new Error(`server ended early (${exited}): ${tail(logFile)}`);
		try {
			const res = await fetch(base + '/healthz');
			if (res.ok) break;
		} catch (e) {
			// not listening yet
		}
		if (Date.now() > deadline) throw new Error('no answer on /healthz within 15 s: ' + tail(logFile));
		await sleep(100);
	}
	return { proc, base, logFile, exitedRef: () => exited };
}

function tail(file) {
	try {
		return fs.readFileSync(file, 'utf8').split('\n').slice(-8).join('\n');
	} catch (e) {
		return '(no server output)';
	}
}

async function stopServer(server) {
	if (!server || server.exitedRef()) return;
	const done = new Promise((r) => server.proc.once('exit', r));
	server.proc.kill('SIGTERM');
	const t = setTimeout(() => server.proc.kill('SIGKILL'), 10000);
	await done;
	clearTimeout(t);
}

// ---- The page --------------------------------------------------------------

// Everything that went wrong in the browser, checked by the last test.
const problems = [];

function watch(page, base) {
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push('page error: ' + e.message));
	page.on('request', (r) => {
		if (!r.url().startsWith(base + '/')) problems.push('external request: ' + r.url());
	});
	page.on('requestfailed', (r) => problems.push(`failed request: ${r.url()} (${r.failure()?.errorText})`));
	page.on('response', (r) => {
		if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
	});
}

async function statusText(page) {
	return (await page.locator('#status').textContent()).trim();
}

// Waits until the status line reads `want` (a string prefix or a RegExp).
async function waitStatus(page, want, timeout = 20000) {
	const deadline = Date.now() + timeout;
	let last = '';
	while (Date.now() < deadline) {
		last = await statusText(page);
		const busy = await page.locator('#run').isDisabled();
		if (!busy && (want instanceof RegExp ? want.test(last) : last.startsWith(want))) return last;
		await sleep(50);
	}
	const err = await page.locator('#error').textContent();
	throw new Error(`status ${JSON.stringify(last)}, wanted ${want}` + (err ? `; error: ${err}` : ''));
}

async function setCode(page, code) {
	await page.locator('#code').fill(code);
}

async function openFold(page, id) {
	const open = await page.locator('#' + id).evaluate((d) => d.open);
	if (!open) await page.locator(`#${id} > summary`).click();
}

async function main() {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'safexec-browser-'));
	fs.mkdirSync(OUT_DIR, { recursive: true });
	let server = null;
	let context = null;
	try {
		try {
			server = await startServer(tmp);
		} catch (e) {
			failed++;
			log(`FAIL start ${BIN} serve: ${e.message}`);
			return;
		}
		const base = server.base;
		context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
			executablePath: CHROMIUM,
			headless: true,
			args: CHROMIUM_ARGS,
			viewport: { width: 1280, height: 900 },
			colorScheme: 'light',
			timeout: 30000,
		});
		const page = context.pages()[0] || await context.newPage();
		page.setDefaultTimeout(15000);
		watch(page, base);

		let rootResponse = null;
		await test('page loads with the editor, the Run button and the history', async () => {
			rootResponse = await page.goto(base + '/', { waitUntil: 'load' });
			checkEq(rootResponse.status(), 200, 'status of GET /');
			checkEq(await page.title(), 'safexec', 'title');
			checkEq(await page.locator('#code').inputValue(), "print('Hello World')", 'initial code');
			checkEq((await page.locator('#gutter').textContent()).trim(), '1', 'line numbers');
			check(await page.locator('#run').isEnabled(), 'Run button is disabled');
			check(await page.getByLabel('Standard input given to the program').count() === 1, 'stdin box has no label');
			// The first history request has been answered one way or another.
			await page.waitForFunction(() => document.getElementById('history-note').textContent !== 'Loading…');
			const note = await page.locator('#history-note').textContent();
			check(!/unavailable/.test(note), 'history: ' + note);
			check(problems.length === 0, problems.join('; '));
		});

		await test('page follows the Content-Security-Policy (no inline script, style or handler)', async () => {
			const csp = rootResponse && rootResponse.headers()['content-security-policy'];
			check(csp && /default-src 'self'/.test(csp), 'GET / has no CSP default-src \'self\': ' + csp);
			const inline = await page.evaluate(() => {
				const bad = [];
				for (const e of document.querySelectorAll('script:not([src]), style, [style]')) bad.push(e.outerHTML.slice(0, 60));
				for (const e of document.querySelectorAll('*')) {
					for (const a of e.attributes) if (/^on/i.test(a.name)) bad.push(e.tagName + ' ' + a.name);
				}
				return bad;
			});
			check(inline.length === 0, 'inline: ' + inline.join(', '));
		});

		await test('Run shows stdout and stderr apart, with the status and usage', async () => {
			await setCode(page, [
				'import sys, time',
				"print('to stdout')",
				"print('to stderr', file=sys.stderr)",
				'time.sleep(0.6)',
				"print('more stdout')",
			].join('\n'));
			await page.locator('#run').click();
			// While the run is in flight the button says so and takes no clicks.
			await page.waitForFunction(() => document.getElementById('run').disabled);
			checkEq((await page.locator('#run').textContent()).trim(), 'Running…', 'button while running');
			await waitStatus(page, 'Finished (exit 0)');
			checkEq(await page.locator('#stdout').textContent(), 'to stdout\nmore stdout\n', 'stdout');
			checkEq(await page.locator('#stderr').textContent(), 'to stderr\n', 'stderr');
			check(await page.locator('#stdout-block').isVisible() && await page.locator('#stderr-block').isVisible(),
				'stream blocks not both visible');
			const colors = await page.evaluate(() => [
				getComputedStyle(document.getElementById('stdout')).color,
				getComputedStyle(document.getElementById('stderr')).color,
			]);
			check(colors[0] !== colors[1], 'stdout and stderr have the same colour ' + colors[0]);
			check(await page.locator('#metrics').isVisible(), 'no time/memory shown');
			check(/\d+(\.\d+)? (ms|s)$/.test(await page.locator('#m-wall').textContent()), 'wall time format');
			check(/\d+(\.\d+)? (bytes|KiB|MiB|GiB)$/.test(await page.locator('#m-mem').textContent()), 'memory format');
			check(await page.locator('#run').isEnabled(), 'Run button still disabled');
		});

		await test('edit the code and run again with Ctrl+Enter', async () => {
			await page.locator('#code').click();
			await page.keyboard.press('Control+A');
			await page.keyboard.type('print(6 * 7)');
			await page.keyboard.press('Enter');
			await page.keyboard.type('raise SystemExit(3)');
			checkEq(await page.locator('#code').inputValue(), 'print(6 * 7)\nraise SystemExit(3)', 'code');
			checkEq(await page.locator('#gutter').textContent(), '1\n2', 'line numbers');
			await page.keyboard.press('Control+Enter');
			await waitStatus(page, 'Exited with code 3');
			checkEq(await page.locator('#stdout').textContent(), '42\n', 'stdout');
			check(await page.locator('#stderr-block').isHidden(), 'empty stderr shown');
		});

		await test('Tab, Shift+Tab and Enter keep Python indentation', async () => {
			const code = page.locator('#code');
			await code.click();
			await page.keyboard.press('Control+A');
			await page.keyboard.press('Delete');
			await page.keyboard.press('Tab');
			checkEq(await code.inputValue(), '    ', 'after Tab');
			check(await code.evaluate((t) => document.activeElement === t), 'Tab left the editor');
			await page.keyboard.press('Shift+Tab');
			checkEq(await code.inputValue(), '', 'after Shift+Tab');
			await page.keyboard.type('for i in range(2):');
			await page.keyboard.press('Enter');
			await page.keyboard.type('print(i)');
			await page.keyboard.press('Enter');
			checkEq(await code.inputValue(), 'for i in range(2):\n    print(i)\n    ', 'Enter keeps the indentation');
			await page.keyboard.press('Shift+Tab');
			await page.keyboard.type("print('done')");
			const program = "for i in range(2):\n    print(i)\nprint('done')";
			checkEq(await code.inputValue(), program, 'code');
			checkEq(await page.locator('#gutter').textContent(), '1\n2\n3', 'line numbers');
			// A selected block indents and dedents as a whole.
			await page.keyboard.press('Control+A');
			await page.keyboard.press('Tab');
			checkEq(await code.inputValue(), program.split('\n').map((l) => '    ' + l).join('\n'), 'block Tab');
			await page.keyboard.press('Shift+Tab');
			checkEq(await code.inputValue(), program, 'block Shift+Tab');
			// Esc, then Tab moves the focus on instead of indenting.
			await page.keyboard.press('Escape');
			await page.keyboard.press('Tab');
			checkEq(await code.inputValue(), program, 'Esc, Tab changed the code');
			check(await code.evaluate((t) => document.activeElement !== t), 'Esc, Tab kept the focus');
			await code.focus();
			await page.keyboard.press('Control+Enter');
			await waitStatus(page, 'Finished (exit 0)');
			checkEq(await page.locator('#stdout').textContent(), '0\n1\ndone\n', 'stdout');
		});

		await test('line numbers follow the editor as it scrolls', async () => {
			const long = Array.from({ length: 120 }, (_, i) =>
				i === 60 ? 'x = "' + 'y'.repeat(400) + '"' : `print(${i + 1})`).join('\n');
			await setCode(page, long);
			const lines = (await page.locator('#gutter').textContent()).split('\n');
			checkEq(lines.length, 120, 'gutter lines');
			checkEq(lines[119], '120', 'last line number');
			const pos = await page.locator('#code').evaluate(async (t) => {
				t.scrollTop = 1e9;
				await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
				return [t.scrollTop, document.getElementById('gutter').scrollTop];
			});
			check(pos[0] > 0, 'editor did not scroll');
			checkEq(pos[1], pos[0], 'gutter scrollTop');
		});

		await test('the stdin box reaches the program', async () => {
			await openFold(page, 'stdin-fold');
			await page.locator('#stdin').fill('hello from stdin\n');
			await setCode(page, 'print(input().upper())');
			await page.locator('#run').click();
			await waitStatus(page, 'Finished (exit 0)');
			checkEq(await page.locator('#stdout').textContent(), 'HELLO FROM STDIN\n', 'stdout');
		});

		await test('an endless loop ends with "Time limit exceeded"', async () => {
			const hasLimit = await page.locator('#limit-wall').count() > 0;
			if (hasLimit) {
				await openFold(page, 'limits-fold');
				await page.locator('#limit-wall').fill('1');
			}
			await page.locator('#stdin').fill('');
			await setCode(page, 'while True: pass');
			const t0 = Date.now();
			await page.locator('#run').click();
			const s = await waitStatus(page, 'Time limit exceeded', 30000);
			checkEq(s, hasLimit ? 'Time limit exceeded (1 s)' : 'Time limit exceeded (10 s)', 'status');
			if (hasLimit) check(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms with a 1 s limit`);
			if (hasLimit) await page.locator('#limit-wall').fill('');
		}, 45000);

		await test('the history lists the runs and a click loads one', async () => {
			// Newest first: the endless loop, then the stdin run.
			await page.waitForFunction(() => document.querySelectorAll('#history-list .history-item').length >= 5);
			const items = page.locator('#history-list .history-item');
			const first = items.first();
			check((await first.locator('.history-preview').textContent()).includes('while True'), 'newest item is not the last run');
			checkEq((await first.locator('.badge').textContent()).trim(), 'Time limit', 'badge of the newest item');
			await setCode(page, '# something else');
			await page.locator('#stdin').fill('');
			const item = items.filter({ hasText: 'print(input().upper())' }).first();
			await item.click();
			await page.waitForFunction(() => document.getElementById('code').value === 'print(input().upper())');
			checkEq(await page.locator('#stdin').inputValue(), 'hello from stdin\n', 'stdin loaded');
			await waitStatus(page, 'Finished (exit 0)');
			checkEq(await page.locator('#stdout').textContent(), 'HELLO FROM STDIN\n', 'output loaded');
			checkEq(await item.getAttribute('aria-current'), 'true', 'selected item marked');
			checkEq(await page.locator('#gutter').textContent(), '1', 'line numbers');
		});

		await test('a memory bomb and an output flood show their limits', async () => {
			await setCode(page, 'x = "a" * 1000000000');
			await page.locator('#run').click();
			await waitStatus(page, 'Memory limit exceeded (128 MiB)');
			await setCode(page, 'import sys\nsys.stdout.write("x" * 3000000)');
			await page.locator('#run').click();
			await waitStatus(page, 'Output limit exceeded (1 MiB)');
			checkEq(await page.locator('#stdout-trunc').textContent(), 'stdout was cut off at 1 MiB.', 'truncation note');
			checkEq((await page.locator('#stdout').textContent()).length, 1048576, 'stdout length');
		});

		await test('a traceback goes to stderr and the exit code shows', async () => {
			await page.locator('#stdin').fill('');
			for (const id of ['stdin-fold', 'limits-fold']) await page.locator(`#${id} > summary`).click();
			await setCode(page, "print('before the error')\n1 / 0");
			await page.locator('#run').click();
			await waitStatus(page, 'Exited with code 1');
			checkEq(await page.locator('#stdout').textContent(), 'before the error\n', 'stdout');
			const err = await page.locator('#stderr').textContent();
			check(/Traceback[\s\S]*ZeroDivisionError: division by zero/.test(err), 'stderr: ' + err);
			check(!(await page.locator('#stdout').textContent()).includes('Traceback'), 'traceback in stdout');
		});

		await test('screenshots saved in ' + OUT_DIR, async () => {
			await page.locator('#run').focus();
			await page.screenshot({ path: path.join(OUT_DIR, 'screenshot.png'), fullPage: true });
			await page.emulateMedia({ colorScheme: 'dark' });
			await page.screenshot({ path: path.join(OUT_DIR, 'screenshot-dark.png'), fullPage: true });
			await page.emulateMedia({ colorScheme: 'light' });
			await page.setViewportSize({ width: 390, height: 844 });
			await page.screenshot({ path: path.join(OUT_DIR, 'screenshot-narrow.png'), fullPage: true });
			await page.setViewportSize({ width: 1280, height: 900 });
		});

		await test('no console error, failed, refused or external request', async () => {
			check(problems.length === 0, problems.join('; '));
		});
	} catch (e) {
		failed++;
		log('FAIL unexpected: ' + (e && e.stack ? e.stack : e));
	} finally {
		if (context) await context.close().catch(() => {});
		await stopServer(server);
		if (server && failed) log('server output (tail):\n' + tail(server.logFile));
		fs.rmSync(tmp, { recursive: true, force: true });
		log(`${passed} passed, ${failed} failed`);
		process.exitCode = failed ? 1 : 0;
	}
}

main();
