"""The docs site, as a reader sees it: `bash docs/build` renders it, headless Chromium opens the index,
two library pages and a table page over a local server, and checks that they load, show their
figures, carry the API docs and typeset their maths with the site's own MathJax (no network)."""
import json, os, re, shutil, subprocess, sys, tempfile, threading, functools
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler
from pathlib import Path
import pytest
from conftest import ROOT

CHROMIUM, DRIVER = shutil.which('chromium'), shutil.which('chromedriver')
# page -> the notebook it is made from (None: the README)
PAGES = {'index': None, '07_sat': 'nbs/07_sat.ipynb', '05_saliency': 'nbs/05_saliency.ipynb',
         'tables/sat_table2_flowers17': 'nbs/tables/sat_table2_flowers17.ipynb'}

def _need(what):
    "Skip where a browser is absent; CI (CI=true) must have one, so there it fails."
    msg = f"the docs browser test needs {what} (apt-get install chromium chromium-driver; pip install selenium)"
    if os.environ.get('CI'): pytest.fail(msg)
    pytest.skip(msg)

def n_figures(nb_path) -> int:
    "Figures a notebook shows: image outputs and images in its markdown."
    if nb_path is None: return len(re.findall(r'!\[[^\]]*\]\(|<img ', (ROOT/'README.md').read_text()))
    n = 0
    for c in json.loads((ROOT/nb_path).read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': n += len(re.findall(r'!\[[^\]]*\]\(|<img ', src))
        elif not re.match(r'\s*#\|\s*hide', src):
            n += sum(any(k.startswith('image/') for k in o.get('data', {})) for o in c.get('outputs', []))
    return n

@pytest.fixture(scope='module')
def site():
    """The site in $SATLIB_DOCS_SITE (CI builds it first with `bash docs/build`), or else one built now with that
    command into a temporary folder; served on a free local port."""
    if os.environ.get('SATLIB_DOCS_SITE'):
        out, tmp = Path(os.environ['SATLIB_DOCS_SITE']), None
        assert (out/'index.html').exists(), f"SATLIB_DOCS_SITE={out} holds no site: run bash docs/build"
    else:
        if not (CHROMIUM and DRIVER): _need('Chromium and ChromeDriver')   # don't build what can't be looked at
        tmp = Path(tempfile.mkdtemp()); out = tmp/'site'
        r = subprocess.run(['bash', str(ROOT/'docs'/'build'), str(out)], capture_output=True, text=True,
                           env=dict(os.environ, PYTHON=sys.executable), timeout=900)
        assert r.returncode == 0, f"bash docs/build failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(out)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield out, f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown()
    if tmp: shutil.rmtree(tmp, ignore_errors=True)

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@pytest.fixture(scope='module')
def browser():
    if not (CHROMIUM and DRIVER): _need('Chromium and ChromeDriver')
    try: from selenium import webdriver
    except ImportError: _need('selenium')
    os.environ['SE_OFFLINE'] = 'true'       # selenium must not look for drivers online
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
              '--disable-background-networking', '--disable-component-update', '--disable-sync', '--window-size=1280,1600',
              f'--user-data-dir={tempfile.mkdtemp()}']: o.add_argument(a)
    d = webdriver.Chrome(options=o, service=webdriver.ChromeService(executable_path=DRIVER))
    d.set_page_load_timeout(60); d.set_script_timeout(60)
    yield d
    d.quit()

SEEN = {}   # page -> what the browser saw (printed at the end: `pytest -s` shows it)

@pytest.mark.parametrize('page', list(PAGES))
def test_page(site, browser, page):
    out, url = site
    browser.get(f'{url}/{page}.html')
    seen = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const ready = (window.MathJax && MathJax.startup) ? MathJax.startup.promise : Promise.resolve();
        ready.then(() => Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; }))))
          .then(() => done({
            title: document.title,
            h1: ((document.querySelector('article h1') || {}).textContent || '').replace('¶', ''),
            images: [...document.querySelectorAll('article img')].map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight]),
            math: document.querySelectorAll('article .math').length,
            typeset: document.querySelectorAll('article mjx-container').length,
            errors: document.querySelectorAll('mjx-merror').length,
            mathjax: window.MathJax && MathJax.version,
            api: document.querySelectorAll('article p.rubric').length,
            resources: performance.getEntriesByType('resource').map(e => e.name),
          }));""")
    SEEN[page] = {k: v for k, v in seen.items() if k != 'resources'} | {'resources': len(seen['resources'])}
    assert seen['h1'].strip() and seen['title'].strip(), f"{page}: no title"
    # figures: as many as the notebook shows, each loaded with a real size
    want = n_figures(PAGES[page])
    assert len(seen['images']) >= want, f"{page}: {len(seen['images'])} images on the page, the notebook has {want}"
    bad = [i for i in seen['images'] if not (i[1] > 0 and i[2] > 0)]
    assert not bad, f"{page}: images that did not load: {bad}"
    # maths: every formula typeset by MathJax, without TeX errors
    assert seen['typeset'] >= seen['math'], f"{page}: {seen['math']} formulas, {seen['typeset']} typeset"
    assert seen['errors'] == 0, f"{page}: {seen['errors']} MathJax errors"
    if PAGES[page] and '$' in (ROOT/PAGES[page]).read_text(): assert seen['math'] > 0, f"{page}: the notebook's maths did not render"
    if seen['math']: assert seen['mathjax'] and seen['mathjax'].startswith('3.'), f"{page}: MathJax did not load"
    # offline: everything the page loaded came from the site itself
    foreign = [r for r in seen['resources'] if not r.startswith(url + '/')]
    assert not foreign, f"{page}: loaded from outside the site: {foreign}"
    if page != 'index' and not page.startswith('tables/'):   # a library page carries the API docs show_doc makes
        assert seen['api'] > 0, f"{page}: no API docs (show_doc) on the page"

def test_site_summary(site):
    "Print what the browser saw on each page (for the record), and check one page at least shows a figure."
    for p, s in SEEN.items(): print(f"\n{p}: {s}")
    if SEEN: assert sum(len(s['images']) for s in SEEN.values()) > 0, "no page of the site shows a figure"
