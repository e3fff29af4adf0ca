#!/usr/bin/env bash
# netgroup-load.sh: rtmfpd publishing into a NetGroup, played by librtmfp's
# TestClient members (and rtmfpd's own Go member), with frame counts per
# member. Outside CI's default run: it needs programs nobody here wrote, and
# it builds nothing. See interop/FINDINGS.md for what it showed.
#
# What it does: makes an FLV with ffmpeg (testsrc2 + sine, H.264 with a key
# frame every GOP frames, AAC), starts rtmfpd on loopback with a "groups"
# rule republishing live/* into the group, starts MEMBERS TestClient members
# playing the group stream (and a Go member), waits JOIN_WAIT seconds,
# publishes the file over RTMP with ffmpeg -re, waits DRAIN seconds after it
# ends, stops the members, and prints for each member the video and audio
# frames it wrote against the file's (from its first key frame on), the
# time of its first and last frame, and the server's upload for the stream.
#
# Environment (programs):
#   RTMFPD_BIN         rtmfpd binary (go build -o /tmp/rtmfpd ./cmd/rtmfpd)   required
#   RTMFPD_TESTCLIENT  librtmfp's TestClient                                 required
#   RTMFPD_CLI         rtmfp CLI (go build -o /tmp/rtmfp ./cmd/rtmfp): adds a Go member; empty: none
#   FFMPEG, FFPROBE    default ffmpeg, ffprobe
# Environment (scenario; defaults in brackets):
#   MEMBERS [8]        TestClient members
#   RATE [900k]        video bit rate; audio is 64 kbit/s
#   SIZE [640x360]     picture size
#   GOP [25]           frames between key frames (25 fps)
#   DURATION [10]      seconds of media
#   LARGE [0]          1: large key frames instead: 1280x720, a key frame of ~1 MB every 4 s
#                      and tiny inter frames (~2 Mbit/s on average; RATE, SIZE, GOP ignored)
#   TUNED [0]          TestClient members tuned unlike the publisher
#                      (--pushLimit=1 --fetchPeriod=500 --windowDuration=2000)
#   LATE [0]           TestClient members that join LATE_AT seconds into the stream
#   LATE_AT [4]
#   MULTICAST ['{}']   the "multicast" object of the groups rule (Flash's NetStream properties)
#   JOIN_WAIT [6]      seconds between the members' start and the publication
#   DRAIN [15]         seconds after the publication ends before the members stop
#   PORT [19450]       rtmfpd's RTMFP (UDP) and RTMP (TCP) port on 127.0.0.1
#   WORKDIR            default a new directory under /tmp (kept: logs, FLVs)
#   TESTCLIENT_LOG [0] TestClient --log level (7: debug) for the members
#
# Example:
#   RTMFPD_BIN=/tmp/rtmfpd RTMFPD_TESTCLIENT=$RTMFPD_TESTCLIENT RTMFPD_CLI=/tmp/rtmfp \
#     MEMBERS=8 interop/netgroup-load.sh
set -euo pipefail

: "${RTMFPD_BIN:?set RTMFPD_BIN to an rtmfpd binary (go build -o /tmp/rtmfpd ./cmd/rtmfpd)}"
: "${RTMFPD_TESTCLIENT:?set RTMFPD_TESTCLIENT to the librtmfp TestClient binary (see /work/shared/tools/rtmfp-load/README.md for the build)}"
FFMPEG=${FFMPEG:-ffmpeg}
FFPROBE=${FFPROBE:-ffprobe}
for p in "$RTMFPD_BIN" "$RTMFPD_TESTCLIENT" ${RTMFPD_CLI:+"$RTMFPD_CLI"}; do
	[ -x "$p" ] || { echo "not executable: $p" >&2; exit 2; }
done
for p in "$FFMPEG" "$FFPROBE"; do
	command -v "$p" >/dev/null || { echo "$p not found (apt-get install ffmpeg)" >&2; exit 2; }
done

