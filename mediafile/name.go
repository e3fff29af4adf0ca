// Package mediafile is the file layer shared by recording, video on demand
// and publishing files: it maps Flash stream names ("name", "mp4:name.f4v",
// "mp3:song") to files in Flash Media Server's layout
// (<root>/<app>/streams/<instance>/<name>.flv), opens them for readers as
// media.Sources (FLV, MP4/F4V, MP3) through a cache of indexes that every
// reader of one file shares, and lets recordings in progress be read as
// they grow.
//
// Names never leave the root: every path is checked segment by segment
// here, and every file is opened through an os.Root, which also refuses
// symbolic links that lead out of it.
package mediafile

import (
	"errors"
	"path"
	"strings"
	"unicode/utf8"
)

// Format is a file format.
type Format uint8

// Formats.
const (
	FLV Format = iota + 1
	MP4
	MP3
)

func (f Format) String() string {
	switch f {
	case FLV:
		return "flv"
	case MP4:
		return "mp4"
	case MP3:
		return "mp3"
	}
	return "unknown"
}

// Limits on names.
const (
	maxNameLen    = 1024
	maxSegmentLen = 255
	maxDepth      = 16
)

// ErrBadName is returned for a stream, application or instance name that
// cannot be a file name here.
var ErrBadName = errors.New("mediafile: bad name")

// Name is a stream name mapped to a file.
type Name struct {
	Format Format
	// Rel is the file's path below the instance's streams folder,
	// slash-separated, with its extension.
	Rel string
}

// ParseName maps a stream name to a file, as Flash Media Server does: a
// plain name (or "flv:name") is name.flv; "mp4:name.mp4", "mp4:name.f4v"
// (or .m4v, .mov, .3gp; "mp4:name" is name.mp4) is an MP4 file; "mp3:name"
// and "id3:name" are name.mp3. A plain name ending in .mp4, .f4v, .m4v,
// .mov or .mp3 names a file of that format, and ".flv" is not doubled. A
// leading "/" is ignored (players of rtmp://host/vod/ often ask for
// "/name"); "..", ".", empty segments, backslashes, control bytes and
// invalid UTF-8 are refused with ErrBadName.
func ParseName(stream string) (Name, error) {
	prefix, rest, hasPrefix := strings.Cut(stream, ":")
	if !hasPrefix || strings.ContainsRune(prefix, '/') {
		prefix, rest = "", stream
	}
	rest = strings.TrimLeft(rest, "/")
	if err := checkPath(rest); err != nil {
		return Name{}, err
	}
	ext := strings.ToLower(path.Ext(rest))
	switch strings.ToLower(prefix) {
	case "":
		switch ext {
		case ".mp4", ".f4v", ".m4v", ".mov", ".3gp", ".m4a", ".f4a":
			return Name{MP4, rest}, nil
		case ".mp3":
			return Name{MP3, rest}, nil
		case ".flv":
			return Name{FLV, rest}, nil
		}
		return Name{FLV, rest + ".flv"}, nil
	case "flv":
		if ext == ".flv" {
			return Name{FLV, rest}, nil
		}
		return Name{FLV, rest + ".flv"}, nil
	case "mp4", "f4v":
		if ext == "" {
			return Name{MP4, rest + ".mp4"}, nil
		}
		return Name{MP4, rest}, nil
	case "mp3", "id3":
		if ext == ".mp3" {
			return Name{MP3, rest}, nil
		}
		return Name{MP3, rest + ".mp3"}, nil
	}
	return Name{}, ErrBadName
}

// Dir returns the streams folder of an application instance,
// "<app>/streams/<instance>", relative to the root.
func Dir(app, inst string) (string, error) {
	if err := checkSegment(app); err != nil {
		return "", err
	}
	if err := checkSegment(inst); err != nil {
		return "", err
	}
	return app + "/streams/" + inst, nil
}

// FilePath returns the file of stream name n of an application instance,
// relative to the root.
func FilePath(app, inst string, n Name) (string, error) {
	d, err := Dir(app, inst)
	if err != nil {
		return "", err
	}
	if err := checkPath(n.Rel); err != nil {
		return "", err
	}
	return d + "/" + n.Rel, nil
}

func checkPath(p string) error {
	if p == "" || len(p) > maxNameLen {
		return ErrBadName
	}
	segs := strings.Split(p, "/")
	if len(segs) > maxDepth {
		return ErrBadName
	}
	for _, s := range segs {
		if err := checkSegment(s); err != nil {
			return err
		}
	}
	return nil
}

func checkSegment(s string) error {
	if s == "" || s == "." || s == ".." || len(s) > maxSegmentLen || !utf8.ValidString(s) {
		return ErrBadName
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return ErrBadName
		}
	}
	return nil
}
