#!/usr/bin/env bash
# interop/check.sh — `rtmfp check` against rtmfpd, MonaServer2's MonaTiny and
# rtmfp-cpp's tcserver (and, with -nat, rtmfp-cpp's conncheck), all on
# loopback; prints each text report and then the reports side by side.
#
# Not part of CI's default run (scripts/test.sh does not call it; CI runs
# interop.TestRtmfpCheckAgainstRtmfpd against rtmfpd alone): it needs
# programs built outside the repository, named by environment variables. It
# builds none of them, only this repository's rtmfpd, rtmfp and
# interop/checktable (with `go build`).
#
# Required (each an executable; the script fails naming the one missing):
#   RTMFPD_MONATINY    MonaServer2 MonaTiny (configured here on loopback ports)
#   RTMFPD_TCSERVER    rtmfp-cpp test/tcserver
# Optional:
#   RTMFPD_CONNCHECK   rtmfp-cpp test/conncheck: the -nat reports also run
#                      against it (on 127.0.0.1, .2 and .3)
#   RTMFPD_CHECK_PORT  first of the loopback UDP ports used (default 19800):
#                      rtmfpd +0 (its connectivity check +1 to +3),
#                      MonaTiny +10 (RTMP +11), tcserver +20, conncheck +30
#                      to +33
#   RTMFPD_CHECK_DIR   where the reports and logs go (default: a new
#                      temporary folder, kept and printed)
#   RTMFPD_CHECK_FLAGS extra flags for rtmfp check (-timeout 5s, -run ...)
#
# Exit status: 0 when rtmfpd passed every check it ran (what the other
# servers pass is a fact about them, reported, not a failure of the script),
# 1 otherwise, 2 on a setup error.
set -euo pipefail

# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"
need RTMFPD_MONATINY "MonaServer2's MonaTiny"
need RTMFPD_TCSERVER "rtmfp-cpp's tcserver"
[[ -z ${RTMFPD_CONNCHECK:-} ]] || need RTMFPD_CONNCHECK "rtmfp-cpp's conncheck"

base=${RTMFPD_CHECK_PORT:-19800}
work=${RTMFPD_CHECK_DIR:-$(mktemp -d /tmp/rtmfpd-check.XXXXXX)}
read -r -a flags <<<"${RTMFPD_CHECK_FLAGS:-}"
mkdir -p "$work/bin" "$work/mona"
echo "check.sh: reports and logs in $work"
for p in cmd/rtmfpd cmd/rtmfp interop/checktable; do
	(cd "$repo" && go build -o "$work/bin/$(basename $p)" "./$p") || die "go build of $p failed"
done
cli=$work/bin/rtmfp

p_rtmfpd=$base p_mona=$((base + 10)) p_tc=$((base + 20)) p_cc=$((base + 30))
cat >"$work/rtmfpd.json" <<EOF2
{"rtmfp": ["127.0.0.1:$p_rtmfpd"], "rtmp": [], "status": "off",
 "natCheck": {"differentPort": "127.0.0.1:$((base + 1))", "differentAddress": "127.0.0.2:$((base + 2))",
              "introReply": "127.0.0.3:$((base + 3))"}}
EOF2
cat >"$work/mona/MonaTiny.ini" <<EOF2
[RTMFP]
host = 127.0.0.1
port = $p_mona
[RTMP]
host = 127.0.0.1
port = $((p_mona + 1))
[HTTP=false]
[HTTPS=false]
[RTMPS=false]
[WS=false]
[WSS=false]
EOF2
declare -A servers # pid → name
"$work/bin/rtmfpd" -config "$work/rtmfpd.json" >"$work/rtmfpd.log" 2>&1 &
pids+=($!) servers[$!]=rtmfpd
"$RTMFPD_MONATINY" "$work/mona/MonaTiny.ini" >"$work/monatiny.out" 2>&1 &
pids+=($!) servers[$!]=MonaTiny
"$RTMFPD_TCSERVER" -B "127.0.0.1:$p_tc" >"$work/tcserver.log" 2>&1 &
pids+=($!) servers[$!]=tcserver
if [[ -n ${RTMFPD_CONNCHECK:-} ]]; then
	"$RTMFPD_CONNCHECK" -B "127.0.0.1:$p_cc" -p $((p_cc + 1)) -a "127.0.0.2:$((p_cc + 2))" -i "127.0.0.3:$((p_cc + 3))" >"$work/conncheck.log" 2>&1 &
	pids+=($!) servers[$!]=conncheck
fi
sleep 1
for p in "${!servers[@]}"; do
	kill -0 "$p" 2>/dev/null || die "${servers[$p]} exited at once: see $work/*.log, $work/monatiny.out"
done

# check NAME URL [flags]: the JSON report in NAME.json, and as text on the
# terminal and in NAME.txt.
status=0
check() {
	local name=$1 url=$2
	shift 2
	echo
	echo "=== $name: rtmfp check $* $url"
	"$cli" check -json "${flags[@]}" "$@" "$url" >"$work/$name.json" || [[ $name != rtmfpd* ]] || status=1
	"$work/bin/checktable" -text "$work/$name.json" | tee "$work/$name.txt"
}
check rtmfpd "rtmfp://127.0.0.1:$p_rtmfpd/live"
check MonaTiny "rtmfp://127.0.0.1:$p_mona/live"
check tcserver "rtmfp://127.0.0.1:$p_tc/live"
check rtmfpd-nat "rtmfp://127.0.0.1:$p_rtmfpd/conncheck" -nat
check MonaTiny-nat "rtmfp://127.0.0.1:$p_mona/live" -nat
check tcserver-nat "rtmfp://127.0.0.1:$p_tc/live" -nat
nat=(rtmfpd="$work/rtmfpd-nat.json" MonaTiny="$work/MonaTiny-nat.json" tcserver="$work/tcserver-nat.json")
if [[ -n ${RTMFPD_CONNCHECK:-} ]]; then
	check conncheck-nat "rtmfp://127.0.0.1:$p_cc/live" -nat
	nat+=(conncheck="$work/conncheck-nat.json")
fi

echo
echo "=== side by side"
"$work/bin/checktable" rtmfpd="$work/rtmfpd.json" MonaTiny="$work/MonaTiny.json" tcserver="$work/tcserver.json" | tee "$work/table.md"
echo
"$work/bin/checktable" "${nat[@]}" | tee -a "$work/table.md"
for p in "${!servers[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "check.sh: ${servers[$p]} died during the checks" >&2; status=1; }
done
exit $status
