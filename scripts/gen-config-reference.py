#!/usr/bin/env python3
"""Regenerates README.md's configuration reference from the comments of the
config structs in stacks/config.go (stacks/readme_test.go checks the keys)."""
import re, pathlib
root = pathlib.Path(__file__).resolve().parent.parent
src = (root / 'stacks/config.go').read_text()
structs = {}
for m in re.finditer(r'type (\w+) struct \{(.*?)\n\}', src, re.S):
    fields = []
    for line in m.group(2).split('\n'):
        fm = re.match(r'\s*(\w+)\s+(\S+)\s+`json:"([^",]+)[^`]*`\s*(?://\s*(.*))?', line)
        if fm and fm.group(3) != '-':
            fields.append((fm.group(3), fm.group(2), (fm.group(4) or '').strip()))
    structs[m.group(1)] = fields
sections = [('network', 'NetworkConfig'), ('loadBalancer', 'LoadBalancerConfig'), ('app', 'AppConfig'),
            ('database', 'DatabaseConfig'), ('cache', 'CacheConfig'), ('edge', 'EdgeConfig'),
            ('monitoring', 'MonitoringConfig')]
rows = ['| key | type | meaning and defaults |', '| --- | --- | --- |',
        "| `aws:region` | string | The stack's region (required). |",
        '| `surge:environment` | string | `dev` or `prod`; defaults to the stack name. Prod is checked against the HA floor below. |']
def emit(prefix, sname):
    for key, typ, doc in structs[sname]:
        t = typ.lstrip('*[]')
        doc = doc.replace('|', '\\|')
        if t in structs:
            kind = 'list of objects' if typ.startswith('[]') else 'object'
            rows.append(f'| `{prefix}.{key}` | {kind} | {doc} |')
            emit(prefix + '.' + key + ('[]' if typ.startswith('[]') else ''), t)
        else:
            rows.append(f'| `{prefix}.{key}` | {typ.replace("[]", "list of ")} | {doc} |')
for key, s in sections:
    emit('surge:' + key, s)
readme = root / 'README.md'
text = readme.read_text()
start, end = '<!-- config-reference:start -->\n', '<!-- config-reference:end -->'
a, b = text.index(start) + len(start), text.index(end)
readme.write_text(text[:a] + '\n'.join(rows) + '\n' + text[b:])
