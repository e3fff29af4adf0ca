#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need (ffmpeg, nginx with
# the RTMP module, Chromium for the browser tests) from Debian when they are
# missing, then runs go vet and the tests, always afresh (-count=1: a cached
# pass is not a pass).
#
# The tests run with the race detector, except the long multicast
# simulations (multicast/mcsim), which take minutes under it: they run once
# without it, and their short scenario (-short) with it.
#
# Environment:
#   RTMFPD_TEST_FLAGS  flags for go test (default: -race -timeout 25m)
#   RTMFPD_CHROMIUM    a Chromium or Chrome to use instead of Debian's chromium
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
if ! command -v nginx >/dev/null 2>&1; then need+=(nginx-light); fi
if [ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then need+=(libnginx-mod-rtmp); fi
if [ -z "${RTMFPD_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then need+=(chromium fonts-dejavu-core); fi
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing test dependencies: ${need[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

flags=${RTMFPD_TEST_FLAGS:--race -timeout 25m}
sim=./multicast/mcsim/
mapfile -t pkgs < <(go list ./... | grep -v '/multicast/mcsim$')

go vet ./...
# shellcheck disable=SC2086
go test -count=1 $flags "${pkgs[@]}"
# shellcheck disable=SC2086
go test -count=1 $flags -short "$sim"
go test -count=1 -timeout 25m "$sim"
