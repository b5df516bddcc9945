"JupyterLab, as the README opens it: started headless on a free local port, it serves a table notebook through its REST API."
import json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request, urllib.error
from pathlib import Path
import pytest
from conftest import ROOT, BIN

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _get(url, token, method='GET'):
    req = urllib.request.Request(url, method=method, headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=10) as r: return r.status, r.read()

def test_jupyterlab_opens_a_table_notebook():
    if not (BIN/'jupyter-lab').exists():
        msg = "JupyterLab is not installed: bash .ci/setup installs it (it is in settings.ini's dev_requirements)"
        if os.environ.get('CI'): pytest.fail(msg)
        pytest.skip(msg)
    nb = sorted((ROOT/'nbs'/'tables').glob('*.ipynb'))[0]
    port, token, home = _free_port(), secrets.token_hex(16), Path(tempfile.mkdtemp())
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home/'config'), JUPYTER_RUNTIME_DIR=str(home/'runtime'),
               JUPYTERLAB_SETTINGS_DIR=str(home/'settings'), JUPYTERLAB_WORKSPACES_DIR=str(home/'workspaces'))
    p = subprocess.Popen([str(BIN/'jupyter-lab'), '--no-browser', '--ip=127.0.0.1', f'--port={port}', '--port-retries=0',
                          f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={ROOT/"nbs"}',
                          '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
                         + (['--allow-root'] if os.geteuid() == 0 else []),
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):                       # up to 60 s to start
            if p.poll() is not None: break
            try:
                if _get(f'{base}/api/status', token)[0] == 200: break
            except (urllib.error.URLError, ConnectionError, OSError): time.sleep(0.25)
        assert p.poll() is None, f"jupyter lab exited with {p.returncode}:\n{p.stdout.read()[-3000:]}"
        with pytest.raises(urllib.error.HTTPError) as e: _get(f'{base}/api/contents', 'wrong-token')
        assert e.value.code == 403                 # the token guards it
        st, body = _get(f'{base}/api/contents/tables/{nb.name}?content=1', token)
        model = json.loads(body)
        assert st == 200 and model['type'] == 'notebook' and model['format'] == 'json'
        assert model['content']['nbformat'] == 4 and len(model['content']['cells']) == len(json.loads(nb.read_text())['cells'])
        st, body = _get(f'{base}/lab/tree/tables/{nb.name}', token)   # the page a reader's browser opens
        assert st == 200 and b'JupyterLab' in body
        assert _get(f'{base}/api/shutdown', token, 'POST')[0] == 200
        p.wait(timeout=30)
    finally:
        if p.poll() is None: p.send_signal(signal.SIGINT); time.sleep(1)
        if p.poll() is None: p.kill()
        p.wait(); shutil.rmtree(home, ignore_errors=True)
