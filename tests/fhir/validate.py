"""Parse every FHIR resource given with Python's fhir.resources (FHIR R4 4.0.1), a library
Carepath did not write: each argument is a file holding one JSON resource (a Bundle's
entries are parsed too) or NDJSON (one resource per line). Prints one line per problem and
exits 1 if there was any; prints how many resources of each type parsed otherwise.

fhir.resources checks each resource's structure: element names, types, cardinality (a missing
required element, a reference that is not an object), primitive formats. It does not check
codes against their value sets; the Rust tests do that through the model crate's types."""

import json
import sys
from collections import Counter

try:
    import fhir.resources
    from fhir.resources import construct_fhir_element
except ImportError:
    sys.exit(
        "fhir.resources is not installed for this Python: scripts/test installs it "
        "(a venv at /var/tmp/carepath-py with fhir.resources==6.4.0 and pydantic<2); "
        "point CAREPATH_FHIR_PYTHON at that venv's python"
    )

if fhir.resources.__fhir_version__ != "4.0.1":
    sys.exit(f"fhir.resources speaks FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")

seen = Counter()
problems = []


def parse(obj, where):
    kind = obj.get("resourceType")
    if not kind:
        problems.append(f"{where}: no resourceType")
        return
    try:
        construct_fhir_element(kind, obj)
    except Exception as e:  # pydantic's ValidationError and friends
        problems.append(f"{where}: {kind}: {e}")
        return
    seen[kind] += 1
    if kind == "Bundle":
        for i, entry in enumerate(obj.get("entry", [])):
            if "resource" in entry:
                parse(entry["resource"], f"{where} entry {i}")


for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            parse(json.loads(line), f"{path}:{n}")
    else:
        parse(json.loads(text), path)

for p in problems:
    print(p)
print(" ".join(f"{k}={v}" for k, v in sorted(seen.items())))
sys.exit(1 if problems else 0)
