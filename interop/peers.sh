#!/usr/bin/env bash
# interop/peers.sh — rtmfpd's Go client and relay against RTMFP servers nobody
# on the project wrote: rtmfp-cpp's tcserver and MonaServer2's MonaTiny, with
# librtmfp's TestClient as a player. Prints the frames every player wrote.
#
# Not part of CI's default run (scripts/test.sh does not call it): it needs
# programs built outside the repository, named by environment variables. It
# builds none of them; it builds only this repository's own commands (rtmfpd,
# rtmfp, interop/flvcount) with `go build`, unless RTMFPD_RTMFPD and
# RTMFPD_RTMFP_CLI name binaries already built.
#
# Required (each an executable; the script fails naming the one missing):
#   RTMFPD_TCSERVER    rtmfp-cpp test/tcserver
#   RTMFPD_MONATINY    MonaServer2 MonaTiny (configured here on loopback ports)
#   RTMFPD_TESTCLIENT  librtmfp TestClient
# Optional:
#   RTMFPD_LIBRTMFP_LIB     folder of librtmfp.so, added to LD_LIBRARY_PATH
#   RTMFPD_TCCONN           rtmfp-cpp test/tcconn: also plays from tcserver
#                           (counts the audio/video messages it prints)
#   RTMFPD_RTMFPD, RTMFPD_RTMFP_CLI  prebuilt rtmfpd and rtmfp
#   RTMFPD_INTEROP_MEDIA    FLV to publish (default testdata/media/test_6s.flv)
#   RTMFPD_INTEROP_PORT     first of the loopback ports used (default 19700):
#                           rtmfpd +0 (UDP) +1 (RTMP), MonaTiny +10 +11,
#                           tcserver +20
#   RTMFPD_INTEROP_DIR      where logs and the players' files go (default: a
#                           new temporary folder, kept and printed)
#   RTMFPD_INTEROP_CASES    which cases to run (default "tcserver mona relay
#                           relay-rtmp"; relay-rtmp needs ffmpeg on PATH)
#
# Cases (each publishes the media once, in real time, to a stream of its own):
#   tcserver    rtmfp publish → tcserver → rtmfp play (+ tcconn)
#   mona        rtmfp publish → MonaTiny → rtmfp play, TestClient
#   relay       rtmfp publish → rtmfpd, relayed over RTMFP by the Go client to
#               MonaTiny and tcserver → TestClient at MonaTiny, rtmfp play at
#               tcserver, rtmfp play and TestClient at rtmfpd
#   relay-rtmp  the same with ffmpeg publishing over RTMP to rtmfpd
# Players join 1 s before the publisher, so each should write every frame.
# The figures in interop/FINDINGS.md used a 10 s, ~1 Mbit/s stream made with
#   ffmpeg -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440 -t 10 \
#     -c:v libx264 -preset veryfast -b:v 900k -maxrate 1000k -bufsize 1000k -g 25 \
#     -keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 96k -f flv test10.flv
# Everything listens on 127.0.0.1 only. Exit status: 0 when every player
# wrote every video frame of the media, 1 otherwise, 2 on a setup error.
set -euo pipefail

# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"
need RTMFPD_TCSERVER "rtmfp-cpp's tcserver"
need RTMFPD_MONATINY "MonaServer2's MonaTiny"
need RTMFPD_TESTCLIENT "librtmfp's TestClient"
[[ -z ${RTMFPD_TCCONN:-} ]] || need RTMFPD_TCCONN "rtmfp-cpp's tcconn"
if [[ -n ${RTMFPD_LIBRTMFP_LIB:-} ]]; then
	export LD_LIBRARY_PATH=$RTMFPD_LIBRTMFP_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

media=${RTMFPD_INTEROP_MEDIA:-$repo/testdata/media/test_6s.flv}
[[ -r $media ]] || die "no media file $media"
media=$(cd "$(dirname "$media")" && pwd)/$(basename "$media")
base=${RTMFPD_INTEROP_PORT:-19700}
cases=${RTMFPD_INTEROP_CASES:-tcserver mona relay relay-rtmp}
work=${RTMFPD_INTEROP_DIR:-$(mktemp -d /tmp/rtmfpd-peers.XXXXXX)}
mkdir -p "$work"
echo "peers.sh: logs and recordings in $work"

