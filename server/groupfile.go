package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
)

// GroupFile is a media file (FLV, MP4/F4V or MP3, by its extension) the
// server publishes into a group in real time, as FMS applications pushed
// VOD files into multicast groups from server-side scripts. It is read by
// the file layer video on demand uses (package mediafile).
type GroupFile struct {
	// Path is the file (required).
	Path string `json:"path"`
	// Name is the group stream name. Default: the file's base name
	// without its extension.
	Name string `json:"name"`
	// Loop publishes the file again and again; otherwise the group stream
	// ends with the file.
	Loop bool `json:"loop"`
	// Multicast and IPMulticast are as in GroupPublishRule.
	Multicast   MulticastConfig    `json:"multicast"`
	IPMulticast *IPMulticastConfig `json:"ipMulticast"`
}

func (f *GroupFile) validate() error {
	if f.Path == "" {
		return errors.New("path: required")
	}
	if err := mediafile.CheckFile(f.Path); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	return f.IPMulticast.validate()
}

func (f *GroupFile) name() string {
	if f.Name != "" {
		return f.Name
	}
	base := filepath.Base(f.Path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// startFile publishes f into the group until ctx ends (or the file does,
// without Loop).
func (sg *serverGroup) startFile(ctx context.Context, f GroupFile) error {
	name := f.name()
	pub, err := sg.g.Publish(name, f.Multicast.config(), f.IPMulticast.options()...)
	if err != nil {
		return fmt.Errorf("group %s: file %s as %q: %w", sg.cfg.Spec, f.Path, name, err)
	}
	sg.streams.add(pub, name, f.Path, f.Multicast.config(), f.IPMulticast)
	log := sg.log.With("file", f.Path, "name", name)
	log.Info("publishing file into group", "loop", f.Loop)
	sg.files.Add(1)
	go func() {
		defer sg.files.Done()
		defer pub.Close()
		defer sg.streams.remove(f.Path)
		write := func(m media.Message) error { return pub.WriteMedia(ctx, m) }
		switch err := mediafile.ReplayLoop(ctx, f.Path, f.Loop, write); {
		case ctx.Err() != nil:
		case err != nil:
			log.Error("group file publication stopped", "err", err)
		default:
			log.Info("group file published")
		}
	}()
	return nil
}
