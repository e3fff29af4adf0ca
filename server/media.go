package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/rtmfpd/rtmfpd/bwcheck"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/recorder"
	"github.com/rtmfpd/rtmfpd/vod"
)

// MediaConfig configures recording and video on demand: one folder of
// files in Flash Media Server's layout,
// <root>/<app>/streams/<instance>/<name>.flv (or the MP4/MP3 file a
// "mp4:"/"mp3:" name gives), and per-application settings.
type MediaConfig struct {
	// Root is the folder (created if missing). Empty: no recording and no
	// video on demand (record, append and appendWithGap publish live with
	// NetStream.Record.NoAccess).
	Root string `json:"root"`
	// Apps hold each application's settings: the first whose app pattern
	// matches applies. An application no entry matches plays its files
	// and records nothing. Empty: every application plays its files.
	Apps []MediaApp `json:"apps"`
	// RecordQueueBytes bounds each recording's queue (default 16 MiB): a
	// disk slower than the stream loses whole groups of pictures from the
	// recording, never stalls the publisher.
	RecordQueueBytes int `json:"recordQueueBytes"`
	// CachedFiles is how many files nobody plays stay open with their
	// index (default 64).
	CachedFiles int `json:"cachedFiles"`
	// OnRecordDone (Go only) is told of every recording that ended, once
	// its file is closed: the onRecordDone hook.
	OnRecordDone func(recorder.Done) `json:"-"`
}

// MediaApp is an application's recording and video-on-demand settings.
type MediaApp struct {
	// App is a pattern (*, ?, [...]) on the application name; empty
	// matches any.
	App string `json:"app"`
	// Play serves the application's files to players (default true).
	Play *bool `json:"play"`
	// Record lets clients record with publish(name, "record" | "append" |
	// "appendWithGap") (default false: they hear
	// NetStream.Record.NoAccess and publish live).
	Record bool `json:"record"`
	// QuotaBytes bounds the application's folder on disk; a recording
	// that would pass it stops with NetStream.Record.DiskQuotaExceeded
	// (the stream stays published). 0: no bound.
	QuotaBytes int64 `json:"quotaBytes"`
	// Live is what publish(name, "live") does to a recording of that
	// name: "keep" it (default) or "delete" it, as Flash Media Server did
	// (a read-only file is kept).
	Live string `json:"live"`
	// AutoRecord records live publications by instance and stream
	// pattern, to files named by a template ("{name}", "mp4:{name}.mp4").
	AutoRecord []recorder.AutoRule `json:"autoRecord"`
	// MinLead and MaxLead clamp how far ahead of real time players are
	// sent (their buffer time; default 1 s and 10 s).
	MinLead Duration `json:"minLead"`
	MaxLead Duration `json:"maxLead"`
	// BandwidthCheck is what happens at connect: "" nothing, "notify"
	// calls the client's onBWDone() without arguments (FMS's vod
	// application), "measure" runs Flash Media Server's bandwidth check
	// (onBWCheck calls, then onBWDone(kbitDown, deltaDown, deltaTime,
	// latency)). A client's checkBandwidth call is always answered.
	BandwidthCheck string `json:"bandwidthCheck"`
}

func (m *MediaConfig) validate() error {
	if m.Root == "" && len(m.Apps) > 0 {
		return errors.New("media: apps without a root")
	}
	if m.RecordQueueBytes < 0 || m.CachedFiles < 0 {
		return errors.New("media: negative value")
	}
	for i, a := range m.Apps {
		if err := netstream.CheckPattern(a.App); err != nil {
			return fmt.Errorf("media app %d: %w", i+1, err)
		}
		switch a.Live {
		case "", "keep", "delete":
		default:
			return fmt.Errorf("media app %d: live %q: want keep or delete", i+1, a.Live)
		}
		switch a.BandwidthCheck {
		case bwcheck.ModeOff, bwcheck.ModeNotify, bwcheck.ModeMeasure:
		default:
			return fmt.Errorf("media app %d: bandwidthCheck %q: want notify or measure", i+1, a.BandwidthCheck)
		}
		if a.QuotaBytes < 0 || a.MinLead < 0 || a.MaxLead < 0 {
			return fmt.Errorf("media app %d: negative value", i+1)
		}
		for j, r := range a.AutoRecord {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("media app %d: autoRecord %d: %w", i+1, j+1, err)
			}
		}
	}
	return nil
}

// app returns the settings of application name, and whether an entry
// matched (with no entries, every application plays).
func (m *MediaConfig) app(name string) (MediaApp, bool) {
	if len(m.Apps) == 0 {
		return MediaApp{}, true
	}
	for _, a := range m.Apps {
		if netstream.MatchPattern(a.App, name) {
			return a, true
		}
	}
	return MediaApp{}, false
}

// startMedia opens the media folder and builds the recorder and the VOD
// service (nil when no root is configured).
func (d *Daemon) startMedia() error {
	mc := d.cfg.Media
	if mc.Root == "" {
		return nil
	}
	lib, err := mediafile.Open(mc.Root, mc.CachedFiles)
	if err != nil {
		return fmt.Errorf("media root: %w", err)
	}
	d.library = lib
	d.recorder, err = recorder.New(recorder.Config{Library: lib, Logger: d.log, QueueBytes: mc.RecordQueueBytes,
		Policy: func(app string) recorder.Policy {
			a, ok := mc.app(app)
			if !ok {
				return recorder.Policy{}
			}
			return recorder.Policy{Record: a.Record, QuotaBytes: a.QuotaBytes, DeleteOnLive: a.Live == "delete", Auto: a.AutoRecord}
		},
		OnRecordDone: func(dn recorder.Done) {
			d.ctl.recordDone(dn) // the HTTP callback
			if mc.OnRecordDone != nil {
				mc.OnRecordDone(dn)
			}
		}})
	if err != nil {
		return err
	}
	d.vod, err = vod.New(vod.Config{Library: lib, Logger: d.log, Policy: func(app string) vod.Policy {
		a, ok := mc.app(app)
		return vod.Policy{Play: ok && (a.Play == nil || *a.Play), MinLead: time.Duration(a.MinLead), MaxLead: time.Duration(a.MaxLead)}
	}})
	return err
}

// bandwidthChecker answers checkBandwidth and runs the applications'
// bandwidthCheck modes.
func (d *Daemon) bandwidthChecker() *bwcheck.Checker {
	mc := &d.cfg.Media
	return &bwcheck.Checker{Log: d.log, Mode: func(app string) string {
		a, _ := mc.app(app)
		return a.BandwidthCheck
	}}
}

// closeMedia completes the recordings and closes the media folder.
func (d *Daemon) closeMedia() {
	if d.recorder != nil {
		d.recorder.Close()
	}
	if d.library != nil {
		d.library.Close()
	}
}

// Recorder returns the recorder (nil without a media root): record any
// stream from Go with Recorder().Record(stream, recorder.Options{...}).
func (d *Daemon) Recorder() *recorder.Recorder { return d.recorder }

// RecordingStatus describes a recording in progress.
type RecordingStatus struct {
	Stream string `json:"stream"`
	File   string `json:"file"`
}

func (d *Daemon) recordingStatus() []RecordingStatus {
	if d.recorder == nil {
		return nil
	}
	var out []RecordingStatus
	for _, r := range d.recorder.Active() {
		out = append(out, RecordingStatus{Stream: r.Stream().Key(), File: r.File()})
	}
	return out
}