MEMBERS=${MEMBERS:-8} RATE=${RATE:-900k} SIZE=${SIZE:-640x360} GOP=${GOP:-25} DURATION=${DURATION:-10}
LARGE=${LARGE:-0} TUNED=${TUNED:-0} LATE=${LATE:-0} LATE_AT=${LATE_AT:-4} MULTICAST=${MULTICAST:-'{}'}
JOIN_WAIT=${JOIN_WAIT:-6} DRAIN=${DRAIN:-15} PORT=${PORT:-19450} TESTCLIENT_LOG=${TESTCLIENT_LOG:-0}
SPEC=G:027f0201010103010c050e74657374011b00
WORKDIR=${WORKDIR:-$(mktemp -d /tmp/netgroup-load.XXXXXX)}
mkdir -p "$WORKDIR"
cd "$WORKDIR"
echo "work directory: $WORKDIR"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# The media.
if [ "$LARGE" = 1 ]; then
	# A fixed pseudo-random pattern over most of the picture: each key
	# frame codes it whole (~1 MB), inter frames only the moving strip.
	"$FFMPEG" -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i sine=frequency=440:sample_rate=44100 \
		-t "$DURATION" -vf "geq=lum='if(lt(Y,680),mod(X*X*31+Y*Y*17+X*Y*7,251),lum(X,Y))':cb='mod(X*13+Y*X*3,200)':cr=128" \
		-c:v libx264 -preset veryfast -crf 10 -g 100 -keyint_min 100 -sc_threshold 0 -pix_fmt yuv420p \
		-c:a aac -b:a 64k -f flv media.flv
else
	"$FFMPEG" -v error -y -f lavfi -i "testsrc2=size=$SIZE:rate=25" -f lavfi -i sine=frequency=440:sample_rate=44100 \
		-t "$DURATION" -c:v libx264 -preset veryfast -b:v "$RATE" -maxrate "$RATE" -bufsize "$RATE" \
		-g "$GOP" -keyint_min "$GOP" -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 64k -f flv media.flv
fi
probe() { "$FFPROBE" -v error -show_entries packet=codec_type,pts,size,flags -of csv "$1" 2>/dev/null || true; }
probe media.flv >media.csv
read -r src_video src_audio src_keys src_maxkey src_bytes <<<"$(awk -F, '
	$2=="video" {v++; b+=$4; if (index($5, "K")) {k++; if ($4>mk) mk=$4}}
	$2=="audio" {a++; b+=$4}
	END {print v+0, a+0, k+0, mk+0, b+0}' media.csv)"
echo "media: $src_video video frames ($src_keys key frames, largest $src_maxkey bytes), $src_audio audio frames, $((src_bytes * 8 / DURATION / 1000)) kbit/s"

# The server.
cat >rtmfpd.json <<EOF
{"rtmfp": ["127.0.0.1:$PORT"], "rtmp": ["127.0.0.1:$PORT"], "status": "127.0.0.1:$((PORT + 1))",
 "session": {"startupRate": 1000, "startupBurst": 1000},
 "introducer": {"introductionRate": 1000},
 "groups": [{"spec": "$SPEC", "publish": [{"app": "live", "stream": "*", "name": "{name}", "multicast": $MULTICAST}]}]}
EOF
"$RTMFPD_BIN" -config rtmfpd.json -log-level info >rtmfpd.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	grep -q "member of group" rtmfpd.log 2>/dev/null && break
	sleep 0.1
done
grep -q "member of group" rtmfpd.log || { echo "rtmfpd did not start:" >&2; cat rtmfpd.log >&2; exit 1; }
url="rtmfp://127.0.0.1:$PORT/live/test"

member() { # name extra-args...
	local n=$1
	shift
	"$RTMFPD_TESTCLIENT" --host=127.0.0.1 --url="$url" --netGroup="$SPEC" --mediaFile="$n.flv" \
		--log="$TESTCLIENT_LOG" --logFile="$n.log" "$@" >"$n.out" 2>&1 &
	pids+=($!)
	echo "$n $(date +%s.%N)" >>joins.txt
}
members=()
for i in $(seq "$MEMBERS"); do
	name=$(printf "tc%02d" "$i")
	args=()
	if [ "$i" -le "$TUNED" ]; then
		name="$name-tuned"
		args=(--pushLimit=1 --fetchPeriod=500 --windowDuration=2000)
	fi
	if [ "$i" -gt $((MEMBERS - LATE)) ]; then
		name="$name-late"
		members+=("$name")
		continue
	fi
	members+=("$name")
	member "$name" "${args[@]}"
	sleep 0.2
