#!/usr/bin/env bash
# The WASM floor of the framework: Leptos' own `todomvc` example built the way Easel's front
# end is (the workspace's `wasm-release` profile, the Leptos version in Cargo.lock, the same
# wasm-bindgen and `wasm-opt -Oz`), so the bundle row of scripts/bench has a peer.
#
#   bench/todomvc/build.sh LEPTOS_CHECKOUT OUT_DIR
#
# LEPTOS_CHECKOUT is a checkout of github.com/leptos-rs/leptos (its examples/todomvc is read,
# not kept here); prints the optimised .wasm's path.
set -euo pipefail
src="$1/examples/todomvc"
out="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ -f "$src/src/lib.rs" ] || { echo "no todomvc example under $1" >&2; exit 1; }
version=$(awk '/^name = "leptos"$/{getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")

rm -rf "$out" && mkdir -p "$out"
cp -r "$src/src" "$out/src"
# The example's manifest with Leptos from crates.io at Easel's version, standalone, and the
# profile copied from Easel's workspace.
sed -e "s|^leptos = { path = \"../../leptos\"|leptos = { version = \"=$version\"|" \
  -e '/^\[profile.release\]/,/^$/d' "$src/Cargo.toml" >"$out/Cargo.toml"
{
  echo
  echo '[workspace]'
  echo
  awk '/^\[profile.release\]/,/^$/' "$root/Cargo.toml"
  awk '/^\[profile.wasm-release\]/,/^$/' "$root/Cargo.toml"
} >>"$out/Cargo.toml"
cp "$root/Cargo.lock" "$out/Cargo.lock"

cd "$out"
CARGO_TARGET_DIR="$out/target" cargo build --quiet --bin todomvc --target wasm32-unknown-unknown --profile wasm-release >&2
wasm-bindgen --target web --out-dir "$out/pkg" "$out/target/wasm32-unknown-unknown/wasm-release/todomvc.wasm"
wasm-opt -Oz "$out/pkg/todomvc_bg.wasm" -o "$out/todomvc.wasm"
echo "$out/todomvc.wasm"
