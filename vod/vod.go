// Package vod plays recorded streams (video on demand) to NetStream players
// over RTMP and RTMFP, as Flash Media Server's vod application did: files
// in a mediafile.Library (FLV, MP4/F4V with "mp4:", MP3 with "mp3:") and
// recordings in progress (from their start: a DVR).
//
// Each player has a goroutine that reads its file from disk as it plays,
// through a small window (never the whole file), and sends each message
// when it is due in real time, at most the client's buffer time ahead
// (User Control Set Buffer Length, clamped to [MinLead, MaxLead]). Players
// of one file share its descriptor and index and nothing else.
//
// The status events are Flash Media Server's: Stream Is Recorded, Stream
// Begin, NetStream.Play.Reset and NetStream.Play.Start (sent by netstream),
// then onMetaData with the duration first, the codec headers and the
// frames; at the end Stream EOF, onPlayStatus NetStream.Play.Complete and
// NetStream.Play.Stop; NetStream.Seek.Notify (then NetStream.Play.Start)
// after a seek.
package vod

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Bounds of how far ahead of real time a player is sent.
const (
	// DefaultMinLead is sent ahead even to a client asking for less (or
	// saying nothing): Flash's default buffer (0.1 s) would make every
	// network hiccup a stall.
	DefaultMinLead = time.Second
	// DefaultMaxLead caps a client's buffer time: what one player can
	// make the server send ahead of real time.
	DefaultMaxLead = 10 * time.Second
	// maxGap: a jump in a file's timestamps longer than this is not waited
	// for (a broken file, or a long gap left by appendWithGap).
	maxGap = 10 * time.Second
)

// Policy is an application's video-on-demand settings.
type Policy struct {
	// Play serves the application's files to players.
	Play bool
	// MinLead and MaxLead clamp the client's buffer time (zero: the
	// defaults).
	MinLead, MaxLead time.Duration
}

// Config configures a Service.
type Config struct {
	// Library holds the files (required).
	Library *mediafile.Library
	Logger  *slog.Logger
	// Policy returns an application's settings; nil serves every
	// application with the defaults.
	Policy func(app string) Policy
}

// Service plays a library's files to NetStream players. It implements
// netstream.Files.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Library == nil {
		return nil, errors.New("vod: no library")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Logger}, nil
}

func (s *Service) policy(app string) Policy {
	p := Policy{Play: true}
	if s.cfg.Policy != nil {
		p = s.cfg.Policy(app)
	}
	if p.MinLead <= 0 {
		p.MinLead = DefaultMinLead
	}
	if p.MaxLead <= 0 {
		p.MaxLead = DefaultMaxLead
	}
	p.MaxLead = max(p.MaxLead, p.MinLead)
	return p
}

// Open implements netstream.Files: the file of stream name in the
// connection's application instance, or the recording in progress there.
func (s *Service) Open(c *netstream.Conn, name string) (netstream.Playback, error) {
	info := c.Info()
	return s.OpenStream(info.App, info.Instance, name, c.ID)
}

// OpenStream opens stream name of an application instance for a player
// (who names it in logs).
func (s *Service) OpenStream(app, inst, name, who string) (netstream.Playback, error) {
	pol := s.policy(app)
	if !pol.Play {
		return nil, netstream.ErrNotFound
	}
	n, err := mediafile.ParseName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", netstream.ErrNotFound, err)
	}
	rel, err := mediafile.FilePath(app, inst, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", netstream.ErrNotFound, err)
	}
	src, err := s.cfg.Library.Open(rel, n.Format)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %v", netstream.ErrNotFound, err)
		}
		s.log.Info("vod: file cannot be played", "file", rel, "err", err)
		return nil, err
	}
	return newPlayer(src, name, pol, s.log.With("conn", who, "file", rel)), nil
}