done
if [ -n "${RTMFPD_CLI:-}" ]; then
	"$RTMFPD_CLI" group-play -spec "$SPEC" -o go.flv "$url" >go.out 2>&1 &
	pids+=($!)
	members+=(go)
fi
sleep "$JOIN_WAIT"

# The publication.
start=$(date +%s.%N)
"$FFMPEG" -v error -re -i media.flv -c copy -f flv "rtmp://127.0.0.1:$PORT/live/test" &
pub=$!
if [ "$LATE" -gt 0 ]; then
	sleep "$LATE_AT"
	for n in "${members[@]}"; do
		case $n in *-late) member "$n" ;; esac
	done
fi
wait $pub
# The closed publication serves pulls for its window + relay margin (10 s
# by default): its counters are read 8 s after the end.
sleep 8
curl -s "http://127.0.0.1:$((PORT + 1))/status" >status-drain.json || true
sleep $((DRAIN > 8 ? DRAIN - 8 : 0))
for p in "${pids[@]:1}"; do kill -INT "$p" 2>/dev/null || true; done
sleep 2
cleanup
pids=()

# Frame counts: a member's share is the frames it wrote from its first key
# frame to the end, against the file's frames from that key frame's time.
printf "%-14s %9s %9s %9s %9s %10s %10s\n" member video% audio% video audio first-key last-video
worst=100
for n in "${members[@]}"; do
	f=$n.flv
	[ -s "$f" ] || { printf "%-14s %9s\n" "$n" "no file"; worst=0; continue; }
	probe "$f" >"$n.csv"
	read -r fk v a lv <<<"$(awk -F, '
		$2=="video" && index($5, "K") && fk=="" {fk=$3}
		fk!="" && $2=="video" {v++; lv=$3}
		fk!="" && $2=="audio" {a++}
		END {print (fk=="" ? -1 : fk), v+0, a+0, lv+0}' "$n.csv")"
	if [ "$fk" = -1 ]; then
		printf "%-14s %9s\n" "$n" "no key frame"
		worst=0
		continue
	fi
	read -r sv sa <<<"$(awk -F, -v fk="$fk" '$2=="video" && $3>=fk {v++} $2=="audio" && $3>=fk {a++} END {print v+0, a+0}' media.csv)"
	vp=$(awk -v x="$v" -v y="$sv" 'BEGIN {printf "%.1f", y ? 100*x/y : 0}')
	ap=$(awk -v x="$a" -v y="$sa" 'BEGIN {printf "%.1f", y ? 100*x/y : 0}')
	printf "%-14s %9s %9s %9s %9s %10s %10s\n" "$n" "$vp" "$ap" "$v/$sv" "$a/$sa" "$fk" "$lv"
	worst=$(awk -v w="$worst" -v x="$vp" 'BEGIN {print (x < w ? x : w)}')
done
# The server's upload for the stream, against the stream's bytes.
# (Nothing when the publication had already left the status: the frame
# counts above still stand.)
stat() { { tr -d ' \n' <status-drain.json | grep -o '"name":"test","publisher":true.*' | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; } || true; }
sent=$(stat SentDataBytes)
pushed=$(stat BytesPushedToPeers)
pulled=$(stat BytesRequestedByPeers)
if [ -z "$sent" ]; then
	echo "server upload for the stream: not read (no publication in status-drain.json)"
else
	echo "server upload for the stream: $sent bytes = $(awk -v s="$sent" -v b="$src_bytes" 'BEGIN {printf "%.2f", s/b}') × the stream (pushed $pushed, pulled by members $pulled payload bytes)"
fi
echo "worst member: $worst% of the video frames"
