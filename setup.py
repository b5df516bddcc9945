from configparser import ConfigParser
import setuptools, shlex

# All package metadata lives in settings.ini (nbdev 2); this file only reads it.
config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language git_url".split()
for o in expected: assert o in cfg, "missing expected setting in settings.ini: {}".format(o)
setup_cfg = {o:cfg[o] for o in cfg_keys}
if cfg.get('author_email'): setup_cfg['author_email'] = cfg['author_email']

licenses = {'apache2': 'Apache-2.0', 'mit': 'MIT'}   # settings.ini's name -> SPDX licence expression
statuses = [ '1 - Planning', '2 - Pre-Alpha', '3 - Alpha',
    '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive' ]   # settings.ini `status = N` -> 'N - ...'
py_versions = '3.10 3.11 3.12 3.13'.split()

requirements = shlex.split(cfg.get('requirements', ''))
# Optional features: `extra_NAME = pkg ...` in settings.ini is `pip install 'satlib[NAME]'`; `dev` has them all.
extras = {k[len('extra_'):]: shlex.split(v) for k, v in cfg.items() if k.startswith('extra_')}
dev_requirements = list(dict.fromkeys(sum(extras.values(), []) + shlex.split(cfg.get('dev_requirements', ''))))
min_python = cfg['min_python']
lic = licenses.get(cfg['license'].lower(), cfg['license'])
docs_url = cfg.get('doc_host', '').rstrip('/') + '/' + cfg.get('doc_baseurl', '').strip('/')
urls = {'Source': cfg['git_url'], 'Issues': cfg['git_url'].rstrip('/') + '/issues'}
if cfg.get('doc_host'): urls['Documentation'] = docs_url

setuptools.setup(
    name = cfg['lib_name'],
    license_expression = lic,
    license_files = ['LICENSE'],
    classifiers = [
        'Development Status :: ' + statuses[int(cfg['status']) - 1],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
    ] + ['Programming Language :: Python :: '+o for o in py_versions[py_versions.index(min_python):]],
    url = cfg['git_url'],
    project_urls = urls,
    packages = setuptools.find_packages(include=['satlib', 'satlib.*']),
    include_package_data = True,
    install_requires = requirements,
    extras_require={ **extras, 'dev': dev_requirements },
    python_requires  = '>=' + cfg['min_python'],
    long_description = open('README.md', encoding='utf-8').read(),
    long_description_content_type = 'text/markdown',
    zip_safe = False,
    entry_points = {
        'console_scripts': cfg.get('console_scripts','').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d']
    },
    **setup_cfg)
