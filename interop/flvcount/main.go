// Command flvcount prints the media frames of FLV files, as the interop
// scripts compare what players wrote with what was published:
//
//	flvcount [-tsv] file.flv...
//
// Frames are audio and video messages other than codec configuration (AVC
// and AAC sequence headers), the AVC end of sequence and empty AVC frames
// (the 5-byte header alone, which the librtmfp TestClient playing from
// MonaServer2 writes last); data messages (onMetaData, |RtmpSampleAccess)
// are not frames. A file cut short (a
// player killed while writing) counts what it holds and says so.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
)

// avcHeader is the size of an AVC video tag's header (frame type and codec,
// packet type, composition time): a message no longer than that holds no
// picture.
const avcHeader = 5

// counts are the frames of one file.
type counts struct {
	video, key, audio, data int
	// firstVideo, firstKey and lastVideo are timestamps in ms (-1: none).
	firstVideo, firstKey, lastVideo int64
}

func count(msgs []media.Message) counts {
	c := counts{firstVideo: -1, firstKey: -1, lastVideo: -1}
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.IsData():
			c.data++
		case m.IsSequenceHeader() || m.IsEndOfSequence() || m.Type == media.TypeVideo && len(m.Payload) <= avcHeader:
		case m.Type == media.TypeAudio:
			c.audio++
		case m.Type == media.TypeVideo:
			c.video++
			ts := int64(m.Timestamp)
			if c.firstVideo < 0 {
				c.firstVideo = ts
			}
			if m.IsKeyframe() {
				c.key++
				if c.firstKey < 0 {
					c.firstKey = ts
				}
			}
			c.lastVideo = ts
		}
	}
	return c
}

func main() {
	tsv := flag.Bool("tsv", false, "tab-separated: file video key audio data firstVideo firstKey lastVideo note")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: flvcount [-tsv] file.flv...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	status := 0
	for _, path := range flag.Args() {
		msgs, err := flv.ReadFile(path, 0)
		if err != nil && len(msgs) == 0 {
			fmt.Fprintln(os.Stderr, "flvcount:", err)
			status = 1
			continue
		}
		note := ""
		if err != nil {
			note = "truncated"
		}
		c := count(msgs)
		if *tsv {
			fmt.Printf("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", path, c.video, c.key, c.audio, c.data, c.firstVideo, c.firstKey, c.lastVideo, note)
			continue
		}
		fmt.Printf("%s: video %d (key %d), audio %d, data %d; video %d–%d ms, first key frame %d ms %s\n",
			path, c.video, c.key, c.audio, c.data, c.firstVideo, c.lastVideo, c.firstKey, note)
	}
	os.Exit(status)
}
