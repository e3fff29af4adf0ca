#!/usr/bin/env bash
# ams-multicast.sh: rtmfpd as Adobe Media Server's multicast service, with
# players nobody here wrote. Outside CI's default run: it needs librtmfp's
# TestClient, and it builds nothing.
#
# For each event type (3 peer to peer, then 1 fusion) it starts rtmfpd with
# the multicast service enabled, a librtmfp TestClient NetGroup member and
# rtmfpd's Go member (rtmfp group-play) playing the group stream with the
# groupspec of the manifest, then ffmpeg publishes an FLV in real time over
# RTMP with the configurator's stream name
# (livestream?fms.multicast.type=N&fms.multicast.groupspec=<escaped spec>),
# or (ENCODER=testclient) a second TestClient publishes it over RTMFP to
# rtmfp://127.0.0.1:PORT/multicast/<that stream name>.
# It checks the manifest served at /multicast/livestream.f4m (both name
# sets, the groupspec without the publish password), then prints the video
# and audio frames each member wrote against the file's. It exits 1 when a
# member wrote no video or the manifest is wrong.
#
# Everything runs inside a private network namespace (unshare -rn: only a
# loopback interface, with multicast turned on), so the fusion event's IP
# multicast never leaves the host's namespace. Needs unshare and ip
# (util-linux, iproute2) and user namespaces.
#
# Environment:
#   RTMFPD_BIN         rtmfpd binary (go build -o /tmp/rtmfpd ./cmd/rtmfpd)     required
#   RTMFPD_TESTCLIENT  librtmfp's TestClient                                   required
#   RTMFPD_CLI         rtmfp CLI (go build -o /tmp/rtmfp ./cmd/rtmfp)           required
#   FFMPEG, FFPROBE    default ffmpeg, ffprobe
#   ENCODER [ffmpeg]   ffmpeg (RTMP) or testclient (librtmfp's TestClient, RTMFP)
#   TYPES [3 1]        event types to run
#   PREJOIN [0]        1: the event's group is also in "groups", so rtmfpd is a member from its
#                      start (members waiting for the event are its neighbours when it begins);
#                      0: rtmfpd joins the group when the encoder publishes
#   DURATION [10]      seconds of media
#   PORT [19470]       rtmfpd's RTMFP (UDP) and RTMP (TCP) port; the status listener is PORT+1
#   WORKDIR            default a new directory under /tmp (kept: logs, FLVs, manifests)
#   TESTCLIENT_LOG [0] TestClient --log level (7: debug)
#
# Example:
#   go build -o /tmp/rtmfpd ./cmd/rtmfpd && go build -o /tmp/rtmfp ./cmd/rtmfp
#   RTMFPD_BIN=/tmp/rtmfpd RTMFPD_CLI=/tmp/rtmfp RTMFPD_TESTCLIENT=$RTMFPD_TESTCLIENT interop/ams-multicast.sh
set -euo pipefail

: "${RTMFPD_BIN:?set RTMFPD_BIN to an rtmfpd binary (go build -o /tmp/rtmfpd ./cmd/rtmfpd)}"
: "${RTMFPD_TESTCLIENT:?set RTMFPD_TESTCLIENT to the librtmfp TestClient binary (see /work/shared/tools/rtmfp-load/README.md for the build)}"
: "${RTMFPD_CLI:?set RTMFPD_CLI to the rtmfp CLI (go build -o /tmp/rtmfp ./cmd/rtmfp)}"
FFMPEG=${FFMPEG:-ffmpeg}
FFPROBE=${FFPROBE:-ffprobe}
for p in "$RTMFPD_BIN" "$RTMFPD_TESTCLIENT" "$RTMFPD_CLI"; do
	[ -x "$p" ] || { echo "not executable: $p" >&2; exit 2; }
done
for p in "$FFMPEG" "$FFPROBE" unshare ip curl; do
	command -v "$p" >/dev/null || { echo "$p not found (apt-get install ffmpeg util-linux iproute2 curl)" >&2; exit 2; }
done

# Into a private network namespace first.
if [ "${AMS_MULTICAST_NETNS:-}" != 1 ]; then
	exec unshare -rn env AMS_MULTICAST_NETNS=1 "$0" "$@"
fi
[ "$(ip -o link | wc -l)" = 1 ] || { echo "not in a private network namespace" >&2; exit 2; }
ip link set lo up multicast on
ip route add 224.0.0.0/4 dev lo

ENCODER=${ENCODER:-ffmpeg}
case $ENCODER in ffmpeg | testclient) ;; *) echo "ENCODER=$ENCODER: want ffmpeg or testclient" >&2; exit 2 ;; esac
TYPES=${TYPES:-3 1} PREJOIN=${PREJOIN:-0} DURATION=${DURATION:-10} PORT=${PORT:-19470} TESTCLIENT_LOG=${TESTCLIENT_LOG:-0}
WORKDIR=${WORKDIR:-$(mktemp -d /tmp/ams-multicast.XXXXXX)}
mkdir -p "$WORKDIR"
cd "$WORKDIR"
echo "work directory: $WORKDIR"