# This repository's commands.
bin=$work/bin
mkdir -p "$bin"
rtmfpd=${RTMFPD_RTMFPD:-}
cli=${RTMFPD_RTMFP_CLI:-}
(cd "$repo" && go build -o "$bin/flvcount" ./interop/flvcount) || die "go build of interop/flvcount failed"
if [[ -z $rtmfpd ]]; then
	(cd "$repo" && go build -o "$bin/rtmfpd" ./cmd/rtmfpd) || die "go build of cmd/rtmfpd failed"
	rtmfpd=$bin/rtmfpd
fi
if [[ -z $cli ]]; then
	(cd "$repo" && go build -o "$bin/rtmfp" ./cmd/rtmfp) || die "go build of cmd/rtmfp failed"
	cli=$bin/rtmfp
fi
flvcount=$bin/flvcount

# The media's frames and length.
read -r _ src_video src_key src_audio _ _ _ src_last _ < <("$flvcount" -tsv "$media")
seconds=$(((src_last + 999) / 1000))
echo "media: $media: video $src_video (key $src_key), audio $src_audio, ${seconds} s"

# Servers, on loopback only.
p_rtmfpd=$base p_rtmfpd_rtmp=$((base + 1))
p_mona=$((base + 10)) p_mona_rtmp=$((base + 11))
p_tc=$((base + 20))
mkdir -p "$work/mona"
cat >"$work/mona/MonaTiny.ini" <<EOF
[RTMFP]
host = 127.0.0.1
port = $p_mona
[RTMP]
host = 127.0.0.1
port = $p_mona_rtmp
[HTTP=false]
[HTTPS=false]
[RTMPS=false]
[WS=false]
[WSS=false]
EOF
cat >"$work/rtmfpd.json" <<EOF
{"rtmfp": ["127.0.0.1:$p_rtmfpd"], "rtmp": ["127.0.0.1:$p_rtmfpd_rtmp"], "status": "off", "apps": [],
 "relay": {"rules": [{"app": "relay", "stream": "*", "targets": [
   {"url": "rtmfp://127.0.0.1:$p_mona/live/{name}"},
   {"url": "rtmfp://127.0.0.1:$p_tc/live/{name}"}]}]}}
EOF
declare -A servers # pid → name
"$RTMFPD_MONATINY" "$work/mona/MonaTiny.ini" >"$work/monatiny.out" 2>&1 &
pids+=($!) servers[$!]=MonaTiny
"$RTMFPD_TCSERVER" -B "127.0.0.1:$p_tc" >"$work/tcserver.log" 2>&1 &
pids+=($!) servers[$!]=tcserver
"$rtmfpd" -config "$work/rtmfpd.json" >"$work/rtmfpd.log" 2>&1 &
pids+=($!) servers[$!]=rtmfpd
sleep 1
# alive fails naming each server that is gone.
alive() {
	local p ok=0
	for p in "${!servers[@]}"; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "peers.sh: ${servers[$p]} exited $1: see $work/{monatiny.out,mona/MonaTiny.log,tcserver.log,rtmfpd.log}" >&2
			ok=1
		fi
	done
	return $ok
}
alive "at once" || exit 2

results=$work/results.tsv
: >"$results"
failed=0

