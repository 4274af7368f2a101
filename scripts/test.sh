#!/usr/bin/env bash
# Runs tierflow's whole test suite: formatting, go vet, staticcheck and the
# tests (which need PostgreSQL; see internal/pgtest).
#
# Usage:
#   scripts/test.sh [go test flags and packages]   e.g. scripts/test.sh -run TestRules ./rules/
#   scripts/test.sh --lint-only                    gofmt, go vet and staticcheck only
#   scripts/test.sh --list-missing                 print the Debian packages of test tools that are missing, one a line
#
# Environment:
#   TEST_DATABASE_URL     use this PostgreSQL server instead of starting throwaway ones
#   TIERFLOW_PGTEST_SKIP  =1 skips database tests (local use only; refused when CI is set)
#
# As root on Debian/Ubuntu, PostgreSQL server binaries and the test tools
# (prometheus for promtool, chromium and fonts-noto-cjk for the HTML
# report's browser test, zsh and fish for the completion scripts' tests)
# are installed with apt-get when missing. When they are missing and
# cannot be installed, CI fails and a local run skips the tests that need
# them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

section() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# The Debian packages of the tools some tests run, each with the function
# that tells whether it is installed. The tests look for the same files.
have_promtool() { command -v promtool >/dev/null 2>&1 || [[ -x /usr/bin/promtool ]]; }
have_chromium() { command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]]; }
have_noto_cjk() {
	dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed' ||
		{ command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -q 'Noto Sans CJK'; }
}
have_zsh() { command -v zsh >/dev/null 2>&1; }
have_fish() { command -v fish >/dev/null 2>&1; }
readonly TOOL_PACKAGES=(prometheus:have_promtool chromium:have_chromium fonts-noto-cjk:have_noto_cjk zsh:have_zsh fish:have_fish)

# missing_packages prints the packages of TOOL_PACKAGES that are not
# installed, one a line.
missing_packages() {
	local entry
	for entry in "${TOOL_PACKAGES[@]}"; do
		"${entry#*:}" || echo "${entry%%:*}"
	done
}

lint_only=false
case "${1:-}" in
--lint-only)
	lint_only=true
	shift
	;;
--list-missing)
	missing_packages
	exit 0
	;;
esac

command -v go >/dev/null 2>&1 || die "go not found in PATH (Go $(sed -n 's/^go //p' go.mod) is required)"

# pg_bindir prints a directory holding both initdb and postgres, looked up
# the same way internal/pgtest does: next to initdb in PATH, then
# /usr/lib/postgresql/*/bin, newest version first.
pg_bindir() {
	local p d
	if p=$(command -v initdb 2>/dev/null); then
		for d in "$(dirname "$(readlink -f "$p")")" "$(dirname "$p")"; do
			if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
				echo "$d"
				return 0
			fi
		done
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4 -V -r); do
		if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

apt_updated=false
apt_update_once() {
	if ! $apt_updated; then
		apt-get update </dev/null
		apt_updated=true
	fi
}

install_postgres() {
	# Only the binaries are needed: stop the Debian package from creating and
	# starting a "main" cluster on port 5432.
	mkdir -p /etc/postgresql-common/createcluster.d
	echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/tierflow-no-main-cluster.conf
	export DEBIAN_FRONTEND=noninteractive
	apt_update_once
	apt-get install -y --no-install-recommends postgresql-15 </dev/null ||
		apt-get install -y --no-install-recommends postgresql </dev/null
}

