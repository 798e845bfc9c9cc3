# Sourced by the portal and test commands: installs, once, the build tools
# a fresh Debian 12 machine with rustup, Node and npm lacks. Each step is
# skipped when the right version is already there, so a second run takes
# seconds. Versions: see ../shared/TOOLCHAIN.md and the README.

export PATH="$HOME/.cargo/bin:$PATH"
CARGO_LEPTOS_VERSION=0.3.8
WASM_OPT_VERSION=0.116.1

step() { printf '\n==> %s\n' "$*"; }

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_build_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi

  if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
    step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi

  # wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock.
  local bindgen
  bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  if ! "$HOME/.cargo/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $bindgen\$"; then
    step "installing wasm-bindgen-cli $bindgen (about 2 minutes, once)"
    # --locked fails for this crate (a locked dependency left the registry).
    CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
      cargo install wasm-bindgen-cli --version "$bindgen" --force
  fi

  # Not Debian's binaryen: its wasm-opt 108 breaks hydration.
  if ! "$HOME/.cargo/bin/wasm-opt" --version 2>/dev/null | grep -q "version 116"; then
    step "installing wasm-opt $WASM_OPT_VERSION (about 6 minutes, once)"
    cargo install wasm-opt --version "$WASM_OPT_VERSION" --locked
  fi
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_test_tools() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # A real SMTP server for the mail tests.
  /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]} from Debian"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
  fi

  install_contract_tester
  install_audit_tool

  # The browser test runner; it never downloads a browser of its own.
  if [ ! -f end2end/node_modules/.package-lock.json ] \
    || ! cmp -s end2end/package-lock.json end2end/node_modules/.lock-installed; then
    step "installing the end2end npm packages"
    (cd end2end && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.lock-installed)
  fi
}

# Checks Cargo.lock against the RustSec advisory database (.ci/audit).
CARGO_AUDIT_VERSION=0.22.2
install_audit_tool() {
  if ! cargo audit --version 2>/dev/null | grep -q " $CARGO_AUDIT_VERSION\$"; then
    step "installing cargo-audit $CARGO_AUDIT_VERSION (about 5 minutes, once)"
    cargo install cargo-audit --version "$CARGO_AUDIT_VERSION" --locked
  fi
}

# The property-based contract tester for the provider API, in its own
# virtual environment (pinned).
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$HOME/.cache/counsel-registry/schemathesis-$SCHEMATHESIS_VERSION"
SPEC_VALIDATOR_VERSION=0.7.1
SPEC_VALIDATOR_VENV="$HOME/.cache/counsel-registry/openapi-spec-validator-$SPEC_VALIDATOR_VERSION"
install_contract_tester() {
  if [ ! -x "$SCHEMATHESIS_VENV/bin/schemathesis" ]; then
    step "installing schemathesis $SCHEMATHESIS_VERSION (about a minute, once)"
    python3 -m venv "$SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  # A standard validator of the OpenAPI document itself, so a client
  # generated from it is not broken by a misdeclared parameter.
  if [ ! -x "$SPEC_VALIDATOR_VENV/bin/openapi-spec-validator" ]; then
    step "installing openapi-spec-validator $SPEC_VALIDATOR_VERSION (seconds, once)"
    python3 -m venv "$SPEC_VALIDATOR_VENV"
    "$SPEC_VALIDATOR_VENV/bin/pip" install -q "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
  fi
}

build_release() {
  step "building the release site (server + WASM bundle)"
  cargo leptos build --release --precompress
  # cargo-leptos gzips at a middling level; the server sends these files
  # as they are to clients without brotli, so spend the time once here.
  local file
  for file in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do
    [ -f "$file" ] && gzip -9 -n -c "$file" >"$file.gz"
  done
}