# Players of one case: started in the background, collected by finish.
players=()   # "label|kind|file|pid"
goplay() {   # label url
	local out=$work/$scenario-$1.flv
	"$cli" play -o "$out" -t "$((seconds + 8))s" "$2" >"$work/$scenario-$1.log" 2>&1 &
	players+=("$1|flv|$out|$!")
}
testclient() {   # label url
	local out=$work/$scenario-$1.flv app=${2#rtmfp://*/}
	# librtmfp connects to the application "live" whatever the URL says:
	# name it.
	app=${app%%/*}
	"$RTMFPD_TESTCLIENT" --host=127.0.0.1 "--url=$2" "--app=$app" "--mediaFile=$out" >"$work/$scenario-$1.log" 2>&1 &
	players+=("$1|flv|$out|$!")
}
tcconn() {   # label url#stream
	local out=$work/$scenario-$1.log
	"$RTMFPD_TCCONN" "$2" >"$out" 2>&1 &
	players+=("$1|tcconn|$out|$!")
}
finish() {
	local entry label kind file pid v k a first
	sleep 4 # relay drain and the players' last frames
	for entry in "${players[@]}"; do
		IFS='|' read -r label kind file pid <<<"$entry"
		kill -INT "$pid" 2>/dev/null || true
	done
	for entry in "${players[@]}"; do
		IFS='|' read -r label kind file pid <<<"$entry"
		wait "$pid" 2>/dev/null || true
		if [[ $kind == tcconn ]]; then
			# tcconn prints every message, sequence headers included.
			v=$(grep -c 'onVideo' "$file" || true)
			a=$(grep -c 'onAudio' "$file" || true)
			printf '%-11s %-24s video %4s messages   audio %4s messages (sequence headers included)\n' "$scenario" "$label" "$v" "$a"
			printf '%s\t%s\t%s\t\t%s\t\n' "$scenario" "$label" "$v" "$a" >>"$results"
			continue
		fi
		if [[ ! -s $file ]]; then
			printf '%-11s %-24s nothing written (see %s)\n' "$scenario" "$label" "${file%.flv}.log"
			printf '%s\t%s\t0\t0\t0\t\n' "$scenario" "$label" >>"$results"
			failed=1
			continue
		fi
		read -r _ v k a _ first _ _ _ < <("$flvcount" -tsv "$file")
		printf '%-11s %-24s video %4d/%d (key %d)  audio %4d/%d  first video %s ms\n' "$scenario" "$label" "$v" "$src_video" "$k" "$a" "$src_audio" "$first"
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$label" "$v" "$k" "$a" "$first" >>"$results"
		((v == src_video)) || failed=1
	done
	players=()
	alive "during $scenario" || failed=1
}

for scenario in $cases; do
	name=s_${scenario//-/_}
	case $scenario in
	tcserver)
		goplay go@tcserver "rtmfp://127.0.0.1:$p_tc/live/$name"
		[[ -z ${RTMFPD_TCCONN:-} ]] || tcconn tcconn@tcserver "rtmfp://127.0.0.1:$p_tc/live#$name"
		sleep 1
		timeout "$((seconds + 30))" "$cli" publish "$media" "rtmfp://127.0.0.1:$p_tc/live/$name" >"$work/$scenario-publisher.log" 2>&1 ||
			echo "peers.sh: $scenario: the publisher failed: $(tail -1 "$work/$scenario-publisher.log")"
		;;
	mona)
		goplay go@mona "rtmfp://127.0.0.1:$p_mona/live/$name"
		testclient testclient@mona "rtmfp://127.0.0.1:$p_mona/live/$name"
		sleep 1
		timeout "$((seconds + 30))" "$cli" publish "$media" "rtmfp://127.0.0.1:$p_mona/live/$name" >"$work/$scenario-publisher.log" 2>&1 ||
			echo "peers.sh: $scenario: the publisher failed: $(tail -1 "$work/$scenario-publisher.log")"
		;;
	relay | relay-rtmp)
		if [[ $scenario == relay-rtmp ]] && ! command -v ffmpeg >/dev/null; then
			echo "peers.sh: relay-rtmp skipped: no ffmpeg on PATH (apt-get install ffmpeg)"
			continue
		fi
		testclient testclient@mona "rtmfp://127.0.0.1:$p_mona/live/$name"
		goplay go@tcserver "rtmfp://127.0.0.1:$p_tc/live/$name"
		goplay go@rtmfpd "rtmfp://127.0.0.1:$p_rtmfpd/relay/$name"
		testclient testclient@rtmfpd "rtmfp://127.0.0.1:$p_rtmfpd/relay/$name"
		sleep 1
		if [[ $scenario == relay ]]; then
			timeout "$((seconds + 30))" "$cli" publish "$media" "rtmfp://127.0.0.1:$p_rtmfpd/relay/$name" >"$work/$scenario-publisher.log" 2>&1 ||
				echo "peers.sh: $scenario: the publisher failed: $(tail -1 "$work/$scenario-publisher.log")"
		else
			timeout "$((seconds + 30))" ffmpeg -hide_banner -loglevel error -re -i "$media" -c copy -f flv \
				"rtmp://127.0.0.1:$p_rtmfpd_rtmp/relay/$name" >"$work/$scenario-publisher.log" 2>&1 ||
				echo "peers.sh: $scenario: ffmpeg failed: $(tail -1 "$work/$scenario-publisher.log")"
		fi
		;;
	*)
		die "unknown case $scenario"
		;;
	esac
	finish
done
echo "peers.sh: results in $results"
exit $failed
