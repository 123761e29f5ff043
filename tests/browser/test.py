#!/usr/bin/python3
"""The safexec web page in real headless Chromium against the real server.

Starts `safexec serve` on a free loopback port with a fresh data directory,
drives the page the way a user would through Debian's chromium-driver
(WebDriver, with the DevTools protocol where WebDriver has no word for it),
prints one line per test and ends with "N passed, N failed".  Screenshots go
to build/browser/ and are checked: a valid PNG of the page's size, in more
than a few colours, with the page's background, and the compiler's output,
stdout's and stderr's background and text drawn in their own colours, and
the dark one darker.

Debian 12 packages only: chromium, chromium-driver, python3-selenium,
python3-pil, python3-matplotlib.
"""
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

BIN = os.environ.get('SAFEXEC_BIN', 'build/safexec')
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
OUT_DIR = 'build/browser'
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
]
WIDTH, HEIGHT = 1280, 900

# Everything here talks to this machine's loopback only: no proxy, for
# urllib, for Selenium's connection to chromedriver, and for Chromium.
for _k in list(os.environ):
    if _k.lower() in ('http_proxy', 'https_proxy', 'all_proxy', 'ftp_proxy', 'no_proxy'):
        del os.environ[_k]

passed = 0
failed = 0


def log(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


class TimedOut(Exception):
    pass


def _alarm(signum, frame):
    raise TimedOut('timed out')


def test(name, fn, timeout_s=30):
    global passed, failed
    started = time.monotonic()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        fn()
        signal.setitimer(signal.ITIMER_REAL, 0)
        passed += 1
        log(f'ok   {name} ({round((time.monotonic() - started) * 1000)} ms)')
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        signal.setitimer(signal.ITIMER_REAL, 0)
        failed += 1
        if isinstance(e, TimedOut):
            msg = f'timed out after {timeout_s * 1000} ms'
        elif isinstance(e, WebDriverException) and e.msg:
            msg = e.msg  # without chromedriver's stack trace
        else:
            msg = str(e) or type(e).__name__
        msg = '\n       '.join(msg.split('\n')[:6])
        log(f'FAIL {name}: {msg}')


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f'{what}: expected {json.dumps(expected)}, got {json.dumps(actual)}')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ---- The server ---------------------------------------------------------------

