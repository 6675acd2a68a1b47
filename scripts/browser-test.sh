#!/usr/bin/env bash
# The playground in a real browser (docs/playground.md): installs Debian's Chromium if it is
# missing, then runs crates/playground/examples/browser_check.rs, which drives it headless over
# the DevTools protocol and saves docs/images/playground.png (or --out PATH). Prints how long it
# all took. The check is built in the test profile, the one `cargo test` builds, so that after
# the tests (as in .ci/run) little is left to compile; `cargo run --release -p
# ferrograd-playground --example browser_check` gives release figures.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi
installed=$(date +%s)
cargo run --profile test -p ferrograd-playground --example browser_check -- "$@"
end=$(date +%s)
echo "browser test: $((end - start)) s in all (Chromium install $((installed - start)) s, build and run $((end - installed)) s)"
