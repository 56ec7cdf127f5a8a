"""Runs notebooks in the dotnet-interactive Jupyter kernel with nbclient; see .ci/jupyter-execute."""
import json, os, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CLAIMS = "application/vnd.normnotebooks.claims+json"
output, paths = sys.argv[1], sys.argv[2:]
notebooks = []
for p in paths:
    if os.path.isdir(p):
        notebooks += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".ipynb"))
    else:
        notebooks.append(p)
if os.environ.get("NORMNB_QUICK") != "1":
    os.environ.pop("NORMNB_QUICK", None)

failures, rows = [], []
for path in notebooks:
    path = os.path.abspath(path)
    name = os.path.basename(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=".net-csharp", timeout=1200, startup_timeout=300, allow_errors=False,
                            resources={"metadata": {"path": os.path.dirname(path)}})
    start = time.time()
    problem = None
    try:
        client.execute()
    except CellExecutionError as e:
        problem = str(e).strip().splitlines()[-1][:500] if str(e).strip() else "a cell failed"
    except Exception as e:  # kernel died, timeout
        problem = f"{type(e).__name__}: {e}"[:500]
    seconds = time.time() - start
    errors = [(i + 1, o) for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if problem is None and errors:
        problem = f"cell {errors[0][0]}: {errors[0][1].get('ename')}: {errors[0][1].get('evalue', '')[:300]}"
    # The tool stores a +json display as the JSON text; normnb run stores the parsed JSON (as Jupyter's own kernels do).
    claims = [c for cell in nb.cells for o in cell.get("outputs", []) if CLAIMS in o.get("data", {})
              for c in (json.loads(o["data"][CLAIMS]) if isinstance(o["data"][CLAIMS], str) else o["data"][CLAIMS])]
    exact = [c for c in claims if c.get("kind") == "exact"]
    broken = [c["id"] for c in exact if c.get("verdict") != "held"]
    if problem is None and not claims:
        problem = "no claims display (every notebook ends with its claims register)"
    if problem is None and broken:
        problem = "exact claims not held: " + ", ".join(broken)
    nbformat.write(nb, os.path.join(output, name))
    rows.append((name, seconds, len(exact), problem))
    print(f"{'✓' if problem is None else '✗'} {name:40s} {seconds:7.1f} s  {len(exact)} exact claims held" if problem is None
          else f"✗ {name:40s} {seconds:7.1f} s  {problem}", flush=True)
    if problem:
        failures.append(name)

print(f"{len(rows) - len(failures)} passed, {len(failures)} failed; {sum(r[1] for r in rows):.0f} s in all")
sys.exit(1 if failures else 0)