ensure_postgres() {
	section "PostgreSQL"
	if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
		echo "TEST_DATABASE_URL is set: tests use that server"
		return 0
	fi
	if [[ "${TIERFLOW_PGTEST_SKIP:-}" == "1" ]]; then
		[[ -z "${CI:-}" ]] || die "TIERFLOW_PGTEST_SKIP=1 is not allowed in CI: database tests must run"
		echo "WARNING: TIERFLOW_PGTEST_SKIP=1: tests that need PostgreSQL are SKIPPED"
		return 0
	fi
	local bindir
	if ! bindir=$(pg_bindir); then
		if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
			echo "PostgreSQL server binaries not found; installing them with apt-get"
			install_postgres
			bindir=$(pg_bindir) || die "installed PostgreSQL but still found no initdb/postgres in PATH or /usr/lib/postgresql/*/bin"
		else
			die "PostgreSQL server binaries (initdb, postgres) not found in PATH or /usr/lib/postgresql/*/bin.
Install them (Debian/Ubuntu: sudo apt-get install postgresql-15), or set TEST_DATABASE_URL to an
existing server whose role may CREATE DATABASE, or (locally only) set TIERFLOW_PGTEST_SKIP=1."
		fi
	fi
	if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
		# PostgreSQL refuses to run as root; pgtest runs it as this user.
		echo "creating the postgres system user (PostgreSQL refuses to run as root)"
		useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres ||
			die "could not create the postgres system user"
	fi
	echo "using $("$bindir/postgres" --version) from $bindir"
}

# ensure_tools installs the missing packages of TOOL_PACKAGES as root, and
# otherwise fails under CI and warns locally.
ensure_tools() {
	section "Test tools"
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		echo "promtool, chromium, the Noto CJK fonts, zsh and fish are installed"
		return 0
	fi
	if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "installing ${missing[*]} with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt_update_once
		apt-get install -y --no-install-recommends "${missing[@]}" </dev/null ||
			die "apt-get could not install ${missing[*]}"
		mapfile -t missing < <(missing_packages)
		((${#missing[@]} == 0)) || die "installed, but still missing: ${missing[*]}"
		return 0
	fi
	local why="Debian packages the tests need are missing: ${missing[*]} (prometheus gives promtool, for the alert rules; chromium and fonts-noto-cjk, for the HTML report; zsh and fish, for the completion scripts).
Install them: sudo apt-get install --no-install-recommends ${missing[*]}"
	[[ -z "${CI:-}" ]] || die "$why"
	echo "WARNING: $why
The tests that need them are SKIPPED."
}

go_files() {
	local f
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Tracked plus new, not ignored files (so uncommitted work is checked too).
		git ls-files --cached --others --exclude-standard -- '*.go' | sort -u |
			while IFS= read -r f; do [[ -f "$f" ]] && printf '%s\n' "$f"; done
	else
		find . -name '*.go' -not -path './vendor/*' -not -path './.git/*'
	fi
}

failed=()
step() { # step NAME COMMAND...: runs a step, remembers failures, keeps going
	local name=$1
	shift
	section "$name"
	if "$@"; then
		echo "ok"
	else
		echo "FAILED: $name"
		failed+=("$name")
	fi
}

check_gofmt() {
	local files unformatted
	files=$(go_files)
	[[ -n "$files" ]] || return 0
	unformatted=$(xargs -d '\n' "$(go env GOROOT)/bin/gofmt" -l <<<"$files") || return 1
	if [[ -n "$unformatted" ]]; then
		echo "these files are not gofmt-formatted (fix with: make fmt):"
		sed 's/^/  /' <<<"$unformatted"
		return 1
	fi
}

section "Environment"
go version
echo "repo: $(pwd)  user: $(id -un)  CI: ${CI:-no}"

if ! $lint_only; then
	ensure_postgres
	ensure_tools
fi

step "gofmt" check_gofmt
step "go vet" go vet ./...
step "staticcheck ($STATICCHECK)" go run "$STATICCHECK" ./...

if ! $lint_only; then
	# Test all packages unless the arguments name some.
	pkgs=(./...)
	for arg in "$@"; do
		if [[ "$arg" == ./* || "$arg" == ../* || "$arg" == github.com/* ]]; then
			pkgs=()
			break
		fi
	done
	step "go test" go test -count=1 -timeout 20m "$@" "${pkgs[@]}"
fi

section "Summary"
if ((${#failed[@]})); then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
echo "all checks passed"
