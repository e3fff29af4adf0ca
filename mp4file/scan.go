package mp4file

import (
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// ErrNoMovie is returned for a file without a movie box (not MP4, or a
// recording that was never completed).
var ErrNoMovie = errors.New("mp4file: no movie box")

// Scan indexes the MP4 file r of size bytes: its first video and first
// audio track (H.264/H.265, AAC/MP3); others are ignored.
func Scan(r io.ReaderAt, size int64) (*Index, error) {
	tops, err := topBoxes(r, size)
	if err != nil {
		return nil, err
	}
	var moov topBox
	for _, b := range tops {
		if b.typ == "moov" {
			moov = b
			break
		}
	}
	if moov.size == 0 {
		return nil, ErrNoMovie
	}
	if moov.size > MaxMoov {
		return nil, corrupt("movie box of %d bytes", moov.size)
	}
	buf := make([]byte, moov.size-moov.headerSize)
	if n, _ := r.ReadAt(buf, moov.off+moov.headerSize); n < len(buf) {
		return nil, corrupt("movie box cut short")
	}
	x := newIndex(false)
	x.moov = moov
	if err := x.parseMoov(buf, size); err != nil {
		return nil, err
	}
	return x, nil
}

// parseMoov reads the tracks and their samples.
func (x *Index) parseMoov(moov []byte, fileSize int64) error {
	bs, err := boxes(moov)
	if err != nil {
		return err
	}
	movieScale := uint32(1000)
	if mvhd, ok := child(bs, "mvhd"); ok {
		if scale, dur, ok := timescaleDuration(mvhd.payload, 12); ok && scale > 0 {
			x.duration = uint32(min(dur*1000/uint64(scale), 1<<32-1))
			movieScale = scale
		}
	}
	var all []Sample
	for _, b := range bs {
		if b.typ != "trak" {
			continue
		}
		t, samples, err := parseTrak(b.payload, movieScale, fileSize, MaxSamples-len(all))
		if err != nil {
			return err
		}
		if t == nil || x.has(t.Video) {
			continue
		}
		for i := range samples {
			samples[i].Track = uint8(len(x.tracks))
		}
		x.tracks = append(x.tracks, *t)
		all = append(all, samples...)
	}
	if len(x.tracks) == 0 {
		return corrupt("no H.264, H.265, AAC or MP3 track")
	}
	slices.SortStableFunc(all, func(a, b Sample) int {
		return cmp.Or(cmp.Compare(a.DTS, b.DTS), cmp.Compare(a.Offset, b.Offset))
	})
	x.add(all...)
	if n := len(all); n > 0 && x.duration == 0 {
		x.duration = all[n-1].DTS
	}
	x.buildMeta()
	return nil
}

func (x *Index) has(video bool) bool {
	for _, t := range x.tracks {
		if t.Video == video {
			return true
		}
	}
	return false
}

// timescaleDuration reads the timescale and duration of an mvhd or mdhd
// payload (version 0: 32-bit times at 4, 8; version 1: 64-bit).
func timescaleDuration(b []byte, _ int) (uint32, uint64, bool) {
	if len(b) < 4 {
		return 0, 0, false
	}
	if b[0] == 1 {
		if len(b) < 32 {
			return 0, 0, false
		}
		return binary.BigEndian.Uint32(b[20:]), binary.BigEndian.Uint64(b[24:]), true
	}
	if len(b) < 20 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b[12:]), uint64(binary.BigEndian.Uint32(b[16:])), true
}

// parseTrak reads a track: nil when it is neither a supported video nor a
// supported audio track. At most limit samples are read.
func parseTrak(trak []byte, movieScale uint32, fileSize int64, limit int) (*Track, []Sample, error) {
	mdia, ok := path(trak, "mdia")
	if !ok {
		return nil, nil, nil
	}
	mbs, err := boxes(mdia)
	if err != nil {
		return nil, nil, err
	}
	hdlr, ok1 := child(mbs, "hdlr")
	mdhd, ok2 := child(mbs, "mdhd")
	minf, ok3 := child(mbs, "minf")
	if !ok1 || !ok2 || !ok3 || len(hdlr.payload) < 12 {
		return nil, nil, nil
	}
	kind := string(hdlr.payload[8:12])
	if kind != "vide" && kind != "soun" {
		return nil, nil, nil
	}
	scale, _, ok := timescaleDuration(mdhd.payload, 0)
	if !ok || scale == 0 {
		return nil, nil, corrupt("track without a timescale")
	}
	stbl, ok := path(minf.payload, "stbl")
	if !ok {
		return nil, nil, corrupt("track without a sample table")
	}
	sbs, err := boxes(stbl)
	if err != nil {
		return nil, nil, err
	}
	stsd, ok := child(sbs, "stsd")
	if !ok {
		return nil, nil, nil
	}
	t, err := sampleEntry(stsd.payload, kind == "vide")
	if err != nil || t == nil {
		return nil, nil, err
	}
	samples, err := sampleTable(sbs, scale, fileSize, limit)
	if err != nil {
		return nil, nil, err
	}
	if d := emptyEdit(trak, movieScale); d > 0 {
		for i := range samples {
			samples[i].DTS += d
		}
	}
	return t, samples, nil
}

// emptyEdit returns the time (ms) a track's edit list leaves empty before
// it starts: a track that starts after the movie, as recordings write
// them. Other edits (media that starts later, rates) are not applied.
func emptyEdit(trak []byte, movieScale uint32) uint32 {
	elst, ok := path(trak, "edts", "elst")
	if !ok {
		return 0
	}
	v, b, ok := fullBox(elst)
	if !ok || len(b) < 4 || binary.BigEndian.Uint32(b) == 0 {
		return 0
	}
	b = b[4:]
	var dur uint64
	var mediaTime int64
	switch {
	case v == 1 && len(b) >= 16:
		dur, mediaTime = binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint64(b[8:]))
	case v == 0 && len(b) >= 8:
		dur, mediaTime = uint64(binary.BigEndian.Uint32(b)), int64(int32(binary.BigEndian.Uint32(b[4:])))
	default:
		return 0
	}
	if mediaTime != -1 || movieScale == 0 {
		return 0
	}
	return uint32(min(dur*1000/uint64(movieScale), 1<<31))
}

// sampleEntry reads the first sample description.
func sampleEntry(stsd []byte, video bool) (*Track, error) {
	_, b, ok := fullBox(stsd)
	if !ok || len(b) < 4 {
		return nil, corrupt("short stsd")
	}
	entries, err := boxes(b[4:])
	if err != nil || len(entries) == 0 {
		return nil, corrupt("stsd without entries")
	}
	e := entries[0]
	if video {
		// VisualSampleEntry: 8 bytes of SampleEntry, 16 reserved, width,
		// height, 50 more bytes, then boxes.
		if len(e.payload) < 78 {
			return nil, corrupt("short visual sample entry")
		}
		t := &Track{Video: true, Width: be16(e.payload[24:]), Height: be16(e.payload[26:])}
		children, err := boxes(e.payload[78:])
		if err != nil {
			return nil, err
		}
		var cfg string
		switch e.typ {
		case "avc1", "avc3":
			t.Codec, cfg = CodecAVC, "avcC"
		case "hvc1", "hev1":
			t.Codec, cfg = CodecHEVC, "hvcC"
		default:
			return nil, nil
		}
		c, ok := child(children, cfg)
		if !ok || len(c.payload) < 5 {
			return nil, corrupt("%s without %s", e.typ, cfg)
		}
		t.Config = append([]byte(nil), c.payload...)
		return t, nil
	}
	// AudioSampleEntry: 8 bytes of SampleEntry, a version (QuickTime
	// sound descriptions 1 and 2 are longer), channels, sample size, 4
	// bytes, the rate as 16.16, then boxes.
	if len(e.payload) < 28 {
		return nil, corrupt("short audio sample entry")
	}
	t := &Track{Channels: be16(e.payload[16:]), SampleRate: be16(e.payload[24:])}
	skip := 28
	switch be16(e.payload[8:]) {
	case 1:
		skip += 16
	case 2:
		skip += 36
	}
	switch e.typ {
	case ".mp3", "mp3 ":
		t.Codec = CodecMP3
		return t, nil
	case "mp4a":
	default:
		return nil, nil
	}
	if len(e.payload) < skip {
		return nil, corrupt("short audio sample entry")
	}
	children, err := boxes(e.payload[skip:])
	if err != nil {
		return nil, err
	}
	esds, ok := child(children, "esds")
	if !ok {
		return nil, corrupt("mp4a without esds")
	}
	obj, cfg, err := decodeESDS(esds.payload)
	if err != nil {
		return nil, nil // a track we cannot describe is left out
	}
	switch obj {
	case 0x40, 0x66, 0x67, 0x68: // MPEG-4 and MPEG-2 AAC
		if len(cfg) < 2 {
			return nil, corrupt("AAC without its AudioSpecificConfig")
		}
		t.Codec, t.Config = CodecAAC, append([]byte(nil), cfg...)
		if d, err := describe(false, CodecAAC, cfg); err == nil {
			// The sample entry's channel count is often 2 whatever the
			// stream; the AudioSpecificConfig says.
			t.SampleRate, t.Channels = d.SampleRate, d.Channels
		}
	case 0x69, 0x6b: // MPEG-2 and MPEG-1 audio (MP3)
		t.Codec = CodecMP3
	default:
		return nil, nil
	}
	return t, nil
}

// sampleTable turns a track's sample tables into samples (times in
// milliseconds), every count checked against its box and every sample
// against the file.
func sampleTable(sbs []box, scale uint32, fileSize int64, limit int) ([]Sample, error) {
	get := func(typ string) []byte {
		b, _ := child(sbs, typ)
		return b.payload
	}
	// Sizes.
	stsz := get("stsz")
	_, sz, ok := fullBox(stsz)
	if !ok || len(sz) < 8 {
		return nil, corrupt("no stsz")
	}
	uniform := binary.BigEndian.Uint32(sz)
	count := int(binary.BigEndian.Uint32(sz[4:]))
	sizes := sz[8:]
	if uniform == 0 && uint64(count)*4 > uint64(len(sizes)) {
		return nil, corrupt("stsz of %d samples in %d bytes", count, len(sizes))
	}
	count = min(count, limit)
	if count <= 0 {
		return nil, nil
	}
	// Chunks.
	var offsets []int64
	if b := get("co64"); b != nil {
		e, n, err := table(b, 8)
		if err != nil {
			return nil, err
		}
		offsets = make([]int64, n)
		for i := range offsets {
			offsets[i] = int64(binary.BigEndian.Uint64(e[8*i:]))
		}
	} else {
		e, n, err := table(get("stco"), 4)
		if err != nil {
			return nil, err
		}
		offsets = make([]int64, n)
		for i := range offsets {
			offsets[i] = int64(binary.BigEndian.Uint32(e[4*i:]))
		}
	}
	stsc, nsc, err := table(get("stsc"), 12)
	if err != nil {
		return nil, err
	}
	samples := make([]Sample, 0, min(count, 1<<16))
	for i := 0; i < nsc && len(samples) < count; i++ {
		first := int64(binary.BigEndian.Uint32(stsc[12*i:])) - 1
		per := int(binary.BigEndian.Uint32(stsc[12*i+4:]))
		last := int64(len(offsets))
		if i+1 < nsc {
			last = int64(binary.BigEndian.Uint32(stsc[12*(i+1):])) - 1
		}
		if first < 0 || last > int64(len(offsets)) || first > last || per <= 0 {
			return nil, corrupt("stsc entry %d", i)
		}
		for c := first; c < last && len(samples) < count; c++ {
			off := offsets[c]
			for j := 0; j < per && len(samples) < count; j++ {
				n := len(samples)
				size := uniform
				if size == 0 {
					size = binary.BigEndian.Uint32(sizes[4*n:])
				}
				if off < 0 || off+int64(size) > fileSize || size > 1<<26 {
					// Past the end of the file: the file was cut.
					return finishTable(samples, sbs, scale)
				}
				samples = append(samples, Sample{Offset: off, Size: size})
				off += int64(size)
			}
		}
	}
	return finishTable(samples, sbs, scale)
}

// finishTable fills in the samples' times and sync flags.
func finishTable(samples []Sample, sbs []box, scale uint32) ([]Sample, error) {
	get := func(typ string) []byte {
		b, _ := child(sbs, typ)
		return b.payload
	}
	ms := func(v uint64) uint32 { return uint32(min(v*1000/uint64(scale), 1<<32-1)) }
	stts, n, err := table(get("stts"), 8)
	if err != nil {
		return nil, err
	}
	var dts uint64
	var delta uint32
	k := 0
	for i := 0; i < n && k < len(samples); i++ {
		cnt := binary.BigEndian.Uint32(stts[8*i:])
		delta = binary.BigEndian.Uint32(stts[8*i+4:])
		for j := uint32(0); j < cnt && k < len(samples); j++ {
			samples[k].DTS = ms(dts)
			dts += uint64(delta)
			k++
		}
	}
	for ; k < len(samples); k++ { // a short stts: the last delta goes on
		samples[k].DTS = ms(dts)
		dts += uint64(delta)
	}
	if b := get("ctts"); b != nil {
		ctts, n, err := table(b, 8)
		if err != nil {
			return nil, err
		}
		k := 0
		for i := 0; i < n && k < len(samples); i++ {
			cnt := binary.BigEndian.Uint32(ctts[8*i:])
			off := int64(int32(binary.BigEndian.Uint32(ctts[8*i+4:])))
			c := int32(off * 1000 / int64(scale))
			for j := uint32(0); j < cnt && k < len(samples); j++ {
				samples[k].CTS = c
				k++
			}
		}
	}
	if b := get("stss"); b != nil {
		stss, n, err := table(b, 4)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if s := int(binary.BigEndian.Uint32(stss[4*i:])) - 1; s >= 0 && s < len(samples) {
				samples[s].Key = true
			}
		}
	} else {
		for i := range samples {
			samples[i].Key = true
		}
	}
	return samples, nil
}
