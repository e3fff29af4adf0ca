package client

import (
	"context"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
)

// PlayFrom plays name with NetStream.play's arguments and waits for
// NetStream.Play.Start: start in seconds (-2: the live stream, else the
// recorded one; -1: only the live one; 0 or more: the recorded stream from
// there), length in seconds (-1: to the end; 0: one frame) and reset. A
// missing recorded stream fails with a *StatusError carrying
// NetStream.Play.StreamNotFound. The end of a recorded stream comes as
// onPlayStatus (a data message, read with ReadMedia) with
// NetStream.Play.Complete, and NetStream.Play.Stop on Status.
func (st *Stream) PlayFrom(ctx context.Context, name string, start, length float64, reset bool) error {
	if err := st.command(ctx, "play", name, start, length, reset); err != nil {
		return err
	}
	_, err := st.await(ctx, netstream.PlayStart)
	return err
}

// Seek moves a recorded stream to ms milliseconds and waits for
// NetStream.Seek.Notify (a live stream fails with NetStream.Seek.Failed).
func (st *Stream) Seek(ctx context.Context, ms float64) error {
	if err := st.command(ctx, "seek", ms); err != nil {
		return err
	}
	_, err := st.await(ctx, netstream.SeekNotify)
	return err
}

// Pause pauses (true) or resumes (false) the stream and waits for
// NetStream.Pause.Notify or NetStream.Unpause.Notify.
func (st *Stream) Pause(ctx context.Context, pause bool) error {
	if err := st.command(ctx, "pause", pause, 0.0); err != nil {
		return err
	}
	want := netstream.UnpauseNotify
	if pause {
		want = netstream.PauseNotify
	}
	_, err := st.await(ctx, want)
	return err
}

// Receive turns the stream's audio or video on or off (receiveAudio,
// receiveVideo).
func (st *Stream) Receive(ctx context.Context, audio, on bool) error {
	name := "receiveVideo"
	if audio {
		name = "receiveAudio"
	}
	return st.command(ctx, name, on)
}

// SetBufferTime tells the server the client's buffer time (User Control
// Set Buffer Length), which bounds how far ahead of real time it sends a
// recorded stream.
func (st *Stream) SetBufferTime(ctx context.Context, d time.Duration) error {
	ms := uint32(d / time.Millisecond)
	m := netstream.UserControl(netstream.EventSetBufferLength, st.ID, ms)
	m.Type = media.TypeUserControl
	return tcflow.Write(ctx, st.c.nc, m, 0)
}
