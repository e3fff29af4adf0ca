# interop/lib.sh — what the interop scripts share; they source it right
# after `set -euo pipefail`. -h prints the script's header comment; die
# ends with exit status 2 (a setup error); need checks that an environment
# variable names an executable built outside the repository; the processes
# whose IDs are added to pids are killed when the script exits.

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit 0
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "$(basename "$0"): $*" >&2; exit 2; }
need() {
	local v=$1 what=$2
	[[ -n ${!v:-} ]] || die "\$$v is not set: it must name $what (built outside the repository; see interop/FINDINGS.md)"
	[[ -x ${!v} ]] || die "\$$v=${!v} is not an executable ($what)"
}

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT
