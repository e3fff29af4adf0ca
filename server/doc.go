// Package server is rtmfpd as a Go package: a program configures it
// ([Config], from JSON with [Load] or built in Go from [Default]), starts
// it ([Start]) and stops it ([Daemon.Shutdown]); cmd/rtmfpd is a thin main
// over it. It wires the protocol packages together: RTMFP endpoints and
// RTMP listeners, the NetConnection/NetStream server, the introducer and
// NetGroup membership, the server's own group memberships, the relay, the
// status listener (GET /status, GET /metrics, the admin API) and an
// orderly shutdown.
//
// Who may connect, publish, play and join groups is decided, in order, by
// the applications' access rules (address lists and signed tokens, see
// package access), their HTTP callbacks (package httphook) and the typed
// Go [Hooks] given with [WithHooks], whose answers are [Allow], [Deny] or
// [Redirect] — FMS's application.onConnect, onPublish, onUnpublish and
// onPlay as Go functions. [Daemon.Reload] replaces the rules while the
// server runs, without dropping a session.
//
// The multipoint publishing example below is the main.asc of Flash Media
// Server's documentation written with these hooks.
package server
