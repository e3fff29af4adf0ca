package netstream

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/rtmfpd/rtmfpd/amf"
)

// Caps on the names and strings a client sends, checked as each command is
// parsed: a command over a cap is answered with an error status (or a
// refused connect) whose description gives only the length. Real clients
// stay far below them: Flash's connect object holds a dozen short fields,
// and stream names with their query (tokens included) rarely pass a few
// hundred bytes.
const (
	// MaxNameBytes caps a stream name (with its "?query") and the app
	// field of connect (application/instance and query).
	MaxNameBytes = 1024
	// MaxCommandBytes caps a command or data handler name.
	MaxCommandBytes = 256
	// MaxURLBytes caps the URL fields of connect (tcUrl, swfUrl, pageUrl)
	// and any other string in the connect object.
	MaxURLBytes = 2048
	// MaxConnectFields caps the properties of the connect object, and
	// MaxConnectArgs the extra arguments of connect.
	MaxConnectFields = 64
	MaxConnectArgs   = 32
	// MaxPeerAddrBytes caps each address announced with setPeerInfo.
	MaxPeerAddrBytes = 64
	// clipBytes is the most of a client's text quoted in a log line or
	// a status description.
	clipBytes = 64
)

// Clip returns s for a log line or a status description: s itself when it
// is short, else its first bytes (cut on a character boundary), an
// ellipsis and its length. Text from the network goes through it, so that
// what a client sends is never echoed at length.
func Clip(s string) string {
	if len(s) <= clipBytes {
		return s
	}
	n := clipBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// tooLong describes a string over its cap without quoting it.
func tooLong(what string, n, limit int) string {
	return fmt.Sprintf("%s of %d bytes is over the limit of %d", what, n, limit)
}

// checkConnect checks the connect object and arguments against the caps;
// it returns the reason to refuse, or "".
func checkConnect(obj *amf.Object, args []amf.Value) string {
	if obj != nil {
		if obj.Len() > MaxConnectFields {
			return fmt.Sprintf("connect object with %d fields is over the limit of %d", obj.Len(), MaxConnectFields)
		}
		for key, v := range obj.All() {
			limit := MaxURLBytes
			if key == "app" {
				limit = MaxNameBytes
			}
			if len(key) > MaxCommandBytes {
				return tooLong("connect object field name", len(key), MaxCommandBytes)
			}
			if s, ok := v.(string); ok && len(s) > limit {
				return tooLong("connect object field "+Clip(key), len(s), limit)
			}
		}
	}
	if len(args) > MaxConnectArgs {
		return fmt.Sprintf("connect with %d arguments is over the limit of %d", len(args), MaxConnectArgs)
	}
	return ""
}
