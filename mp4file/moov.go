package mp4file

import (
	"bytes"
	"fmt"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// timescale of a recording's tracks: RTMP's milliseconds.
const timescale = 1000

// moov builds the movie box of the samples on disk, and returns it with
// the duration (ms). mp4ff builds and encodes the boxes.
func (w *Writer) moov() (out []byte, dur uint32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mp4file: building the movie box: %v", r)
		}
	}()
	x := w.idx
	x.mu.RLock()
	tracks := x.tracks
	samples := x.samples
	x.mu.RUnlock()
	moov := mp4.NewMoovBox()
	mvhd := mp4.CreateMvhd()
	mvhd.Timescale = timescale
	moov.AddChild(mvhd)
	id := uint32(0)
	for ti, t := range tracks {
		var mine []Sample
		for _, s := range samples {
			if int(s.Track) == ti {
				mine = append(mine, s)
			}
		}
		if len(mine) == 0 {
			continue
		}
		id++
		trak, end, err := buildTrak(id, t, mine)
		if err != nil {
			return nil, 0, err
		}
		moov.AddChild(trak)
		dur = max(dur, end)
	}
	mvhd.Duration, mvhd.NextTrackID = uint64(dur), id+1
	for _, tr := range moov.Traks {
		tr.Tkhd.Duration = uint64(dur)
	}
	var b bytes.Buffer
	if err := moov.Encode(&b); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), dur, nil
}

// buildTrak builds one track with its sample tables; end is where its
// last sample ends (ms).
func buildTrak(id uint32, t Track, ss []Sample) (*mp4.TrakBox, uint32, error) {
	kind := "audio"
	if t.Video {
		kind = "video"
	}
	trak := mp4.CreateEmptyTrak(id, timescale, kind, "und")
	stbl := trak.Mdia.Minf.Stbl
	if err := sampleDescription(trak, t); err != nil {
		return nil, 0, err
	}
	// Decoding times: deltas, the last one repeating the one before.
	stts := stbl.Stts
	n := len(ss)
	var lastDelta uint32
	for i := range n {
		d := lastDelta
		if i+1 < n {
			d = 0
			if ss[i+1].DTS > ss[i].DTS {
				d = ss[i+1].DTS - ss[i].DTS
			}
			lastDelta = d
		}
		if k := len(stts.SampleCount); k > 0 && stts.SampleTimeDelta[k-1] == d {
			stts.SampleCount[k-1]++
		} else {
			stts.SampleCount = append(stts.SampleCount, 1)
			stts.SampleTimeDelta = append(stts.SampleTimeDelta, d)
		}
	}
	first := ss[0].DTS
	end := ss[n-1].DTS + lastDelta
	mediaDur := uint64(end - first)
	trak.Mdia.Mdhd.Duration = mediaDur
	if first > 0 {
		// The track starts later than the movie: an empty edit first.
		edts := &mp4.EdtsBox{}
		edts.AddChild(&mp4.ElstBox{Entries: []mp4.ElstEntry{
			{SegmentDuration: uint64(first), MediaTime: -1, MediaRateInteger: 1},
			{SegmentDuration: mediaDur, MediaTime: 0, MediaRateInteger: 1},
		}})
		trak.Edts = edts
		trak.Children = append([]mp4.Box{trak.Tkhd, edts}, trak.Children[1:]...)
	}
	// Composition offsets.
	var counts []uint32
	var offsets []int32
	neg, any := false, false
	for _, s := range ss {
		any = any || s.CTS != 0
		neg = neg || s.CTS < 0
		if k := len(offsets); k > 0 && offsets[k-1] == s.CTS {
			counts[k-1]++
		} else {
			counts, offsets = append(counts, 1), append(offsets, s.CTS)
		}
	}
	if any {
		ctts := &mp4.CttsBox{}
		if neg {
			ctts.Version = 1
		}
		if err := ctts.AddSampleCountsAndOffset(counts, offsets); err != nil {
			return nil, 0, err
		}
		stbl.AddChild(ctts)
	}
	// Sync samples (video with some that are not).
	if t.Video {
		var sync []uint32
		for i, s := range ss {
			if s.Key {
				sync = append(sync, uint32(i+1))
			}
		}
		if len(sync) < n {
			stbl.AddChild(&mp4.StssBox{SampleNumber: sync})
		}
	}
	// Sizes.
	stsz := stbl.Stsz
	stsz.SampleNumber = uint32(n)
	uniform := true
	for _, s := range ss {
		uniform = uniform && s.Size == ss[0].Size
	}
	if uniform {
		stsz.SampleUniformSize = ss[0].Size
	} else {
		stsz.SampleSize = make([]uint32, n)
		for i, s := range ss {
			stsz.SampleSize[i] = s.Size
		}
	}
	// Chunks: runs of samples that follow one another in the file.
	var chunks []int64
	var per []uint32
	for i, s := range ss {
		if i > 0 && ss[i-1].Offset+int64(ss[i-1].Size) == s.Offset {
			per[len(per)-1]++
			continue
		}
		chunks, per = append(chunks, s.Offset), append(per, 1)
	}
	for i, p := range per {
		if i == 0 || p != per[i-1] {
			if err := stbl.Stsc.AddEntry(uint32(i+1), p, 1); err != nil {
				return nil, 0, err
			}
		}
	}
	if chunks[len(chunks)-1] > 1<<32-1 {
		co64 := &mp4.Co64Box{ChunkOffset: make([]uint64, len(chunks))}
		for i, c := range chunks {
			co64.ChunkOffset[i] = uint64(c)
		}
		for i, c := range stbl.Children {
			if c == stbl.Stco {
				stbl.Children[i] = co64
			}
		}
		stbl.Stco, stbl.Co64 = nil, co64
	} else {
		stbl.Stco.ChunkOffset = make([]uint32, len(chunks))
		for i, c := range chunks {
			stbl.Stco.ChunkOffset[i] = uint32(c)
		}
	}
	return trak, end, nil
}

// sampleDescription adds the track's sample entry (avc1, hvc1 or mp4a).
func sampleDescription(trak *mp4.TrakBox, t Track) error {
	stsd := trak.Mdia.Minf.Stbl.Stsd
	switch t.Codec {
	case CodecAVC, CodecHEVC:
		// The decoder configuration record goes in as the publisher sent
		// it (checked when it came): re-encoding it through mp4ff's
		// record types would drop parts they do not model.
		typ, entry := "avcC", "avc1"
		if t.Codec == CodecHEVC {
			typ, entry = "hvcC", "hvc1"
		}
		cfg, err := rawBox(typ, t.Config)
		if err != nil {
			return err
		}
		stsd.AddChild(mp4.CreateVisualSampleEntryBox(entry, uint16(t.Width), uint16(t.Height), cfg))
	case CodecAAC:
		stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", uint16(t.Channels), 16, uint16(min(t.SampleRate, 65535)),
			mp4.CreateEsdsBox(t.Config)))
	case CodecMP3:
		// QuickTime's ".mp3" sample entry, which needs no ES descriptor
		// (mp4ff's wants decoder-specific information MP3 has not).
		stsd.AddChild(mp4.CreateAudioSampleEntryBox(".mp3", uint16(t.Channels), 16, uint16(min(t.SampleRate, 65535)), nil))
	default:
		return fmt.Errorf("mp4file: codec %q", t.Codec)
	}
	if t.Video {
		trak.Tkhd.Width, trak.Tkhd.Height = mp4.Fixed32(t.Width<<16), mp4.Fixed32(t.Height<<16)
	}
	return nil
}

// rawBox is a box holding payload as it is.
func rawBox(typ string, payload []byte) (mp4.Box, error) {
	hdr := mp4.BoxHeader{Name: typ, Size: uint64(8 + len(payload)), Hdrlen: 8}
	return mp4.DecodeUnknownSR(hdr, 0, bits.NewFixedSliceReader(payload))
}