# The encoder's groupspecs (groupspecWithAuthorizations()): a P2P group with
# the publish password "encoder password" (option 05: its SHA-256; option
# 15 after the marker: the password), and a fusion group listing the IP
# multicast address 239.255.0.1:30000 for its players.
SPEC_3=G:027f02010101032105a559269bc6236b7e6ceac3b48e6859078b499d4ea5ce76dbcecee75cdbaf34ab010c100e616d732e696e7465726f702e703270011b001115656e636f6465722070617373776f7264
PLAYER_3=G:027f02010101032105a559269bc6236b7e6ceac3b48e6859078b499d4ea5ce76dbcecee75cdbaf34ab010c100e616d732e696e7465726f702e703270011b00
SPEC_1=G:027f0201010103010c130e616d732e696e7465726f702e667573696f6e011b00070aefff00017530
PLAYER_1=$SPEC_1

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

"$FFMPEG" -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25" -f lavfi -i sine=frequency=440:sample_rate=44100 \
	-t "$DURATION" -c:v libx264 -preset veryfast -b:v 800k -g 25 -keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p \
	-c:a aac -b:a 64k -f flv media.flv
probe() { # video and audio frames of an FLV
	"$FFPROBE" -v error -show_entries packet=codec_type -of csv=p=0 "$1" 2>/dev/null |
		awk -F, '$1=="video" {v++} $1=="audio" {a++} END {printf "video=%d audio=%d", v, a}'
}
echo "media: $(probe media.flv)"

failed=0
for TYPE in $TYPES; do
	spec_var=SPEC_$TYPE player_var=PLAYER_$TYPE
	SPEC=${!spec_var} PLAYER=${!player_var}
	dir=type$TYPE
	mkdir -p "$dir"
	groups=
	[ "$PREJOIN" = 1 ] && groups=" \"groups\": [{\"spec\": \"$PLAYER\"}],"
	cat >"$dir/rtmfpd.json" <<EOF
{"rtmfp": ["127.0.0.1:$PORT"], "rtmp": ["127.0.0.1:$PORT"], "status": "127.0.0.1:$((PORT + 1))",
 "apps": ["multicast"],$groups
 "multicastService": {"enabled": true, "ipMulticast": {"interface": "lo", "loopback": true}}}
EOF
	"$RTMFPD_BIN" -config "$dir/rtmfpd.json" -log-level info >"$dir/rtmfpd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		grep -q "rtmfpd started" "$dir/rtmfpd.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "rtmfpd started" "$dir/rtmfpd.log" || { echo "rtmfpd did not start:" >&2; cat "$dir/rtmfpd.log" >&2; exit 1; }

	url="rtmfp://127.0.0.1:$PORT/multicast/livestream"
	"$RTMFPD_TESTCLIENT" --host=127.0.0.1 --url="$url" --app=multicast --netGroup="$PLAYER" --mediaFile="$dir/testclient.flv" \
		--log="$TESTCLIENT_LOG" --logFile="$dir/testclient.log" >"$dir/testclient.out" 2>&1 &
	pids+=($!)
	"$RTMFPD_CLI" group-play -spec "$PLAYER" -o "$dir/go.flv" "$url" >"$dir/go.out" 2>&1 &
	pids+=($!)
	sleep 4

	escaped=${SPEC//:/%3A}
	name="livestream?fms.multicast.type=$TYPE&fms.multicast.groupspec=$escaped"
	[ "$TYPE" = 1 ] && name="$name&fms.multicast.address=239.255.0.1:30000"
	if [ "$ENCODER" = testclient ]; then
		"$RTMFPD_TESTCLIENT" --host=127.0.0.1 --app=multicast --url="rtmfp://127.0.0.1:$PORT/multicast/$name" --write \
			--mediaFile=media.flv --log="$TESTCLIENT_LOG" --logFile="$dir/encoder.log" >"$dir/encoder.out" 2>&1 &
	else
		"$FFMPEG" -v error -re -i media.flv -c copy -f flv "rtmp://127.0.0.1:$PORT/multicast/$name" &
	fi
	pub=$!
	sleep 3
	curl -s -o "$dir/manifest.f4m" -w '%{http_code}' "http://127.0.0.1:$((PORT + 1))/multicast/livestream.f4m" >"$dir/manifest.code"
	curl -s "http://127.0.0.1:$((PORT + 1))/multicast/" >"$dir/publications.json"
	wait $pub
	sleep 6
	for p in "${pids[@]:1}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 1
	cleanup
	pids=()

	echo "type $TYPE (prejoin $PREJOIN, encoder $ENCODER):"
	if [ "$(cat "$dir/manifest.code")" = 200 ] && grep -q "groupspec=\"$PLAYER\"" "$dir/manifest.f4m" &&
		grep -q "rtmfpGroupspec=\"$PLAYER\"" "$dir/manifest.f4m" && grep -q 'multicastStreamName="livestream"' "$dir/manifest.f4m" &&
		grep -q 'rtmfpStreamName="livestream"' "$dir/manifest.f4m" && ! grep -q 656e636f646572 "$dir/manifest.f4m"; then
		echo "  manifest: ok ($(grep -o 'url="[^"]*"' "$dir/manifest.f4m"))"
	else
		echo "  manifest: WRONG (HTTP $(cat "$dir/manifest.code")):"
		cat "$dir/manifest.f4m"
		failed=1
	fi
	for m in testclient go; do
		f=$dir/$m.flv
		if [ ! -s "$f" ]; then
			echo "  $m: no file"
			failed=1
			continue
		fi
		counts=$(probe "$f")
		echo "  $m: $counts"
		case $counts in video=0*) failed=1 ;; esac
	done
	if [ "$TYPE" = 1 ]; then
		echo "  go member: $(grep -o 'IP multicast: received.*' "$dir/go.out" | tail -1)"
	fi
done
exit $failed