class Server:
    def __init__(self, tmp, *args):
        port = free_port()
        data_dir = os.path.join(tmp, 'data')
        os.mkdir(data_dir)
        self.log_file = os.path.join(tmp, 'server.out')
        with open(self.log_file, 'w') as out:
            self.proc = subprocess.Popen(
                [BIN, 'serve', '--listen', f'127.0.0.1:{port}', '--data-dir', data_dir,
                 '--log', os.path.join(tmp, 'executions.log'), *args],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.base = f'http://127.0.0.1:{port}'
        deadline = time.monotonic() + 15
        while True:
            rc = self.proc.poll()
            if rc is not None:
                how = f'signal {-rc}' if rc < 0 else f'exit {rc}'
                raise RuntimeError(f'server ended early ({how}): {tail(self.log_file)}')
            try:
                with urllib.request.urlopen(self.base + '/healthz', timeout=2) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError('no answer on /healthz within 15 s: ' + tail(self.log_file))
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def tail(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return '\n'.join(f.read().split('\n')[-8:])
    except OSError:
        return '(no server output)'


# ---- The browser --------------------------------------------------------------

class Browser:
    """One Chromium tab through chromedriver.

    Everything that goes wrong in the tab (console errors and warnings,
    uncaught exceptions, failed requests, HTTP errors, requests that leave
    the server) is gathered in `problems` from chromedriver's browser and
    performance (DevTools network) logs.
    """

    def __init__(self, tmp, base):
        self.base = base
        self.problems = []
        self.responses = []  # (url, status, headers, resource type), in order
        self._urls = {}
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in CHROMIUM_ARGS:
            opts.add_argument(a)
        opts.add_argument('--user-data-dir=' + os.path.join(tmp, 'profile'))
        opts.add_argument(f'--window-size={WIDTH},{HEIGHT}')
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
        opts.add_experimental_option('perfLoggingPrefs', {'enableNetwork': True, 'enablePage': False})
        service = Service(executable_path=CHROMEDRIVER, log_path=os.path.join(tmp, 'chromedriver.log'))
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(30)
        self.set_viewport(WIDTH, HEIGHT)
        self.color_scheme('light')

    def quit(self):
        self.driver.quit()

    # -- DevTools and scripts

    def cdp(self, cmd, **params):
        return self.driver.execute_cdp_cmd(cmd, params)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def set_viewport(self, width, height):
        self.cdp('Emulation.setDeviceMetricsOverride', width=width, height=height,
                 deviceScaleFactor=1, mobile=False)
        self.next_frame()

    def color_scheme(self, scheme):
        self.cdp('Emulation.setEmulatedMedia', media='',
                 features=[{'name': 'prefers-color-scheme', 'value': scheme}])
        self.next_frame()

    def next_frame(self):
        self.driver.execute_async_script(
            'const done = arguments[arguments.length - 1];'
            'requestAnimationFrame(() => requestAnimationFrame(() => done(true)));')

    # -- what went wrong

    def collect(self):
        """Moves chromedriver's log entries into problems and responses."""
        for e in self.driver.get_log('browser'):
            level, source, text = e.get('level'), e.get('source'), e.get('message', '')
            if level not in ('SEVERE', 'WARNING'):
                continue
            if source == 'javascript':
                self.problems.append('page error: ' + text)
            else:
                kind = 'error' if level == 'SEVERE' else 'warning'
                self.problems.append(f'console {kind} ({source}): {text}')
        for e in self.driver.get_log('performance'):
            m = json.loads(e['message'])['message']
            method, p = m.get('method'), m.get('params', {})
            if method == 'Network.requestWillBeSent':
                url = p['request']['url']
                self._urls[p['requestId']] = url
                # The page's own data: images and blob: downloads (the
                # program's files) never leave the browser.
                if url.startswith(('data:image/', 'blob:' + self.base + '/')):
                    continue
                if not url.startswith(self.base + '/'):
                    self.problems.append('external request: ' + url)
            elif method == 'Network.responseReceived':
                r = p['response']
                status = int(r.get('status', 0))
                headers = {k.lower(): v for k, v in r.get('headers', {}).items()}
                self.responses.append((r['url'], status, headers, p.get('type')))
                if status >= 400:
                    self.problems.append(f'HTTP {status}: {r["url"]}')
            elif method == 'Network.loadingFailed':
                url = self._urls.get(p['requestId'], '?')
                # A run the page stopped: its request aborted on purpose.
                if p.get('canceled') and url == self.base + '/api/v1/execute':
                    continue
                self.problems.append(f'failed request: {url} ({p.get("errorText")})')

    # -- the page, by CSS selector

    def el(self, sel):
        e = self.js('return document.querySelector(arguments[0]);', sel)  # None if absent
        if e is None:
            raise AssertionError('no element ' + sel)
        return e

    def count(self, sel):
        return self.js('return document.querySelectorAll(arguments[0]).length;', sel)

    def text(self, sel):
        """The DOM textContent, as Playwright's textContent()."""
        return self.js('const e = document.querySelector(arguments[0]);'
                       'if (!e) throw new Error("no element " + arguments[0]);'
                       'return e.textContent;', sel)

    def value(self, sel):
        return self.js('return document.querySelector(arguments[0]).value;', sel)

    def visible(self, sel):
        return self.el(sel).is_displayed()

    def enabled(self, sel):
        return self.el(sel).is_enabled()

    def click(self, sel_or_el):
        e = self.el(sel_or_el) if isinstance(sel_or_el, str) else sel_or_el
        e.click()

    def fill(self, sel, text):
        """As Playwright's fill(): focus, select all, insert the text as typed."""
        e = self.el(sel)
        check(e.is_displayed() and e.is_enabled() and not e.get_property('readOnly'),
              f'fill {sel}: not visible and editable')
        self.js('arguments[0].focus(); arguments[0].select();', e)
        if text:
            self.cdp('Input.insertText', text=text)
        else:
            self.press(Keys.DELETE)
        got = self.value(sel)
        if got != text:
            raise AssertionError(f'fill {sel}: value is {json.dumps(got[:80])}')

    def press(self, key, *mods):
        a = ActionChains(self.driver)
        for m in mods:
            a.key_down(m)
        a.send_keys(key)
        for m in reversed(mods):
            a.key_up(m)
        a.perform()

    def type(self, text):
        ActionChains(self.driver).send_keys(text).perform()

    def wait_for(self, script, what, timeout=15, *args):
        deadline = time.monotonic() + timeout
        while True:
            if self.js(script, *args):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f'waited {timeout} s for {what}')
            time.sleep(0.05)

    def status_text(self):
        return self.text('#status').strip()

    def wait_status(self, want, timeout=20):
        """Waits until the status line reads `want` (a prefix or a compiled regexp)."""
        deadline = time.monotonic() + timeout
        last = ''
        while time.monotonic() < deadline:
            last = self.status_text()
            busy = not self.enabled('#run')
            ok = want.search(last) if isinstance(want, re.Pattern) else last.startswith(want)
            if not busy and ok:
                return last
            time.sleep(0.05)
        err = self.text('#error')
        want_s = want.pattern if isinstance(want, re.Pattern) else want
        raise AssertionError(f'status {json.dumps(last)}, wanted {want_s}' + (f'; error: {err}' if err else ''))

    def language_texts(self):
        """The language selector's options: [value, text] pairs."""
        return self.js("return Array.from(document.querySelectorAll('#language option'),"
                       " (o) => [o.value, o.textContent]);")

    def choose_language(self, name):
        """Picks a language in the selector as a user does (a change event)."""
        Select(self.el('#language')).select_by_value(name)
        check_eq(self.value('#language'), name, 'language chosen')

    def open_fold(self, fold_id):
        if not self.js('return document.getElementById(arguments[0]).open;', fold_id):
            self.click(f'#{fold_id} > summary')

    def active_is(self, sel):
        return self.js('return document.activeElement === document.querySelector(arguments[0]);', sel)

    # -- screenshots

    def full_page_png(self, width, height):
        """The whole page at `width` CSS pixels, as PNG bytes, and where the
        output blocks are drawn in it.

        The viewport is made as tall as the page, so that the page is laid
        out once for the picture and the boxes measured are the ones drawn.
        The history is as tall as the viewport allows, so the page grows
        with it: its height is first taken in a viewport taller than any
        page here, where the history has all the room it needs."""
        self.js('window.scrollTo(0, 0);')
        measure = 'return Math.ceil(document.documentElement.getBoundingClientRect().height);'
        self.set_viewport(width, 16384)
        full = max(height, self.js(measure))
        for _ in range(5):
            self.set_viewport(width, full)
            h = self.js(measure)
            if h <= full:
                break
            full = h
        else:
            raise AssertionError(f'the page keeps growing with the viewport: {h} px at the last try')
        boxes = self.js('''
            const out = {};
            for (const id of ['compile-output', 'stdout', 'stderr']) {
                const e = document.getElementById(id);
                if (!e) continue;
                const r = e.getBoundingClientRect();
                const s = getComputedStyle(e);
                let bg = 'rgba(0, 0, 0, 0)';
                for (let p = e; p && /^rgba\(.*, 0\)$|^transparent$/.test(bg); p = p.parentElement)
                    bg = getComputedStyle(p).backgroundColor;
                out[id] = {x: r.x, y: r.y, w: r.width, h: r.height, color: s.color, bg};
            }
            out.body = getComputedStyle(document.body).backgroundColor;
            out.width = document.documentElement.scrollWidth;
            return out;''')
        shot = self.cdp('Page.captureScreenshot', format='png', captureBeyondViewport=False)
        self.set_viewport(WIDTH, HEIGHT)
        return base64.b64decode(shot['data']), full, boxes


# ---- Checking a screenshot ----------------------------------------------------

def parse_rgb(css):
    m = re.match(r'rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)$', css)
    if not m:
        raise AssertionError('cannot read colour ' + css)
    return tuple(int(m.group(i)) for i in (1, 2, 3))


def near(a, b, tol):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def check_png(path, data, width, height, boxes, what):
    """The file is a PNG of width x height, as the page was laid out, in
    more than a few colours, with the page's background colour on a good part
    of it, and inside the compiler's output, stdout and stderr boxes their
    background and their text drawn in their own colours.  Returns the page's
    background colour."""
    with open(path, 'wb') as f:
        f.write(data)
    with open(path, 'rb') as f:
        raw = f.read()
    check(raw[:8] == b'\x89PNG\r\n\x1a\n', f'{what}: {path} is not a PNG')
    check(raw[12:16] == b'IHDR', f'{what}: no IHDR chunk')
    w, h = struct.unpack('>II', raw[16:24])
    check_eq([w, h], [width, height], f'{what}: size of {path}')
    check_eq(boxes['width'], width, f'{what}: page width (horizontal overflow)')
    Image.open(io.BytesIO(raw)).verify()  # chunk CRCs and structure
    img = Image.open(io.BytesIO(raw)).convert('RGB')
    colors = img.getcolors(w * h)
    colors.sort(reverse=True)
    check(len(colors) >= 16, f'{what}: only {len(colors)} colours in the picture')
    top_count, top = colors[0]
    check(top_count < 0.9 * w * h, f'{what}: {top} covers {top_count * 100 // (w * h)}% of the picture')
    body = parse_rgb(boxes['body'])
    share = sum(n for n, c in colors if near(c, body, 2)) / (w * h)
    check(share >= 0.03, f'{what}: page background {body} on {share:.1%} of the picture')
    for stream in ('compile-output', 'stdout', 'stderr'):
        b = boxes.get(stream)
        check(b, f'{what}: no #{stream} on the page')
        check(b['w'] > 20 and b['h'] > 10, f'{what}: {stream} box {b}')
        box = (max(0, round(b['x'])), max(0, round(b['y'])),
               min(w, round(b['x'] + b['w'])), min(h, round(b['y'] + b['h'])))
        region = img.crop(box)
        area = region.width * region.height
        rcolors = region.getcolors(area)
        bg, fg = parse_rgb(b['bg']), parse_rgb(b['color'])
        on_bg = sum(n for n, c in rcolors if near(c, bg, 2))
        check(on_bg >= 0.5 * area, f'{what}: {stream} background {bg} on {on_bg} of {area} pixels of {box}')
        inked = sum(n for n, c in rcolors if near(c, fg, 24))
        check(inked >= 30, f'{what}: {stream} text colour {fg} on {inked} pixels of {box}')
    return body


def luminance(rgb):
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ---- The tests -----------------------------------------------------------------

def api_get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as res:
        return json.loads(res.read().decode('utf-8'))


def gutter_for(code):
    """The line numbers the editor's gutter shows for code."""
    return '\n'.join(str(i + 1) for i in range(code.count('\n') + 1))


def seconds(ms):
    """A limit in seconds as the page writes it: 10000 -> "10", 500 -> "0.5"."""
    return '%g' % (ms / 1000)


def run_tests(b):
    base = b.base
    root = {}
    # The server's languages, as the page gets them, by name.
    langs = api_get(base, '/api/v1/languages')
    check(isinstance(langs, list) and langs, 'GET /api/v1/languages: ' + json.dumps(langs)[:200])
    lang = {x['language']: x for x in langs}
    for name in ('python', 'c'):
        check(name in lang, f'the server does not offer {name}: ' + ', '.join(lang))
    py, c = lang['python'], lang['c']

    def languages_listed():
        """Waits until the selector lists the server's languages."""
        want = [x['language'] for x in langs]
        b.wait_for("return Array.from(document.querySelectorAll('#language option'), (o) => o.value)"
                   ".join(' ') === arguments[0];", 'the languages in the selector', 15, ' '.join(want))

    def page_loads():
        # Chromium starts on its own start page: what that loads is not the
        # page's doing, so leave it and forget its log first.
        b.driver.get('about:blank')
        b.collect()
        b.problems.clear()
        b.responses.clear()
        b.driver.get(base + '/')
        b.collect()
        docs = [r for r in b.responses if r[0] == base + '/' and r[3] == 'Document']
        check(docs, 'no response seen for GET /')
        root['status'], root['headers'] = docs[-1][1], docs[-1][2]
        check_eq(root['status'], 200, 'status of GET /')
        check_eq(b.driver.title, 'safexec', 'title')
        # The selector: every language the server lists, by its display
        # name and version, Python chosen, its template in the editor.
        languages_listed()
        for (value, text), x in zip(b.language_texts(), langs):
            check(x['display_name'] in text and x['version'] in text,
                  f'option {value}: {json.dumps(text)} lacks {x["display_name"]} or {x["version"]}')
        check_eq(b.value('#language'), 'python', 'language chosen at first')
        check_eq(b.text('#source-file'), 'main.py', 'editor tab')
        check_eq(b.value('#code'), py['hello'], 'initial code')
        check_eq(b.text('#gutter'), gutter_for(py['hello']), 'line numbers')
        check(b.enabled('#run'), 'Run button is disabled')
        # The form control labelled so, by <label>, aria-label or
        # aria-labelledby (Playwright's getByLabel), is exactly one: #stdin.
        labelled = b.js('''
            const want = arguments[0].toLowerCase();
            const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim().toLowerCase();
            const found = [];
            for (const e of document.querySelectorAll('input, textarea, select, button, [aria-label], [aria-labelledby]')) {
                const names = [e.getAttribute('aria-label')];
                for (const l of e.labels || []) names.push(l.textContent);
                for (const id of (e.getAttribute('aria-labelledby') || '').split(/\\s+/)) {
                    const l = id && document.getElementById(id);
                    if (l) names.push(l.textContent);
                }
                if (names.some((n) => norm(n).includes(want))) found.push(e.id);
            }
            return found;''', 'Standard input given to the program')
        check(labelled == ['stdin'], 'stdin box has no label: labelled ' + json.dumps(labelled))
        # The first history request has been answered one way or another.
        b.wait_for("return document.getElementById('history-note').textContent !== 'Loading…';",
                   'the history to load')
        note = b.text('#history-note')
        check(not re.search('unavailable', note), 'history: ' + note)
        b.collect()
        check(not b.problems, '; '.join(b.problems))

    def csp():
        c = root.get('headers', {}).get('content-security-policy')
        check(c and re.search(r"default-src 'self'", c), "GET / has no CSP default-src 'self': " + str(c))
        inline = b.js('''
            const bad = [];
            for (const e of document.querySelectorAll('script:not([src]), style, [style]')) bad.push(e.outerHTML.slice(0, 60));
            for (const e of document.querySelectorAll('*')) {
                for (const a of e.attributes) if (/^on/i.test(a.name)) bad.push(e.tagName + ' ' + a.name);
            }
            return bad;''')
        check(len(inline) == 0, 'inline: ' + ', '.join(inline))

    def run_streams():
        b.fill('#code', '\n'.join([
            'import sys, time',
            "print('to stdout')",
            "print('to stderr', file=sys.stderr)",
            'time.sleep(0.6)',
            "print('more stdout')",
        ]))
        b.click('#run')
        # While the run is in flight the button says so and takes no clicks.
        b.wait_for("return document.getElementById('run').disabled;", 'the Run button to be disabled')
        check_eq(b.text('#run').strip(), 'Running…', 'button while running')
        b.wait_status('Finished (exit 0)')
        check_eq(b.text('#stdout'), 'to stdout\nmore stdout\n', 'stdout')
        check_eq(b.text('#stderr'), 'to stderr\n', 'stderr')
        check(b.visible('#stdout-block') and b.visible('#stderr-block'), 'stream blocks not both visible')
        colors = b.js("return [getComputedStyle(document.getElementById('stdout')).color,"
                      "getComputedStyle(document.getElementById('stderr')).color];")
        check(colors[0] != colors[1], 'stdout and stderr have the same colour ' + colors[0])
        check(b.visible('#metrics'), 'no time/memory shown')
        check(re.search(r'\d+(\.\d+)? (ms|s)$', b.text('#m-wall')), 'wall time format')
        check(re.search(r'\d+(\.\d+)? (bytes|KiB|MiB|GiB)$', b.text('#m-mem')), 'memory format')
        check(b.enabled('#run'), 'Run button still disabled')

    def ctrl_enter():
        b.click('#code')
        b.press('a', Keys.CONTROL)
        b.type('print(6 * 7)')
        b.press(Keys.ENTER)
        b.type('raise SystemExit(3)')
        check_eq(b.value('#code'), 'print(6 * 7)\nraise SystemExit(3)', 'code')
        check_eq(b.text('#gutter'), '1\n2', 'line numbers')
        b.press(Keys.ENTER, Keys.CONTROL)
        b.wait_status('Exited with code 3')
        check_eq(b.text('#stdout'), '42\n', 'stdout')
        check(not b.visible('#stderr-block'), 'empty stderr shown')

    def indentation():
        b.click('#code')
        b.press('a', Keys.CONTROL)
        b.press(Keys.DELETE)
        b.press(Keys.TAB)
        check_eq(b.value('#code'), '    ', 'after Tab')
        check(b.active_is('#code'), 'Tab left the editor')
        b.press(Keys.TAB, Keys.SHIFT)
        check_eq(b.value('#code'), '', 'after Shift+Tab')
        b.type('for i in range(2):')
        b.press(Keys.ENTER)
        b.type('print(i)')
        b.press(Keys.ENTER)
        check_eq(b.value('#code'), 'for i in range(2):\n    print(i)\n    ', 'Enter keeps the indentation')
        b.press(Keys.TAB, Keys.SHIFT)
        b.type("print('done')")
        program = "for i in range(2):\n    print(i)\nprint('done')"
        check_eq(b.value('#code'), program, 'code')
        check_eq(b.text('#gutter'), '1\n2\n3', 'line numbers')
        # A selected block indents and dedents as a whole.
        b.press('a', Keys.CONTROL)
        b.press(Keys.TAB)
        check_eq(b.value('#code'), '\n'.join('    ' + line for line in program.split('\n')), 'block Tab')
        b.press(Keys.TAB, Keys.SHIFT)
        check_eq(b.value('#code'), program, 'block Shift+Tab')
        # Esc, then Tab moves the focus on instead of indenting.
        b.press(Keys.ESCAPE)
        b.press(Keys.TAB)
        check_eq(b.value('#code'), program, 'Esc, Tab changed the code')
        check(not b.active_is('#code'), 'Esc, Tab kept the focus')
        b.js("document.getElementById('code').focus();")
        b.press(Keys.ENTER, Keys.CONTROL)
        b.wait_status('Finished (exit 0)')
        check_eq(b.text('#stdout'), '0\n1\ndone\n', 'stdout')

    def gutter_scroll():
        long = '\n'.join(('x = "' + 'y' * 400 + '"') if i == 60 else f'print({i + 1})' for i in range(120))
        b.fill('#code', long)
        lines = b.text('#gutter').split('\n')
        check_eq(len(lines), 120, 'gutter lines')
        check_eq(lines[119], '120', 'last line number')
        pos = b.driver.execute_async_script('''
            const done = arguments[arguments.length - 1];
            const t = document.getElementById('code');
            t.scrollTop = 1e9;
            requestAnimationFrame(() => requestAnimationFrame(() =>
                done([t.scrollTop, document.getElementById('gutter').scrollTop])));''')
        check(pos[0] > 0, 'editor did not scroll')
        check_eq(pos[1], pos[0], 'gutter scrollTop')

    def stdin():
        b.open_fold('stdin-fold')
        b.fill('#stdin', 'hello from stdin\n')
        b.fill('#code', 'print(input().upper())')
        b.click('#run')
        b.wait_status('Finished (exit 0)')
        check_eq(b.text('#stdout'), 'HELLO FROM STDIN\n', 'stdout')

    def endless_loop():
        has_limit = b.count('#limit-wall') > 0
        if has_limit:
            b.open_fold('limits-fold')
            b.fill('#limit-wall', '1')
        b.fill('#stdin', '')
        b.fill('#code', 'while True: pass')
        t0 = time.monotonic()
        b.click('#run')
        s = b.wait_status('Time limit exceeded', 30)
        check_eq(s, 'Time limit exceeded (1 s)' if has_limit else 'Time limit exceeded (10 s)', 'status')
        if has_limit:
            took = round((time.monotonic() - t0) * 1000)
            check(took < 8000, f'took {took} ms with a 1 s limit')
            b.fill('#limit-wall', '')

    def history():
        # Newest first: the endless loop, then the stdin run.
        b.wait_for("return document.querySelectorAll('#history-list .history-item').length >= 5;",
                   'five history items')
        first = b.js('''
            const e = document.querySelector('#history-list .history-item');
            const part = (sel) => { const p = e.querySelectorAll(sel); return p.length === 1 ? p[0].textContent : null; };
            return [part('.history-preview'), part('.badge')];''')
        check(first[0] is not None and 'while True' in first[0], 'newest item is not the last run')
        check_eq((first[1] or '').strip(), 'Time limit', 'badge of the newest item')
        b.fill('#code', '# something else')
        b.fill('#stdin', '')
        find_item = '''
            for (const e of document.querySelectorAll('#history-list .history-item'))
                if (e.textContent.includes(arguments[0])) return e;
            return null;'''
        item = b.js(find_item, 'print(input().upper())')
        check(item is not None, 'no history item for print(input().upper())')
        b.click(item)
        b.wait_for("return document.getElementById('code').value === 'print(input().upper())';",
                   'the run to load into the editor')
        check_eq(b.value('#stdin'), 'hello from stdin\n', 'stdin loaded')
        b.wait_status('Finished (exit 0)')
        check_eq(b.text('#stdout'), 'HELLO FROM STDIN\n', 'output loaded')
        current = b.js(find_item.replace('return e;', "return e.getAttribute('aria-current');"),
                       'print(input().upper())')
        check_eq(current, 'true', 'selected item marked')
        check_eq(b.text('#gutter'), '1', 'line numbers')

    def limits():
        b.fill('#code', 'x = "a" * 1000000000')
        b.click('#run')
        b.wait_status('Memory limit exceeded (128 MiB)')
        b.fill('#code', 'import sys\nsys.stdout.write("x" * 3000000)')
        b.click('#run')
        b.wait_status('Output limit exceeded (1 MiB)')
        check_eq(b.text('#stdout-trunc'), 'stdout was cut off at 1 MiB.', 'truncation note')
        check_eq(b.js("return document.getElementById('stdout').textContent.length;"), 1048576, 'stdout length')

    def traceback_():
        b.fill('#stdin', '')
        for fold in ('stdin-fold', 'limits-fold'):
            b.click(f'#{fold} > summary')
        b.fill('#code', "print('before the error')\n1 / 0")
        b.click('#run')
        b.wait_status('Exited with code 1')
        check_eq(b.text('#stdout'), 'before the error\n', 'stdout')
        err = b.text('#stderr')
        check(re.search(r'Traceback[\s\S]*ZeroDivisionError: division by zero', err), 'stderr: ' + err)
        check('Traceback' not in b.text('#stdout'), 'traceback in stdout')

    # ---- Languages

    # The program the Python tests left in the editor: code the user wrote.
    py_code = "print('before the error')\n1 / 0"
    c_broken = '#include <stdio.h>\n\nint main(void)\n{\n\tputs("never printed");\n\treturn missing;\n}\n'

    def check_language(name, code, what):
        check_eq(b.value('#language'), name, what + ': language chosen')
        check_eq(b.text('#source-file'), lang[name]['source_file'], what + ': editor tab')
        check_eq(b.value('#code'), code, what + ': code')
        check_eq(b.text('#gutter'), gutter_for(code), what + ': line numbers')

    def compile_shown(kind):
        check(b.visible('#compile'), 'no compile section')
        check_eq(b.js("return document.getElementById('compile-status').dataset.kind;"), kind, 'compile status kind')

    def c_hello():
        check_eq(b.value('#code'), py_code, 'code before the switch')
        b.choose_language('c')
        check_language('c', c['hello'], 'after choosing C')
        check('#include' in c['hello'], 'C template: ' + c['hello'])
        # The Python code went nowhere: the note says so and offers it here.
        check(b.visible('#draft-note'), 'no note about the Python code')
        check(py['display_name'] in b.text('#draft-text'), 'note: ' + b.text('#draft-text'))
        # The limits' placeholders are C's defaults.
        dflt = c['limits']['run']['default']
        check_eq(b.js("return document.getElementById('limit-wall').placeholder;"),
                 seconds(dflt['wall_time_ms']), 'wall time placeholder')
        b.click('#run')
        b.wait_status('Finished (exit 0)', 60)
        compile_shown('ok')
        check_eq(b.text('#compile-status').strip(), 'Compiled', 'compile status')
        check(b.visible('#compile-metrics'), 'no compile time and memory')
        check(re.search(r'\d+(\.\d+)? (ms|s)$', b.text('#c-wall')), 'compile wall time: ' + b.text('#c-wall'))
        check(re.search(r'\d+(\.\d+)? (bytes|KiB|MiB|GiB)$', b.text('#c-mem')), 'compile memory: ' + b.text('#c-mem'))
        check(not b.visible('#compile-output') and b.visible('#compile-none'), 'compiler messages of a clean compile')
        check_eq(b.text('#stdout'), 'Hello World\n', 'stdout')
        check(not b.visible('#stderr-block'), 'empty stderr shown')
        check(b.visible('#metrics'), 'no run time and memory')
        check(not b.visible('#draft-note'), 'the note outlived the run')

    def c_compile_error():
        b.fill('#code', c_broken)
        b.press(Keys.ENTER, Keys.CONTROL)
        b.wait_status('Compilation failed', 60)
        check_eq(b.status_text(), 'Compilation failed', 'status')
        check_eq(b.js("return document.getElementById('status').dataset.kind;"), 'bad', 'status kind')
        compile_shown('bad')
        check(re.match(r'Compilation failed \(exit [1-9]\d*\)$', b.text('#compile-status').strip()),
              'compile status: ' + b.text('#compile-status'))
        out = b.text('#compile-output')
        check(b.visible('#compile-output'), 'compiler messages hidden')
        check(re.search(r"main\.c:6:\d+: error: .missing. undeclared", out), 'compiler messages: ' + out)
        # The program never ran: no stream, no usage of its own.
        for sel in ('#stdout-block', '#stderr-block', '#metrics'):
            check(not b.visible(sel), sel + ' shown after a failed compile')
        check_eq(b.text('#no-output'), 'The program did not run.', 'note')
        check_eq(b.text('#stdout') + b.text('#stderr'), '', 'run output')
        # The history says so, with the language.
        b.wait_for("const e = document.querySelector('#history-list .history-item');"
                   "return e && e.textContent.includes('#include');", 'the run in the history')
        first = b.js('''const e = document.querySelector('#history-list .history-item');
            return [e.querySelector('.badge').textContent, e.querySelector('.history-lang').textContent];''')
        check_eq(first, ['Compile error', 'c'], 'newest history item')

    def switch_back():
        b.choose_language('python')
        check_language('python', py_code, 'back to Python')
        check(not b.visible('#draft-note'), 'note shown though Python had its own code')
        b.click('#run')
        b.wait_status('Exited with code 1')
        check(not b.visible('#compile'), 'a Python run shows a compile section')
        check_eq(b.text('#stdout'), 'before the error\n', 'stdout')
        b.choose_language('c')
        check_language('c', c_broken, 'C again')

    def reload_keeps():
        b.driver.refresh()
        languages_listed()
        check_language('c', c_broken, 'after a reload')
        b.choose_language('python')
        check_language('python', py_code, 'Python after a reload')

    def templates():
        # An empty editor is nobody's code: the other language's template comes.
        b.fill('#code', '')
        b.choose_language('c')
        check_language('c', c_broken, 'C keeps its code')
        b.fill('#code', '')
        b.choose_language('python')
        check_language('python', py['hello'], 'Python emptied')
        check(not b.visible('#draft-note'), 'note about empty code')
        # An untouched template gives way to the other's.
        b.choose_language('c')
        check_language('c', c['hello'], 'C after its code was emptied')
        check(not b.visible('#draft-note'), 'note about a template')
        # Code written in the wrong language: kept, and brought over on request.
        b.choose_language('python')
        b.fill('#code', 'int main(void) { return 0; }')
        b.choose_language('c')
        check_language('c', c['hello'], 'C after Python code')
        check(b.visible('#draft-note'), 'no note about the Python code')
        b.click('#draft-bring')
        check_language('c', 'int main(void) { return 0; }', 'brought into C')
        check(not b.visible('#draft-note'), 'note still shown')
        # Undo in the editor gives the template back.
        b.press('z', Keys.CONTROL)
        check_language('c', c['hello'], 'after Ctrl+Z')
        b.choose_language('python')
        check_language('python', 'int main(void) { return 0; }', 'Python keeps it too')
        b.fill('#code', py['hello'])

    def every_language():
        # Each language's file name and template, and the template runs
        # (compiled where the language says so).
        for x in langs:
            b.choose_language(x['language'])
            check_language(x['language'], x['hello'], x['language'])
            b.click('#run')
            b.wait_status('Finished (exit 0)', 90)
            check_eq(b.visible('#compile'), bool(x['compiled']), x['language'] + ': compile section shown')
            check_eq(b.text('#stdout'), 'Hello World\n', x['language'] + ': stdout')

    def history_language():
        # A fresh compile error, so that the history shows it whatever
        # number of languages ran before.
        b.choose_language('c')
        b.fill('#code', c_broken)
        b.click('#run')
        b.wait_status('Compilation failed', 60)
        b.choose_language('python')
        item = b.js('''for (const e of document.querySelectorAll('#history-list .history-item'))
                           if (e.textContent.includes('#include') && e.textContent.includes('Compile error')) return e;
                       return null;''')
        check(item is not None, 'no history item for the compile error')
        b.click(item)
        b.wait_for("return document.getElementById('language').value === 'c';", 'C chosen from the history')
        b.wait_status('Compilation failed')
        check_language('c', c_broken, 'C from the history')
        compile_shown('bad')
        check(re.search(r'error: .missing. undeclared', b.text('#compile-output')),
              'compiler messages: ' + b.text('#compile-output'))
        check(not b.visible('#stdout-block') and not b.visible('#stderr-block'), 'run output shown')

    def c_everything():
        # Arguments, stdin, a compiler warning, stdout and stderr; the page
        # is left so for the screenshots.
        if b.value('#language') != 'c':
            b.choose_language('c')
        b.open_fold('stdin-fold')
        b.fill('#args', 'one "two words"')
        b.fill('#stdin', 'from stdin\n')
        b.fill('#code', '\n'.join([
            '#include <stdio.h>',
            '#warning "a word from the compiler"',
            '',
            'int main(int argc, char **argv)',
            '{',
            '\tchar line[64];',
            '\tif (fgets(line, sizeof line, stdin))',
            '\t\tprintf("stdin: %s", line);',
            '\tfor (int i = 1; i < argc; i++)',
            '\t\tprintf("arg %d: %s\\n", i, argv[i]);',
            '\tfprintf(stderr, "to stderr\\n");',
            '\treturn 0;',
            '}',
        ]))
        b.click('#run')
        b.wait_status('Finished (exit 0)', 60)
        compile_shown('ok')
        check_eq(b.text('#compile-status').strip(), 'Compiled', 'compile status')
        out = b.text('#compile-output')
        check(re.search(r'warning: #warning "?a word from the compiler', out), 'compiler messages: ' + out)
        check_eq(b.text('#stdout'), 'stdin: from stdin\narg 1: one\narg 2: two words\n', 'stdout')
        check_eq(b.text('#stderr'), 'to stderr\n', 'stderr')
        # An argument the page cannot read is not sent.
        b.fill('#args', 'one "two')
        b.click('#run')
        b.wait_status('Not run')
        check_eq(b.text('#error'), 'Arguments: a " is not closed.', 'error')
        check(b.active_is('#args'), 'focus not on the arguments')
        b.fill('#args', 'one "two words"')
        b.click('#run')
        b.wait_status('Finished (exit 0)', 60)
        check_eq(b.text('#stdout'), 'stdin: from stdin\narg 1: one\narg 2: two words\n', 'stdout')

    def screenshots():
        # The Run button focused, as a keyboard user sees it (an empty page
        # has none: what it looks like is for the pictures' checks to say).
        b.js("const r = document.getElementById('run'); if (r) r.focus();")
        shots = {}
        for name, scheme, width in (('screenshot.png', 'light', WIDTH),
                                    ('screenshot-dark.png', 'dark', WIDTH),
                                    ('screenshot-narrow.png', 'light', 390)):
            b.color_scheme(scheme)
            data, height, boxes = b.full_page_png(width, HEIGHT)
            check(height >= HEIGHT, f'{name}: page height {height}')
            shots[name] = check_png(os.path.join(OUT_DIR, name), data, width, height, boxes, name)
        b.color_scheme('light')
        light, dark = shots['screenshot.png'], shots['screenshot-dark.png']
        check(luminance(dark) + 100 < luminance(light),
              f'dark background {dark} is not darker than the light one {light}')

    def tests_verdicts():
        # Test cases entered in the Tests section go with the run; each
        # comes back with its verdict, the run with the verdict over them.
        if b.value('#language') != 'python':
            b.choose_language('python')
        b.fill('#code', 'print(input())')
        check(not b.js("return document.getElementById('tests-fold').open;"), 'the Tests section open at first')
        check_eq(b.count('#test-cases .test-case'), 0, 'tests at first')
        check_eq(b.text('#tests-count'), '', 'count of no tests')
        b.open_fold('tests-fold')
        case = '#test-cases .test-case:nth-child({}) {}'.format
        # By mouse, then by keyboard: the new test's input takes the focus.
        b.click('#test-add')
        check(b.active_is(case(1, '.test-stdin')), 'focus not in the new test')
        b.js("document.getElementById('test-add').focus();")
        b.press(Keys.ENTER)
        check(b.active_is(case(2, '.test-stdin')), 'focus not in the second test')
        b.click('#test-add')
        check_eq(b.count('#test-cases .test-case'), 3, 'tests added')
        check_eq(b.text('#tests-count'), '(3)', 'count in the title')
        check_eq(b.js("return Array.from(document.querySelectorAll('#test-cases .test-remove'),"
                      " (e) => e.getAttribute('aria-label'));"),
                 ['Remove test 1', 'Remove test 2', 'Remove test 3'], 'remove buttons')
        for i, (stdin, want) in enumerate((('a', 'a'), ('b', 'c'), ('x', 'x')), 1):
            b.fill(case(i, '.test-stdin'), stdin)
            b.fill(case(i, '.test-expected'), want)
        # The labels name the test: "Test 2 Input", "Test 2 Expected output".
        check_eq(b.js("return Array.from(document.querySelector(arguments[0]).labels, (l) =>"
                      " l.textContent.replace(/\\s+/g, ' ').trim());", case(2, '.test-expected')),
                 ['Test 2 Expected output'], 'label of the second expected output')
        # Removing the third leaves two, numbered; the focus stays among them.
        b.click(case(3, '.test-remove'))
        check_eq(b.count('#test-cases .test-case'), 2, 'tests after a removal')
        check_eq(b.text('#tests-count'), '(2)', 'count after a removal')
        check(b.active_is(case(2, '.test-stdin')), 'focus after a removal')

        # What the page sends: a wrapper around fetch keeps the bodies.
        b.js('''window.sentBodies = [];
            const f = window.fetch;
            window.fetch = function (url, opts) {
                if (opts && typeof opts.body === 'string') window.sentBodies.push(opts.body);
                return f.apply(this, arguments);
            };''')
        b.click('#run')
        b.wait_status('Wrong answer', 60)
        sent = json.loads(b.js('return window.sentBodies[window.sentBodies.length - 1];'))
        check_eq(sent.get('tests'), [{'stdin': 'a', 'expected_output': 'a'},
                                     {'stdin': 'b', 'expected_output': 'c'}], 'tests sent')
        check_eq(sent.get('stop_on_failure'), False, 'stop_on_failure sent')
        check_eq(b.status_text(), 'Wrong answer: 1/2 passed', 'summary')
        check_eq(b.js("return document.getElementById('status').dataset.kind;"), 'bad', 'summary kind')
        rows = '''return Array.from(document.querySelectorAll('#test-result-list .test-result'), (e) => [
            e.querySelector('.test-num').textContent.replace(/\\s+/g, ' ').trim(),
            e.dataset.verdict, e.querySelector('.test-verdict').textContent,
            e.querySelector('.test-verdict').dataset.kind, e.querySelector('details').open,
            getComputedStyle(e.querySelector('.test-verdict')).color]);'''
        got = b.js(rows)
        check_eq([r[:5] for r in got],
                 [['Test 1', 'accepted', 'Accepted', 'ok', False],
                  ['Test 2', 'wrong_answer', 'Wrong answer', 'bad', True]], 'test rows')
        check(got[0][5] != got[1][5], 'accepted and wrong answer in one colour: ' + got[0][5])
        for i in (1, 2):
            check(re.search(r'\d+(\.\d+)? (ms|s)$', b.text(f'#test-result-list .test-result:nth-child({i}) .test-time')),
                  f'test {i} time: ' + b.text(f'#test-result-list .test-result:nth-child({i}) .test-time'))
            check(re.search(r'\d+(\.\d+)? (bytes|KiB|MiB|GiB)$',
                            b.text(f'#test-result-list .test-result:nth-child({i}) .test-mem')), f'test {i} memory')
        # The run's own streams and usage give way to the tests'.
        for sel in ('#stdout-block', '#stderr-block', '#metrics', '#no-output'):
            check(not b.visible(sel), sel + ' shown with tests')
        detail = '''const d = document.querySelector('#test-result-list .test-result:nth-child(' + arguments[0] + ')');
            return Array.from(d.querySelectorAll('.test-detail .stream'), (s) =>
                [s.querySelector('.stream-title').textContent, s.querySelector('.stream-text, .stream-none').textContent,
                 s.querySelector('.stream-text, .stream-none').getBoundingClientRect().height > 0]);'''
        check_eq(b.js(detail, 2), [['stdout', 'b\n', True], ['Expected output', 'c', True]], 'failed test opened')
        # A click opens the first; Enter on its row (the keyboard) closes it.
        first = '#test-result-list .test-result:nth-child(1) summary'
        b.click(first)
        check_eq(b.js(detail, 1), [['stdout', 'a\n', True], ['Expected output', 'a', True]], 'first test opened')
        check(b.active_is(first), 'focus not on the row clicked')
        b.press(Keys.ENTER)
        check(not b.js("return document.querySelector(arguments[0]).parentElement.open;", first), 'Enter kept it open')

        # Stop at the first failure: the tests after it do not run.
        b.click('#test-add')
        b.fill(case(3, '.test-stdin'), 'x')
        b.fill(case(3, '.test-expected'), 'x')
        b.click('#stop-on-failure')
        b.click('#run')
        b.wait_status('Wrong answer', 60)
        check_eq(json.loads(b.js('return window.sentBodies[window.sentBodies.length - 1];')).get('stop_on_failure'),
                 True, 'stop_on_failure sent')
        check_eq(b.status_text(), 'Wrong answer: 1/3 passed', 'summary with a test not run')
        got = b.js(rows)
        check_eq([r[1:4] for r in got], [['accepted', 'Accepted', 'ok'], ['wrong_answer', 'Wrong answer', 'bad'],
                                        ['not_run', 'Not run', 'neutral']], 'rows with a test not run')
        check(len({r[5] for r in got}) == 3, 'verdicts not in three colours: ' + json.dumps([r[5] for r in got]))
        check_eq(b.text('#test-result-list .test-result:nth-child(3) .test-time'), '', 'time of a test not run')

        # A program that fails on one input: a runtime error, in orange.
        b.fill('#code', "s = input()\nif s == 'b':\n    raise SystemExit('no b')\nprint(s)")
        b.click('#stop-on-failure')
        b.click('#run')
        b.wait_status('Runtime error', 60)
        check_eq(b.status_text(), 'Runtime error: 2/3 passed', 'summary of a runtime error')
        check_eq(b.js("return document.getElementById('status').dataset.kind;"), 'warn', 'runtime error kind')
        check_eq([r[1:4] for r in b.js(rows)],
                 [['accepted', 'Accepted', 'ok'], ['runtime_error', 'Runtime error', 'warn'],
                  ['accepted', 'Accepted', 'ok']], 'rows with a runtime error')
        check_eq(b.text('#test-result-list .test-result:nth-child(2) .test-note'), 'Exited with code 1.', 'note')
        check_eq(b.js(detail, 2), [['stdout', 'Empty.', True], ['Expected output', 'c', True],
                                   ['stderr', 'no b\n', True]], 'streams of the runtime error')

        # Every test passing.
        b.fill('#code', 'print(input())')
        b.fill(case(2, '.test-expected'), 'b\n')
        b.press(Keys.ENTER, Keys.CONTROL)  # from the test's textarea
        b.wait_status('Accepted', 60)
        check_eq(b.status_text(), 'Accepted 3/3', 'summary')
        check_eq(b.js("return document.getElementById('status').dataset.kind;"), 'ok', 'summary kind')
        check(not b.js("return document.querySelector('#test-result-list details[open]') !== null;"),
              'a test opened though all passed')

        # At a phone's width nothing sticks out of the page.
        b.click('#test-result-list .test-result:nth-child(2) summary')
        b.set_viewport(390, HEIGHT)
        width = b.js('const d = document.documentElement; return [d.scrollWidth, d.clientWidth];')
        b.set_viewport(WIDTH, HEIGHT)
        check(width[0] <= width[1], f'page {width[0]} px wide in a window of {width[1]} px with tests')

        # The tests and the checkbox survive a reload.
        b.driver.refresh()
        languages_listed()
        check_eq(b.count('#test-cases .test-case'), 3, 'tests after a reload')
        check_eq([b.value(case(i, '.test-expected')) for i in (1, 2, 3)], ['a', 'b\n', 'x'], 'expected outputs')
        check_eq(b.text('#tests-count'), '(3)', 'count after a reload')
        check(not b.js("return document.getElementById('stop-on-failure').checked;"), 'checkbox after a reload')

        # Without tests, the run is shown as before.
        b.open_fold('tests-fold')
        for _ in range(3):
            b.click(case(1, '.test-remove'))
        check_eq(b.count('#test-cases .test-case'), 0, 'tests left')
        check(b.active_is('#test-add'), 'focus after the last removal')
        b.open_fold('stdin-fold')
        b.fill('#stdin', 'plain\n')
        b.click('#run')
        b.wait_status('Finished (exit 0)', 60)
        check_eq(b.text('#stdout'), 'plain\n', 'stdout without tests')
        check(not b.visible('#test-results'), 'test results shown without tests')
        b.fill('#stdin', '')

    def output_files():
        # With "Output files" checked, what the program leaves in /box/out
        # comes back under the output: a matplotlib plot (plt.savefig and
        # plt.show()) and an SVG as <img>s, a CSV and an HTML page as text
        # in a viewer, a binary file as a download link with its size, and
        # the entries not returned with their reasons.
        if b.value('#language') != 'python':
            b.choose_language('python')
        check(not b.js("return document.getElementById('output-files').checked;"),
              'Output files checked at first')
        b.fill('#code', '\n'.join([
            'import os',
            'import matplotlib.pyplot as plt',
            'out = os.environ["SAFEXEC_OUT"]',
            'plt.plot([0, 1, 2, 3], [0, 1, 4, 9], label="squares")',
            'plt.title("safexec plot")',
            'plt.legend()',
            'plt.savefig(out + "/plot.png")',
            'plt.figure()',
            'plt.bar(["a", "b", "c"], [3, 1, 2], color="tab:orange")',
            'plt.show()',
            'open(out + "/drawing.svg", "w").write(',
            '    \'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" id="program-svg" \'',
            '    \'onload="window.pwned = 1"><script>window.pwned = 2</script>\'',
            '    \'<rect width="120" height="60" fill="teal"/></svg>\')',
            'open(out + "/data.csv", "w").write("x,y\\n1,2\\n")',
            'open(out + "/page.html", "w").write("<b id=program-html>bold</b><script>window.pwned = 3</script>")',
            'open(out + "/blob.bin", "wb").write(bytes(range(256)) * 6)',
            'os.symlink("/etc/passwd", out + "/link")',
            'print("done")',
        ]))
        b.click('#output-files')
        b.js('''window.sentBodies = [];
            const f = window.fetch;
            window.fetch = function (url, opts) {
                if (opts && typeof opts.body === 'string') window.sentBodies.push(opts.body);
                return f.apply(this, arguments);
            };''')
        b.click('#run')
        b.wait_status('Finished (exit 0)', 90)
        check_eq(json.loads(b.js('return window.sentBodies[window.sentBodies.length - 1];')).get('output_files'),
                 True, 'output_files sent')
        check_eq(b.text('#stdout'), 'done\n', 'stdout')
        check(not b.visible('#stderr-block'), 'stderr: ' + b.text('#stderr'))
        check(b.visible('#files'), 'no Files section')
        # The images decode (natural size above 0) before anything is read.
        b.wait_for('''return Array.from(document.querySelectorAll('#file-list img')).every(
            (i) => i.complete && i.naturalWidth > 0);''', 'the images to load', 20)
        files = b.js('''return Array.from(document.querySelectorAll('#file-list .file'), (f) => {
            const img = f.querySelector('img'), pre = f.querySelector('pre'), a = f.querySelector('a');
            return {name: f.querySelector('.file-name').textContent, kind: f.dataset.kind,
                    meta: f.querySelector('.file-meta').textContent,
                    img: img ? [img.naturalWidth, img.naturalHeight, img.src.split(',')[0], img.alt] : null,
                    text: pre ? pre.textContent : null,
                    link: a ? [a.getAttribute('download'), a.href.slice(0, 5), a.textContent,
                               a.getAttribute('aria-label')] : null};
        });''')
        by = {f['name']: f for f in files}
        # plt.show() saved the figure still open after savefig, and the
        # bars; the files in the order of their names.
        check_eq([f['name'] for f in files], ['blob.bin', 'data.csv', 'drawing.svg', 'figure-1.png', 'figure-2.png',
                                             'page.html', 'plot.png'], 'files shown')
        check_eq(b.text('#files-title'), 'Files (7)', 'the Files title')
        for name in ('plot.png', 'figure-1.png', 'figure-2.png'):
            f = by[name]
            check_eq(f['kind'], 'image', name + ' kind')
            check(f['img'] and f['img'][0] >= 320 and f['img'][1] >= 240, f'{name}: natural size {f["img"]}')
            check_eq(f['img'][2:], ['data:image/png;base64', name], name + ' image')
            check(re.match(r'\d+(\.\d)? KiB · image/png$', f['meta']), name + ' size and type: ' + f['meta'])
        svg = by['drawing.svg']
        check_eq(svg['img'], [120, 60, 'data:image/svg+xml;base64', 'drawing.svg'], 'SVG as an image')
        # The program's SVG and HTML are never markup of the page: no <svg>
        # element, no element of theirs, and their scripts never ran.
        check_eq(b.js('''return [document.querySelectorAll('svg').length,
            document.getElementById('program-svg') === null, document.getElementById('program-html') === null,
            window.pwned === undefined];'''), [0, True, True, True], 'SVG and HTML kept out of the DOM')
        check_eq([by['data.csv']['kind'], by['data.csv']['text']], ['text', 'x,y\n1,2\n'], 'CSV in the viewer')
        check_eq([by['page.html']['kind'], by['page.html']['text']],
                 ['text', '<b id=program-html>bold</b><script>window.pwned = 3</script>'], 'HTML as text')
        blob = by['blob.bin']
        check_eq([blob['kind'], blob['meta'], blob['img'], blob['text']],
                 ['binary', '1.5 KiB · application/octet-stream', None, None], 'binary file')
        check_eq(blob['link'], ['blob.bin', 'blob:', 'Download', 'Download blob.bin (1.5 KiB)'], 'download link')
        # A click on the link downloads the file's bytes.
        downloads = tempfile.mkdtemp(prefix='safexec-downloads-')
        try:
            b.cdp('Browser.setDownloadBehavior', behavior='allow', downloadPath=downloads)
            b.js('''Array.from(document.querySelectorAll('#file-list .file')).find(
                (f) => f.querySelector('.file-name').textContent === 'blob.bin').querySelector('a').click();''')
            path = os.path.join(downloads, 'blob.bin')
            deadline = time.monotonic() + 10
            while not (os.path.exists(path) and os.path.getsize(path) == 1536) and time.monotonic() < deadline:
                time.sleep(0.05)
            with open(path, 'rb') as f:
                check_eq(list(f.read()), list(range(256)) * 6, 'the downloaded bytes')
        finally:
            shutil.rmtree(downloads, ignore_errors=True)
        check_eq(b.text('#files-dropped .files-dropped-title'), 'Not returned: 1 entry', 'dropped title')
        check_eq(b.text('#files-dropped li'), 'link: not a regular file', 'dropped entry')
        check(not b.visible('#files-none'), 'no-file note shown with files')

        # A picture of it, checked where the plot is: drawn, in matplotlib's
        # blue.  full_page_png lays the page out at its full height, so the
        # image's place in the page is its place in the picture.
        data, height, boxes = b.full_page_png(WIDTH, HEIGHT)
        path = os.path.join(OUT_DIR, 'files.png')
        with open(path, 'wb') as f:
            f.write(data)
        b.set_viewport(WIDTH, height)
        rect = b.js('''const r = document.querySelector('#file-list img[alt="plot.png"]').getBoundingClientRect();
            return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height];''')
        b.set_viewport(WIDTH, HEIGHT)
        img = Image.open(io.BytesIO(data)).convert('RGB')
        check_eq(list(img.size), [WIDTH, height], 'files.png size')
        x, y, w, h = (round(v) for v in rect)
        check(w > 300 and h > 200, f'plot drawn {w}x{h}')
        plot = img.crop((x, y, x + w, y + h))
        colors = plot.getcolors(w * h) or []
        blue = sum(n for n, c in colors if near(c, (31, 119, 180), 40))
        white = sum(n for n, c in colors if near(c, (255, 255, 255), 4))
        check(len(colors) > 50 and blue > 200 and white > w * h // 3,
              f'plot in {len(colors)} colours, {blue} blue and {white} white pixels of {w * h}')

        # The history keeps them: a click on the run shows the same files.
        b.click('#history-list .history-item')
        b.wait_for("return document.querySelectorAll('#file-list .file').length === 7;", 'the files from the history')
        b.wait_for('''return Array.from(document.querySelectorAll('#file-list img')).every(
            (i) => i.complete && i.naturalWidth > 0);''', 'the images from the history to load', 20)
        check_eq(b.js("return document.querySelectorAll('#file-list img').length;"), 4, 'images from the history')

        # The option survives a reload; unchecked, no Files section.
        b.driver.refresh()
        languages_listed()
        check(b.js("return document.getElementById('output-files').checked;"), 'Output files after a reload')
        b.fill('#code', 'import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()')
        b.click('#run')
        b.wait_status('Finished (exit 0)', 90)
        check_eq(b.js("return Array.from(document.querySelectorAll('#file-list .file-name'), (e) => e.textContent);"),
                 ['figure-1.png'], 'plt.show() alone')
        # At a phone's width nothing sticks out, the plot included.
        b.set_viewport(390, HEIGHT)
        width = b.js('const d = document.documentElement; return [d.scrollWidth, d.clientWidth];')
        b.set_viewport(WIDTH, HEIGHT)
        check(width[0] <= width[1], f'page {width[0]} px wide in a window of {width[1]} px with a plot')
        # With tests, each test's row shows the files of its own run.
        b.open_fold('tests-fold')
        b.click('#test-add')
        b.fill('#test-cases .test-case:nth-child(1) .test-stdin', 'one')
        b.fill('#test-cases .test-case:nth-child(1) .test-expected', 'one')
        b.click('#test-add')
        b.fill('#test-cases .test-case:nth-child(2) .test-stdin', 'two')
        b.fill('#test-cases .test-case:nth-child(2) .test-expected', 'three')
        b.fill('#code', 'import os\ns = input()\nopen(os.environ["SAFEXEC_OUT"] + "/" + s + ".txt", "w").write(s)\n'
                        'print(s)')
        b.click('#run')
        b.wait_status('Wrong answer', 60)
        check(not b.visible('#files'), 'the run-wide Files section shown with tests')
        check_eq(b.js('''return Array.from(document.querySelectorAll('#test-result-list .test-result'), (t) =>
            Array.from(t.querySelectorAll('.test-files .file'), (f) =>
                [f.querySelector('.file-name').textContent, f.querySelector('pre').textContent]));'''),
                 [[['one.txt', 'one']], [['two.txt', 'two']]], "each test's files")
        for _ in range(2):
            b.click('#test-cases .test-case:nth-child(1) .test-remove')
        b.click('#output-files')
        b.fill('#code', 'print(1)')
        b.click('#run')
        b.wait_status('Finished (exit 0)', 60)
        check(not b.visible('#files'), 'Files section without output_files')

    def live_output():
        check(not b.enabled('#stop'), 'Stop is enabled with no run in flight')
        b.fill('#stdin', '')
        b.fill('#code', '\n'.join([
            'import sys, time',
            "print('early')",
            "print('early err', file=sys.stderr)",
            'time.sleep(3)',
            "print('late')",
        ]))
        t0 = time.monotonic()
        b.click('#run')
        # The first lines show while the program still sleeps.
        b.wait_for("return document.getElementById('stdout').textContent === 'early\\n' && "
                   "document.getElementById('stderr').textContent === 'early err\\n';",
                   'the first output while the run goes on', 10)
        took = time.monotonic() - t0
        check(took < 2.5, f'the first output showed {took:.1f} s after Run')
        check(not b.enabled('#run'), 'the run is over before it should be')
        check(b.enabled('#stop'), 'Stop is disabled while the run is in flight')
        check(b.visible('#stdout-block') and b.visible('#stderr-block'), 'live output not shown')
        check_eq(b.status_text(), 'Running…', 'status while the output comes')
        b.wait_status('Finished (exit 0)')
        check_eq(b.text('#stdout'), 'early\nlate\n', 'stdout at the end')
        check_eq(b.text('#stderr'), 'early err\n', 'stderr at the end')
        check(not b.enabled('#stop'), 'Stop is still enabled after the run')

    def stop_button():
        b.fill('#code', '\n'.join([
            'import time',
            'while True:',
            "    print('tick')",
            '    time.sleep(0.2)',
        ]))
        b.click('#run')
        b.wait_for("return document.getElementById('stdout').textContent.startsWith('tick\\n');",
                   'the first tick', 10)
        b.click('#stop')
        t0 = time.monotonic()
        s = b.wait_status('Stopped', 5)
        check_eq(s, 'Stopped', 'status after Stop')
        check(time.monotonic() - t0 < 2, 'Stop took more than 2 s')
        check(b.text('#stdout').startswith('tick\n'), 'the output before the stop is kept')
        check(not b.enabled('#stop'), 'Stop is still enabled')
        check(b.enabled('#run'), 'Run is disabled after Stop')
        # The server ended the run: the history has it, killed.
        deadline = time.monotonic() + 5
        newest = None
        while time.monotonic() < deadline:
            newest = api_get(base, '/api/v1/executions?limit=1')['executions'][0]
            if newest['status'] == 'signaled':
                break
            time.sleep(0.1)
        check(newest and newest['status'] == 'signaled' and newest['signal'] == 9,
              'the stopped run in the history: ' + json.dumps(newest))
        check(newest['wall_time_ms'] < 9000, f"the run went on for {newest['wall_time_ms']} ms")
        b.wait_for("const e = document.querySelector('#history-list .history-item');"
                   "return e && e.dataset.id === arguments[0] &&"
                   " e.querySelector('.badge').textContent === 'Signal 9';",
                   'the stopped run at the top of the page\'s history', 10, str(newest['id']))

    def no_problems():
        b.collect()
        check(not b.problems, '; '.join(b.problems))

    test('page loads with the editor, the Run button and the history', page_loads)
    test("page follows the Content-Security-Policy (no inline script, style or handler)", csp)
    test('Run shows stdout and stderr apart, with the status and usage', run_streams)
    test('edit the code and run again with Ctrl+Enter', ctrl_enter)
    test('Tab, Shift+Tab and Enter keep Python indentation', indentation)
    test('line numbers follow the editor as it scrolls', gutter_scroll)
    test('the stdin box reaches the program', stdin)
    test('an endless loop ends with "Time limit exceeded"', endless_loop, 45)
    test('the history lists the runs and a click loads one', history)
    test('a memory bomb and an output flood show their limits', limits)
    test('a traceback goes to stderr and the exit code shows', traceback_)
    test('choosing C loads its template, main.c, and Run compiles it: "Compiled", "Hello World"', c_hello, 90)
    test('a C compile error shows the compiler\'s message and no run output', c_compile_error, 90)
    test('switching back to Python restores its code and runs Python', switch_back, 60)
    test('the language and each one\'s code survive a reload', reload_keeps)
    test('an empty or untouched editor takes the template; written code is kept and offered', templates)
    test('every language\'s file name and template, and the template runs', every_language, 600)
    test('a history item brings back its language, code and compile result', history_language)
    test('C with arguments, stdin, a compiler warning, stdout and stderr', c_everything, 120)
    test('screenshots saved in ' + OUT_DIR + ' show the page', screenshots)
    test('tests entered in the Tests section run, each with its verdict, and the summary', tests_verdicts, 240)
    test('output files: a matplotlib plot and an SVG as images, text in a viewer, a download link, '
         'the drops', output_files, 240)
    test('a run\'s output shows as it comes, before the run ends', live_output)
    test('Stop ends a long run on the server; the page says "Stopped"', stop_button)
    test('no console error, failed, refused or external request', no_problems)

    def key_form():
        """A server with a keys file: the page asks for the key in its form,
        keeps it, runs with it, and forgets it on request."""
        tmp = tempfile.mkdtemp(prefix='safexec-browser-keys-')
        keys = os.path.join(tmp, 'keys')
        made = subprocess.run([BIN, 'key', 'web', '--file', keys], capture_output=True, text=True,
                              timeout=30)
        check_eq(made.returncode, 0, 'safexec key: ' + made.stderr)
        key = made.stdout.strip()
        ks = Server(tmp, '--keys-file', keys)
        shown = "return !document.getElementById('key-form').hidden;"
        stored = "return localStorage.getItem('safexec.key');"
        try:
            b.driver.get(ks.base + '/')
            b.wait_for(shown, 'the key form after a 401', 15)
            check(b.js("return document.activeElement.id;") == 'key-input', 'the key field has the focus')
            b.fill('#key-input', 'sx_' + '0' * 64)
            b.click('#key-form button[type=submit]')
            b.wait_for("return !document.getElementById('key-form').hidden && "
                       "document.getElementById('key-label').textContent.includes('refused');",
                       'the form again, saying the key was refused', 15)
            check(b.js(stored) is None, 'a refused key is not kept')
            b.fill('#key-input', key)
            b.click('#key-form button[type=submit]')
            b.wait_for("return document.querySelectorAll('#language option').length > 1;",
                       'the languages with the key', 15)
            check(not b.visible('#key-form'), 'the form hides once the key works')
            check_eq(b.js(stored), key, 'the key kept in localStorage')
            check(b.visible('#key-forget'), 'Forget key shown')
            b.fill('#code', 'print("with a key")')
            b.click('#run')
            b.wait_status('Finished (exit 0)', 60)
            check_eq(b.text('#stdout'), 'with a key\n', 'the run with the key')
            # A reload asks nothing; Forget key drops it and the next load asks.
            b.driver.refresh()
            b.wait_for("return document.querySelectorAll('#language option').length > 1;",
                       'the languages after a reload', 15)
            check(not b.visible('#key-form'), 'no form after a reload')
            b.click('#key-forget')
            check(b.js(stored) is None, 'Forget key removes it')
            b.driver.refresh()
            b.wait_for(shown, 'the key form after Forget key', 15)
        finally:
            ks.stop()
            shutil.rmtree(tmp, ignore_errors=True)
            # The 401s were meant: they are no problem of the page's.
            b.collect()
            b.problems.clear()

    test('with API keys, the page asks for the key once, keeps it and forgets it', key_form, 90)


def main():
    global failed
    tmp = tempfile.mkdtemp(prefix='safexec-browser-')
    os.makedirs(OUT_DIR, exist_ok=True)
    for f in os.listdir(OUT_DIR):
        if f.endswith('.png'):
            os.unlink(os.path.join(OUT_DIR, f))
    server = None
    browser = None
    try:
        try:
            server = Server(tmp)
        except Exception as e:  # noqa: BLE001
            failed += 1
            log(f'FAIL start {BIN} serve: {e}')
            return
        browser = Browser(tmp, server.base)
        run_tests(browser)
    except Exception:  # noqa: BLE001
        failed += 1
        log('FAIL unexpected: ' + traceback.format_exc().rstrip())
    finally:
        if browser:
            try:
                browser.quit()
            except Exception:  # noqa: BLE001
                pass
        if server:
            server.stop()
            if failed:
                log('server output (tail):\n' + tail(server.log_file))
        shutil.rmtree(tmp, ignore_errors=True)
        log(f'{passed} passed, {failed} failed')


if __name__ == '__main__':
    main()
    sys.exit(1 if failed else 0)
