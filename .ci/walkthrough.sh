#!/usr/bin/env bash
# Runs the README's walkthrough (docs/walkthrough.sh) against a live server
# on a fresh SQLite database, and checks that the README shows exactly that
# script and exactly its output (ids, times and secrets replaced by stable
# placeholders). With --update, rewrites the README's two blocks instead.
#
# Usage: bash .ci/walkthrough.sh [--update]   (needs a built target/debug/lead-routing)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
port=38${RANDOM:0:3}
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

(cd "$work" && PORT=$port RUST_LOG=warn exec "$OLDPWD/target/debug/lead-routing") > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done

if ! bash docs/walkthrough.sh "http://127.0.0.1:$port" > "$work/raw.txt"; then
  cat "$work/raw.txt"
  echo "the walkthrough stopped: see the last request above" >&2
  exit 1
fi

python3 - "$work/raw.txt" "${1:-}" <<'EOF'
import re, sys

raw = open(sys.argv[1]).read().strip() + "\n"
update = sys.argv[2] == "--update"

# Stable placeholders: the n-th distinct id of a kind becomes <kind>_<n>.
seen = {}
def stable(m):
    kind, full = m.group(1), m.group(0)
    seen.setdefault(kind, {})
    return seen[kind].setdefault(full, f"{kind}_{len(seen[kind]) + 1}")
out = re.sub(r"\b(org|usr|key|agt|pool|rule|lead|prop|evt)_[0-9a-f]{32}\b", stable, raw)
out = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", out)
out = re.sub(r"eyJ[A-Za-z0-9_.-]+", "<jwt>", out)
out = re.sub(r'"refreshToken":"[^"]+"', '"refreshToken":"<refresh token>"', out)
out = re.sub(r"lr_[a-z0-9]+_[A-Za-z0-9_-]+", "<api key>", out)
out = re.sub(r'"prefix":"[^"]+"', '"prefix":"<prefix>"', out)

script = open("docs/walkthrough.sh").read()
shown = script[script.index("BASE="):].strip() + "\n"

readme = open("README.md").read()
blocks = {
    "walkthrough-script": "```sh\n" + shown + "```\n",
    "walkthrough-output": "```text\n" + out + "```\n",
}
failed = False
for name, body in blocks.items():
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    try:
        a = readme.index(start) + len(start)
        b = readme.index(end, a)
    except ValueError:
        sys.exit(f"README.md has no {start.strip()} ... {end} block")
    if readme[a:b] != body:
        if update:
            readme = readme[:a] + body + readme[b:]
        else:
            failed = True
            print(f"README.md's {name} block differs from the walkthrough as it runs:", file=sys.stderr)
            import difflib
            sys.stderr.writelines(difflib.unified_diff(
                readme[a:b].splitlines(True), body.splitlines(True), "README.md", "walkthrough"))
if update:
    open("README.md", "w").write(readme)
    print("README.md updated")
elif failed:
    sys.exit("run `bash .ci/walkthrough.sh --update` and review the change")
else:
    print("the walkthrough runs as the README shows it")
EOF
