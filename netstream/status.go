package netstream

import "github.com/rtmfpd/rtmfpd/amf"

// Status codes sent in info objects (onStatus, _result, _error), with the
// levels Flash Media Server uses (rtmfp-facts §9.1).
const (
	ConnectSuccess     = "NetConnection.Connect.Success"
	ConnectRejected    = "NetConnection.Connect.Rejected"
	ConnectInvalidApp  = "NetConnection.Connect.InvalidApp"
	ConnectFailed      = "NetConnection.Connect.Failed"
	ConnectAppShutdown = "NetConnection.Connect.AppShutdown"
	CallFailed         = "NetConnection.Call.Failed"

	PublishStart        = "NetStream.Publish.Start"
	PublishBadName      = "NetStream.Publish.BadName"
	PublishFailed       = "NetStream.Publish.Failed"
	UnpublishSuccess    = "NetStream.Unpublish.Success"
	PlayReset           = "NetStream.Play.Reset"
	PlayStart           = "NetStream.Play.Start"
	PlayStop            = "NetStream.Play.Stop"
	PlayFailed          = "NetStream.Play.Failed"
	PlayStreamNotFound  = "NetStream.Play.StreamNotFound"
	PlayPublishNotify   = "NetStream.Play.PublishNotify"
	PlayUnpublishNotify = "NetStream.Play.UnpublishNotify"
	PauseNotify         = "NetStream.Pause.Notify"
	UnpauseNotify       = "NetStream.Unpause.Notify"
	SeekFailed          = "NetStream.Seek.Failed"
	SeekNotify          = "NetStream.Seek.Notify"
	PlayComplete        = "NetStream.Play.Complete" // in onPlayStatus, not onStatus
	RecordStart         = "NetStream.Record.Start"
	RecordStop          = "NetStream.Record.Stop"
	RecordNoAccess      = "NetStream.Record.NoAccess"
	RecordFailed        = "NetStream.Record.Failed"
	RecordQuota         = "NetStream.Record.DiskQuotaExceeded"
	StreamFailed        = "NetStream.Failed"

	// Group NetStreams (NetStream(connection, groupspec)): Flash raises
	// these locally, the group member API reports them.
	StreamConnectSuccess = "NetStream.Connect.Success"
	StreamConnectFailed  = "NetStream.Connect.Failed"
	MulticastStreamReset = "NetStream.MulticastStream.Reset"
)

// Levels of an info object.
const (
	LevelStatus  = "status"
	LevelError   = "error"
	LevelWarning = "warning"
)

// levelOf is the level FMS gives each code. NetStream.Record.NoAccess is a
// "status": the stream is published live all the same (seed 002).
func levelOf(code string) string {
	switch code {
	case ConnectRejected, ConnectInvalidApp, ConnectFailed, ConnectAppShutdown, CallFailed,
		PublishBadName, PublishFailed, PlayFailed, PlayStreamNotFound, SeekFailed, RecordFailed, RecordQuota, StreamFailed,
		StreamConnectFailed:
		return LevelError
	}
	return LevelStatus
}

// Info builds an info object {level, code, description}.
func Info(code, description string) *amf.Object {
	return amf.NewObject(
		amf.Property{Key: "level", Value: levelOf(code)},
		amf.Property{Key: "code", Value: code},
		amf.Property{Key: "description", Value: description},
	)
}
