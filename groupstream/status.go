package groupstream

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/netstream"
)

// Status codes a group stream raises (rtmfp-facts §9.2; Flash raises them
// locally, on the NetStream(connection, groupspec)).
const (
	StatusConnectSuccess   = netstream.StreamConnectSuccess // the stream is in the group (first, before Publish.Start or Play.Start)
	StatusConnectFailed    = netstream.StreamConnectFailed  // it could not be (StatusError's code)
	StatusPublishStart     = netstream.PublishStart
	StatusPublishBadName   = netstream.PublishBadName // StatusError's code
	StatusUnpublishSuccess = netstream.UnpublishSuccess
	StatusPlayStart        = netstream.PlayStart
	StatusPlayFailed       = netstream.PlayFailed // StatusError's code
	StatusUnpublishNotify  = netstream.PlayUnpublishNotify
	StatusReset            = netstream.MulticastStreamReset
)

// StatusError is a group stream that could not start, with the status code
// Flash raises for it: NetStream.Connect.Failed when the member is not in
// the group any more (ErrClosed), NetStream.Publish.BadName or
// NetStream.Play.Failed when this member already has a stream of that name
// (ErrNameInUse). errors.Is sees the cause.
type StatusError struct {
	Code string
	Err  error
}

func (e *StatusError) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// statusError wraps err from addStream with its code.
func statusError(err error, publish bool) error {
	switch {
	case errors.Is(err, ErrClosed):
		return &StatusError{Code: StatusConnectFailed, Err: err}
	case errors.Is(err, ErrNameInUse) && publish:
		return &StatusError{Code: StatusPublishBadName, Err: err}
	case errors.Is(err, ErrNameInUse):
		return &StatusError{Code: StatusPlayFailed, Err: err}
	}
	return err
}
