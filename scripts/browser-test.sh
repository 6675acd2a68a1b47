#!/usr/bin/env bash
# The playground in a real browser (docs/playground.md): installs Debian's Chromium if it is
# missing, then runs crates/playground/examples/browser_check.rs, which drives it headless over
# the DevTools protocol and saves docs/images/playground.png. Prints how long it all took.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ ! -x /usr/bin/chromium ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
installed=$(date +%s)
cargo run --release -p ferrograd-playground --example browser_check -- "$@"
end=$(date +%s)
echo "browser test: $((end - start)) s in all (Chromium install $((installed - start)) s, build and run $((end - installed)) s)"
