// Package relay republishes live streams to other servers, as Flash Media
// Server's multipoint publishing does: when a client publishes a stream to
// an application, the server's application.onPublish republishes it to
// other servers (each with its own players) through NetConnections of its
// own, and application.onUnpublish stops them.
//
// Rules say which streams go where: an application and stream-name pattern
// and a list of targets, rtmp://host[:port]/app[/instance]/name or
// rtmfp://host[:port]/app[/instance]/name, whose last path segment is the
// remote stream name; {name}, {app} and {instance} in a target are replaced
// by the local stream's. A [Manager] applies the rules (and its OnPublish
// hook, the Go counterpart of application.onPublish) to every stream
// published on a netstream.Server, through the server's Hooks.
//
// Each target of a stream is pushed by a goroutine of its own that holds a
// netstream Subscription (a bounded queue that drops whole groups of
// pictures when the target falls behind), so a slow or dead target never
// holds up the local stream or the other targets. The target's connection
// uses RTMP (the rtmp package's Client: handshake, connect, releaseStream,
// FCPublish, createStream, publish; RTMP specification 1.0 §7.2) or RTMFP
// (the client package: RFC 7016 with the RFC 7425 profile); RTMPT and RTMPE
// are not spoken, as FMS did not for multipoint publishing. A target that
// is down or refuses (connect rejected, NetStream.Publish.BadName) is
// retried with exponential backoff, bounded by Config.MaxBackoff, for as
// long as the local stream is published (or Config.MaxAttempts); each
// reconnection resumes at the next key frame, after the stream's metadata
// and codec headers. When the local stream is unpublished, what is queued
// for each target is sent (within Config.DrainTimeout) and the remote
// stream is unpublished.
//
// Targets report their state, attempts, last error and bytes sent in the
// log and through [Manager.Status].
package relay
