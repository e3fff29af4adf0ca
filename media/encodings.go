package media

import (
	"sync"
	"unsafe"
)

// maxForms bounds the forms one message keeps: a fan-out has a handful of
// distinct ones (one per RTMP chunk size in use, usually one).
const maxForms = 4

// Encodings holds serialized forms of one message's payload — RTMP chunks of
// a given chunk size, say — made once by the first consumer of a fan-out
// that needs one and shared by every other consumer writing the same form,
// so that N players cost one serialization, not N. A form is keyed by an
// opaque value its maker chooses. The zero value is not usable: see
// NewEncodings. Encodings is safe for concurrent use.
type Encodings struct {
	src *byte // the payload the forms were made from
	n   int

	mu    sync.Mutex
	forms [maxForms]form
	used  int
}

type form struct {
	key  uint64
	data []byte
}

// NewEncodings returns an empty set of forms for payload.
func NewEncodings(payload []byte) *Encodings {
	return &Encodings{src: unsafe.SliceData(payload), n: len(payload)}
}

// For reports whether e describes payload: the same bytes it was made for
// (a message whose payload was replaced after e was attached must not use
// it).
func (e *Encodings) For(payload []byte) bool {
	return e != nil && e.src == unsafe.SliceData(payload) && e.n == len(payload)
}

// Form returns the form of payload keyed by key, making it with
// make(key, payload) the first time. It returns nil, without calling make,
// when e does not describe payload (see For) or already holds as many forms
// as it keeps; the caller then writes the payload another way.
func (e *Encodings) Form(key uint64, payload []byte, make func(key uint64, payload []byte) []byte) []byte {
	if !e.For(payload) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.used {
		if e.forms[i].key == key {
			return e.forms[i].data
		}
	}
	if e.used == maxForms {
		return nil
	}
	d := make(key, payload)
	e.forms[e.used] = form{key: key, data: d}
	e.used++
	return d
}
